"""Cases as the tables store them: compressed with a shipped dictionary, every earlier format read."""

from __future__ import annotations

import datetime as dt

import msgspec
import pytest
import zstandard

from agents.engine import CASE_ENCODER, CaseState, decode_case_state, encode_case_state, store
from agents.policy import Policy, load_policy
from agents.replay import Replay
from streams.contract import Event
from streams.simulate import load_profile, simulate
from streams.validation import decode_event

START = dt.datetime(2026, 3, 16, tzinfo=dt.UTC)


@pytest.fixture(scope="module")
def policy() -> Policy:
    return load_policy()


@pytest.fixture(scope="module")
def cases(policy: Policy) -> list[CaseState]:
    """A small force's week (a seed the dictionary was not trained on), every case as it ends."""
    run = Replay(policy)
    for record in simulate(load_profile("small"), 7, 5, START):
        event = decode_event(msgspec.json.encode(record), now=START + dt.timedelta(days=8))
        assert isinstance(event, Event), event
        for _ in run.feed(event, event.recordedtime):
            pass
    return list(run.cases.values())


def test_every_case_reads_back_exactly_as_it_was_stored(cases: list[CaseState]) -> None:
    assert len(cases) > 20
    for state in cases:
        assert decode_case_state(encode_case_state(state)) == state


def test_a_stored_case_is_a_zstd_frame_naming_the_current_dictionary(cases: list[CaseState]) -> None:
    stored = encode_case_state(cases[0])
    assert stored[:4] == store.ZSTD_MAGIC
    assert zstandard.get_frame_parameters(stored).dict_id == store.CURRENT


def test_the_dictionary_makes_cases_several_times_smaller_than_their_msgpack(cases: list[CaseState]) -> None:
    plain = sum(len(CASE_ENCODER.encode(s)) for s in cases)
    stored = sum(len(encode_case_state(s)) for s in cases)
    without_dictionary = sum(
        len(zstandard.ZstdCompressor(level=store.LEVEL).compress(CASE_ENCODER.encode(s))) for s in cases
    )
    assert stored * 3 < plain
    assert stored < without_dictionary


def test_a_case_stored_uncompressed_before_this_format_still_reads(cases: list[CaseState]) -> None:
    for state in cases[:10]:
        assert decode_case_state(CASE_ENCODER.encode(state)) == state


def test_a_case_compressed_with_a_dictionary_this_build_lacks_is_refused_by_its_id(cases: list[CaseState]) -> None:
    other = zstandard.train_dictionary(2048, [CASE_ENCODER.encode(s) for s in cases] * 5)
    foreign = zstandard.ZstdCompressor(dict_data=other).compress(CASE_ENCODER.encode(cases[0]))
    with pytest.raises(store.UnknownDictionaryError, match=str(other.dict_id())):
        decode_case_state(foreign)


def test_every_shipped_dictionary_is_filed_under_its_own_id() -> None:
    files = sorted(store.DICTIONARIES.glob("case-*.zdict"))
    assert files
    for path in files:
        assert path.name == f"case-{zstandard.ZstdCompressionDict(path.read_bytes()).dict_id()}.zdict"
    assert (store.DICTIONARIES / f"case-{store.CURRENT}.zdict").exists()
