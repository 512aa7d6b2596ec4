from __future__ import annotations

from prometheus_client import CollectorRegistry

from tests.worker.helpers import assemble
from worker.metrics import Metrics
from worker.stall_guard import STALL_CHECKS, StallGuard


def checks(guard: StallGuard, *state: int | None, times: int = STALL_CHECKS + 1) -> list[bool]:
    return [guard.stalled("tp", *state) for _ in range(times)]


def test_delivered_but_never_acknowledged_records_are_a_stall_after_the_checks() -> None:
    # the kill -9 case: Faust read to offset 48, committed stays at 9, broker at 49
    assert checks(StallGuard(["t"], Metrics(CollectorRegistry())), 48, 9, 49) == [False] * (STALL_CHECKS - 1) + [
        True,
        True,
    ]


def test_records_waiting_beyond_delivery_are_a_stall() -> None:
    assert checks(StallGuard(["t"], Metrics(CollectorRegistry())), 9, 10, 56)[-1]


def test_a_commit_stuck_behind_records_is_a_stall_even_while_delivery_moves_on() -> None:
    # issue 12: records dropped, later ones delivered; the refused gap holds the commit at 180
    guard = StallGuard(["t"], Metrics(CollectorRegistry()))
    results = [guard.stalled("tp", delivered, 180, 400) for delivered in range(190, 190 + STALL_CHECKS + 1)]
    assert results[-1]


def test_progress_of_the_commit_is_never_a_stall() -> None:
    guard = StallGuard(["t"], Metrics(CollectorRegistry()))
    assert not any(guard.stalled("tp", 48, committed, 1000) for committed in range(10, 30))


def test_a_caught_up_partition_is_never_a_stall() -> None:
    assert not any(
        checks(StallGuard(["t"], Metrics(CollectorRegistry())), 55, 56, 56, times=10)
    )  # all processed and committed
    assert not any(
        checks(StallGuard(["t"], Metrics(CollectorRegistry())), None, None, 0, times=10)
    )  # an empty partition


def test_an_idle_partition_after_a_restart_is_never_a_stall() -> None:
    # issue 12: after a restart Faust's read offset is the next offset to read (here 56), not the
    # last delivered; the guard once "repaired" every idle partition every 15 s.
    assert not any(checks(StallGuard(["t"], Metrics(CollectorRegistry())), 56, 56, 56, times=10))


def test_gaps_on_internal_topics_stay_unacknowledged_and_other_topics_keep_fausts_behaviour() -> None:
    import asyncio
    from types import SimpleNamespace

    from faust.transport.consumer import Consumer
    from faust.types import TP
    from intervaltree import IntervalTree

    worker = assemble(WATCHKEEPER_TOPIC_PREFIX="p")
    alerts, events = TP("p.alerts", 0), TP("p.custody.events", 0)
    consumer = SimpleNamespace(
        app=worker.app,
        _committed_offset={alerts: 179, events: 179},
        _gap={alerts: IntervalTree(), events: IntervalTree()},
    )
    worker.gaps.records_in = None  # no broker to ask: an input topic's gap is then Faust's to pass
    refused = {"topic": "p.alerts"}
    asyncio.run(Consumer._add_gap(consumer, alerts, 181, 195))
    asyncio.run(Consumer._add_gap(consumer, events, 181, 195))
    assert not consumer._gap[alerts], "an internal topic's skipped offsets are not treated as processed"
    assert consumer._gap[events], "an input topic keeps Faust's gaps (transaction markers)"
    assert worker.metrics.registry.get_sample_value("watchkeeper_offset_gaps_refused_total", refused) == 1


def test_a_gap_on_an_input_topic_passes_only_when_no_record_was_skipped() -> None:
    import asyncio
    from types import SimpleNamespace

    from faust.transport.consumer import Consumer
    from faust.types import TP
    from intervaltree import IntervalTree

    broker = {("q.custody.events", 0): {10, 11, 12, 40}, ("q.custody.events", 1): {10, 40}}

    async def records_in(tp: TP, first: int, end: int) -> int:
        return sum(first <= offset < end for offset in broker[(tp.topic, tp.partition)])

    worker = assemble(WATCHKEEPER_TOPIC_PREFIX="q")
    worker.gaps.records_in = records_in  # the broker's answer, without a broker
    dropped, markers = TP("q.custody.events", 0), TP("q.custody.events", 1)
    consumer = SimpleNamespace(
        app=worker.app,
        _committed_offset={dropped: 9, markers: 9},
        _gap={dropped: IntervalTree(), markers: IntervalTree()},
    )

    async def run() -> None:
        await Consumer._add_gap(consumer, dropped, 11, 40)  # 11 and 12 exist: Faust dropped them
        await Consumer._add_gap(consumer, markers, 11, 40)  # nothing between 10 and 40: transaction markers
        await asyncio.gather(*worker.gaps.pending_checks)

    asyncio.run(run())
    assert not consumer._gap[dropped], "skipped records stay unprocessed, to be re-read"
    assert consumer._gap[markers], "a gap of markers is Faust's to pass"


def test_a_consumer_of_an_app_assembled_elsewhere_keeps_fausts_gaps() -> None:
    """The replaced method serves every app in the process: only an assembled worker's consumer
    follows a gap policy, and only its own."""
    import asyncio
    from types import SimpleNamespace

    from faust.transport.consumer import Consumer
    from faust.types import TP
    from intervaltree import IntervalTree

    class OtherApp:
        """Any app this process runs that was not assembled by worker/main.py."""

    assemble(WATCHKEEPER_TOPIC_PREFIX="r")
    other = OtherApp()
    alerts = TP("r.alerts", 0)
    consumer = SimpleNamespace(app=other, _committed_offset={alerts: 9}, _gap={alerts: IntervalTree()})
    asyncio.run(Consumer._add_gap(consumer, alerts, 11, 40))
    assert consumer._gap[alerts]
