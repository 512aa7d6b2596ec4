"""The command line: help, argument errors and setting errors, run as a real process."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import REPO


def watchkeeper(
    *args: str, env: dict[str, str] | None = None, stdin: str | None = None
) -> subprocess.CompletedProcess[str]:
    import os

    return subprocess.run(
        [sys.executable, "-m", "watchkeeper", *args],
        capture_output=True,
        text=True,
        cwd=REPO,
        env={**os.environ, **(env or {})},
        timeout=60,
        input=stdin,
    )


@pytest.mark.parametrize(
    "command", ["worker", "replay", "send", "import", "topics", "schemas", "rules", "audit", "users"]
)
def test_every_subcommand_has_help(command: str) -> None:
    result = watchkeeper(command, "--help")
    assert result.returncode == 0
    assert f"usage: watchkeeper {command}" in result.stdout


def test_top_level_help_lists_subcommands_and_settings() -> None:
    result = watchkeeper("--help")
    assert result.returncode == 0
    for word in ("worker", "replay", "send", "topics", "WATCHKEEPER_BOOTSTRAP_SERVERS"):
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


def test_send_and_replay_read_standard_input_for_a_dash(tmp_path: Path) -> None:
    import json

    from tests.conftest import cloudevent, detention

    lines = "\n".join(json.dumps(e) for e in (detention("CR-1"), cloudevent("CR-1", "custody.released")))
    sent = watchkeeper("send", "--dry-run", "-", stdin=lines)
    assert sent.returncode == 0 and "2 event(s) valid" in sent.stdout
    replayed = watchkeeper("replay", "-", "--out", str(tmp_path / "alerts.jsonl"), stdin=lines)
    assert replayed.returncode == 0 and "replayed 2 event(s) from stdin" in replayed.stdout
    refused = watchkeeper("send", "--dry-run", "-", stdin='{"specversion": "1.0"}\n')
    assert refused.returncode == 1 and "stdin:1: schema_violation" in refused.stderr


def test_schemas_check_passes_on_the_committed_files() -> None:
    assert watchkeeper("schemas", "--check", "--out", str(REPO / "docs" / "schemas")).returncode == 0


def test_generating_commands_write_where_they_are_told_and_nowhere_else(tmp_path: Path) -> None:
    """An installed Watchkeeper has no checkout: nothing writes into one by default."""
    assert watchkeeper("schemas").returncode == 2  # --out is required
    assert watchkeeper("schemas", "--out", str(tmp_path / "schemas")).returncode == 0
    assert (tmp_path / "schemas" / "index.json").is_file()
    printed = watchkeeper("rules")
    assert printed.returncode == 0 and printed.stdout == (REPO / "docs" / "rules.md").read_text(encoding="utf-8")
    assert watchkeeper("rules", "--out", str(tmp_path / "rules.md")).returncode == 0
    assert watchkeeper("rules", "--check", "--out", str(tmp_path / "rules.md")).returncode == 0
    assert watchkeeper("rules", "--check", "--out", str(tmp_path / "missing.md")).returncode == 1


def test_a_worker_with_a_placeholder_key_stops_at_start_up_with_a_clear_message(tmp_path: Path) -> None:
    from tests.alerts.helpers import LADDER

    notify = tmp_path / "notify.yaml"
    notify.write_text(LADDER.replace("ack_link_secret: ", "ack_link_secret: change-me #"))
    result = watchkeeper(
        "worker", env={"WATCHKEEPER_NOTIFY": str(notify), "WATCHKEEPER_BOOTSTRAP_SERVERS": "127.0.0.1:9"}
    )
    assert result.returncode == 2
    assert "field 'ack_link_secret'" in result.stderr and "too short" in result.stderr


def test_console_users_without_a_session_key_stop_the_worker_at_start_up() -> None:
    made = watchkeeper("users", "add", "insp-1", "--access", "inspector")
    assert made.returncode == 0
    entry = next(line.split(": ", 1)[1] for line in made.stdout.splitlines() if line.startswith("WATCHKEEPER_CONSOLE"))
    result = watchkeeper(
        "worker", env={"WATCHKEEPER_CONSOLE_USERS": entry, "WATCHKEEPER_BOOTSTRAP_SERVERS": "127.0.0.1:9"}
    )
    assert result.returncode == 2 and "WATCHKEEPER_SESSION_SECRET is not set" in result.stderr


def test_users_add_prints_a_generated_token_that_matches_its_credential() -> None:
    from alerts.tokens import MIN_TOKEN_LENGTH, user_for_token

    result = watchkeeper("users", "add", "insp-9", "--access", "viewer")
    assert result.returncode == 0
    token = result.stdout.split("it is not stored anywhere): ", 1)[1].split()[0]
    credential = result.stdout.split('token_hash: "', 1)[1].split('"')[0]
    assert len(token) >= MIN_TOKEN_LENGTH and token not in credential
    assert user_for_token(token, {"insp-9": credential}) == "insp-9"
    assert watchkeeper("users", "add", "Zelda Quimby").returncode == 2


def test_the_shipped_example_replays_as_its_scenario_and_replay_takes_scenarios_and_directories(tmp_path: Path) -> None:
    import json

    from tests.scenarios.library import load, summary_line

    scenario = load(REPO / "tests" / "scenarios" / "custody-16-year-old-held-23-hours.yaml")
    example, from_yaml = tmp_path / "example.jsonl", tmp_path / "scenario.jsonl"
    until = scenario.until.isoformat()
    ran = watchkeeper("replay", "docs/examples/night-in-custody.jsonl", "--until", until, "--out", str(example))
    assert ran.returncode == 0, ran.stderr
    assert watchkeeper("replay", str(scenario.path), "--out", str(from_yaml)).returncode == 0
    lines = [summary_line(json.loads(line)) for line in example.read_text().splitlines()]
    assert lines == list(scenario.expect) == [summary_line(json.loads(x)) for x in from_yaml.read_text().splitlines()]
    everything = watchkeeper("replay", "tests/scenarios", "--out", str(tmp_path / "all.jsonl"))
    assert everything.returncode == 0 and everything.stdout.count("replayed ") == len(
        list((REPO / "tests" / "scenarios").glob("*.yaml"))
    )


def test_version_says_which_watchkeeper() -> None:
    result = watchkeeper("--version")
    assert result.returncode == 0 and result.stdout.startswith("watchkeeper ")


def test_simulate_writes_a_force_that_replays_with_nothing_refused(tmp_path: Path) -> None:
    month = tmp_path / "week.jsonl"
    made = watchkeeper("simulate", "--days", "3", "--seed", "5", "--profile", "small",
                       "--start", "2026-10-05T00:00:00+00:00", "--out", str(month))  # fmt: skip
    assert made.returncode == 0, made.stderr
    assert "simulated" in made.stderr and "small force, 3 day(s) from 2026-10-05, seed 5" in made.stderr
    replayed = watchkeeper("replay", str(month), "--out", str(tmp_path / "alerts.jsonl"))
    assert replayed.returncode == 0 and "(0 invalid," in replayed.stdout, replayed.stdout + replayed.stderr
    assert (tmp_path / "alerts.jsonl").read_text().count("\n") > 10
    bounded = watchkeeper("replay", str(month), "--decoded-cases", "2", "--out", str(tmp_path / "bounded.jsonl"))
    assert bounded.returncode == 0, bounded.stderr
    assert (tmp_path / "bounded.jsonl").read_text() == (tmp_path / "alerts.jsonl").read_text()
    assert watchkeeper("replay", str(month), "--decoded-cases", "0").returncode == 2
    bad = watchkeeper("simulate", "--profile", "nowhere")
    assert bad.returncode == 2 and "bad profile" in bad.stderr
