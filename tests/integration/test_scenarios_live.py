"""The scenario library through the live worker on the real broker, against ``watchkeeper replay``.

Every scenario is moved in time so that it ends a few seconds ago, and all their events
are sent in the order they were entered, as source systems publish them. The worker then
works through them as a backlog (it starts after they are all published), and the alerts
it raises must be the ones replay gives for the same events: the same alert ids, each with
the same lifecycle (firing, satisfied, cleared, retracted) revision by revision.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from streams.contract import domain_of
from tests.conftest import Deployment
from tests.scenarios.library import all_scenarios
from tests.scenarios.test_scenarios import replay_cli
from worker.topics import ensure_topics

pytestmark = pytest.mark.broker


def lifecycles(alerts: list[dict[str, Any]]) -> dict[str, list[tuple[int, str, str, str, str]]]:
    """alert id -> [(revision, case, rule, stage, status)], exact copies (at-least-once) dropped."""
    out: dict[str, set[tuple[int, str, str, str, str]]] = {}
    for a in alerts:
        message = (a["revision"], a["case"], a["rule_id"], a["stage_name"], a["status"])
        out.setdefault(a["alert_id"], set()).add(message)
    return {aid: sorted(messages) for aid, messages in out.items()}


def test_every_scenario_gives_the_same_alerts_live_as_in_replay(
    deployment: Callable[..., Deployment], tmp_path: Path
) -> None:
    d = deployment()
    ensure_topics(d.settings)
    now = dt.datetime.now(dt.UTC).replace(microsecond=0)
    expected: dict[str, list[tuple[int, str, str, str, str]]] = {}
    outbox: list[dict[str, Any]] = []
    for scenario in all_scenarios():
        shift = now - dt.timedelta(seconds=5) - scenario.until
        events = scenario.cloudevents(shift)
        outbox += events
        shifted = type(scenario)(**{**scenario.__dict__, "start": scenario.start + shift, "until": now})
        work = tmp_path / scenario.path.stem
        work.mkdir()
        expected.update(lifecycles(replay_cli(shifted, work, events)))
    for event in sorted(outbox, key=lambda e: e["recordedtime"]):
        d.send(event, domain=domain_of(event["type"]))
    # Started after the events are on the topics: the worker reads them as a backlog it can
    # see the end of. (Records published long after they were entered are a different
    # thing: live, those fire what a real-time monitor would have fired, then retract.)
    d.start_worker()

    total = sum(len(v) for v in expected.values())
    alerts = d.read(
        "alerts", until=lambda r: sum(len(v) for v in lifecycles(r).values()) >= total, timeout=120, settle=5
    )

    live = lifecycles(alerts)
    only_replay = [expected[aid][0][1:] for aid in sorted(set(expected) - set(live))]
    only_live = [live[aid][0][1:] for aid in sorted(set(live) - set(expected))]
    assert not only_replay and not only_live, f"replay only: {only_replay}; live only: {only_live}"
    differing = {aid: (live[aid], expected[aid]) for aid in expected if live[aid] != expected[aid]}
    assert not differing, differing

    refused = sorted(reason for scenario in all_scenarios() for reason in scenario.refused)
    letters = d.read("deadletter", until=lambda r: len(r) >= len(refused), timeout=30, settle=1)
    assert sorted(r["reason"] for r in letters) == refused
