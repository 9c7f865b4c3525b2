"""Codecs: round trips, interoperability with kafka-python's codecs, xerial framing, bounds."""

from __future__ import annotations

import os
import struct
import tracemalloc
from collections.abc import Callable
from types import ModuleType
from typing import Any

import cramjam
import pytest
from kafka import codec as kp_codec

from moldau.protocol.records import compression
from moldau.protocol.records.compression import (
    XERIAL_MAGIC,
    Compression,
    CompressionError,
    DecompressedSizeError,
    codec_of,
    compress,
    decompress,
    is_xerial,
)

CODECS = list(Compression)
COMPRESSED = [c for c in Compression if c is not Compression.NONE]


def sample(n: int = 200_000) -> bytes:
    """Compressible but not trivial: repeated random words."""
    words = [os.urandom(6).hex().encode() for _ in range(50)]
    out = bytearray()
    i = 0
    while len(out) < n:
        out += words[(i * 7) % 50] + b" "
        i += 1
    return bytes(out[:n])


@pytest.mark.parametrize("codec", CODECS)
@pytest.mark.parametrize("data", [b"", b"x", sample(1000), sample(), os.urandom(70_000)])
def test_round_trip(codec: Compression, data: bytes) -> None:
    assert decompress(codec, compress(codec, data)) == data
    assert decompress(codec, memoryview(compress(codec, memoryview(data)))) == data


@pytest.mark.parametrize("data", [b"", sample(100), sample(100_000)])
def test_xerial_round_trip(data: bytes) -> None:
    framed = compress(Compression.SNAPPY, data, xerial=True)
    assert is_xerial(framed)
    assert decompress(Compression.SNAPPY, framed) == data


def test_raw_snappy_is_default() -> None:
    data = sample(1000)
    raw = compress(Compression.SNAPPY, data)
    assert not is_xerial(raw)
    assert bytes(cramjam.snappy.decompress_raw(raw)) == data


def xerial_by_hand(blocks: list[bytes], *, byteorder: str = ">") -> bytes:
    out = XERIAL_MAGIC + struct.pack(byteorder + "ii", 1, 1)
    for block in blocks:
        raw = bytes(cramjam.snappy.compress_raw(block))
        out += struct.pack(">i", len(raw)) + raw
    return out


def test_xerial_framing_built_by_hand() -> None:
    blocks = [b"a" * 32768, os.urandom(1000), b"", b"tail"]
    assert decompress(Compression.SNAPPY, xerial_by_hand(blocks)) == b"".join(blocks)


def test_xerial_version_fields_are_not_read() -> None:
    # Some writers store version/compat little-endian; only the magic identifies the framing.
    framed = xerial_by_hand([b"hello"], byteorder="<")
    assert decompress(Compression.SNAPPY, framed) == b"hello"


def test_xerial_header_only_is_empty() -> None:
    assert decompress(Compression.SNAPPY, xerial_by_hand([])) == b""


@pytest.mark.parametrize(
    "damage",
    [
        lambda f: f + b"\x00\x00",  # a block length cut short
        lambda f: f[:-1],  # the last block cut short
        lambda f: f[:16] + struct.pack(">i", -5) + f[20:],  # negative block length
    ],
)
def test_xerial_damaged(damage: Callable[[bytes], bytes]) -> None:
    framed = xerial_by_hand([b"hello world" * 10])
    with pytest.raises(CompressionError, match="snappy"):
        decompress(Compression.SNAPPY, damage(framed))


def test_kafka_python_reads_what_we_write() -> None:
    data = sample()
    assert kp_codec.gzip_decode(compress(Compression.GZIP, data)) == data
    assert kp_codec.snappy_decode(compress(Compression.SNAPPY, data)) == data
    assert kp_codec.snappy_decode(compress(Compression.SNAPPY, data, xerial=True)) == data
    assert kp_codec.lz4_decode(compress(Compression.LZ4, data)) == data
    assert kp_codec.zstd_decode(compress(Compression.ZSTD, data)) == data


def test_we_read_what_kafka_python_writes() -> None:
    data = sample()
    assert decompress(Compression.GZIP, kp_codec.gzip_encode(data)) == data
    assert decompress(Compression.SNAPPY, kp_codec.snappy_encode(data)) == data  # xerial
    assert decompress(Compression.SNAPPY, kp_codec.snappy_encode(data, xerial_compatible=False)) == data
    assert decompress(Compression.LZ4, kp_codec.lz4_encode(data)) == data
    assert decompress(Compression.ZSTD, kp_codec.zstd_encode(data)) == data


def test_lz4_writes_independent_blocks() -> None:
    frame = compress(Compression.LZ4, sample())
    assert frame[:4] == b"\x04\x22\x4d\x18"
    flg = frame[4]
    assert flg & 0x20, "block independence flag must be set for Kafka's Java reader"
    assert not flg & 0x04, "no content checksum, like Kafka's own writer"


def test_gzip_accepts_concatenated_members() -> None:
    two = compress(Compression.GZIP, b"first ") + compress(Compression.GZIP, b"second")
    assert decompress(Compression.GZIP, two) == b"first second"


