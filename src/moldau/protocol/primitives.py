"""Kafka protocol primitive types, sans-IO.

``Reader`` walks a ``memoryview`` with a cursor; every ``read_*`` raises ``DecodeError`` when the
buffer ends early or a length is impossible, so a malformed request never reads past its frame.
``Writer`` appends to a ``bytearray``; a large ``RECORDS`` value becomes a chunk of its own
instead (``chunks()``), so fetched batches go to the socket without being copied.

Byte layouts (all integers big-endian, as in the protocol guide):

* ``INT8/16/32/64``, ``UINT16/32``, ``FLOAT64``: fixed width.
* ``VARINT`` / ``VARLONG``: zig-zag, 7 bits a byte, high bit = more bytes follow.
* ``UNSIGNED_VARINT``: as above without zig-zag.
* ``STRING``: INT16 length + UTF-8; ``NULLABLE_STRING`` uses length -1 for null.
* ``COMPACT_STRING``: UNSIGNED_VARINT (length + 1) + UTF-8; 0 means null when nullable.
* ``BYTES`` / ``COMPACT_BYTES``: as the strings with INT32 / UNSIGNED_VARINT lengths.
* ``ARRAY``: INT32 count (-1 = null); ``COMPACT_ARRAY``: UNSIGNED_VARINT (count + 1), 0 = null.
* ``UUID``: 16 raw bytes.
* tagged fields: UNSIGNED_VARINT count, then per field UNSIGNED_VARINT tag, UNSIGNED_VARINT
  size, payload.
"""

from __future__ import annotations

import struct
import uuid as _uuid

_I8 = struct.Struct(">b")
_I16 = struct.Struct(">h")
_I32 = struct.Struct(">i")
_I64 = struct.Struct(">q")
_U16 = struct.Struct(">H")
_U32 = struct.Struct(">I")
_F64 = struct.Struct(">d")

ZERO_UUID = _uuid.UUID(int=0)


class DecodeError(ValueError):
    """The bytes do not form a valid value of the expected type (the peer's fault)."""


