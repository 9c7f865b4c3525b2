"""The frame reader as an ``asyncio.BufferedProtocol`` drives it (``get_buffer`` /
``buffer_updated``), and responses written in chunks: fed whole, byte by byte, in the sizes a
socket delivers, and with trailing garbage."""

from __future__ import annotations

import random
import struct

import pytest

from moldau.protocol import codegen
from moldau.protocol.connection import RemoteProtocolError, ServerCodec
from moldau.protocol.frames import (
    FIRST_ALLOCATION,
    RECEIVE_BUFFER,
    FrameError,
    FrameReader,
    FrameTooLarge,
    ReceiveBuffers,
    frame,
)
from moldau.protocol.headers import RequestHeader, encode_request_header, parse_response_header
from moldau.protocol.messages import all_apis
from moldau.protocol.messages.fetch import (
    FETCH,
    FetchableTopicResponse,
    FetchRequest,
    FetchResponse,
    PartitionData,
)
from moldau.protocol.messages.produce import PartitionProduceData, ProduceRequest, TopicProduceData
from moldau.protocol.primitives import OWN_CHUNK_BYTES, Writer

PAYLOADS = [b"a", b"", b"xyz" * 1000, bytes(range(256)) * 200, b"q" * (RECEIVE_BUFFER + 17), b"end"]
STREAM = b"".join(frame(p) for p in PAYLOADS)


def _receive(reader: FrameReader, data: bytes, max_read: int) -> None:
    """What a transport does: receive at most ``max_read`` bytes into each offered buffer."""
    view = memoryview(data)
    while view:
        target = reader.get_buffer()
        assert len(target) > 0
        n = min(len(target), len(view), max_read)
        target[:n] = view[:n]
        del target
        reader.buffer_updated(n)
        view = view[n:]


def _drain(reader: FrameReader) -> list[bytes]:
    out = []
    while (f := reader.next_frame_buffer()) is not None:
        assert isinstance(f, bytearray)
        out.append(bytes(f))
    return out


@pytest.mark.parametrize("max_read", [1, 3, 4, 5, 4096, RECEIVE_BUFFER, 1 << 30])
def test_buffered_reader_frames_in_any_read_sizes(max_read: int) -> None:
    reader = FrameReader(1 << 20)
    got: list[bytes] = []
    view = memoryview(STREAM)
    step = max(max_read, 1)
    for i in range(0, len(STREAM), step * 7):  # frames taken between reads, as a connection does
        _receive(reader, bytes(view[i : i + step * 7]), max_read)
        got += _drain(reader)
    assert got == PAYLOADS
    assert reader.buffered == 0


def test_buffered_reader_random_read_sizes() -> None:
    rng = random.Random(7)
    reader = FrameReader(1 << 20)
    got: list[bytes] = []
    pos = 0
    while pos < len(STREAM):
        n = rng.choice([1, 2, 5, 100, 3000, 70000])
        _receive(reader, STREAM[pos : pos + n], n)
        pos += n
        if rng.random() < 0.5:
            got += _drain(reader)
    got += _drain(reader)
    assert got == PAYLOADS


def test_whole_and_bytewise_feed_agree_and_frames_are_independent() -> None:
    whole = FrameReader(1 << 20)
    whole.feed(STREAM)
    frames = []
    while (f := whole.next_frame_buffer()) is not None:
        frames.append(f)
    assert [bytes(f) for f in frames] == PAYLOADS
    frames[0][:] = b"Z"  # a frame is its caller's to rewrite: nothing else changes
    assert [bytes(f) for f in frames[1:]] == PAYLOADS[1:]

    bytewise = FrameReader(1 << 20)
    for i in range(len(STREAM)):
        bytewise.feed(STREAM[i : i + 1])
    assert [bytewise.next_frame() for _ in PAYLOADS] == PAYLOADS
    assert bytewise.next_frame() is None


