"""Watchkeeper to a real Alertmanager (Debian's prometheus-alertmanager), on the real broker: an
open breach stays active past Alertmanager's resolve_timeout because Watchkeeper re-sends it,
and it is resolved when the appropriate adult arrives, with endsAt the time of the arrival,
and Alertmanager tells its own receiver so. The shipped example route passes amtool."""

from __future__ import annotations

import datetime as dt
import json
import shutil
import subprocess
import time
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import REPO, Deployment, Receiver, cloudevent, detention, free_port, wait_until

pytestmark = pytest.mark.broker
AA_4S = str(REPO / "tests" / "integration" / "aa-4s.yaml")
RESOLVE_TIMEOUT = 6


def binary(name: str) -> str:
    found = shutil.which(name)
    if found is None:
        pytest.fail(f"{name} not found: .ci/run installs Debian's prometheus-alertmanager package")
    return found


@pytest.fixture
def alertmanager(tmp_path: Path, receiver: Receiver) -> Iterator[str]:
    port = free_port()
    config = tmp_path / "alertmanager.yml"
    config.write_text(
        f"global: {{resolve_timeout: {RESOLVE_TIMEOUT}s}}\n"
        "route: {receiver: hook, group_by: [case], group_wait: 0s, group_interval: 1s, repeat_interval: 1h}\n"
        f"receivers: [{{name: hook, webhook_configs: [{{url: '{receiver.url}', send_resolved: true}}]}}]\n"
    )
    proc = subprocess.Popen(
        [
            binary("prometheus-alertmanager"),
            f"--config.file={config}",
            f"--storage.path={tmp_path / 'am'}",
            f"--web.listen-address=127.0.0.1:{port}",
            "--cluster.listen-address=",
        ],
        stdout=subprocess.DEVNULL,
        stderr=(tmp_path / "alertmanager.log").open("wb"),
    )
    base = f"http://127.0.0.1:{port}"
    wait_until(lambda: _get(f"{base}/-/ready") is not None, timeout=30)
    yield base
    proc.terminate()
    proc.wait(timeout=30)


def _get(url: str) -> Any:
    try:
        with urllib.request.urlopen(url, timeout=5) as reply:
            body = reply.read()
            return json.loads(body) if body.strip().startswith((b"[", b"{")) else body
    except OSError:
        return None


def active(base: str, case: str) -> list[dict[str, Any]]:
    return [a for a in _get(f"{base}/api/v2/alerts?active=true&silenced=false") or [] if a["labels"]["case"] == case]


def told(receiver: Receiver, case: str, status: str) -> list[dict[str, Any]]:
    """The alerts Alertmanager's own webhook sent about ``case`` with ``status`` (firing, resolved)."""
    return [a for b in receiver.bodies() for a in b["alerts"] if a["labels"]["case"] == case and a["status"] == status]


def test_an_open_breach_stays_open_in_alertmanager_and_resolves_when_the_aa_arrives(
    deployment: Callable[..., Deployment], alertmanager: str, receiver: Receiver, tmp_path: Path
) -> None:
    notify = tmp_path / "notify.yaml"
    notify.write_text(
        f"receivers: {{am: {{url: '{alertmanager}/api/v2/alerts', format: alertmanager, resend: 1s}}}}\n"
        "roles: {duty_inspector: [am]}\npolicies: {p: {tiers: [{role: duty_inspector}]}}\nroutes: [{policy: p}]\n"
    )
    d = deployment(WATCHKEEPER_POLICY_OVERRIDES=AA_4S, WATCHKEEPER_NOTIFY=str(notify))
    d.start_worker()
    requested = dt.datetime.now(dt.UTC)
    d.send(detention("CR-AM", at=requested, suite="SUITE-EAST"))
    d.send(cloudevent("CR-AM", "custody.appropriate_adult.requested", at=requested))

    wait_until(lambda: any(a["labels"]["stage"] == "breach" for a in active(alertmanager, "CR-AM")), timeout=60)
    (breach,) = [a for a in active(alertmanager, "CR-AM") if a["labels"]["stage"] == "breach"]
    assert breach["labels"]["severity"] == "critical" and breach["labels"]["watchkeeper_severity"] == "high"
    assert breach["labels"]["area"] == "SUITE-EAST" and breach["annotations"]["summary"].startswith("[RAISED")

    time.sleep(2 * RESOLVE_TIMEOUT)  # past resolve_timeout: only the re-sends keep it open
    assert [a["labels"]["stage"] for a in active(alertmanager, "CR-AM")] == ["breach"], "still open, and alone"
    assert told(receiver, "CR-AM", "resolved") == [] or all(
        a["labels"]["stage"] == "warning" for a in told(receiver, "CR-AM", "resolved")
    ), "on-call was never told the breach resolved while it was open"

    arrived = dt.datetime.now(dt.UTC).replace(microsecond=0) - dt.timedelta(seconds=1)
    d.send(cloudevent("CR-AM", "custody.appropriate_adult.arrived", at=arrived))
    wait_until(lambda: active(alertmanager, "CR-AM") == [], timeout=30)
    wait_until(lambda: any(a["labels"]["stage"] == "breach" for a in told(receiver, "CR-AM", "resolved")), timeout=30)
    (resolved,) = [a for a in told(receiver, "CR-AM", "resolved") if a["labels"]["stage"] == "breach"]
    assert dt.datetime.fromisoformat(resolved["endsAt"].replace("Z", "+00:00")) == arrived, "when the AA arrived"
    assert resolved["annotations"]["summary"].startswith("[CLOSED")


def test_the_shipped_alertmanager_route_is_valid() -> None:
    check = subprocess.run(
        [binary("amtool"), "check-config", str(REPO / "deploy" / "alertmanager" / "alertmanager.yml")],
        capture_output=True,
        text=True,
    )
    assert check.returncode == 0, check.stdout + check.stderr
    assert "1 inhibit rules" in check.stdout
