"""The cleaner's offset map: the latest offset of each key, within its capacity."""

from __future__ import annotations

from moldau.storage.offset_map import ENTRY_BYTES, SHORT_KEY, OffsetMap


def test_latest_offset_per_key_for_short_and_long_keys() -> None:
    m = OffsetMap(1 << 20)
    short, long = b"k" * SHORT_KEY, b"k" * (SHORT_KEY + 1)
    for offset, key in enumerate([short, long, short, b"", long, b"7"]):
        assert m.put(key, offset)
    assert (m.get(short), m.get(long), m.get(b""), m.get(b"7"), m.get(b"8")) == (2, 4, 3, 5, -1)
    assert m.latest_offset == 5 and len(m) == 4


def test_a_short_key_and_a_digest_never_stand_for_each_other() -> None:
    m = OffsetMap(1 << 20)
    long = b"x" * 40
    m.put(long, 1)
    as_bytes = OffsetMap.entry(long).to_bytes(16, "big")  # type: ignore[union-attr]
    assert m.get(as_bytes) == -1  # the 16 bytes of the digest, as a key, are another key
    assert OffsetMap.entry(b"abc") == b"abc"


def test_a_full_map_takes_no_new_keys_but_updates_known_ones() -> None:
    m = OffsetMap(2 * ENTRY_BYTES, load_factor=1.0)
    assert m.capacity == 2
    assert m.put(b"a", 0) and m.put(b"b" * 30, 1)
    assert m.full
    assert not m.put(b"c", 2)
    assert m.put(b"a", 3) and m.get(b"a") == 3
    assert m.get(b"c") == -1
