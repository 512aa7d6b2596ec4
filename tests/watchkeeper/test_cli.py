"""The command line: help, argument errors and setting errors, run as a real process."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import REPO


def watchkeeper(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    import os

    return subprocess.run(
        [sys.executable, "-m", "watchkeeper", *args],
        capture_output=True,
        text=True,
        cwd=REPO,
        env={**os.environ, **(env or {})},
        timeout=60,
    )


@pytest.mark.parametrize("command", ["worker", "demo", "send", "topics", "schemas"])
def test_every_subcommand_has_help(command: str) -> None:
    result = watchkeeper(command, "--help")
    assert result.returncode == 0
    assert f"usage: watchkeeper {command}" in result.stdout


def test_top_level_help_lists_subcommands_and_settings() -> None:
    result = watchkeeper("--help")
    assert result.returncode == 0
    for word in ("worker", "demo", "send", "topics", "WATCHKEEPER_BOOTSTRAP_SERVERS"):
        assert word in result.stdout


def test_an_unknown_subcommand_is_a_clear_error() -> None:
    result = watchkeeper("launch")
    assert result.returncode == 2 and "invalid choice: 'launch'" in result.stderr


def test_send_of_a_missing_file_is_a_clear_error() -> None:
    result = watchkeeper("send", "/no/such/file.jsonl")
    assert result.returncode == 2 and "no such file: /no/such/file.jsonl" in result.stderr


def test_a_bad_setting_names_the_variable() -> None:
    result = watchkeeper("topics", env={"WATCHKEEPER_PARTITIONS": "lots"})
    assert result.returncode == 2
    assert "WATCHKEEPER_PARTITIONS='lots'" in result.stderr


def test_a_bad_policy_override_stops_the_worker_before_it_needs_kafka(tmp_path: Path) -> None:
    override = tmp_path / "force.yaml"
    override.write_text("force: x\noverrides:\n  custody.appropriate_adult.arrival:\n    target: soon\n")
    result = watchkeeper(
        "worker",
        env={"WATCHKEEPER_POLICY_OVERRIDES": str(override), "WATCHKEEPER_BOOTSTRAP_SERVERS": "127.0.0.1:1"},
    )
    assert result.returncode == 2
    assert f"bad policy: {override}: rule 'custody.appropriate_adult.arrival': field 'target'" in result.stderr


def test_send_refuses_a_file_with_invalid_events_and_says_which_line(tmp_path: Path) -> None:
    events = tmp_path / "events.jsonl"
    events.write_text('{"specversion": "1.0"}\n')
    result = watchkeeper("send", "--dry-run", str(events))
    assert result.returncode == 1
    assert f"{events}:1: schema_violation" in result.stderr and "nothing sent" in result.stderr


def test_send_dry_run_validates_the_scenario_file(tmp_path: Path) -> None:
    import json

    from tests.conftest import cloudevent, detention

    events = tmp_path / "events.jsonl"
    events.write_text("\n".join(json.dumps(e) for e in (detention("CR-1"), cloudevent("CR-1", "custody.released"))))
    result = watchkeeper("send", "--dry-run", str(events))
    assert result.returncode == 0 and "2 event(s) valid" in result.stdout


def test_schemas_check_passes_on_the_committed_files() -> None:
    assert watchkeeper("schemas", "--check").returncode == 0
