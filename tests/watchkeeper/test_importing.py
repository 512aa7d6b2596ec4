"""watchkeeper import: CSV through a column mapping, validation before sending, subject order,
a bounded rate, and a checkpoint that resumes an interrupted import without a gap."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest

from streams.contract import Event
from streams.validation import DEFAULT_LIMITS
from tests.conftest import REPO, cloudevent, detention
from tests.watchkeeper.test_cli import watchkeeper
from watchkeeper import importing

NOW = dt.datetime.now(dt.UTC).replace(microsecond=0)
MAPPING = """
type: custody.detention.authorised
columns: {id: record_id, source: "=custody-system", subject: custody_ref, time: booked_at, recordedtime: entered_at}
data: {relevant_time: booked_at, age_years: age, custody_suite: suite}
"""
CSV = (
    "record_id,custody_ref,booked_at,entered_at,age,suite,full_name\n"
    f"r1,CR-1,{NOW.isoformat()},{NOW.isoformat()},15,SUITE-A,Jane Example\n"
    f"r2,CR-2,{NOW.isoformat()},{NOW.isoformat()},,SUITE-B,John Example\n"
)


def test_a_csv_row_becomes_a_contract_event_with_typed_data_and_no_unmapped_column(tmp_path: Path) -> None:
    mapping_file = tmp_path / "mapping.yaml"
    mapping_file.write_text(MAPPING)
    lines = importing.read_lines(CSV.encode(), "csv", importing.ColumnMapping.load(mapping_file))
    events, invalid = importing.validate(lines, "rows.csv", NOW, DEFAULT_LIMITS)
    assert invalid == 0 and [e.subject for e in events] == ["CR-1", "CR-2"]
    assert events[0].data.age_years == 15 and events[1].data.age_years is None  # type: ignore[attr-defined]
    assert "Example" not in json.dumps([e.to_cloudevent() for e in events]) and b"Example" not in b"".join(lines)


@pytest.mark.parametrize(
    ("text", "field"),
    [
        ("type: custody.teleported\ncolumns: {id: a, source: b, subject: c, time: d, recordedtime: e}", "'type'"),
        ("type: custody.released\ncolumns: {id: a}", "'columns'"),
        ("- not a mapping", "YAML mapping"),
    ],
)
def test_a_mapping_file_that_cannot_be_used_names_the_file_and_the_field(tmp_path: Path, text: str, field: str) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text(text)
    with pytest.raises(importing.MappingError, match=field) as info:
        importing.ColumnMapping.load(path)
    assert str(path) in str(info.value)


def events(n: int) -> list[Event]:
    lines = [json.dumps(detention(f"CR-{i % 7}", at=NOW - dt.timedelta(minutes=i))).encode() for i in range(n)]
    decoded, invalid = importing.validate(lines, "x", NOW, DEFAULT_LIMITS)
    assert invalid == 0
    return decoded


def test_events_go_case_by_case_each_case_in_the_order_its_records_were_entered() -> None:
    ordered = importing.in_subject_order(events(30))
    assert [e.subject for e in ordered] == sorted(e.subject for e in ordered)
    for subject in {e.subject for e in ordered}:
        times = [e.recordedtime for e in ordered if e.subject == subject]
        assert times == sorted(times)
    assert importing.in_subject_order(list(reversed(ordered))) == ordered, "the same order from any input order"


def test_an_interrupted_import_resumes_after_the_last_batch_the_broker_had(tmp_path: Path) -> None:
    todo = importing.in_subject_order(events(25))
    checkpoint = importing.Checkpoint(tmp_path / "c.json", "digest-1")
    sent: list[str] = []
    flushed: list[int] = []

    def send(event: Event) -> None:
        if len(sent) == 17:
            raise ConnectionError("the import was stopped")
        sent.append(event.id)

    with pytest.raises(ConnectionError):
        importing.send_all(todo, send, lambda: flushed.append(len(sent)), checkpoint, rate=1e9, batch=5)
    assert checkpoint.position() == 15, "only what was flushed counts as sent"
    resumed: list[str] = []
    importing.send_all(todo, lambda e: resumed.append(e.id), lambda: None, checkpoint, rate=1e9, batch=5)
    assert sent[:15] + resumed == [e.id for e in todo], "nothing skipped; at most the unflushed batch sent twice"
    assert checkpoint.position() == 25
    assert importing.Checkpoint(tmp_path / "c.json", "another input").position() == 0


def test_the_rate_bounds_events_a_second() -> None:
    now = [0.0]
    slept: list[float] = []

    def sleep(seconds: float) -> None:
        slept.append(seconds)
        now[0] += seconds

    todo = events(10)
    checkpoint = importing.Checkpoint(Path("/nonexistent/checkpoint"), "d")
    checkpoint.save = lambda sent, total: None  # type: ignore[method-assign]
    importing.send_all(todo, lambda e: None, lambda: None, checkpoint, rate=5, clock=lambda: now[0], sleep=sleep)
    assert now[0] == pytest.approx(9 / 5), "10 events at 5 a second: the last one 1.8 s after the first"


def test_import_dry_run_summarises_jsonl_csv_and_stdin_and_refuses_invalid_lines(tmp_path: Path) -> None:
    source = tmp_path / "history.jsonl"
    source.write_text("\n".join(json.dumps(e) for e in (detention("CR-1"), cloudevent("CR-1", "custody.released"))))
    result = watchkeeper("import", "--dry-run", str(source))
    assert result.returncode == 0 and "2 valid event(s), 0 invalid, 1 case(s)" in result.stdout
    assert "dry run: nothing sent" in result.stdout
    piped = watchkeeper("import", "--dry-run", "-", stdin=source.read_text())
    assert piped.returncode == 0 and "2 valid event(s)" in piped.stdout
    rows, mapping = tmp_path / "rows.csv", tmp_path / "mapping.yaml"
    rows.write_text(CSV)
    mapping.write_text(MAPPING)
    csv_run = watchkeeper("import", "--dry-run", str(rows), "--mapping", str(mapping))
    assert csv_run.returncode == 0 and "custody.detention.authorised" in csv_run.stdout
    assert watchkeeper("import", "--dry-run", str(rows)).returncode == 2, "a CSV needs its mapping"
    rows.write_bytes(b"record_id,custody_ref\n\xff\xfe,CR-1\n")
    latin = watchkeeper("import", "--dry-run", str(rows), "--mapping", str(mapping))
    assert latin.returncode == 2 and "must be UTF-8 CSV" in latin.stderr and "Traceback" not in latin.stderr
    source.write_text(source.read_text() + '\n{"specversion": "1.0"}\n')
    refused = watchkeeper("import", "--dry-run", str(source))
    assert refused.returncode == 1 and f"{source}:3: schema_violation" in refused.stderr
    assert REPO.is_dir()
