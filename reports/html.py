"""A report as one self-contained HTML page: tables and SVG charts, readable on screen and in
print, with every figure linked to its rule and legal basis. No script, no external file: the
page is the record a custody manager takes to the governance meeting.

Times are London's, with the zone. Case references appear only as the worst wait's case, and
``case_ids=False`` leaves even those out, for publication.
"""

from __future__ import annotations

import datetime as dt
import html
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Final
from zoneinfo import ZoneInfo

from agents.durations import format_duration
from agents.policy import Policy
from reports.backtest import Backtest, SweepPoint
from reports.figures import Figures, Report, Waits

LONDON: Final = ZoneInfo("Europe/London")
STYLE: Final = """
body { font-family: system-ui, sans-serif; color: #111; margin: 2rem; max-width: 64rem; line-height: 1.4; }
h1 { font-size: 1.5rem; } h2 { font-size: 1.2rem; margin-top: 2rem; border-bottom: 2px solid #111; }
table { border-collapse: collapse; width: 100%; margin: 0.5rem 0 1rem; font-size: 0.92rem; }
th, td { text-align: left; padding: 0.25rem 0.4rem; border-bottom: 1px solid #999; }
td.n, th.n { text-align: right; font-variant-numeric: tabular-nums; }
.up { color: #a4000f; font-weight: 700; } .down { color: #1d5c1d; font-weight: 700; }
.meta { color: #444; } a { color: #0b3d91; }
svg text { font-family: system-ui, sans-serif; font-size: 11px; }
.rule { margin: 0.5rem 0; padding: 0.4rem 0.6rem; border-left: 4px solid #999; page-break-inside: avoid; }
@media print { body { margin: 0; } a { color: #111; text-decoration: none; } h2 { page-break-after: avoid; } }
"""


def _e(text: object) -> str:
    return html.escape(str(text))


def _london(t: dt.datetime) -> str:
    return t.astimezone(LONDON).strftime("%a %d %b %Y %H:%M %Z")


def _span(start: dt.datetime, end: dt.datetime) -> str:
    """Whole London days as days (the end day included), anything else as instants."""
    first, last = start.astimezone(LONDON), end.astimezone(LONDON)
    if first.time() == dt.time() and last.time() == dt.time():
        return f"{first:%a %d %b %Y} to {(last - dt.timedelta(days=1)):%a %d %b %Y}, London days"
    return f"{_london(start)} to {_london(end)}"


def _duration(seconds: float | None) -> str:
    return "–" if seconds is None else format_duration(dt.timedelta(seconds=round(seconds)))


def _change(now: int, before: int) -> str:
    if now == before:
        return '<span class="meta">no change</span>'
    arrow, kind = ("▲", "up") if now > before else ("▼", "down")
    return f'<span class="{kind}">{arrow} {abs(now - before)}</span>'


def _title(rule_id: str, policy: Policy) -> str:
    rule = policy.rule(rule_id)
    return rule.title if rule else rule_id


def _rule_link(rule_id: str, policy: Policy) -> str:
    title = _title(rule_id, policy)
    return f'<a href="#rule-{_e(rule_id)}">{_e(title)}</a>'


def _totals(figures: Figures) -> dict[str, tuple[int, int]]:
    out: dict[str, tuple[int, int]] = {}
    for r in figures.rules:
        w, b = out.get(r.rule_id, (0, 0))
        out[r.rule_id] = (w + r.warnings, b + r.breaches)
    return out


def _bars(rows: list[tuple[str, int, int]], unit: str = "") -> str:
    """Horizontal bars, this period (solid) against the period before (outline): SVG, prints as drawn."""
    if not rows:
        return ""
    top = max(max(now, before) for _, now, before in rows) or 1
    width, label, height = 640, 250, 18
    parts = [f'<svg role="img" width="{width}" height="{height * len(rows) + 10}" xmlns="http://www.w3.org/2000/svg">']
    for i, (name, now, before) in enumerate(rows):
        y = 5 + i * height
        span = width - label - 60
        parts.append(f'<text x="0" y="{y + 12}">{_e(name[:40])}</text>')
        parts.append(f'<rect x="{label}" y="{y + 2}" width="{span * now / top:.1f}" height="11" fill="#a4000f"/>')
        parts.append(
            f'<rect x="{label}" y="{y + 1}" width="{span * before / top:.1f}" height="13" fill="none" stroke="#111"/>'
        )
        parts.append(f'<text x="{label + span * max(now, before) / top + 6:.1f}" y="{y + 12}">{now}{unit}</text>')
    parts.append("</svg>")
    return "".join(parts)


