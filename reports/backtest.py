"""Policy backtests: the same history replayed under two policies, or under one rule's target
swept across a range, so a force sets a local standard with evidence instead of a guess.

Each policy's verdicts come from its own full replay with the live engine (reports/figures.py),
so a backtest's difference is exactly the difference of two independent replays.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

import msgspec

from agents.policy import Policy
from alerts.export import Period
from reports.figures import Counts, by_rule_and_area, history, justified
from streams.contract import Event


class Row(msgspec.Struct, frozen=True):
    rule_id: str
    area: str
    baseline: Counts
    candidate: Counts


class Changed(msgspec.Struct, frozen=True):
    """A case whose verdict on a rule differs: breached under one policy, not under the other."""

    case: str
    rule_id: str
    area: str
    breached_in_baseline: bool


class Backtest(msgspec.Struct, frozen=True):
    start: dt.datetime
    end: dt.datetime
    area: str | None
    rows: tuple[Row, ...]
    changed: tuple[Changed, ...]


class SweepPoint(msgspec.Struct, frozen=True):
    value: str
    warnings: int
    breaches: int


def backtest(events: Sequence[Event], baseline: Policy, candidate: Policy, period: Period) -> Backtest:
    before = justified(history(events, baseline, period.end)[0], period)
    after = justified(history(events, candidate, period.end)[0], period)
    totals_before, totals_after = by_rule_and_area(before), by_rule_and_area(after)
    rows = tuple(
        Row(rule, area, totals_before.get((rule, area), Counts()), totals_after.get((rule, area), Counts()))
        for rule, area in sorted(set(totals_before) | set(totals_after))
    )
    changed = []
    for key in sorted(set(before) | set(after)):
        breached_before = before.get(key, Counts()).breaches > 0
        if breached_before != (after.get(key, Counts()).breaches > 0):
            rule, area, case = key
            changed.append(Changed(case, rule, area, breached_before))
    return Backtest(period.start, period.end, period.area, rows, tuple(changed))


def only(policy: Policy, rule_id: str) -> Policy:
    """The policy cut to one rule: a sweep counts that rule's alerts alone, and a clock's verdict
    is its own (a test holds the cut sweep equal to the whole one), so each value replays fast."""
    kept = tuple(r for r in policy.rules if r.id == rule_id)
    return Policy(kept, policy.allowed_lateness, policy.calendar, policy.sources)


def sweep(
    events: Sequence[Event], policies: Sequence[tuple[str, Policy]], rule_id: str, period: Period
) -> list[SweepPoint]:
    """One rule's warnings and breaches in the period under each of ``policies`` (a value of its
    target, and the policy with that value)."""
    points = []
    for value, policy in policies:
        found = justified(history(events, policy, period.end)[0], period)
        mine = [c for (rule, _, _), c in found.items() if rule == rule_id]
        points.append(SweepPoint(value, sum(c.warnings for c in mine), sum(c.breaches for c in mine)))
    return points
