"""A backtest's difference is the difference of two independent replays, and a swept target's
alerts answer it the way a deadline must."""

from __future__ import annotations

import datetime as dt
import json
import subprocess
import sys
from collections import Counter
from pathlib import Path

from agents.policy import load_policy
from alerts.export import Period
from reports.backtest import backtest, only, sweep
from streams.contract import Event
from streams.simulate import load_profile, simulate
from streams.validation import decode_event
from tests.conftest import REPO

START = dt.datetime(2026, 10, 5, tzinfo=dt.UTC)
PERIOD = Period(START + dt.timedelta(days=1), START + dt.timedelta(days=6))
RULE = "custody.appropriate_adult.arrival"


def week(tmp_path: Path) -> tuple[Path, list[Event]]:
    raw = simulate(load_profile("small"), 7, 11, START)
    path = tmp_path / "week.jsonl"
    path.write_text("".join(json.dumps(e) + "\n" for e in raw))
    far = dt.datetime(2030, 1, 1, tzinfo=dt.UTC)
    events = [e for e in (decode_event(json.dumps(r).encode(), now=far) for r in raw) if isinstance(e, Event)]
    return path, events


def what_if(tmp_path: Path, target: str) -> Path:
    path = tmp_path / f"aa-{target}.yaml"
    path.write_text(f"force: what-if\noverrides:\n  {RULE}:\n    target: {target}\n")
    return path


def replayed_breaches(events_file: Path, overrides: Path | None, tmp_path: Path) -> Counter[tuple[str, str]]:
    """``watchkeeper replay`` in its own process: (rule, case) of each breach raised in the period and
    never retracted, worked out here from its alert messages."""
    out = tmp_path / f"replay-{overrides.stem if overrides else 'baseline'}.jsonl"
    command = [sys.executable, "-m", "watchkeeper", "replay", str(events_file), "--out", str(out),
               "--until", PERIOD.end.isoformat()]  # fmt: skip
    if overrides is not None:
        command += ["--overrides", str(overrides)]
    assert subprocess.run(command, cwd=REPO, capture_output=True, timeout=300).returncode == 0
    first: dict[str, dict[str, str]] = {}
    last: dict[str, str] = {}
    for line in out.read_text().splitlines():
        a = json.loads(line)
        if a["status"] == "firing":
            first.setdefault(a["alert_id"], a)
        last[a["alert_id"]] = a["status"]
    return Counter(
        (a["rule_id"], a["case"])
        for i, a in first.items()
        if a["stage"] == "breach" and last[i] != "retracted"
        and PERIOD.holds(dt.datetime.fromisoformat(a["stage_at"]))
    )  # fmt: skip


def test_a_backtest_differs_exactly_as_two_independent_replays_do(tmp_path: Path) -> None:
    path, events = week(tmp_path)
    stricter = what_if(tmp_path, "1h")
    result = backtest(events, load_policy(), load_policy(overrides=[stricter]), PERIOD)
    before, after = replayed_breaches(path, None, tmp_path), replayed_breaches(path, stricter, tmp_path)
    for rule in {r.rule_id for r in result.rows}:
        assert sum(r.baseline.breaches for r in result.rows if r.rule_id == rule) == sum(
            n for (r, _), n in before.items() if r == rule
        ), rule
        assert sum(r.candidate.breaches for r in result.rows if r.rule_id == rule) == sum(
            n for (r, _), n in after.items() if r == rule
        ), rule
    changed = {(c.rule_id, c.case) for c in result.changed}
    assert changed == set(before) ^ set(after), "the cases whose verdict changes, exactly"
    assert changed and all(c.rule_id == RULE and not c.breached_in_baseline for c in result.changed)


def test_a_longer_target_never_breaches_more(tmp_path: Path) -> None:
    _, events = week(tmp_path)
    values = ["1h", "2h", "3h", "4h"]
    policies = [(v, load_policy(overrides=[what_if(tmp_path, v)])) for v in values]
    points = sweep(events, policies, RULE, PERIOD)
    assert [p.value for p in points] == values
    breaches = [p.breaches for p in points]
    assert breaches == sorted(breaches, reverse=True) and breaches[0] > breaches[-1]
    cut = [(v, only(p, RULE)) for v, p in policies]
    assert sweep(events, cut, RULE, PERIOD) == points, "the rule alone gives the same verdicts, faster"


def test_the_backtest_command_writes_the_page_with_its_sweep(tmp_path: Path) -> None:
    path, _ = week(tmp_path)
    page = tmp_path / "backtest.html"
    command = [sys.executable, "-m", "watchkeeper", "backtest", str(path), "--overrides", str(what_if(tmp_path, "1h")),
               "--sweep", f"{RULE}.target=1h..3h/1h", "--out", str(page), "--no-case-ids"]  # fmt: skip
    done = subprocess.run(command, cwd=REPO, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    text = page.read_text()
    assert "How the alerts answer custody.appropriate_adult.arrival target" in text and "<polyline" in text
    assert "Cases whose verdict changes" in text and "CR-0" not in text, "no case ids in a copy for publication"
    bad = subprocess.run([*command[:4], "--sweep", "nonsense"], cwd=REPO, capture_output=True, text=True)
    assert bad.returncode == 2 and "RULE.FIELD=FROM..TO/STEP" in bad.stderr