def _rules_section(report: Report, policy: Policy) -> list[str]:
    now, before = _totals(report.now), _totals(report.before)
    ordered = sorted(now, key=lambda r: (-now[r][1], r))
    rows = [
        f"<tr><td>{_rule_link(r, policy)}</td><td class='n'>{now[r][0]}</td><td class='n'>{now[r][1]}</td>"
        f"<td class='n'>{before.get(r, (0, 0))[1]}</td><td>{_change(now[r][1], before.get(r, (0, 0))[1])}</td></tr>"
        for r in ordered
    ]
    chart = _bars([(_title(r, policy), now[r][1], before.get(r, (0, 0))[1]) for r in ordered[:20]])
    return [
        "<h2>Warnings and breaches by rule</h2>",
        "<p class='meta'>Alerts whose deadline passed in the period and that the complete records still "
        "justify. The bars are this period's breaches; the outline is the period before.</p>",
        chart,
        "<table><thead><tr><th>Rule</th><th class='n'>Warnings</th><th class='n'>Breaches</th>"
        "<th class='n'>Breaches before</th><th>Trend</th></tr></thead><tbody>",
        *rows,
        "</tbody></table>" if rows else "</tbody></table><p>No alerts in the period.</p>",
    ]


def _areas_section(report: Report, policy: Policy) -> list[str]:
    areas = sorted({r.area for r in report.now.rules})
    by_rule: dict[str, dict[str, int]] = {}
    for r in report.now.rules:
        by_rule.setdefault(r.rule_id, {})[r.area] = r.breaches
    head = "".join(f"<th class='n'>{_e(a)}</th>" for a in areas)
    rows = [
        f"<tr><td>{_rule_link(rule, policy)}</td>"
        + "".join(f"<td class='n'>{counts.get(a, 0)}</td>" for a in areas)
        + "</tr>"
        for rule, counts in sorted(by_rule.items())
        if any(counts.values())
    ]
    return ["<h2>Breaches by suite or area</h2>", f"<table><thead><tr><th>Rule</th>{head}</tr></thead><tbody>",
            *rows, "</tbody></table>"]  # fmt: skip


def _waits_section(report: Report, policy: Policy, case_ids: bool) -> list[str]:
    before = {w.name: w for w in report.before.waits}
    rows = []
    for w in report.now.waits:
        earlier = before.get(w.name)
        worst = _duration(w.worst_s) + (f" (case {_e(w.worst_case)})" if case_ids and w.worst_case else "")
        cells = [w.completed, _duration(w.median_s), _duration(w.p90_s), worst, w.waiting_at_end]
        cells.append(_duration(earlier.median_s if earlier else None))
        numbers = "".join(f"<td class='n'>{c}</td>" for c in cells)
        rows.append(f"<tr><td><a href='#rule-{_e(w.rule_id)}'>{_e(w.name)}</a></td>{numbers}</tr>")
    chart = _wait_chart(report.now.waits)
    return [
        "<h2>Time to act</h2>",
        "<p class='meta'>From the record that starts each wait (in the period) to the one that ends it. "
        "Still waiting: started in the period and not done by its end.</p>",
        chart,
        "<table><thead><tr><th>What</th><th class='n'>Done</th><th class='n'>Median</th><th class='n'>90th percentile"
        "</th><th class='n'>Worst</th><th class='n'>Still waiting</th><th class='n'>Median before</th></tr></thead>"
        "<tbody>",
        *rows,
        "</tbody></table>",
    ]


def _wait_chart(waits: Iterable[Waits]) -> str:
    """Median, 90th percentile and worst, in hours, per wait: where the long tail is."""
    shown = [w for w in waits if w.worst_s]
    if not shown:
        return ""
    top = max(w.worst_s or 0 for w in shown) / 3600
    width, label, height = 640, 250, 22
    parts = [f'<svg role="img" width="{width}" height="{height * len(shown) + 24}" xmlns="http://www.w3.org/2000/svg">']
    span = width - label - 70
    for i, w in enumerate(shown):
        y = 5 + i * height
        parts.append(f'<text x="0" y="{y + 12}">{_e(w.name[:40])}</text>')
        for value, colour, h in ((w.worst_s, "#ddd", 14), (w.p90_s, "#e39a9a", 14), (w.median_s, "#a4000f", 14)):
            length = span * (value or 0) / 3600 / top
            parts.append(f'<rect x="{label}" y="{y}" width="{length:.1f}" height="{h}" fill="{colour}"/>')
        parts.append(f'<text x="{label + span + 6}" y="{y + 12}">{_duration(w.worst_s)}</text>')
    y = 10 + len(shown) * height
    parts.append(
        f'<text x="{label}" y="{y}">median (dark), 90th percentile, worst (light); scale 0 to {top:.1f} h</text>'
    )
    parts.append("</svg>")
    return "".join(parts)


