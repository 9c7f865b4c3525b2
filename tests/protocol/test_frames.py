"""Framing and the server codec, fed whole, byte by byte and with trailing garbage."""

from __future__ import annotations

import struct

import pytest

from moldau.protocol import codegen
from moldau.protocol.connection import RemoteProtocolError, ServerCodec
from moldau.protocol.frames import FrameError, FrameReader, FrameTooLarge, frame
from moldau.protocol.headers import (
    RequestHeader,
    encode_request_header,
    parse_request_header,
    parse_response_header,
)
from moldau.protocol.messages import all_apis
from moldau.protocol.messages.api_versions import API_VERSIONS, ApiVersionsRequest, ApiVersionsResponse
from moldau.protocol.messages.metadata import (
    METADATA,
    MetadataRequest,
    MetadataRequestTopic,
    MetadataResponse,
)
from moldau.protocol.primitives import DecodeError


def _request(api_key: int, version: int, cid: int, body: object, client_id: str | None = "t") -> bytes:
    api = all_apis()[api_key]
    header = encode_request_header(
        RequestHeader(api_key, version, cid, client_id), api.request_header_version(version)
    )
    return frame(header + codegen.encode(body, version, api.flexible(version)))


def test_frame_reader_whole_and_bytewise() -> None:
    payloads = [b"a", b"", b"xyz" * 1000]
    stream = b"".join(frame(p) for p in payloads)
    whole = FrameReader(1 << 20)
    whole.feed(stream)
    assert [whole.next_frame() for _ in payloads] == payloads
    assert whole.next_frame() is None

    bytewise = FrameReader(1 << 20)
    got = []
    for i in range(len(stream)):
        bytewise.feed(stream[i : i + 1])
        while (f := bytewise.next_frame()) is not None:
            got.append(f)
    assert got == payloads
    assert bytewise.buffered == 0


def test_frame_reader_trailing_partial_frame_waits() -> None:
    r = FrameReader(1 << 20)
    r.feed(frame(b"one") + b"\x00\x00\x00\x05ab")
    assert r.next_frame() == b"one"
    assert r.next_frame() is None
    r.feed(b"cde")
    assert r.next_frame() == b"abcde"


def test_oversized_frame_refused_from_the_prefix_alone() -> None:
    r = FrameReader(100)
    with pytest.raises(FrameTooLarge) as e:
        r.feed(struct.pack(">i", 2_000_000_000))
    assert "socket.request.max.bytes=100" in str(e.value)
    with pytest.raises(FrameError):
        FrameReader(100).feed(struct.pack(">i", -5))


def test_codec_decodes_pipelined_requests_in_order() -> None:
    codec = ServerCodec(all_apis(), 1 << 20)
    data = _request(18, 3, 1, ApiVersionsRequest(client_software_name="x", client_software_version="1"))
    data += _request(3, 12, 2, MetadataRequest(topics=[MetadataRequestTopic(name="t")]))
    for i in range(len(data)):
        codec.receive_data(data[i : i + 1])
    first = codec.next_request()
    second = codec.next_request()
    assert codec.next_request() is None
    assert first is not None and second is not None
    assert first.api is API_VERSIONS and first.body.client_software_name == "x"
    assert second.api is METADATA and second.body.topics[0].name == "t"
    with pytest.raises(AssertionError):
        codec.respond(second, MetadataResponse())
    out = codec.respond(first, ApiVersionsResponse())
    # ApiVersions answers with response header v0 even in a flexible version.
    assert parse_response_header(out[4:], 0) == (1, 4)


