"""Silences: what they match, how a request is checked, and how they hold and release an alert's pages."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import msgspec
import pytest

from alerts.lifecycle import AlertRecord, Changes, next_due, on_ack, on_alert, on_tick
from alerts.silence import Silence, SilenceError, SilenceRequest, Silences, created, ended, new_silence
from tests.alerts.helpers import alert, ladder_config
from tests.conftest import T0

M = dt.timedelta(minutes=1)
H = dt.timedelta(hours=1)
RAISED = T0 + 2 * H
SID, OTHER = "a" * 32, "b" * 32


def silence(
    start: dt.datetime = RAISED - H, end: dt.datetime = RAISED + 2 * H, silence_id: str = SID, **match: list[str]
) -> Silence:
    request = SilenceRequest("custody system outage", **match, starts_at=start, ends_at=end)  # type: ignore[arg-type]
    return new_silence(request, "admin-1", start, silence_id)


def log(*made: Silence) -> Silences:
    silences = Silences()
    for s in made:
        silences.apply(s)
    return silences


def roles(changes: Changes) -> list[tuple[str, str]]:
    return [(n.role, n.action) for n in changes.notifications]


def run_ticks(record: AlertRecord, until: dt.datetime, silences: Silences) -> list[tuple[dt.timedelta, str, str]]:
    out = []
    while (due := next_due(record)) is not None and due <= until:
        out += [(due - RAISED, n.role, n.action) for n in on_tick(record, due, silences).notifications]
    return out


# ----------------------------------------------------------------------------- matching and requests
def test_a_silence_matches_on_every_field_it_names_and_only_while_active() -> None:
    s = silence(rules=["custody.*"], areas=["SUITE-A"])
    assert s.holds(alert(), RAISED)
    assert not s.holds(alert(area="SUITE-B"), RAISED), "another suite"
    assert not s.holds(alert(rule_id="missing.supervisor"), RAISED), "another rule"
    assert not s.holds(alert(), RAISED - 2 * H), "not yet started"
    assert not s.holds(alert(), RAISED + 2 * H), "the end instant is outside it"
    assert silence(domains=["protection"]).holds(alert(domain="protection"), RAISED)
    assert not silence(domains=["protection"]).holds(alert(), RAISED)


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"rules": [], "areas": [], "domains": []}, "rules"),
        ({"domains": ["traffic"]}, "domains"),
        ({"areas": ["SUITE A"]}, "areas"),
        ({"rules": ["custody.* ; drop"]}, "rules"),
        ({"reason": "   "}, "reason"),
        ({"reason": "x" * 281}, "reason"),
        ({"ends_at": None}, "ends_at"),
        ({"duration": "4h"}, "ends_at"),
        ({"ends_at": T0 - H}, "ends_at"),
        ({"ends_at": T0 + dt.timedelta(days=8)}, "ends_at"),
        ({"ends_at": dt.datetime(2026, 11, 21, 12)}, "ends_at"),
    ],
)
def test_a_request_that_cannot_be_taken_names_its_field(change: dict[str, object], field: str) -> None:
    base = SilenceRequest("outage", areas=("SUITE-A",), ends_at=T0 + H)
    with pytest.raises(SilenceError, match=f"field '{field}'"):
        new_silence(msgspec.structs.replace(base, **change), "admin-1", T0, SID)


def test_a_silence_starts_now_at_the_earliest_and_may_be_given_a_duration() -> None:
    request = SilenceRequest(" outage  of\nthe custody system ", areas=("SUITE-A",), starts_at=T0 - H, duration="4h")
    s = new_silence(request, "admin-1", T0, SID)
    assert (s.starts_at, s.ends_at) == (T0, T0 + 4 * H), "never backdated: what was paged stays paged"
    assert s.reason == "outage of the custody system" and s.created_by == "admin-1"
    assert "SUITE-A" in created(s).reason and "GMT" in created(s).reason


def test_ending_a_silence_early_is_recorded_once() -> None:
    s = silence(areas=["SUITE-A"])
    done, change = ended(s, "admin-2", RAISED)
    assert done.until == RAISED and done.status(RAISED) == "ended" and change.by == "admin-2"
    with pytest.raises(SilenceError, match="already ended"):
        ended(done, "admin-2", RAISED + M)


def test_the_listing_shows_active_then_pending_then_recently_ended() -> None:
    active = silence(areas=["SUITE-A"], silence_id="1" * 32)
    pending = silence(start=RAISED + H, end=RAISED + 3 * H, areas=["SUITE-B"], silence_id="2" * 32)
    over = silence(start=RAISED - 3 * H, end=RAISED - H, areas=["SUITE-C"], silence_id="3" * 32)
    long_over = silence(start=RAISED - 30 * 24 * H, end=RAISED - 29 * 24 * H, areas=["X"], silence_id="4" * 32)
    silences = log(over, pending, long_over, active)
    assert [s.silence_id[0] for s in silences.listing(RAISED)] == ["1", "2", "3"]
    assert silences.counts(RAISED) == {"active": 1, "pending": 1}
    silences.forget_ended(RAISED)
    assert sorted(silences.by_id) == ["1" * 32, "2" * 32, "3" * 32], "a month-old silence is let go"


# ----------------------------------------------------------------------------- holding and releasing
def test_an_alert_raised_under_a_silence_is_recorded_but_pages_nobody_until_the_silence_ends(tmp_path: Path) -> None:
    config, silences = ladder_config(tmp_path), log(silence(areas=["SUITE-A"]))
    record, changes = on_alert(None, alert(), config, RAISED, silences)
    assert record is not None and record.state == "raised" and changes.notifications == []
    assert [(t.state, t.notifications) for t in changes.transitions] == [("raised", None), ("raised", "held")]
    assert changes.transitions[1].silence_id == SID and "admin-1" in changes.transitions[1].reason
    assert record.held_by == SID and record.held_until == RAISED + 2 * H
    said = run_ticks(record, RAISED + 3 * H, silences)
    assert said[0] == (2 * H, "custody_sergeant", "trigger"), "the first tier at the silence's end"
    assert said[1] == (2 * H + 15 * M, "duty_inspector", "trigger"), "and the ladder runs on from there"
    assert record.held_by is None and record.history[-1].notifications == "released"
    assert [t.notifications for t in record.history if t.notifications] == ["held", "released"]


def test_a_held_alert_looks_again_at_the_silences_so_one_ended_early_releases_it(tmp_path: Path) -> None:
    config, s = ladder_config(tmp_path), silence(areas=["SUITE-A"])
    silences = log(s)
    record, _ = on_alert(None, alert(), config, RAISED, silences)
    assert record is not None and next_due(record) == RAISED + dt.timedelta(seconds=30)
    still = on_tick(record, RAISED + dt.timedelta(seconds=30), silences)
    assert still.notifications == [] and not still.write, "a hold that stands needs no changelog write"
    silences.apply(ended(s, "admin-2", RAISED + M)[0])
    released = on_tick(record, next_due(record) or RAISED, silences)
    assert roles(released) == [("custody_sergeant", "trigger")] and released.write
    assert (released.transitions[0].notifications, released.transitions[0].silence_id) == ("released", SID)


def test_a_silence_set_after_a_page_holds_the_next_tier_and_release_re_notifies_the_paged(tmp_path: Path) -> None:
    config = ladder_config(tmp_path)
    record, changes = on_alert(None, alert(), config, RAISED)
    assert record is not None and roles(changes) == [("custody_sergeant", "trigger")]
    silences = log(silence(start=RAISED + 10 * M, end=RAISED + 70 * M, areas=["SUITE-A"]))
    said = run_ticks(record, RAISED + 4 * H, silences)
    # the inspector was due at +15m, inside the silence: held, then sent when it ends with the reminder
    assert said[:2] == [(70 * M, "custody_sergeant", "trigger"), (70 * M, "duty_inspector", "trigger")]
    assert said[2] == (70 * M + 30 * M, "duty_superintendent", "trigger"), "the ladder paused 55 minutes"
    assert [n.delivery_key for n in on_tick(record, RAISED + 4 * H, silences).notifications] == []
    assert any(t.notifications == "held" for t in record.history)


def test_updates_are_held_but_closings_and_acks_of_what_was_paged_are_not(tmp_path: Path) -> None:
    config = ladder_config(tmp_path)
    record, _ = on_alert(None, alert(), config, RAISED)
    assert record is not None
    silences = log(silence(start=RAISED + M, areas=["SUITE-A"]))
    _, moved = on_alert(record, alert("updated", revision=2), config, RAISED + 2 * M, silences)
    assert moved.notifications == [] and record.held_by == SID, "the deadline moved: held"
    ok, _, acked = on_ack(record, "sgt-1", RAISED + 3 * M, "console")
    assert ok and roles(acked) == [("custody_sergeant", "acknowledge")], "an ack quiets a page: never held"
    _, closed = on_alert(record, alert("satisfied", revision=3), config, RAISED + 4 * M, silences)
    assert roles(closed) == [("custody_sergeant", "resolve")], "a closing ends a page: never held"
    assert record.state == "satisfied" and record.held_by is None and next_due(record) is None


def test_an_alert_closed_while_held_is_never_paged(tmp_path: Path) -> None:
    config, silences = ladder_config(tmp_path), log(silence(areas=["SUITE-A"]))
    record, _ = on_alert(None, alert(), config, RAISED, silences)
    assert record is not None
    _, closed = on_alert(record, alert("retracted", revision=2), config, RAISED + M, silences)
    assert closed.notifications == [] and record.state == "retracted"
    assert run_ticks(record, RAISED + 5 * H, silences) == []


def test_a_silence_that_matches_nothing_of_the_alert_changes_nothing(tmp_path: Path) -> None:
    silences = log(silence(areas=["SUITE-B"]), silence(rules=["missing.*"], silence_id=OTHER))
    record, changes = on_alert(None, alert(), ladder_config(tmp_path), RAISED, silences)
    assert record is not None and record.held_by is None and roles(changes) == [("custody_sergeant", "trigger")]


def test_a_historical_alert_is_not_held_it_pages_nobody_anyway(tmp_path: Path) -> None:
    silences = log(silence(start=RAISED, end=RAISED + 2 * 24 * H, areas=["SUITE-A"]))
    record, changes = on_alert(None, alert(), ladder_config(tmp_path), RAISED + 24 * H, silences)
    assert record is not None and record.historical and record.held_by is None
    assert changes.notifications == [] and len(changes.transitions) == 1


def test_when_overlapping_silences_hold_an_alert_it_is_released_after_the_last(tmp_path: Path) -> None:
    first = silence(end=RAISED + H, areas=["SUITE-A"])
    second = silence(end=RAISED + 3 * H, rules=["custody.*"], silence_id=OTHER)
    silences = log(first, second)
    record, _ = on_alert(None, alert(), ladder_config(tmp_path), RAISED, silences)
    assert record is not None and record.held_by == OTHER
    said = run_ticks(record, RAISED + 4 * H, silences)
    assert said[0] == (3 * H, "custody_sergeant", "trigger")
