"""The appropriate-adult rule end to end: real broker, real worker process, real webhook receiver."""

from __future__ import annotations

import datetime as dt
import json
import time
from collections import Counter
from collections.abc import Callable
from typing import Any

import pytest

from tests.conftest import REPO, Deployment, Receiver, cloudevent, detention

pytestmark = pytest.mark.broker
UTC = dt.UTC
AA_10S = str(REPO / "tests" / "integration" / "aa-10s.yaml")


def now() -> dt.datetime:
    return dt.datetime.now(UTC)


def bring_in(d: Deployment, subject: str, **extra_data: Any) -> None:
    event = detention(subject, age=14, at=now(), suite="SUITE-WEST")
    event["data"].update(extra_data)
    d.send(event)
    d.send(cloudevent(subject, "custody.appropriate_adult.requested", at=now()))


def for_case(alerts: list[dict[str, Any]], case: str) -> list[dict[str, Any]]:
    return [a for a in alerts if a["case"] == case]


def raised(alerts: list[dict[str, Any]], case: str) -> list[dict[str, Any]]:
    """The case's alerts as raised, without the messages that supersede a warning by its breach."""
    return [a for a in for_case(alerts, case) if a["status"] == "firing"]


def test_a_warning_then_a_breach_and_nothing_when_the_aa_arrives_in_time(
    deployment: Callable[..., Deployment], receiver: Receiver
) -> None:
    d = deployment(WATCHKEEPER_POLICY_OVERRIDES=AA_10S, WATCHKEEPER_WEBHOOK_URL=receiver.url)
    worker = d.start_worker()
    late = {"child_name": "Jane Smith", "home_address": "1 High Street"}  # outside the contract
    bring_in(d, "CR-WAITING", **late)
    bring_in(d, "CR-ONTIME")
    d.send(cloudevent("CR-ONTIME", "custody.appropriate_adult.arrived", at=now()))

    alerts = d.read("alerts", until=lambda r: any(a["stage"] == "breach" for a in r), timeout=60, settle=3)

    waiting = raised(alerts, "CR-WAITING")
    assert [a["stage"] for a in waiting] == ["warning", "breach"]
    warning, breach = waiting
    assert [(a["stage"], a["status"]) for a in for_case(alerts, "CR-WAITING")][-1] == ("warning", "superseded")
    assert warning["raised_at"] < breach["raised_at"]
    assert dt.datetime.fromisoformat(warning["raised_at"]) >= dt.datetime.fromisoformat(warning["stage_at"])
    assert breach["overdue_seconds"] >= 0 and breach["area"] == "SUITE-WEST"
    assert breach["legal_basis"].startswith("local standard") and breach["policy_note"]
    assert for_case(alerts, "CR-ONTIME") == []

    lines = [line for line in worker.output().splitlines() if "case CR-WAITING" in line]
    assert [line.split(" ", 1)[0] for line in lines] == ["WARNING", "BREACH", "SUPERSEDED"]

    deadline = time.monotonic() + 30
    while len(receiver.received) < 3 and time.monotonic() < deadline:
        time.sleep(0.2)
    posted = [json.loads(body) for _, body in receiver.received]
    pages = sorted((p["data"]["stage"], p["type"]) for p in posted)
    assert pages == [
        ("breach", "watchkeeper.alert.trigger"),
        ("warning", "watchkeeper.alert.resolve"),
        ("warning", "watchkeeper.alert.trigger"),
    ], "the warning's page is resolved when its breach supersedes it"
    triggers = {h.get("webhook-id") for h, b in receiver.received if json.loads(b)["type"].endswith("trigger")}
    assert triggers == {f"{a['alert_id']}.r0t0.webhook" for a in waiting}

    everything = json.dumps(alerts) + b"".join(body for _, body in receiver.received).decode() + worker.output()
    assert "Jane" not in everything and "High Street" not in everything


def test_a_restart_mid_timer_loses_no_alert_and_duplicates_no_alert_id(deployment: Callable[..., Deployment]) -> None:
    d = deployment(WATCHKEEPER_POLICY_OVERRIDES=AA_10S)
    first = d.start_worker()
    bring_in(d, "CR-RESTART")
    d.read("alerts", until=lambda r: any(a["stage"] == "warning" for a in r), timeout=60)
    first.stop()
    assert first.proc.returncode is not None

    second = d.start_worker(data_slot=0)  # same host: local table store, plus the changelog since
    alerts = d.read("alerts", until=lambda r: any(a["stage"] == "breach" for a in r), timeout=90, settle=4)

    case = raised(alerts, "CR-RESTART")
    assert [a["stage"] for a in case] == ["warning", "breach"]
    counts = Counter((a["alert_id"], a["revision"]) for a in alerts)
    assert all(n == 1 for n in counts.values()), counts
    assert "case CR-RESTART" in second.output() and "BREACH" in second.output()
    assert "BREACH" not in first.output()


