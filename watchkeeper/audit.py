"""``watchkeeper audit export``: the record of a period, read from the topics, for an inspection.

Reads ``<prefix>.alerts``, ``.alert-transitions``, ``.alert-commands`` and ``.deliveries``
from the first record written in the period (less an hour, for records written a little
after they happened) to their end when the export started, and hands every record to the
pure core (alerts/export.py), which joins and orders them. Progress goes to stderr.
"""

from __future__ import annotations

import csv
import datetime as dt
import sys
from collections.abc import Callable, Iterator
from typing import IO, Any, Final
from zoneinfo import ZoneInfo

import msgspec

from alerts.export import COLUMNS, Export, Period, Source, collect, csv_row
from worker import topics
from worker.settings import Settings

LONDON: Final = ZoneInfo("Europe/London")
WRITTEN_LATE: Final = dt.timedelta(hours=1)
"""How much earlier than the period the topics are read from: a record is written when it is
handled, a moment after the time it carries."""


def day_or_time(text: str, *, end: bool = False) -> dt.datetime:
    """An ISO time with its offset, or a date: London's midnight starting it (``end``: ending it)."""
    try:
        if len(text) == 10:
            day = dt.date.fromisoformat(text) + dt.timedelta(days=1 if end else 0)
            return dt.datetime.combine(day, dt.time(), LONDON).astimezone(dt.UTC)
        value = dt.datetime.fromisoformat(text)
    except ValueError:
        raise ValueError(f"not a date (2026-12-01) or a time with its offset: {text}") from None
    if value.tzinfo is None:
        raise ValueError(f"give the time's offset (Z, +00:00, +01:00): {text}")
    return value


def sources(settings: Settings) -> dict[str, Source]:
    return {
        topics.alerts_topic(settings): "alerts",
        topics.alert_transitions_topic(settings): "audit",
        topics.alert_commands_topic(settings): "commands",
        topics.deliveries_topic(settings): "deliveries",
    }


def read(
    settings: Settings, since: dt.datetime, progress: Callable[[int, int], None] | None = None
) -> Iterator[tuple[Source, bytes | None]]:
    """Every record of the record topics written from ``since`` to their end now."""
    from kafka import KafkaConsumer, TopicPartition

    named = sources(settings)
    consumer = KafkaConsumer(
        bootstrap_servers=settings.bootstrap_servers, enable_auto_commit=False, **settings.kafka_python_options()
    )
    try:
        partitions = [
            TopicPartition(topic, p) for topic in named for p in sorted(consumer.partitions_for_topic(topic) or ())
        ]
        consumer.assign(partitions)
        ends = consumer.end_offsets(partitions)
        starts = consumer.offsets_for_times({tp: int(since.timestamp() * 1000) for tp in partitions})
        first = {tp: (starts[tp].offset if starts.get(tp) is not None else ends[tp]) for tp in partitions}
        for tp in partitions:
            consumer.seek(tp, first[tp])
        total, done = sum(ends[tp] - first[tp] for tp in partitions), 0
        remaining = {tp for tp in partitions if first[tp] < ends[tp]}
        while remaining:
            for tp, records in consumer.poll(timeout_ms=1000, max_records=5000).items():
                for record in records:
                    if record.offset < ends[tp]:
                        done += 1
                        yield named[tp.topic], record.value
                if consumer.position(tp) >= ends[tp]:
                    remaining.discard(tp)
            if progress is not None:
                progress(done, total)
    finally:
        consumer.close()


def write(export: Export, fmt: str, out: IO[str]) -> int:
    rows = export.rows()
    if fmt == "csv":
        writer = csv.writer(out)
        writer.writerow(COLUMNS)
        writer.writerows(csv_row(r) for r in rows)
    else:
        encoder = msgspec.json.Encoder()
        for row in rows:
            out.write(encoder.encode(row).decode() + "\n")
    return len(rows)


def export_period(settings: Settings, period: Period, fmt: str, out: IO[str], progress: Any = None) -> tuple[int, int]:
    """Write the period's rows; returns (rows written, records that could not be read)."""
    export = collect(period, read(settings, period.start - WRITTEN_LATE, progress))
    return write(export, fmt, out), export.skipped


def main_export(settings: Settings, period: Period, fmt: str, out: IO[str]) -> int:
    from watchkeeper.importing import bar

    written, skipped = export_period(settings, period, fmt, out, bar)
    print(
        f"exported {written} row(s)" + (f"; {skipped} record(s) could not be read" if skipped else ""), file=sys.stderr
    )
    return 0