def test_a_large_frame_is_received_into_its_own_buffer() -> None:
    body = b"L" * (RECEIVE_BUFFER * 3)
    reader = FrameReader(1 << 22)
    reader.feed(frame(body)[:100])
    target = reader.get_buffer()
    assert len(target) == len(body) - 96  # exactly the rest of the frame, nothing after it
    del target
    reader.feed(body[96:])
    assert reader.next_frame_buffer() == body


def test_a_hostile_length_prefix_costs_little_memory() -> None:
    limit = 64 * FIRST_ALLOCATION
    reader = FrameReader(limit)
    reader.feed(struct.pack(">i", limit) + b"x" * 10)
    target = reader.get_buffer()
    assert len(target) <= FIRST_ALLOCATION
    del target
    chunk = b"y" * FIRST_ALLOCATION
    sent = 10
    while sent + len(chunk) <= limit:  # the buffer grows as the bytes arrive
        reader.feed(chunk)
        sent += len(chunk)
    reader.feed(b"z" * (limit - sent))
    f = reader.next_frame_buffer()
    assert f is not None and len(f) == limit and f[:10] == b"x" * 10 and f[-1:] == b"z"


def test_trailing_garbage_after_whole_frames() -> None:
    reader = FrameReader(100)
    reader.feed(frame(b"one") + frame(b"two") + struct.pack(">i", 1_000_000) + b"garbage")
    # The frames before the bad prefix are still handed out, then the error.
    assert reader.next_frame() == b"one"
    assert reader.next_frame() == b"two"
    with pytest.raises(FrameTooLarge):
        reader.next_frame()
    with pytest.raises(FrameError):
        FrameReader(100).feed(b"\xff\xff\xff\xfe")
    partial = FrameReader(100)
    partial.feed(frame(b"ok") + b"\x00\x00")
    assert partial.next_frame() == b"ok"
    assert partial.next_frame() is None
    assert partial.buffered == 2


def _produce_frame(records: bytes) -> bytes:
    api = all_apis()[0]
    body = ProduceRequest(
        acks=1,
        timeout_ms=1000,
        topic_data=[
            TopicProduceData(name="t", partition_data=[PartitionProduceData(index=0, records=records)])
        ],
    )
    header = encode_request_header(RequestHeader(0, 9, 5, "c"), api.request_header_version(9))
    return frame(header + codegen.encode(body, 9, api.flexible(9)))


