"""The simulated force: stable for a seed, in the contract, and shaped like the profile says."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections import Counter
from pathlib import Path

import pytest

from streams.contract import Event
from streams.simulate import ProfileError, load_profile, simulate
from streams.validation import decode_event

START = dt.datetime(2026, 10, 1, tzinfo=dt.UTC)
H = dt.timedelta(hours=1)


def text(events: list[dict[str, object]]) -> bytes:
    return "".join(json.dumps(e, sort_keys=True) + "\n" for e in events).encode()


def test_a_fixed_seed_gives_the_same_force_byte_for_byte() -> None:
    events = simulate(load_profile("small"), 7, 7, START)
    digest = hashlib.sha256(text(events)).hexdigest()
    assert digest == "21269e54d90f6dd8c2197f121b522a572cf850e13e7f1fb28ffd345b60c10e07", (
        "the simulator changed: if on purpose, record the new hash"
    )
    assert text(simulate(load_profile("small"), 7, 7, START)) == text(events)
    assert text(simulate(load_profile("small"), 7, 8, START)) != text(events), "another seed, another force"


def test_every_event_is_in_the_contract_entered_in_order_and_named_by_reference_only() -> None:
    events = simulate(load_profile("medium"), 10, 3, START)
    assert len({(e["source"], e["id"]) for e in events}) == len(events)
    assert [e["recordedtime"] for e in events] == sorted(e["recordedtime"] for e in events)
    for e in events:
        decoded = decode_event(json.dumps(e).encode(), now=START + dt.timedelta(days=30))
        assert isinstance(decoded, Event), (e["type"], decoded)
        assert e["recordedtime"] >= e["time"]
    words = json.dumps(events).lower()
    assert not any(w in words for w in ("name", "date_of_birth", "address"))


def test_the_month_has_what_the_inspection_found_and_what_the_profile_says() -> None:
    events = simulate(load_profile("medium"), 30, 7, START)
    at = {}
    waits = []
    for e in events:
        if e["type"] == "custody.appropriate_adult.requested":
            at[e["subject"]] = dt.datetime.fromisoformat(str(e["time"]))
        elif e["type"] == "custody.appropriate_adult.arrived" and e["subject"] in at:
            waits.append(dt.datetime.fromisoformat(str(e["time"])) - at[e["subject"]])
    assert max(waits) > 8 * H and max(waits) <= 18 * H, "a long tail, out to the inspection's 18 hours"
    assert sorted(waits)[len(waits) // 2] < 2 * H, "most children wait less than the local standard"
    late = [
        e
        for e in events
        if dt.datetime.fromisoformat(str(e["recordedtime"])) - dt.datetime.fromisoformat(str(e["time"])) >= H
    ]
    assert 0.03 < len(late) / len(events) < 0.1, "late entries at about the profile's rate (6 %)"
    hours = Counter(
        dt.datetime.fromisoformat(str(e["time"])).hour for e in events if e["type"] == "custody.detention.authorised"
    )
    assert sum(hours[h] for h in range(0, 6)) > 0 and hours[17] > hours[4], "arrests through the night, most by evening"
    children = Counter(e["data"]["child_ref"] for e in events if e["type"] == "missing.child.reported")  # type: ignore[index]
    assert max(children.values()) >= 3, "repeat missing episodes"
    reviews = Counter(e["data"]["mode"] for e in events if e["type"] == "custody.detention_review.completed")  # type: ignore[index]
    assert reviews["telephone"] > 0 and reviews["in_person"] > reviews["telephone"]
    domains = Counter(e["type"].split(".")[0] for e in events)  # type: ignore[union-attr]
    assert set(domains) == {"custody", "protection", "incident", "missing", "investigation"}


def test_a_large_force_is_bigger_than_a_small_one_with_the_same_rates() -> None:
    small, large = load_profile("small"), load_profile("large")
    assert large.custody == small.custody and large.per_day.child_detentions > 10 * small.per_day.child_detentions


def test_a_profile_that_cannot_be_used_names_its_file_and_field(tmp_path: Path) -> None:
    broken = tmp_path / "force.yaml"
    broken.write_text("based_on: medium\nforce: mine\nper_day: {child_detentions: lots}\n")
    with pytest.raises(ProfileError, match=r"force.yaml: .*per_day.child_detentions"):
        load_profile(str(broken))
    mine = tmp_path / "mine.yaml"
    mine.write_text("based_on: small\nforce: mine\ncustody: {aa_never_arrives_rate: 0.5}\n")
    profile = load_profile(str(mine))
    assert profile.force == "mine" and profile.custody.aa_never_arrives_rate == 0.5
    assert profile.custody.aa_wait_minutes == load_profile("small").custody.aa_wait_minutes, "the rest is the base's"
