"""A report's figures against values worked out by hand on a small fixed history."""

from __future__ import annotations

import datetime as dt
import json

from alerts.export import Period
from reports.figures import before, report
from reports.html import render
from streams.contract import Event
from streams.validation import decode_event
from tests.conftest import AA_ARRIVAL, T0, cloudevent, detention, only_rules

M = dt.timedelta(minutes=1)
H = dt.timedelta(hours=1)
DAY = Period(T0, T0 + 24 * H)


def ev(raw: dict[str, object]) -> Event:
    event = decode_event(json.dumps(raw).encode(), now=T0 + dt.timedelta(days=30))
    assert isinstance(event, Event), event
    return event


def history() -> list[Event]:
    """CR-1 (SUITE-A) waits 30 minutes for its AA; CR-2 (SUITE-A) 3 hours, reviewed by telephone;
    CR-3 (SUITE-B) never sees one before release."""
    out = []
    for case, at, suite, arrives in (("CR-1", T0, "SUITE-A", 30 * M), ("CR-2", T0 + H, "SUITE-A", 3 * H),
                                     ("CR-3", T0 + 2 * H, "SUITE-B", None)):  # fmt: skip
        out.append(ev(detention(case, at=at, suite=suite)))
        out.append(ev(cloudevent(case, "custody.appropriate_adult.requested", at=at)))
        if arrives is not None:
            out.append(ev(cloudevent(case, "custody.appropriate_adult.arrived", at=at + arrives)))
        out.append(ev(cloudevent(case, "custody.released", {"outcome": "bail"}, at=at + 7 * H)))
    review = {"mode": "telephone", "detainee_awake": True, "detainee_spoken_to": True, "reviewer_rank": "inspector"}
    out.append(ev(cloudevent("CR-2", "custody.detention_review.completed", review, at=T0 + 6 * H)))
    return out


def test_the_figures_are_the_ones_worked_out_by_hand() -> None:
    figures = report(history(), only_rules(AA_ARRIVAL), DAY)
    # AA warnings at 1h and 1h45m, breach at 2h: CR-2 and CR-3 reach all three, CR-1 none.
    assert [(r.area, r.warnings, r.breaches) for r in figures.now.rules] == [("SUITE-A", 2, 1), ("SUITE-B", 2, 1)]
    aa = figures.now.waits[0]
    assert (aa.name, aa.completed, aa.waiting_at_end) == ("Appropriate adult to arrive", 2, 1)
    assert (aa.median_s, aa.p90_s, aa.worst_s, aa.worst_case) == (6300.0, 10800.0, 10800.0, "CR-2")  # (30m+3h)/2
    detention = figures.now.waits[-1]
    assert (detention.completed, detention.median_s) == (3, 7 * 3600.0)
    assert figures.now.reviews.remote == 1 and figures.now.reviews.in_person == 0
    assert figures.before.rules == () and figures.before.waits[0].completed == 0, "nothing the day before"


def test_an_area_report_counts_only_that_area_in_any_case_of_letters() -> None:
    figures = report(history(), only_rules(AA_ARRIVAL), Period(DAY.start, DAY.end, "suite-a"))
    assert [(r.area, r.breaches) for r in figures.now.rules] == [("SUITE-A", 1)]
    assert (figures.now.waits[0].completed, figures.now.waits[0].waiting_at_end) == (2, 0)


def test_the_page_links_every_figure_to_its_rule_and_can_leave_out_case_references() -> None:
    policy = only_rules(AA_ARRIVAL)
    figures = report(history(), policy, DAY)
    page = render(figures, policy, source="history.jsonl")
    assert (
        "href='#rule-custody.appropriate_adult.arrival'" in page
        or 'href="#rule-custody.appropriate_adult.arrival"' in page
    )
    assert "id='rule-custody.appropriate_adult.arrival'" in page and "Legal basis" in page
    assert "1h45m" in page and "(case CR-2)" in page and "GMT" in page
    published = render(figures, policy, case_ids=False, source="history.jsonl")
    assert "CR-2" not in published and "CR-1" not in published and "left out of this copy" in published
    assert "<script" not in page and "http://" not in page.replace("http://www.w3.org/2000/svg", "")


def test_the_period_before_is_as_many_london_days_across_the_clock_change() -> None:
    from zoneinfo import ZoneInfo

    london = ZoneInfo("Europe/London")
    start = dt.datetime(2026, 10, 15, tzinfo=london).astimezone(dt.UTC)
    end = dt.datetime(2026, 10, 29, tzinfo=london).astimezone(dt.UTC)  # the clocks went back on the 25th
    earlier = before(Period(start, end))
    assert earlier.start == dt.datetime(2026, 10, 1, tzinfo=london) and earlier.end == start
