from __future__ import annotations

from streams.stall_guard import STALL_CHECKS, StallGuard


def checks(guard: StallGuard, *state: int | None, times: int = STALL_CHECKS + 1) -> list[bool]:
    return [guard.stalled("tp", *state) for _ in range(times)]


def test_delivered_but_never_acknowledged_records_are_a_stall_after_the_checks() -> None:
    # the kill -9 case: Faust read to offset 48, committed stays at 9, broker at 49
    assert checks(StallGuard(["t"]), 48, 9, 49) == [False] * (STALL_CHECKS - 1) + [True, True]


def test_records_waiting_beyond_delivery_are_a_stall() -> None:
    assert checks(StallGuard(["t"]), 9, 10, 56)[-1]


def test_a_commit_stuck_behind_records_is_a_stall_even_while_delivery_moves_on() -> None:
    # issue 12: records dropped, later ones delivered; the refused gap holds the commit at 180
    guard = StallGuard(["t"])
    results = [guard.stalled("tp", delivered, 180, 400) for delivered in range(190, 190 + STALL_CHECKS + 1)]
    assert results[-1]


def test_progress_of_the_commit_is_never_a_stall() -> None:
    guard = StallGuard(["t"])
    assert not any(guard.stalled("tp", 48, committed, 1000) for committed in range(10, 30))


def test_a_caught_up_partition_is_never_a_stall() -> None:
    assert not any(checks(StallGuard(["t"]), 55, 56, 56, times=10))  # all processed and committed
    assert not any(checks(StallGuard(["t"]), None, None, 0, times=10))  # an empty partition


def test_an_idle_partition_after_a_restart_is_never_a_stall() -> None:
    # issue 12: after a restart Faust's read offset is the next offset to read (here 56), not the
    # last delivered; the guard once "repaired" every idle partition every 15 s.
    assert not any(checks(StallGuard(["t"]), 56, 56, 56, times=10))


def test_gaps_on_internal_topics_stay_unacknowledged_and_other_topics_keep_fausts_behaviour() -> None:
    import asyncio
    from types import SimpleNamespace

    from faust.transport.consumer import Consumer
    from faust.types import TP
    from intervaltree import IntervalTree

    from streams.stall_guard import GAPS_REFUSED, refuse_gaps

    refuse_gaps(["p.alerts"])
    state = SimpleNamespace(_committed_offset={}, _gap={})
    state._committed_offset = {TP("p.alerts", 0): 179, TP("p.custody.events", 0): 179}
    state._gap = {TP("p.alerts", 0): IntervalTree(), TP("p.custody.events", 0): IntervalTree()}
    before = GAPS_REFUSED.labels("p.alerts")._value.get()
    asyncio.run(Consumer._add_gap(state, TP("p.alerts", 0), 181, 195))
    asyncio.run(Consumer._add_gap(state, TP("p.custody.events", 0), 181, 195))
    assert not state._gap[TP("p.alerts", 0)], "an internal topic's skipped offsets are not treated as processed"
    assert state._gap[TP("p.custody.events", 0)], "an input topic keeps Faust's gaps (transaction markers)"
    assert GAPS_REFUSED.labels("p.alerts")._value.get() == before + 1


def test_a_gap_on_an_input_topic_passes_only_when_no_record_was_skipped() -> None:
    import asyncio
    from types import SimpleNamespace

    from faust.transport.consumer import Consumer
    from faust.types import TP
    from intervaltree import IntervalTree

    from streams import stall_guard

    broker = {("q.custody.events", 0): {10, 11, 12, 40}, ("q.custody.events", 1): {10, 40}}

    async def records_in(tp: TP, first: int, end: int) -> int:
        return sum(first <= offset < end for offset in broker[(tp.topic, tp.partition)])

    stall_guard.verify_gaps(["q.custody.events"], records_in)
    dropped, markers = TP("q.custody.events", 0), TP("q.custody.events", 1)
    state = SimpleNamespace(
        _committed_offset={dropped: 9, markers: 9}, _gap={dropped: IntervalTree(), markers: IntervalTree()}
    )

    async def run() -> None:
        await Consumer._add_gap(state, dropped, 11, 40)  # 11 and 12 exist: Faust dropped them
        await Consumer._add_gap(state, markers, 11, 40)  # nothing between 10 and 40: transaction markers
        await asyncio.gather(*stall_guard._checks)

    asyncio.run(run())
    assert not state._gap[dropped], "skipped records stay unprocessed, to be re-read"
    assert state._gap[markers], "a gap of markers is Faust's to pass"