def _reviews_section(report: Report) -> list[str]:
    n, b = report.now.reviews, report.before.reviews
    rows = [
        ("In person", n.in_person, b.in_person),
        ("By telephone or video", n.remote, b.remote),
        ("While the child slept", n.asleep, b.asleep),
        ("Postponed with a recorded reason (PACE s.40(4))", n.postponed, b.postponed),
    ]
    body = "".join(
        f"<tr><td>{_e(name)}</td><td class='n'>{now}</td><td class='n'>{before}</td>"
        f"<td>{_change(now, before)}</td></tr>"
        for name, now, before in rows
    )
    return [
        "<h2>Detention reviews</h2>",
        "<p class='meta'>Reviews of children's detention under PACE s.40. Late reviews are the breaches of "
        "<a href='#rule-custody.detention_review.schedule'>the review schedule</a> above.</p>",
        f"<table><thead><tr><th>Reviews</th><th class='n'>This period</th><th class='n'>Before</th><th>Trend</th></tr>"
        f"</thead><tbody>{body}</tbody></table>",
    ]


def _missing_section(report: Report) -> list[str]:
    overnight = sum(r.breaches for r in report.now.rules if r.rule_id == "missing.supervisor.overnight")
    earlier = sum(r.breaches for r in report.before.rules if r.rule_id == "missing.supervisor.overnight")
    return [
        "<h2>High-risk missing children overnight</h2>",
        f"<p>{report.now.high_risk_missing} high-risk missing episode(s) were reported; "
        f"<a href='#rule-missing.supervisor.overnight'>{overnight} had no investigation supervisor overnight</a> "
        f"({earlier} in the period before, {report.before.high_risk_missing} episodes).</p>",
    ]


def _rules_reference(report: Report, policy: Policy) -> list[str]:
    named = {r.rule_id for r in report.now.rules} | {w.rule_id for w in report.now.waits}
    named |= {"custody.detention_review.schedule", "missing.supervisor.overnight"}
    out = ["<h2>The rules and their legal basis</h2>"]
    for rule_id in sorted(named):
        rule = policy.rule(rule_id)
        if rule is None:
            continue
        target = rule.describe_target() if rule.kind != "immediate" else "a record that breaks it by itself"
        grade = rule.grade.replace("_", " ")
        out.append(
            f"<div class='rule' id='rule-{_e(rule.id)}'><strong>{_e(rule.title)}</strong> "
            f"<span class='meta'>({_e(rule.id)} v{rule.version}; {_e(target)})</span>"
            f"<p>{_e(rule.explanation)}</p><p class='meta'>Legal basis ({_e(grade)}): {_e(rule.legal_basis)}</p></div>"
        )
    return out


def render(report: Report, policy: Policy, *, case_ids: bool = True, source: str = "") -> str:
    n = report.now
    where = f"{_e(n.area)}" if n.area else "all suites and areas"
    title = f"Child protection compliance: {where}, {_span(n.start, n.end)}"
    policy_note = ", ".join(Path(p).name for p in policy.sources) if policy.sources else "the built-in packs"
    body = [
        f"<h1>{title}</h1>",
        f"<p class='meta'>Computed by Watchkeeper with the same engine and policy as its live alerts "
        f"({_e(policy_note)}), from {_e(source or 'the records given')}. Compared with "
        f"{_span(report.before.start, report.before.end)}. Case references are pseudonymous"
        + (", and left out of this copy" if not case_ids else "")
        + ".</p>",
        *_rules_section(report, policy),
        *_areas_section(report, policy),
        *_waits_section(report, policy, case_ids),
        *_reviews_section(report),
        *_missing_section(report),
        *_rules_reference(report, policy),
    ]
    return _page(title, body)


# ----------------------------------------------------------------------------- backtests
def _line_chart(points: Sequence[SweepPoint], label: str) -> str:
    """Breaches (and warnings) against the swept value: how the alert count answers the target."""
    if not points:
        return ""
    width, height, left, bottom = 640, 220, 50, 30
    top = max(max(p.breaches, p.warnings) for p in points) or 1
    step = (width - left - 20) / max(1, len(points) - 1)

    def xy(i: int, value: int) -> str:
        return f"{left + i * step:.1f},{height - bottom - (height - bottom - 10) * value / top:.1f}"

    parts = [f'<svg role="img" width="{width}" height="{height}" xmlns="http://www.w3.org/2000/svg">']
    for series, colour in (("breaches", "#a4000f"), ("warnings", "#b07a00")):
        line = " ".join(xy(i, getattr(p, series)) for i, p in enumerate(points))
        parts.append(f'<polyline points="{line}" fill="none" stroke="{colour}" stroke-width="2"/>')
        for i, p in enumerate(points):
            x, y = xy(i, getattr(p, series)).split(",")
            parts.append(f'<circle cx="{x}" cy="{y}" r="3" fill="{colour}"/>')
    for i, p in enumerate(points):
        parts.append(f'<text x="{left + i * step - 12:.1f}" y="{height - 10}">{_e(p.value)}</text>')
    parts.append(f'<text x="0" y="14">{top}</text><text x="0" y="{height - bottom}">0</text>')
    parts.append(f'<text x="{left}" y="14">{_e(label)}: breaches (red), warnings (amber)</text></svg>')
    return "".join(parts)


