"""The Prometheus alert rules, unit-tested by promtool (Debian's prometheus package, installed by .ci/run)."""

from __future__ import annotations

import shutil
import subprocess

import pytest

from tests.conftest import REPO

PROMETHEUS = REPO / "deploy" / "prometheus"


def promtool() -> str:
    found = shutil.which("promtool")
    if found is None:
        pytest.fail("promtool not found: .ci/run installs Debian's prometheus package")
    return found


def test_the_alert_rules_are_valid_and_their_unit_tests_pass() -> None:
    check = subprocess.run([promtool(), "check", "rules", "rules.yml"], cwd=PROMETHEUS, capture_output=True, text=True)
    assert check.returncode == 0, check.stdout + check.stderr
    test = subprocess.run(
        [promtool(), "test", "rules", "rules_test.yml"], cwd=PROMETHEUS, capture_output=True, text=True
    )
    assert test.returncode == 0 and "SUCCESS" in test.stdout, test.stdout + test.stderr


def test_the_prometheus_configuration_is_valid() -> None:
    check = subprocess.run(
        [promtool(), "check", "config", "prometheus.yml"], cwd=PROMETHEUS, capture_output=True, text=True
    )
    assert check.returncode == 0, check.stdout + check.stderr
