"""Record batch compression codecs, sans-IO.

A v2 batch compresses its records section as one unit; the codec id sits in bits 0-2 of the
batch attributes. The codecs and the exact stream formats Kafka clients put on the wire:

====  ======  ===================================================================================
 id   name    stream format
====  ======  ===================================================================================
 0    none    the records as they are
 1    gzip    RFC 1952 gzip (several concatenated members are accepted on decompression)
 2    snappy  either *raw* snappy (librdkafka, most non-Java clients) or the *xerial* framing the
              Java clients write through snappy-java (see below); decompression accepts both
 3    lz4     the LZ4 frame format with independent blocks; Kafka's Java reader rejects frames
              whose blocks are linked, so compression always writes independent blocks
 4    zstd    a Zstandard frame
====  ======  ===================================================================================

xerial snappy framing (big-endian)::

    offset  size  field
         0     8  magic  \\x82 S N A P P Y \\x00
         8     4  version              1 (some writers get the byte order wrong; it is not read)
        12     4  compatible version   1 (likewise ignored)
        16     .  blocks, each: INT32 compressed length + one raw snappy block
                  (snappy-java cuts the input into 32 KiB blocks)

Decompression is bounded: every call names a ``max_size`` and fails with
``DecompressedSizeError`` rather than produce more bytes than that, so a small hostile payload
(a "zip bomb") cannot exhaust memory. gzip, lz4 and zstd decompress into a fixed-size buffer,
which makes the codec stop as soon as the buffer is full. The buffer starts with room for what
the codec's previous payload inflated to per byte, and a quarter more (a stream of similar
batches inflates in one pass; the first payload of a codec starts at four times its size),
and grows fourfold up to ``max_size + 1``: a bomb costs at most a few passes of bounded size.
The inflated bytes are returned in that buffer, cut to length, not copied. Raw snappy declares
its uncompressed length up front; that declaration is checked before anything is allocated,
block by block for the xerial framing, and the block is inflated into a buffer of that size,
returned as it is.

Everything here is plain functions over bytes; errors are ``CompressionError`` (the payload is
not valid for its codec) and its subclass ``DecompressedSizeError`` (the payload is valid as far
as it was read but inflates past the limit). Both name the codec.
"""

from __future__ import annotations

import enum
import struct
from types import ModuleType

import cramjam


class Compression(enum.IntEnum):
    """Codec ids as they appear in bits 0-2 of the batch attributes."""

    NONE = 0
    GZIP = 1
    SNAPPY = 2
    LZ4 = 3
    ZSTD = 4


class CompressionError(ValueError):
    """A compressed payload that its codec cannot decode, or an unknown codec id."""

    def __init__(self, codec: str, message: str) -> None:
        super().__init__(f"{codec}: {message}")
        self.codec = codec


class DecompressedSizeError(CompressionError):
    """The payload would inflate beyond the caller's ``max_size``."""

    def __init__(self, codec: str, max_size: int) -> None:
        super().__init__(codec, f"decompressed data exceeds the limit of {max_size} bytes")
        self.max_size = max_size


Buffer = bytes | bytearray | memoryview

DEFAULT_MAX_DECOMPRESSED_SIZE = 64 * 1024 * 1024
"""Ceiling used when a caller names none: far above any batch a stock client builds from its
default ``batch.size`` / ``message.max.bytes``, far below what would hurt the broker."""

XERIAL_MAGIC = b"\x82SNAPPY\x00"
XERIAL_HEADER_SIZE = 16
XERIAL_BLOCK_SIZE = 32 * 1024
_XERIAL_HEADER = XERIAL_MAGIC + struct.pack(">ii", 1, 1)
_I32 = struct.Struct(">i")

# Levels matching the Java client's defaults: java.util.zip's default deflate level and zstd's
# standard default. lz4 uses the library's fast mode, as Kafka's own writer always has.
DEFAULT_LEVELS: dict[Compression, int | None] = {
    Compression.GZIP: 6,
    Compression.LZ4: None,
    Compression.ZSTD: 3,
}

_INITIAL_OUTPUT = 16 * 1024
_GROWTH = 4
_MARGIN = 1.25
# Output bytes per input byte of each codec's last payload (a guess for the next one only).
_last_ratio: dict[Compression, float] = {}
# The message cramjam reports when decompress_into runs out of output space (Rust's WriteZero).
_OUTPUT_FULL = "failed to write whole buffer"

_STREAM_CODECS: dict[Compression, ModuleType] = {
    Compression.GZIP: cramjam.gzip,
    Compression.LZ4: cramjam.lz4,
    Compression.ZSTD: cramjam.zstd,
}


def codec_of(codec_id: int) -> Compression:
    """The ``Compression`` for an attributes codec id; ``CompressionError`` for 5-7."""
    try:
        return Compression(codec_id)
    except ValueError:
        raise CompressionError(f"codec {codec_id}", "unknown compression codec id") from None


def _name(codec: Compression) -> str:
    return codec.name.lower()


# -- compression ---------------------------------------------------------------------------------


