"""How a case is stored in the worker's tables: its msgpack, compressed with a shared dictionary.

A case's msgpack (``state.CASE_ENCODER``) is mostly words every case shares: event types,
field names, rule ids, stage names, the shape of a clock. zstd with a dictionary trained on
simulated cases (``devtools/case_dictionary.py``) holds those once, for every case, so a
stored case keeps little more than its own ids and times: a typical open custody case goes
from about 4.2 KB to under 1 KB, for about 10 µs to compress and 5 µs to decompress. Every
changelog record, table read and takeover is that much smaller.

Three formats are read, told apart by their first byte, so nothing stored before has to be
rewritten:

- a zstd frame (``28 b5 2f fd``): the current format, the dictionary named by its id in the
  frame. Dictionaries are never replaced, only added: the newest (``CURRENT``) compresses;
- a msgpack array: the compact format as stored before compression;
- a msgpack map: the first format, upgraded by ``format1``.
"""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Final

import zstandard

from agents.engine.state import CASE_DECODER, CASE_ENCODER, CaseState

DICTIONARIES: Final = Path(__file__).with_name("dictionaries")
CURRENT: Final = 647845177
"""The id of the dictionary new cases are compressed with (``case-<id>.zdict``)."""
LEVEL: Final = 3
"""zstd's default: levels 9 and 19 save another 8-14 % for 5-70x the time per case."""
MAX_CASE_BYTES: Final = 64 * 1024 * 1024
"""A bound on what one stored case may decompress to (a case holds at most 1,000 records)."""
ZSTD_MAGIC: Final = b"\x28\xb5\x2f\xfd"
_MAP_MARKERS: Final = frozenset(range(0x80, 0x90)) | {0xDE, 0xDF}
"""msgpack's first byte of a map: a case stored in the first format."""


class UnknownDictionaryError(ValueError):
    """A stored case names a dictionary this build does not ship."""


@functools.cache
def _dictionaries() -> dict[int, zstandard.ZstdCompressionDict]:
    found = {}
    for path in sorted(DICTIONARIES.glob("case-*.zdict")):
        dictionary = zstandard.ZstdCompressionDict(path.read_bytes())
        found[dictionary.dict_id()] = dictionary
    if CURRENT not in found:
        raise UnknownDictionaryError(f"{DICTIONARIES}: no case-{CURRENT}.zdict, which new cases are stored with")
    return found


@functools.cache
def _compressor() -> zstandard.ZstdCompressor:
    return zstandard.ZstdCompressor(
        level=LEVEL, dict_data=_dictionaries()[CURRENT], write_checksum=False, write_content_size=True
    )


@functools.cache
def _decompressor(dict_id: int) -> zstandard.ZstdDecompressor:
    dictionary = _dictionaries().get(dict_id)
    if dictionary is None:
        raise UnknownDictionaryError(f"stored case compressed with dictionary {dict_id}, not in {DICTIONARIES}")
    return zstandard.ZstdDecompressor(dict_data=dictionary)


def encode_case_state(state: CaseState) -> bytes:
    return _compressor().compress(CASE_ENCODER.encode(state))


def decode_case_state(raw: bytes | memoryview) -> CaseState:
    """A stored case, in any format stored so far."""
    head = bytes(raw[:4])
    if head == ZSTD_MAGIC:
        frame = bytes(raw)
        dict_id = zstandard.get_frame_parameters(frame).dict_id
        return CASE_DECODER.decode(_decompressor(dict_id).decompress(frame, max_output_size=MAX_CASE_BYTES))
    if head and head[0] in _MAP_MARKERS:
        from agents.engine import format1  # only for cases stored before the compact format

        return format1.upgrade(raw)
    return CASE_DECODER.decode(raw)