class Reader:
    """Cursor over a buffer. ``pos`` is public so callers can slice raw regions."""

    __slots__ = ("buf", "end", "pos")

    def __init__(self, buf: bytes | bytearray | memoryview, pos: int = 0, end: int | None = None):
        self.buf = memoryview(buf)
        self.pos = pos
        self.end = len(self.buf) if end is None else end

    def remaining(self) -> int:
        return self.end - self.pos

    def _take(self, n: int) -> int:
        p = self.pos
        if n < 0 or p + n > self.end:
            raise DecodeError(f"need {n} bytes at offset {p}, only {self.end - p} left")
        self.pos = p + n
        return p

    def read_bool(self) -> bool:
        return self.buf[self._take(1)] != 0

    def read_int8(self) -> int:
        return int(_I8.unpack_from(self.buf, self._take(1))[0])

    def read_int16(self) -> int:
        return int(_I16.unpack_from(self.buf, self._take(2))[0])

    def read_int32(self) -> int:
        return int(_I32.unpack_from(self.buf, self._take(4))[0])

    def read_int64(self) -> int:
        return int(_I64.unpack_from(self.buf, self._take(8))[0])

    def read_uint16(self) -> int:
        return int(_U16.unpack_from(self.buf, self._take(2))[0])

    def read_uint32(self) -> int:
        return int(_U32.unpack_from(self.buf, self._take(4))[0])

    def read_float64(self) -> float:
        return float(_F64.unpack_from(self.buf, self._take(8))[0])

    def read_uvarint(self) -> int:
        buf, pos, end = self.buf, self.pos, self.end
        if pos < end and buf[pos] < 0x80:  # one byte: lengths and counts are mostly small
            self.pos = pos + 1
            return buf[pos]
        result = 0
        shift = 0
        while True:
            if pos >= end:
                raise DecodeError("truncated varint")
            b = buf[pos]
            pos += 1
            result |= (b & 0x7F) << shift
            if not b & 0x80:
                break
            shift += 7
            if shift > 63:
                raise DecodeError("varint too long")
        self.pos = pos
        return result

    def read_varint(self) -> int:
        v = self.read_uvarint()
        return (v >> 1) ^ -(v & 1)

    read_varlong = read_varint

    def read_uuid(self) -> _uuid.UUID:
        p = self._take(16)
        return _uuid.UUID(bytes=bytes(self.buf[p : p + 16]))

    def read_raw(self, n: int) -> memoryview:
        p = self._take(n)
        return self.buf[p : p + n]

    # -- strings and bytes ------------------------------------------------------------------

    def _utf8(self, n: int) -> str:
        p = self._take(n)
        try:
            return str(self.buf[p : p + n], "utf-8")
        except UnicodeDecodeError as e:
            raise DecodeError(f"invalid UTF-8 string: {e}") from None

    def read_string(self) -> str:
        n = self.read_int16()
        if n < 0:
            raise DecodeError("null in non-nullable string")
        return self._utf8(n)

    def read_nullable_string(self) -> str | None:
        n = self.read_int16()
        return None if n < 0 else self._utf8(n)

    def read_compact_string(self) -> str:
        n = self.read_uvarint() - 1
        if n < 0:
            raise DecodeError("null in non-nullable compact string")
        return self._utf8(n)

    def read_compact_nullable_string(self) -> str | None:
        n = self.read_uvarint() - 1
        return None if n < 0 else self._utf8(n)

    def read_bytes(self) -> bytes:
        n = self.read_int32()
        if n < 0:
            raise DecodeError("null in non-nullable bytes")
        return bytes(self.read_raw(n))

    def read_nullable_bytes(self) -> bytes | None:
        n = self.read_int32()
        return None if n < 0 else bytes(self.read_raw(n))

    def read_compact_bytes(self) -> bytes:
        n = self.read_uvarint() - 1
        if n < 0:
            raise DecodeError("null in non-nullable compact bytes")
        return bytes(self.read_raw(n))

    def read_compact_nullable_bytes(self) -> bytes | None:
        n = self.read_uvarint() - 1
        return None if n < 0 else bytes(self.read_raw(n))

    def read_records(self) -> memoryview | None:
        """RECORDS (non-flexible): nullable INT32-length region, returned without a copy."""
        n = self.read_int32()
        return None if n < 0 else self.read_raw(n)

    def read_compact_records(self) -> memoryview | None:
        n = self.read_uvarint() - 1
        return None if n < 0 else self.read_raw(n)

    def read_array_len(self) -> int:
        n = self.read_int32()
        if n > self.remaining():
            raise DecodeError(f"array of {n} elements cannot fit in {self.remaining()} bytes")
        return n

    def read_compact_array_len(self) -> int:
        n = self.read_uvarint() - 1
        if n > self.remaining():
            raise DecodeError(f"array of {n} elements cannot fit in {self.remaining()} bytes")
        return n


OWN_CHUNK_BYTES = 2048  # RECORDS values at least this long are not copied into the output