@pytest.mark.parametrize("codec", COMPRESSED)
def test_corrupt_payload_names_codec(codec: Compression) -> None:
    data = compress(codec, sample(50_000))
    for bad in (b"", b"garbage" * 10, data[: len(data) // 2]):
        with pytest.raises(CompressionError, match=f"^{codec.name.lower()}: ") as info:
            decompress(codec, bad)
        assert not isinstance(info.value, DecompressedSizeError)


@pytest.mark.parametrize("codec_id", [5, 6, 7])
def test_unknown_codec(codec_id: int) -> None:
    with pytest.raises(CompressionError, match="unknown compression codec"):
        codec_of(codec_id)
    with pytest.raises(CompressionError):
        decompress(codec_id, b"x")
    with pytest.raises(CompressionError):
        compress(codec_id, b"x")


# -- bounds --------------------------------------------------------------------------------------


@pytest.mark.parametrize("codec", CODECS)
def test_limit_is_inclusive(codec: Compression) -> None:
    data = sample(100_000)
    payload = compress(codec, data)
    assert decompress(codec, payload, max_size=len(data)) == data
    with pytest.raises(DecompressedSizeError, match=codec.name.lower()) as info:
        decompress(codec, payload, max_size=len(data) - 1)
    assert info.value.max_size == len(data) - 1


@pytest.mark.parametrize("codec", COMPRESSED)
def test_high_ratio_payload_within_limit(codec: Compression) -> None:
    # Zeros compress far better than the initial output guess; the buffer has to grow.
    data = bytes(10 * 1024 * 1024)
    assert decompress(codec, compress(codec, data), max_size=len(data)) == data


class CountingCodec:
    """A stream codec module that counts its ``decompress_into`` calls."""

    def __init__(self, module: ModuleType) -> None:
        self.module = module
        self.calls = 0

    def decompress_into(self, data: Any, out: bytearray) -> int:
        self.calls += 1
        return int(self.module.decompress_into(data, out))


@pytest.mark.parametrize("codec", [Compression.GZIP, Compression.LZ4, Compression.ZSTD])
def test_similar_payloads_inflate_in_one_pass_after_the_first(
    codec: Compression, monkeypatch: pytest.MonkeyPatch
) -> None:
    counting = CountingCodec(compression._STREAM_CODECS[codec])
    monkeypatch.setitem(compression._STREAM_CODECS, codec, counting)
    monkeypatch.setattr(compression, "_last_ratio", {})
    data = bytes(range(64)) * 16384  # 1 MiB that shrinks far more than fourfold
    payload = compress(codec, data)
    first = decompress(codec, payload)
    assert first == data and counting.calls > 1  # the first guess (4x the input) is short
    counting.calls = 0
    for other in (data, data[: len(data) * 9 // 10]):  # one like it, one a little smaller
        assert decompress(codec, compress(codec, other)) == other
    assert counting.calls == 2
    with pytest.raises(DecompressedSizeError):  # what was learnt does not lift the limit
        decompress(codec, payload, max_size=len(data) - 1)


def streamed_bomb(module: ModuleType, total: int, **kwargs: Any) -> bytes:
    compressor = module.Compressor(**kwargs)
    chunk = bytes(4 * 1024 * 1024)
    for _ in range(total // len(chunk)):
        compressor.compress(chunk)
    return bytes(compressor.finish())


@pytest.mark.parametrize(
    ("codec", "bomb"),
    [
        (Compression.GZIP, lambda: streamed_bomb(cramjam.gzip, 1 << 28)),
        (Compression.ZSTD, lambda: streamed_bomb(cramjam.zstd, 1 << 30)),
        (Compression.LZ4, lambda: streamed_bomb(cramjam.lz4, 1 << 28, block_linked=False)),
    ],
)
def test_zip_bomb_refused_without_inflating(codec: Compression, bomb: Callable[[], bytes]) -> None:
    payload = bomb()
    tracemalloc.start()
    try:
        with pytest.raises(DecompressedSizeError, match=codec.name.lower()):
            decompress(codec, payload, max_size=1 << 20)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 16 << 20, f"peak allocation {peak} bytes while refusing a bomb"


def test_snappy_declared_length_refused_before_allocation() -> None:
    # A raw snappy block whose preamble claims 3 GiB.
    claim = bytearray()
    v = 3 << 30
    while v >= 0x80:
        claim.append((v & 0x7F) | 0x80)
        v >>= 7
    claim.append(v)
    tracemalloc.start()
    try:
        with pytest.raises(DecompressedSizeError, match="snappy"):
            decompress(Compression.SNAPPY, bytes(claim) + b"\x00" * 16, max_size=1 << 20)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 1 << 20


def test_xerial_bomb_counts_all_blocks() -> None:
    framed = xerial_by_hand([bytes(32768)] * 64)  # 2 MiB in 64 blocks
    assert len(decompress(Compression.SNAPPY, framed, max_size=2 << 20)) == 2 << 20
    with pytest.raises(DecompressedSizeError, match="snappy"):
        decompress(Compression.SNAPPY, framed, max_size=(2 << 20) - 1)


def test_none_codec_respects_limit() -> None:
    assert decompress(Compression.NONE, b"abc", max_size=3) == b"abc"
    with pytest.raises(DecompressedSizeError, match="none"):
        decompress(Compression.NONE, b"abcd", max_size=3)