def test_codec_rejects_unknown_key_bad_version_and_short_bodies() -> None:
    apis = all_apis()
    codec = ServerCodec(apis, 1 << 20)
    codec.receive_data(frame(struct.pack(">hhi", 9999, 0, 1) + b"\x00\x00"))
    with pytest.raises(RemoteProtocolError, match="unknown API key 9999"):
        codec.next_request()

    codec = ServerCodec(apis, 1 << 20)
    codec.receive_data(frame(struct.pack(">hhi", 3, 99, 1) + b"\x00\x00"))
    with pytest.raises(RemoteProtocolError, match="unsupported version 99 of Metadata"):
        codec.next_request()

    # Trailing bytes after the body are ignored, as Kafka does (librdkafka pads some requests).
    codec = ServerCodec(apis, 1 << 20)
    good = _request(3, 1, 2, MetadataRequest(topics=None))
    codec.receive_data(struct.pack(">i", len(good) - 4 + 3) + good[4:] + b"zzz")
    req = codec.next_request()
    assert req is not None and req.body.topics is None

    # Too few bytes are a malformed request.
    codec = ServerCodec(apis, 1 << 20)
    codec.receive_data(frame(good[4:-2]))
    with pytest.raises(RemoteProtocolError, match="malformed Metadata v1"):
        codec.next_request()


def test_codec_marks_too_new_api_versions() -> None:
    codec = ServerCodec(all_apis(), 1 << 20)
    codec.receive_data(frame(struct.pack(">hhi", 18, 42, 7) + b"\x00\x01x" + b"\x99garbage"))
    req = codec.next_request()
    assert req is not None and req.unsupported_version and req.header.correlation_id == 7
    out = codec.respond(req, ApiVersionsResponse(error_code=35), version=0)
    cid, pos = parse_response_header(out[4:], 0)
    assert cid == 7
    assert codegen.decode(ApiVersionsResponse, out[4 + pos :], 0, False).error_code == 35


@pytest.mark.parametrize("client_id", [None, "", "t", "prodüzent-7"])
def test_request_header_round_trip(client_id: str | None) -> None:
    for version in (1, 2):
        raw = encode_request_header(RequestHeader(0, 9, 42, client_id), version) + b"BODY"
        header, pos = parse_request_header(raw, version)
        assert header == RequestHeader(0, 9, 42, client_id)
        assert raw[pos:] == b"BODY"


def test_request_header_with_tagged_fields_is_skipped_to_the_body() -> None:
    prefix = struct.pack(">hhih", 0, 9, 42, 1) + b"c"
    tags = b"\x02" + b"\x00\x03abc" + b"\x05\x01z"  # two tagged fields: tag 0 (3 bytes), tag 5 (1)
    header, pos = parse_request_header(prefix + tags + b"BODY", 2)
    assert header.client_id == "c" and (prefix + tags + b"BODY")[pos:] == b"BODY"


@pytest.mark.parametrize(
    "raw",
    [
        struct.pack(">hhi", 0, 9, 1)[:7],  # shorter than the prefix
        struct.pack(">hhi", 0, 9, 1) + b"\x00",  # half a client id length
        struct.pack(">hhih", 0, 9, 1, 5) + b"abc",  # client id runs past the end
        struct.pack(">hhih", 0, 9, 1, 2) + b"\xff\xfe",  # not UTF-8
        struct.pack(">hhih", 0, 9, 1, 1) + b"c",  # v2 without its tagged-field count
    ],
)
def test_malformed_request_headers_are_decode_errors(raw: bytes) -> None:
    with pytest.raises(DecodeError):
        parse_request_header(raw, 2)


def test_codec_answers_each_version_with_its_own_header() -> None:
    """A connection mixing versions of one API (plans are per version) gets each response
    in the header version of its request: v0 for ApiVersions, v1 for flexible Metadata."""
    codec = ServerCodec(all_apis(), 1 << 20)
    codec.receive_data(_request(3, 1, 1, MetadataRequest(topics=None)))
    codec.receive_data(_request(3, 12, 2, MetadataRequest(topics=None)))
    codec.receive_data(_request(18, 3, 3, ApiVersionsRequest()))
    sizes = []
    for expected_header in (0, 1, 0):
        req = codec.next_request()
        assert req is not None
        body: object = (
            ApiVersionsResponse(error_code=0)
            if req.api.key == 18
            else MetadataResponse(brokers=[], topics=[])
        )
        out = codec.respond(req, body)
        cid, pos = parse_response_header(out[4:], expected_header)
        assert cid == req.header.correlation_id
        sizes.append(pos)
    assert sizes == [4, 5, 4]
