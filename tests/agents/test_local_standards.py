"""Every figure the law does not fix is a force's to set, and setting it changes verdicts.

A force's override file (docs/policy.md) changes parameters only. These tests write one that
sets every parameter of every local standard in the built-in packs, and replay scenarios
from the library with and without an override to show the verdict follows the force's figure.
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from agents.policy import OVERRIDABLE, PACKS_DIR, load_policy
from agents.replay import replay
from streams.validation import Event, decode_event
from tests.scenarios.library import Scenario, load

SCENARIOS = Path(__file__).resolve().parents[1] / "scenarios"
TIMING = ("target", "deadline", "first", "interval", "targets", "threshold", "warnings", "applies_when")
"""What a local standard's figures are written in. A rule with none (a record required before
another) is still the force's to switch off or grade: ``enabled`` and ``severity``."""


def local_standards() -> dict[str, dict[str, Any]]:
    """Rule id -> the rule as written, for every rule whose figures are a local standard."""
    out = {}
    for pack in sorted(PACKS_DIR.glob("*.yaml")):
        for rule in yaml.safe_load(pack.read_text())["rules"]:
            if "local standard" in " ".join(rule["legal_basis"].split()).lower():
                out[rule["id"]] = rule
    return out


def write_overrides(tmp_path: Path, overrides: dict[str, dict[str, Any]]) -> Path:
    path = tmp_path / "force.yaml"
    path.write_text(yaml.safe_dump({"force": "test-constabulary", "overrides": overrides}))
    return path


def test_a_force_can_set_every_local_standard_in_its_override_file(tmp_path: Path) -> None:
    rules = local_standards()
    assert {"investigation.plan", "offender.home_visit", "custody.healthcare.every_child"} <= set(rules)
    overrides = {
        rid: {"enabled": True, "severity": raw.get("severity", {}), **{k: v for k, v in raw.items() if k in TIMING}}
        for rid, raw in rules.items()
    }
    assert {*TIMING, "enabled", "severity"} <= OVERRIDABLE
    policy = load_policy(overrides=[write_overrides(tmp_path, overrides)])
    for rule_id, fields in overrides.items():
        rule = policy.rule(rule_id)
        assert rule is not None and set(rule.overridden) == set(fields), rule_id


def breached(scenario: Scenario, rule_id: str, overrides: Path | None = None) -> set[str]:
    """The cases the rule breaches in when the scenario is replayed, with the force file if given."""
    policy = load_policy(overrides=[overrides] if overrides else [])
    events = []
    for raw in scenario.cloudevents():
        event = decode_event(json.dumps(raw).encode(), now=scenario.until + dt.timedelta(days=1))
        assert isinstance(event, Event)
        events.append(event)
    alerts = replay(events, policy, until=scenario.until)
    return {a.case for a in alerts if a.rule_id == rule_id and a.stage == "breach" and a.status == "firing"}


@pytest.mark.parametrize(
    ("scenario_file", "rule_id", "override", "by_default", "with_override"),
    [
        # the plan at 30 hours is late for a force that wants it within a day
        ("investigation-allocated-with-no-plan", "investigation.plan", {"target": "24h"},
         {"INV-PLAN-1"}, {"INV-PLAN-1", "INV-PLAN-2"}),
        # a force allowing 5 working days for the needs assessment: not yet breached on the Thursday
        ("child-victim-needs-not-assessed", "investigation.victim_needs_assessment",
         {"deadline": {"working_days": 5}}, {"INV-VNA-1"}, set()),
        # a force whose general CID team is trained for child sexual abuse
        ("child-sexual-abuse-allocated-to-a-response-team", "investigation.allocation.non_specialist",
         {"applies_when": [{"fact": "crime_type", "in": ["neglect"]}]}, {"INV-ALLOC-1"}, set()),
        # a force whose healthcare contract gives the nurse 6 hours to see every child
        ("detained-child-never-seen-by-a-nurse", "custody.healthcare.every_child", {"target": "6h"},
         {"CR-HCP-1"}, set()),
        # a force that sends PPNs on the call handler's authority: the rule switched off
        ("ppn-shared-before-a-supervisor-authorised-it", "first_contact.ppn.authorised_before_shared",
         {"enabled": False}, {"INC-PPN-1"}, set()),
    ],
)  # fmt: skip
def test_changing_a_local_standard_changes_the_verdict(
    tmp_path: Path,
    scenario_file: str,
    rule_id: str,
    override: dict[str, Any],
    by_default: set[str],
    with_override: set[str],
) -> None:
    scenario = load(SCENARIOS / f"{scenario_file}.yaml")
    assert breached(scenario, rule_id) == by_default
    assert breached(scenario, rule_id, write_overrides(tmp_path, {rule_id: override})) == with_override
