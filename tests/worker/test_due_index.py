from __future__ import annotations

import datetime as dt

from tests.conftest import T0
from worker.due_index import DueIndex

S = dt.timedelta(seconds=1)


def ts(when: dt.datetime) -> float:
    return when.timestamp()


def test_keys_come_out_once_when_due_and_in_due_order() -> None:
    index = DueIndex()
    index.build([0], [(0, b"a", ts(T0 + 3 * S)), (0, b"b", ts(T0 + S)), (0, b"c", None)])
    assert index.pop_due(0, T0) == []
    assert index.pop_due(0, T0 + 5 * S) == [b"b", b"a"]
    assert index.pop_due(0, T0 + 5 * S) == []


def test_moving_a_deadline_later_hides_the_stale_entry() -> None:
    index = DueIndex()
    index.build([0], [(0, b"a", ts(T0 + S))])
    index.set(0, b"a", T0 + 10 * S)
    assert index.pop_due(0, T0 + 5 * S) == []
    assert index.pop_due(0, T0 + 10 * S) == [b"a"]


def test_clearing_a_deadline_removes_it() -> None:
    index = DueIndex()
    index.build([0], [(0, b"a", ts(T0 + S))])
    index.set(0, b"a", None)
    assert index.pop_due(0, T0 + 5 * S) == [] and len(index) == 0


def test_partitions_are_independent_and_unbuilt_ones_ignore_writes() -> None:
    index = DueIndex()
    index.build([0], [(0, b"a", ts(T0))])
    index.set(1, b"b", T0)
    assert not index.is_built(1)
    assert index.pop_due(1, T0) == [] and index.pop_due(0, T0) == [b"a"]


def test_clear_forgets_everything_so_a_rebalance_rebuilds() -> None:
    index = DueIndex()
    index.build([0], [(0, b"a", ts(T0))])
    index.clear()
    assert not index.is_built(0) and len(index) == 0


def test_one_pass_builds_every_wanted_partition_and_skips_the_rest() -> None:
    index = DueIndex()
    counts = index.build([0, 2], [(0, b"a", ts(T0)), (1, b"b", ts(T0)), (2, b"c", ts(T0 + S)), (2, b"d", None)])
    assert counts == {0: 1, 2: 1}
    assert index.is_built(0) and index.is_built(2) and not index.is_built(1)
    assert index.pop_due(2, T0 + S) == [b"c"] and index.pop_due(1, T0 + S) == []