def compress(codec: int, data: Buffer, *, level: int | None = None, xerial: bool = False) -> bytes:
    """Compress ``data`` with ``codec``. ``level`` overrides the codec's default level (ignored
    by snappy). ``xerial=True`` writes snappy in the xerial framing the Java clients use;
    the default is raw snappy, which every client reads."""
    c = codec_of(codec)
    if c is Compression.NONE:
        return bytes(data)
    if c is Compression.SNAPPY:
        return _xerial_compress(data) if xerial else bytes(cramjam.snappy.compress_raw(data))
    if level is None:
        level = DEFAULT_LEVELS[c]
    if c is Compression.GZIP:
        return bytes(cramjam.gzip.compress(data, level=level))
    if c is Compression.ZSTD:
        return bytes(cramjam.zstd.compress(data, level=level))
    # lz4: independent blocks and no content checksum, the shape of Kafka's own lz4 writer.
    compressor = cramjam.lz4.Compressor(level=level, content_checksum=False, block_linked=False)
    compressor.compress(data if isinstance(data, bytes) else bytes(data))  # it takes bytes only
    return bytes(compressor.finish())


def _xerial_compress(data: Buffer) -> bytes:
    mv = memoryview(data)
    out = bytearray(_XERIAL_HEADER)
    for start in range(0, len(mv), XERIAL_BLOCK_SIZE):
        block = cramjam.snappy.compress_raw(mv[start : start + XERIAL_BLOCK_SIZE])
        out += _I32.pack(len(block))
        out += memoryview(block)
    return bytes(out)


# -- decompression -------------------------------------------------------------------------------


def decompress(
    codec: int, data: Buffer, *, max_size: int = DEFAULT_MAX_DECOMPRESSED_SIZE
) -> bytes | bytearray:
    """Decompress ``data`` written with ``codec``, producing at most ``max_size`` bytes.

    Raises ``DecompressedSizeError`` if the output would be larger and ``CompressionError`` if
    the payload is not valid for the codec (or the codec id is unknown)."""
    c = codec_of(codec)
    if c is Compression.NONE:
        if len(data) > max_size:
            raise DecompressedSizeError(_name(c), max_size)
        return bytes(data)
    if c is Compression.SNAPPY:
        if is_xerial(data):
            return _xerial_decompress(data, max_size)
        return _snappy_raw_decompress(data, max_size, max_size)
    return _stream_decompress(c, data, max_size)


def is_xerial(data: Buffer) -> bool:
    """True if ``data`` starts with the xerial snappy framing's magic and full header."""
    return len(data) >= XERIAL_HEADER_SIZE and bytes(memoryview(data)[:8]) == XERIAL_MAGIC


def _stream_decompress(c: Compression, data: Buffer, max_size: int) -> bytearray:
    module = _STREAM_CODECS[c]
    limit = max_size + 1  # one spare byte tells "exactly max_size" from "more than max_size"
    size = len(data)
    guess = int(size * _last_ratio.get(c, _GROWTH / _MARGIN) * _MARGIN)
    capacity = min(limit, max(_INITIAL_OUTPUT, guess))
    while True:
        out = bytearray(capacity)
        try:
            n = int(module.decompress_into(data, out))
        except cramjam.DecompressionError as e:
            if _OUTPUT_FULL not in str(e):
                raise CompressionError(_name(c), str(e)) from None
            if capacity >= limit:
                raise DecompressedSizeError(_name(c), max_size) from None
            capacity = min(limit, capacity * _GROWTH)
            continue
        if n > max_size:
            raise DecompressedSizeError(_name(c), max_size)
        if size:
            _last_ratio[c] = n / size
        del out[n:]
        return out


def _snappy_raw_decompress(block: Buffer, budget: int, max_size: int) -> bytearray:
    """One raw snappy block, refused before allocation if it declares more than ``budget``
    (what is left of ``max_size``)."""
    try:
        declared = int(cramjam.snappy.decompress_raw_len(block))
    except cramjam.DecompressionError as e:
        raise CompressionError("snappy", str(e)) from None
    if declared > budget:
        raise DecompressedSizeError("snappy", max_size)
    out = bytearray(declared)
    try:
        n = int(cramjam.snappy.decompress_raw_into(block, out))
    except cramjam.DecompressionError as e:
        raise CompressionError("snappy", str(e)) from None
    if n != declared:
        raise CompressionError("snappy", f"block declared {declared} bytes but held {n}")
    return out


def _xerial_decompress(data: Buffer, max_size: int) -> bytearray:
    mv = memoryview(data)
    end = len(mv)
    pos = XERIAL_HEADER_SIZE
    out = bytearray()
    while pos < end:
        if end - pos < 4:
            raise CompressionError("snappy", "xerial block length truncated")
        n = _I32.unpack_from(mv, pos)[0]
        pos += 4
        if n < 0 or n > end - pos:
            raise CompressionError("snappy", f"xerial block of {n} bytes does not fit the payload")
        out += _snappy_raw_decompress(mv[pos : pos + n], max_size - len(out), max_size)
        pos += n
    return out
