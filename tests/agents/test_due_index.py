from __future__ import annotations

import datetime as dt

from agents.due_index import DueIndex
from tests.conftest import T0

S = dt.timedelta(seconds=1)


def test_keys_come_out_once_when_due_and_in_due_order() -> None:
    index = DueIndex()
    index.build(0, [(b"a", T0 + 3 * S), (b"b", T0 + S), (b"c", None)])
    assert index.pop_due(0, T0) == []
    assert index.pop_due(0, T0 + 5 * S) == [b"b", b"a"]
    assert index.pop_due(0, T0 + 5 * S) == []


def test_moving_a_deadline_later_hides_the_stale_entry() -> None:
    index = DueIndex()
    index.build(0, [(b"a", T0 + S)])
    index.set(0, b"a", T0 + 10 * S)
    assert index.pop_due(0, T0 + 5 * S) == []
    assert index.pop_due(0, T0 + 10 * S) == [b"a"]


def test_clearing_a_deadline_removes_it() -> None:
    index = DueIndex()
    index.build(0, [(b"a", T0 + S)])
    index.set(0, b"a", None)
    assert index.pop_due(0, T0 + 5 * S) == [] and len(index) == 0


def test_partitions_are_independent_and_unbuilt_ones_ignore_writes() -> None:
    index = DueIndex()
    index.build(0, [(b"a", T0)])
    index.set(1, b"b", T0)
    assert not index.is_built(1)
    assert index.pop_due(1, T0) == [] and index.pop_due(0, T0) == [b"a"]


def test_clear_forgets_everything_so_a_rebalance_rebuilds() -> None:
    index = DueIndex()
    index.build(0, [(b"a", T0)])
    index.clear()
    assert not index.is_built(0) and len(index) == 0
