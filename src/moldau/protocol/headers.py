"""Request and response headers.

Request header layouts::

    v0: api_key INT16, api_version INT16, correlation_id INT32
    v1: v0 + client_id NULLABLE_STRING (classic INT16 length, even in flexible requests)
    v2: v1 + tagged fields

Response headers: v0 is correlation_id INT32; v1 adds tagged fields. Which version an API uses
follows from whether the request version is flexible (``Api.request_header_version``); the
ApiVersions response always uses v0 so that a client can read it before it knows our versions.
"""

from __future__ import annotations

import struct

from moldau.protocol.primitives import DecodeError, Reader
from moldau.util.datatype import datatype

_PREFIX = struct.Struct(">hhi")
_CORRELATION = struct.Struct(">i")
_CLIENT_ID_LENGTH = struct.Struct(">h")


@datatype(slots=True)
class RequestHeader:
    api_key: int
    api_version: int
    correlation_id: int
    client_id: str | None = None


def peek_prefix(frame: bytes | memoryview) -> tuple[int, int, int]:
    """``(api_key, api_version, correlation_id)`` of a request frame."""
    if len(frame) < 8:
        raise DecodeError(f"request of {len(frame)} bytes is shorter than a header")
    k, v, c = _PREFIX.unpack_from(frame, 0)
    return int(k), int(v), int(c)


def parse_request_header(frame: bytes | memoryview, header_version: int) -> tuple[RequestHeader, int]:
    """Parse the header; return it and the offset where the body starts."""
    size = len(frame)
    if size < 8:
        raise DecodeError(f"request of {size} bytes is shorter than a header")
    api_key, api_version, correlation_id = _PREFIX.unpack_from(frame, 0)
    if header_version < 1:
        return RequestHeader(api_key, api_version, correlation_id, None), 8
    client_id: str | None = None
    if size < 10:
        raise DecodeError("not enough bytes for the client id length")
    n = _CLIENT_ID_LENGTH.unpack_from(frame, 8)[0]
    pos = 10
    if n >= 0:
        pos += n
        if pos > size:
            raise DecodeError(f"client id of {n} bytes runs past the end of the request")
        try:
            client_id = str(frame[10:pos], "utf-8")
        except UnicodeDecodeError as e:
            raise DecodeError(f"invalid UTF-8 string: {e}") from None
    if header_version >= 2:
        if pos < size and frame[pos] == 0:  # no tagged fields, the usual case
            pos += 1
        else:
            r = Reader(frame, pos)
            for _ in range(r.read_uvarint()):
                r.read_uvarint()
                r.read_raw(r.read_uvarint())
            pos = r.pos
    return RequestHeader(api_key, api_version, correlation_id, client_id), pos


def encode_request_header(h: RequestHeader, header_version: int) -> bytes:
    out = bytearray(_PREFIX.pack(h.api_key, h.api_version, h.correlation_id))
    if header_version >= 1:
        if h.client_id is None:
            out += b"\xff\xff"
        else:
            cid = h.client_id.encode()
            out += struct.pack(">h", len(cid)) + cid
    if header_version >= 2:
        out.append(0)
    return bytes(out)


def encode_response_header(correlation_id: int, header_version: int) -> bytes:
    if header_version >= 1:
        return _CORRELATION.pack(correlation_id) + b"\x00"
    return _CORRELATION.pack(correlation_id)


def parse_response_header(frame: bytes | memoryview, header_version: int) -> tuple[int, int]:
    """``(correlation_id, body_offset)`` of a response frame."""
    r = Reader(frame)
    correlation_id = r.read_int32()
    if header_version >= 1:
        for _ in range(r.read_uvarint()):
            r.read_uvarint()
            r.read_raw(r.read_uvarint())
    return correlation_id, r.pos