class Writer:
    """Appends encoded primitives to ``buf``.

    ``write_records`` / ``write_compact_records`` keep a large value as a chunk of its own:
    what was written so far is set aside, the value follows it by reference, and ``buf``
    starts afresh. ``chunks()`` is the whole output in order (the value must not change until
    it is written), ``getvalue()`` the same as one ``bytes``.
    Code that appends to ``buf`` must fetch the attribute for every write, never keep it.
    """

    __slots__ = ("_done", "buf")

    def __init__(self) -> None:
        self.buf = bytearray()
        self._done: list[bytes | bytearray | memoryview] = []

    def chunks(self) -> list[bytes | bytearray | memoryview]:
        return [*self._done, self.buf] if self.buf or not self._done else list(self._done)

    def size(self) -> int:
        return sum(map(len, self._done)) + len(self.buf)

    def getvalue(self) -> bytes:
        if not self._done:
            return bytes(self.buf)
        return b"".join(self.chunks())

    def _write_chunk(self, v: bytes | bytearray | memoryview) -> None:
        if len(v) < OWN_CHUNK_BYTES:
            self.buf += v
        else:
            self._done.append(self.buf)
            self._done.append(v)
            self.buf = bytearray()

    def write_bool(self, v: bool) -> None:
        self.buf.append(1 if v else 0)

    def write_int8(self, v: int) -> None:
        self.buf += _I8.pack(v)

    def write_int16(self, v: int) -> None:
        self.buf += _I16.pack(v)

    def write_int32(self, v: int) -> None:
        self.buf += _I32.pack(v)

    def write_int64(self, v: int) -> None:
        self.buf += _I64.pack(v)

    def write_uint16(self, v: int) -> None:
        self.buf += _U16.pack(v)

    def write_uint32(self, v: int) -> None:
        self.buf += _U32.pack(v)

    def write_float64(self, v: float) -> None:
        self.buf += _F64.pack(v)

    def write_uvarint(self, v: int) -> None:
        if 0 <= v < 0x80:
            self.buf.append(v)
        else:
            self.buf += encode_uvarint(v)

    def write_varint(self, v: int) -> None:
        self.buf += encode_varint(v)

    write_varlong = write_varint

    def write_uuid(self, v: _uuid.UUID) -> None:
        self.buf += v.bytes

    def write_raw(self, v: bytes | bytearray | memoryview) -> None:
        self.buf += v

    def write_string(self, v: str) -> None:
        b = v.encode()
        self.buf += _I16.pack(len(b))
        self.buf += b

    def write_nullable_string(self, v: str | None) -> None:
        if v is None:
            self.buf += b"\xff\xff"
        else:
            self.write_string(v)

    def write_compact_string(self, v: str) -> None:
        b = v.encode()
        self.buf += encode_uvarint(len(b) + 1)
        self.buf += b

    def write_compact_nullable_string(self, v: str | None) -> None:
        if v is None:
            self.buf.append(0)
        else:
            self.write_compact_string(v)

    def write_bytes(self, v: bytes | bytearray | memoryview) -> None:
        self.buf += _I32.pack(len(v))
        self.buf += v

    def write_nullable_bytes(self, v: bytes | bytearray | memoryview | None) -> None:
        if v is None:
            self.buf += b"\xff\xff\xff\xff"
        else:
            self.write_bytes(v)

    def write_compact_bytes(self, v: bytes | bytearray | memoryview) -> None:
        self.buf += encode_uvarint(len(v) + 1)
        self.buf += v

    def write_compact_nullable_bytes(self, v: bytes | bytearray | memoryview | None) -> None:
        if v is None:
            self.buf.append(0)
        else:
            self.write_compact_bytes(v)

    def write_records(self, v: bytes | bytearray | memoryview | None) -> None:
        """RECORDS (non-flexible): nullable INT32-length bytes, large values by reference."""
        if v is None:
            self.buf += b"\xff\xff\xff\xff"
        else:
            self.buf += _I32.pack(len(v))
            self._write_chunk(v)

    def write_compact_records(self, v: bytes | bytearray | memoryview | None) -> None:
        if v is None:
            self.buf.append(0)
        elif not v:  # a partition with nothing to return, in most answers to a wide fetch
            self.buf.append(1)
        else:
            self.buf += encode_uvarint(len(v) + 1)
            self._write_chunk(v)


def encode_uvarint(v: int) -> bytes:
    if 0 <= v < 0x80:
        return _ONE_BYTE[v]
    out = bytearray()
    while v >= 0x80:
        out.append((v & 0x7F) | 0x80)
        v >>= 7
    out.append(v)
    return bytes(out)


_ONE_BYTE = [bytes((b,)) for b in range(0x80)]


def encode_varint(v: int) -> bytes:
    return encode_uvarint((v << 1) ^ (v >> 63))


def uvarint_size(v: int) -> int:
    n = 1
    while v >= 0x80:
        v >>= 7
        n += 1
    return n