def test_a_silent_case_still_fires_with_no_further_event(deployment: Callable[..., Deployment]) -> None:
    """Only the request is ever sent: nothing else arrives on any partition, yet the breach fires."""
    d = deployment(WATCHKEEPER_POLICY_OVERRIDES=AA_10S)
    d.start_worker()
    d.send(cloudevent("CR-SILENT", "custody.appropriate_adult.requested", at=now()))
    alerts = d.read("alerts", until=lambda r: any(a["stage"] == "breach" for a in r), timeout=60)
    assert [a["stage"] for a in raised(alerts, "CR-SILENT")] == ["warning", "breach"]


def test_live_an_arrival_recorded_at_the_deadline_instant_after_the_tick_retracts_the_breach(
    deployment: Callable[..., Deployment],
) -> None:
    """Not later than: the deadline instant is in time. Live, the tick lands just after the
    deadline, before the record of an arrival at that very instant reaches the worker; the
    breach it raised is retracted, with the reason, and the warning met in time."""
    d = deployment(WATCHKEEPER_POLICY_OVERRIDES=AA_10S)
    d.start_worker()
    requested = now().replace(microsecond=0)
    d.send(detention("CR-EDGE", age=14, at=requested, suite="SUITE-WEST"))
    d.send(cloudevent("CR-EDGE", "custody.appropriate_adult.requested", at=requested, recorded=requested))
    d.read("alerts", until=lambda r: any(a["case"] == "CR-EDGE" and a["stage"] == "breach" for a in r), timeout=60)
    deadline = requested + dt.timedelta(seconds=10)
    d.send(cloudevent("CR-EDGE", "custody.appropriate_adult.arrived", at=deadline, recorded=deadline))

    alerts = d.read(
        "alerts",
        until=lambda r: any(a["case"] == "CR-EDGE" and a["status"] == "retracted" for a in r),
        timeout=60,
        settle=2,
    )
    edge = {(a["stage_name"], a["status"]): a for a in for_case(alerts, "CR-EDGE")}
    assert ("breach", "firing") in edge and ("breach", "retracted") in edge
    assert ("warning-1", "satisfied") in edge and ("breach", "closed") not in edge
    assert "at the deadline instant" in edge[("warning-1", "satisfied")]["reason"]
    assert "appropriate adult arrived" in edge[("breach", "retracted")]["reason"]
    assert edge[("breach", "retracted")]["overdue_seconds"] is None


def test_history_loaded_late_is_recorded_in_hindsight_and_pages_nobody(
    deployment: Callable[..., Deployment], receiver: Receiver
) -> None:
    d = deployment(WATCHKEEPER_POLICY_OVERRIDES=AA_10S, WATCHKEEPER_WEBHOOK_URL=receiver.url)
    d.start_worker()
    last_week, entered = now() - dt.timedelta(days=7), now().isoformat()
    old = detention("CR-HISTORY", age=14, at=last_week, suite="SUITE-WEST")
    requested = cloudevent("CR-HISTORY", "custody.appropriate_adult.requested", at=last_week)
    d.send({**old, "recordedtime": entered})
    d.send({**requested, "recordedtime": entered})
    bring_in(d, "CR-LIVE")

    def breached(records: list[dict[str, Any]]) -> set[str]:
        return {a["case"] for a in records if a["stage"] == "breach"}

    alerts = d.read("alerts", until=lambda r: breached(r) >= {"CR-HISTORY", "CR-LIVE"}, timeout=60)
    history = [a for a in for_case(alerts, "CR-HISTORY") if a["rule_id"] == "custody.appropriate_adult.arrival"]
    # in hindsight the warning is superseded by the breach raised at the same moment
    assert [a["stage"] for a in history] == ["breach"] and all(a["hindsight"] for a in history)

    def paged() -> set[str]:
        return {json.loads(body)["data"]["case"] for _, body in receiver.received}

    deadline = time.monotonic() + 20
    while "CR-LIVE" not in paged() and time.monotonic() < deadline:
        time.sleep(0.2)
    time.sleep(2)
    assert "CR-LIVE" in paged() and "CR-HISTORY" not in paged()
    transitions = d.read("alert-transitions", until=lambda r: any("historical" in t["reason"] for t in r), timeout=30)
    historical = {t["alert_id"] for t in transitions if "historical" in t["reason"]}
    assert {a["alert_id"] for a in history} <= historical
    assert not historical & {a["alert_id"] for a in for_case(alerts, "CR-LIVE")}, "a live alert is not historical"
