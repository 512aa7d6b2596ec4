"""The scenario library through ``watchkeeper replay``: each scenario gives exactly its alerts.

The same scenarios run through the live worker on the real broker in
tests/integration/test_scenarios_live.py, which checks that both ways agree.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import REPO
from tests.scenarios.library import Scenario, all_scenarios, summary_line

SCENARIOS = all_scenarios()


def replay_cli(scenario: Scenario, tmp_path: Path, events: list[dict[str, object]] | None = None) -> list[dict]:
    return replay_with_refusals(scenario, tmp_path, events)[0]


def replay_with_refusals(
    scenario: Scenario, tmp_path: Path, events: list[dict[str, object]] | None = None
) -> tuple[list[dict], list[str]]:
    """The alerts replay writes, and the reason of every input it refused (invalid lines, in
    order, then one ``id_conflict`` per conflict it counted)."""
    source, out = tmp_path / "events.jsonl", tmp_path / "alerts.jsonl"
    source.write_text("".join(json.dumps(e) + "\n" for e in events or scenario.cloudevents()))
    until = scenario.until.isoformat()
    command = [sys.executable, "-m", "watchkeeper", "replay", str(source), "--until", until, "--out", str(out)]
    result = subprocess.run(command, cwd=REPO, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    refused = re.findall(r"^\S+:\d+: (\w+): ", result.stderr, flags=re.MULTILINE)
    conflicts = re.search(r"(\d+) id conflict", result.stdout)
    assert conflicts is not None, result.stdout
    refused += ["id_conflict"] * int(conflicts.group(1))
    return [json.loads(line) for line in out.read_text().splitlines()], refused


def test_the_library_holds_the_inspection_case_studies() -> None:
    names = " ".join(s.path.stem for s in SCENARIOS)
    for study in ("16-year-old", "13-year-old", "police-protection-without-designated-officer", "no-ppn-no-encompass"):
        assert study in names


@pytest.mark.parametrize("scenario", SCENARIOS, ids=[s.path.stem for s in SCENARIOS])
def test_events_are_listed_in_the_order_they_were_entered(scenario: Scenario) -> None:
    recorded = [e["recordedtime"] for e in scenario.cloudevents()]
    assert recorded == sorted(recorded), "list events by recorded time: that is how the live worker receives them"


@pytest.mark.parametrize("scenario", SCENARIOS, ids=[s.path.stem for s in SCENARIOS])
def test_replay_gives_exactly_the_scenarios_alerts(scenario: Scenario, tmp_path: Path) -> None:
    alerts = replay_cli(scenario, tmp_path)
    assert [summary_line(a) for a in alerts] == list(scenario.expect)
    assert all(a["legal_basis"] and a["action"] and a["timeline"] for a in alerts)


RULE_SCENARIOS = [s for s in SCENARIOS if s.rule is not None]


@pytest.mark.parametrize("scenario", RULE_SCENARIOS, ids=[s.path.stem for s in RULE_SCENARIOS])
def test_a_rules_scenario_breaches_it_and_its_quiet_case_complies(scenario: Scenario) -> None:
    """The expectations are exact (replay must give them), so this reads them: the rule's breach
    is raised for some case, and never for the case that complied."""
    subjects = {str(e.get("subject", scenario.subject)) for e in scenario.raw_events}
    assert scenario.quiet in subjects, "quiet names one of the scenario's cases"
    breached = {line.split()[0] for line in scenario.expect if line.split()[1:] == [scenario.rule, "breach", "firing"]}
    assert breached - {scenario.quiet}, f"{scenario.rule} must breach in this scenario"
    assert not any(
        line.split()[:2] == [scenario.quiet, scenario.rule] and " breach " in line for line in scenario.expect
    )


@pytest.mark.parametrize("scenario", SCENARIOS, ids=[s.path.stem for s in SCENARIOS])
def test_replay_refuses_exactly_the_inputs_the_scenario_names(scenario: Scenario, tmp_path: Path) -> None:
    _, refused = replay_with_refusals(scenario, tmp_path)
    assert refused == list(scenario.refused)


def test_alerts_carry_no_names_or_dates_of_birth(tmp_path: Path) -> None:
    """The contract drops unknown fields: a name sent in an event never reaches an alert."""
    scenario = next(s for s in SCENARIOS if "16-year-old" in s.path.stem)
    events = scenario.cloudevents()
    events[0]["data"] = {**events[0]["data"], "name": "Jane Example", "date_of_birth": "2005-04-01"}
    text = json.dumps(replay_cli(scenario, tmp_path, events))
    assert "Jane" not in text and "2005-04-01" not in text
