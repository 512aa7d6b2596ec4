from __future__ import annotations

from streams.stall_guard import STALL_CHECKS, StallGuard


def checks(guard: StallGuard, *state: int | None, times: int = STALL_CHECKS + 1) -> list[bool]:
    return [guard.stalled("tp", *state) for _ in range(times)]


def test_delivered_but_never_acknowledged_records_are_a_stall_after_the_checks() -> None:
    # the kill -9 case: Faust read to offset 48, committed stays at 9, broker at 49
    assert checks(StallGuard(["t"]), 48, 9, 49) == [False] * (STALL_CHECKS - 1) + [True, True]


def test_records_waiting_beyond_delivery_are_a_stall() -> None:
    assert checks(StallGuard(["t"]), 9, 10, 56)[-1]


def test_progress_in_either_offset_is_never_a_stall() -> None:
    guard = StallGuard(["t"])
    assert not any(guard.stalled("tp", 48, committed, 49) for committed in range(10, 30))
    assert not any(guard.stalled("tp", delivered, 5, 1000) for delivered in range(10, 30))


def test_a_caught_up_partition_is_never_a_stall() -> None:
    assert not any(checks(StallGuard(["t"]), 55, 56, 56, times=10))  # all processed and committed
    assert not any(checks(StallGuard(["t"]), None, None, 0, times=10))  # an empty partition