@pytest.mark.parametrize("size", [10, RECEIVE_BUFFER * 2])
def test_codec_decodes_records_as_writable_views_of_the_request(size: int) -> None:
    records = bytes(range(256)) * (size // 256 + 1)
    codec = ServerCodec(all_apis(), 1 << 22)
    data = _produce_frame(records)
    pos = 0
    while pos < len(data):  # as BufferedProtocol delivers it
        target = codec.get_buffer()
        n = min(len(target), len(data) - pos, 1000)
        target[:n] = data[pos : pos + n]
        del target
        codec.buffer_updated(n)
        pos += n
    req = codec.next_request()
    assert req is not None
    view = req.body.topic_data[0].partition_data[0].records
    assert isinstance(view, memoryview) and not view.readonly and view == records
    view[0] = 0xAA  # produce rewrites batch headers in place
    assert view[0] == 0xAA


def test_codec_reports_bad_prefixes_as_the_peer_s_fault() -> None:
    codec = ServerCodec(all_apis(), 100)
    target = codec.get_buffer()
    target[:4] = struct.pack(">i", 101)
    del target
    with pytest.raises(RemoteProtocolError, match="exceeds"):
        codec.buffer_updated(4)


def test_writer_keeps_large_records_as_their_own_chunk() -> None:
    big = memoryview(b"R" * OWN_CHUNK_BYTES)
    small = b"r" * 10
    w = Writer()
    w.write_int8(1)
    w.write_records(big)
    w.write_compact_records(small)
    w.write_records(None)
    chunks = w.chunks()
    assert chunks[1] is big  # by reference, not copied
    assert w.getvalue() == b"\x01" + struct.pack(">i", len(big)) + bytes(big) + b"\x0b" + small + b"\xff" * 4
    assert w.size() == len(w.getvalue())


def test_compact_records_null_empty_and_some() -> None:
    w = Writer()
    for value in (None, b"", bytearray(), memoryview(b""), b"ab"):
        w.write_compact_records(value)
    assert w.getvalue() == b"\x00" + b"\x01" * 3 + b"\x03ab"


@pytest.mark.parametrize("version", [4, 11, 12, 16])
def test_chunked_fetch_response_equals_the_joined_encoding(version: int) -> None:
    big = b"B" * (OWN_CHUNK_BYTES * 3)
    response = FetchResponse(
        session_id=3,
        responses=[
            FetchableTopicResponse(
                topic="t",
                partitions=[
                    PartitionData(partition_index=0, high_watermark=9, records=memoryview(big)),
                    PartitionData(partition_index=1, high_watermark=1, records=b"small"),
                    PartitionData(partition_index=2, high_watermark=1, records=None),
                ],
            )
        ],
    )
    codec = ServerCodec(all_apis(), 1 << 20)
    header = encode_request_header(RequestHeader(1, version, 77, "c"), FETCH.request_header_version(version))
    codec.receive_data(frame(header + codegen.encode(FetchRequest(), version, FETCH.flexible(version))))
    req = codec.next_request()
    assert req is not None
    chunks = codec.respond_chunks(req, response)
    assert any(c is not None and len(c) == len(big) and bytes(c) == big for c in chunks)
    out = b"".join(chunks)
    assert struct.unpack_from(">i", out)[0] == len(out) - 4
    cid, pos = parse_response_header(out[4:], FETCH.response_header_version(version))
    assert cid == 77
    decoded = codegen.decode(FetchResponse, out[4 + pos :], version, FETCH.flexible(version))
    parts = decoded.responses[0].partitions
    assert bytes(parts[0].records) == big and bytes(parts[1].records) == b"small"
    assert codegen.encode(response, version, FETCH.flexible(version)) == out[4 + pos :]


def test_readers_sharing_a_receive_buffer_keep_their_own_frames() -> None:
    """Connections of one loop read into one buffer, one read at a time; each reader's frames
    (and the partial frames left between its reads) stay its own."""
    buffers = ReceiveBuffers(keep=2)
    shared = buffers.shared
    rng = random.Random(11)
    streams = [[bytes([65 + i]) * rng.choice([0, 7, 900, 20000, 40000]) for _ in range(40)] for i in range(3)]
    readers = [FrameReader(1 << 20, buffers) for _ in streams]
    wire = [b"".join(frame(p) for p in payloads) for payloads in streams]
    sent = [0, 0, 0]
    got: list[list[bytes]] = [[], [], []]
    while any(sent[i] < len(wire[i]) for i in range(3)):
        i = rng.randrange(3)
        if sent[i] == len(wire[i]):
            continue
        target = readers[i].get_buffer()
        n = min(len(target), rng.choice([1, 5, 3000, 30000, 70000]), len(wire[i]) - sent[i])
        target[:n] = wire[i][sent[i] : sent[i] + n]
        del target
        readers[i].buffer_updated(n)
        sent[i] += n
        shared[:] = b"\xee" * len(shared)  # another connection's read overwrites it all
        for spare in buffers._free:  # and so does a reuse of a pooled buffer
            spare[:] = b"\xdd" * len(spare)
        got[i] += _drain(readers[i])
    assert got == streams
    assert all(r.buffered == 0 for r in readers)


def test_a_reader_between_frames_holds_no_buffer_of_its_own() -> None:
    reader = FrameReader(1 << 20, ReceiveBuffers())
    request = frame(b"r" * 3000)
    _receive(reader, request * 3, 1 << 30)  # reads that end on a frame boundary
    assert reader.held_bytes == 0
    _receive(reader, request[:1000], 1 << 30)  # a partial frame is kept by the reader itself
    assert reader.held_bytes == RECEIVE_BUFFER
    _receive(reader, request[1000:], 1 << 30)  # and given back once it is whole
    assert reader.held_bytes == 0
    assert _drain(reader) == [b"r" * 3000] * 4