def _sweep_section(label: str, points: Sequence[SweepPoint]) -> list[str]:
    values = "".join(
        f"<tr><td>{_e(p.value)}</td><td class='n'>{p.warnings}</td><td class='n'>{p.breaches}</td></tr>" for p in points
    )
    return [
        f"<h2>How the alerts answer {_e(label)}</h2>",
        _line_chart(points, label),
        "<table><thead><tr><th>Value</th><th class='n'>Warnings</th><th class='n'>Breaches</th></tr></thead>"
        f"<tbody>{values}</tbody></table>",
    ]


def _changed_section(result: Backtest, policy: Policy, case_ids: bool) -> list[str]:
    verdict = {True: "breached only under the baseline", False: "breached only under the what-if"}
    changed = [
        f"<tr><td>{_e(c.case) if case_ids else '(left out)'}</td><td>{_rule_link(c.rule_id, policy)}</td>"
        f"<td>{_e(c.area)}</td><td>{verdict[c.breached_in_baseline]}</td></tr>"
        for c in result.changed
    ]
    return [
        "<h2>Cases whose verdict changes</h2>",
        "<table><thead><tr><th>Case</th><th>Rule</th><th>Suite or area</th><th>Verdict</th></tr></thead><tbody>",
        *changed,
        "</tbody></table>" if changed else "</tbody></table><p>No case's verdict changes.</p>",
    ]


def _page(title: str, body: list[str]) -> str:
    return (
        "<!doctype html><html lang='en-GB'><head><meta charset='utf-8'>"
        f"<title>{title}</title><style>{STYLE}</style></head><body>" + "\n".join(body) + "</body></html>\n"
    )


def render_backtest(
    result: Backtest,
    baseline: Policy,
    candidate: Policy,
    sweep: tuple[str, Sequence[SweepPoint]] | None = None,
    *,
    case_ids: bool = True,
    source: str = "",
) -> str:
    def named(policy: Policy) -> str:
        return ", ".join(Path(p).name for p in policy.sources if "/agents/packs/" not in p) or "the built-in packs"

    rows = [
        f"<tr><td>{_rule_link(r.rule_id, candidate)}</td><td>{_e(r.area)}</td>"
        f"<td class='n'>{r.baseline.breaches}</td><td class='n'>{r.candidate.breaches}</td>"
        f"<td>{_change(r.candidate.breaches, r.baseline.breaches)}</td>"
        f"<td class='n'>{r.baseline.warnings}</td><td class='n'>{r.candidate.warnings}</td></tr>"
        for r in result.rows
        if r.baseline != r.candidate
    ]
    pages_before = sum(r.baseline.breaches + r.baseline.warnings for r in result.rows)
    pages_after = sum(r.candidate.breaches + r.candidate.warnings for r in result.rows)
    where = _e(result.area) if result.area else "all suites and areas"
    title = f"Policy backtest: {where}, {_span(result.start, result.end)}"
    body = [
        f"<h1>{title}</h1>",
        f"<p class='meta'>The same records ({_e(source or 'the records given')}) replayed with the live engine under "
        f"two policies: the baseline ({_e(named(baseline))}) and the what-if ({_e(named(candidate))}). Every alert "
        f"pages someone: {pages_before} pages under the baseline, {pages_after} under the what-if.</p>",
        "<h2>What changes, by rule and suite</h2>",
        "<table><thead><tr><th>Rule</th><th>Suite or area</th><th class='n'>Breaches, baseline</th>"
        "<th class='n'>Breaches, what-if</th><th>Change</th><th class='n'>Warnings, baseline</th>"
        "<th class='n'>Warnings, what-if</th></tr></thead><tbody>",
        *rows,
        "</tbody></table>" if rows else "</tbody></table><p>No rule's alerts change.</p>",
    ]
    if sweep is not None:
        body += _sweep_section(*sweep)
    return _page(title, body + _changed_section(result, candidate, case_ids))
