"""The export for an inspection, from a known history of records read in the order written."""

from __future__ import annotations

import datetime as dt

import msgspec

from alerts.export import COLUMNS, Period, collect, csv_row
from tests.alerts.history import SOUTH, T, expected_north, history


def exported(period: Period) -> list[dict[str, object]]:
    export = collect(period, [(source, value) for source, _, value in history()])  # type: ignore[misc]
    assert export.skipped == 0
    return [msgspec.json.decode(msgspec.json.encode(r)) for r in export.rows()]


def test_an_export_gives_every_record_of_the_period_and_area_joined_to_its_alert_in_time_order() -> None:
    day = Period(T - dt.timedelta(hours=1), T + dt.timedelta(hours=2), "suite-north")
    assert exported(day) == expected_north()


def test_without_an_area_every_area_is_in_and_the_period_bounds_what_is_out() -> None:
    rows = exported(Period(T - dt.timedelta(hours=1), T + dt.timedelta(hours=2)))
    assert {r.get("alert_id") for r in rows if r["kind"] == "alert"} == {SOUTH, expected_north()[1]["alert_id"]}
    assert not any(r.get("case") == "CR-E" for r in rows), "the day before is outside the period"
    assert not any("heartbeat" in str(r) for r in rows), "a heartbeat is about the monitor, not an alert"


def test_csv_has_one_column_per_field_and_empty_cells_for_what_a_row_has_not() -> None:
    export = collect(Period(T - dt.timedelta(hours=1), T + dt.timedelta(hours=2), "SUITE-NORTH"),
                     [(s, v) for s, _, v in history()])  # type: ignore[misc]  # fmt: skip
    first = export.rows()[0]
    cells = dict(zip(COLUMNS, csv_row(first), strict=True))
    assert cells["kind"] == "silence" and cells["alert_id"] == "" and cells["by"] == "admin-1"


def test_a_record_that_cannot_be_read_is_counted_not_guessed_at() -> None:
    export = collect(Period(T, T + dt.timedelta(hours=1)), [("audit", b"{not json"), ("alerts", b"[]")])
    assert export.skipped == 2 and export.rows() == []
