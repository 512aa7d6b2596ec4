from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

from agents.replay import Replay, Summary, replay
from streams.validation import Event, decode_event
from tests.conftest import AA_ARRIVAL, T0, cloudevent, detention, only_rules
from tests.watchkeeper.test_cli import watchkeeper

H = dt.timedelta(hours=1)


def events(raws: list[dict[str, object]]) -> list[Event]:
    out = []
    for raw in raws:
        event = decode_event(json.dumps(raw).encode(), now=T0 + 1000 * H)
        assert isinstance(event, Event)
        out.append(event)
    return out


def waiting_child() -> list[dict[str, object]]:
    return [
        detention("CR-9"),
        cloudevent("CR-9", "custody.appropriate_adult.requested", at=T0),
        cloudevent("CR-9", "custody.appropriate_adult.arrived", at=T0 + 18 * H, recorded=T0 + 18 * H),
    ]


def test_replay_raises_each_stage_at_its_own_time_on_the_simulated_clock() -> None:
    alerts = list(replay(events(waiting_child()), only_rules(AA_ARRIVAL), until=T0 + 48 * H))
    firing = [(a.stage_name, a.raised_at) for a in alerts if a.status == "firing"]
    just_after = dt.timedelta(microseconds=1)  # a stage's own instant is still in time
    assert firing == [
        ("warning-1", T0 + H + just_after),
        ("warning-2", T0 + 105 * dt.timedelta(minutes=1) + just_after),
        ("breach", T0 + 2 * H + just_after),
    ]
    assert {a.status for a in alerts if a.raised_at == T0 + 18 * H} == {"closed"}


def test_replay_feeds_events_in_the_order_they_were_recorded() -> None:
    raws = waiting_child()
    raws[1] = cloudevent("CR-9", "custody.appropriate_adult.requested", at=T0, recorded=T0 + 3 * H)
    alerts = list(replay(events(raws), only_rules(AA_ARRIVAL), until=T0 + 48 * H))
    first = alerts[0]
    assert (first.stage_name, first.raised_at, first.hindsight) == ("breach", T0 + 3 * H, True)


def test_replay_without_until_stops_at_the_last_record() -> None:
    run = Replay(only_rules(AA_ARRIVAL))
    for event in events(waiting_child()[:2]):
        list(run.feed(event, event.recordedtime))
    assert run.open_deadlines() == 1


def test_the_summary_counts_per_rule() -> None:
    summary = Summary()
    for alert in replay(events(waiting_child()), only_rules(AA_ARRIVAL), until=T0 + 48 * H):
        summary.add(alert)
    line = next(line for line in summary.table().splitlines() if line.startswith("custody.appropriate_adult.arrival"))
    assert line.split()[1:] == ["2", "1", "0", "0", "0", "1"], "the warnings gave way to the breach; it closed"


def test_the_replay_command_writes_jsonl_and_a_summary(tmp_path: Path) -> None:
    source = tmp_path / "events.jsonl"
    source.write_text("\n".join(json.dumps(r) for r in waiting_child()) + "\n")
    out = tmp_path / "alerts.jsonl"
    result = watchkeeper("replay", str(source), "--out", str(out))
    assert result.returncode == 0, result.stderr
    assert "replayed 3 event(s)" in result.stdout and "custody.appropriate_adult.arrival" in result.stdout
    written = [json.loads(line) for line in out.read_text().splitlines()]
    assert [a["status"] for a in written if a["rule_id"] == AA_ARRIVAL].count("firing") == 3


def test_the_replay_command_applies_force_overrides(tmp_path: Path) -> None:
    source = tmp_path / "events.jsonl"
    source.write_text("\n".join(json.dumps(r) for r in waiting_child()) + "\n")
    override = tmp_path / "force.yaml"
    override.write_text(
        "force: x\noverrides:\n  custody.appropriate_adult.arrival:\n    target: 20h\n    warnings: []\n"
    )
    result = watchkeeper("replay", str(source), "--overrides", str(override))
    assert result.returncode == 0, result.stderr
    rules = {json.loads(line)["rule_id"] for line in result.stdout.splitlines()}
    assert AA_ARRIVAL not in rules and rules  # the AA arrived at 18 h: within a 20 h target; other rules fire


def test_a_bad_until_is_a_clear_error(tmp_path: Path) -> None:
    source = tmp_path / "events.jsonl"
    source.write_text(json.dumps(detention("CR-1")) + "\n")
    result = watchkeeper("replay", str(source), "--until", "2026-11-02T10:00:00")
    assert result.returncode == 2 and "give a UTC offset" in result.stderr


def test_a_replay_holding_few_cases_decoded_says_exactly_what_one_holding_all_says() -> None:
    import msgspec

    from agents.policy import load_policy
    from streams.simulate import load_profile, simulate

    start = dt.datetime(2026, 3, 23, tzinfo=dt.UTC)
    events = []
    for record in simulate(load_profile("small"), 10, 9, start):
        event = decode_event(msgspec.json.encode(record), now=start + dt.timedelta(days=11))
        assert isinstance(event, Event), event
        events.append(event)
    policy = load_policy()
    runs = {bound: Replay(policy, decoded_cases=bound) for bound in (None, 3)}
    said: dict[int | None, list[tuple[str, int, str, dt.datetime]]] = {bound: [] for bound in runs}
    for bound, run in runs.items():
        for event in events:
            said[bound] += [
                (a.alert_id, a.revision, a.status, a.raised_at) for a in run.feed(event, event.recordedtime)
            ]
        said[bound] += [
            (a.alert_id, a.revision, a.status, a.raised_at) for a in run.advance(start + dt.timedelta(days=14))
        ]
    assert len(said[None]) > 100
    assert said[3] == said[None]
    assert len(runs[3].cases) == 3 and runs[3].held() == runs[None].held() > 30
    assert runs[3].every_case() == runs[None].every_case()
