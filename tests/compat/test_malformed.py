"""Hostile and broken input on raw sockets.

Each case must cost only the offending connection (closed, as Kafka closes it) or get the error
response Kafka gives, while a bystander connected at the same time keeps working and every
record acknowledged before is still there.
"""

from __future__ import annotations

import contextlib
import random
import socket
import struct
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import confluent_kafka
import pytest

from . import wire
from .clients import Ack, Out, confluent_consume, confluent_produce, confluent_producer, create_topic


@pytest.fixture(scope="module")
def wire_broker(module_broker: Any) -> Any:
    """A broker of this module's own, so a crash here cannot take other modules' tests along."""
    return module_broker


@dataclass
class Bystander:
    """A well-behaved client connected before the bad input arrives."""

    broker: Any  # conftest.BrokerProcess
    topic: str
    sock: socket.socket
    producer: confluent_kafka.Producer
    acked: list[tuple[Ack, bytes]]
    correlation: int = 100

    def check(self) -> None:
        assert self.broker.running, f"the broker died:\n{self.broker.current_log()}"
        # The raw connection opened before the bad input still answers.
        self.correlation += 1
        self.sock.sendall(wire.api_versions_v0(self.correlation))
        error, apis = wire.parse_api_versions_v0(wire.read_response(self.sock, self.correlation))
        assert error == wire.ERR_NONE and wire.API_PRODUCE in apis
        # The producer created before the bad input still produces.
        value = b"bystander-%d" % len(self.acked)
        (ack,) = confluent_produce(self.broker.bootstrap, self.topic, [Out(value)], self.producer)
        assert ack.offset == len(self.acked), "offsets moved: something was appended or lost"
        self.acked.append((ack, value))
        # Everything acknowledged so far is still there.
        got = confluent_consume(self.broker.bootstrap, self.topic, len(self.acked))
        assert [(g.offset, g.value) for g in got] == [(a.offset, v) for a, v in self.acked]


@pytest.fixture
def bystander(wire_broker: Any, topic_name: str) -> Iterator[Bystander]:
    create_topic(wire_broker.bootstrap, topic_name)
    producer = confluent_producer(wire_broker.bootstrap, **{"linger.ms": 0})
    values = [b"before-%d" % i for i in range(3)]
    acks = confluent_produce(wire_broker.bootstrap, topic_name, [Out(v) for v in values], producer)
    sock = wire.connect(wire_broker.port)
    b = Bystander(wire_broker, topic_name, sock, producer, list(zip(acks, values, strict=True)))
    b.check()
    yield b
    sock.close()


def _send_and_expect_close(port: int, data: bytes, why: str) -> None:
    with wire.connect(port) as sock:
        try:
            sock.sendall(data)
        except (BrokenPipeError, ConnectionResetError):
            return  # closed while we were still sending: as good as closed after
        assert wire.closed_by_peer(sock, timeout=5), f"the broker kept the connection open after {why}"


# --- frames that cannot be parsed: the connection is closed ---------------------------------


def test_garbage_bytes(wire_broker, bystander):
    _send_and_expect_close(wire_broker.port, b"GET / HTTP/1.1\r\nHost: kafka\r\n\r\n", "an HTTP request")
    _send_and_expect_close(wire_broker.port, random.Random(7).randbytes(64), "64 random bytes")
    bystander.check()


def test_two_gigabyte_length_prefix(wire_broker, bystander):
    """The size prefix alone is enough to refuse the frame: no waiting for 2 GB, no allocation."""
    started = time.monotonic()
    _send_and_expect_close(wire_broker.port, struct.pack(">i", 0x7FFFFFFF) + b"\x00" * 16, "a 2 GB prefix")
    assert time.monotonic() - started < 5
    rss_kb = _rss_kb(wire_broker)
    assert rss_kb < 512 * 1024, f"broker resident memory grew to {rss_kb // 1024} MB"
    bystander.check()


def test_negative_length_prefix(wire_broker, bystander):
    _send_and_expect_close(wire_broker.port, struct.pack(">i", -5) + b"\x00" * 8, "a negative size")
    bystander.check()


def test_truncated_request_then_close(wire_broker, bystander):
    frame = wire.metadata_v4(1, None, False)
    with wire.connect(wire_broker.port) as sock:
        sock.sendall(frame[: len(frame) - 3])
    # And a frame cut inside the size prefix itself.
    with wire.connect(wire_broker.port) as sock:
        sock.sendall(frame[:2])
    bystander.check()


def test_unknown_api_key(wire_broker, bystander):
    _send_and_expect_close(wire_broker.port, wire.request(9999, 0, 1, b""), "an unknown api key")
    _send_and_expect_close(wire_broker.port, wire.request(-1, 0, 1, b""), "api key -1")
    bystander.check()


def test_known_api_with_garbage_body(wire_broker, bystander):
    # Metadata v4 whose topic array claims 2^31-1 entries and then ends.
    _send_and_expect_close(
        wire_broker.port, wire.request(wire.API_METADATA, 4, 1, wire.i32(0x7FFFFFFF)), "a lying array length"
    )
    # Produce v3 that stops in the middle of its topic name.
    _send_and_expect_close(
        wire_broker.port,
        wire.request(
            wire.API_PRODUCE,
            3,
            2,
            wire.string(None) + wire.i16(1) + wire.i32(1000) + wire.i32(1) + wire.i16(40) + b"short",
        ),
        "a truncated produce body",
    )
    bystander.check()


# --- well-framed requests Kafka answers with an error ---------------------------------------


def test_api_versions_with_unsupported_version(wire_broker, bystander):
    """KIP-511: an ApiVersions version the broker does not know gets a v0 answer with
    UNSUPPORTED_VERSION and the supported ranges, and the connection stays usable."""
    with wire.connect(wire_broker.port) as sock:
        sock.sendall(wire.request(wire.API_API_VERSIONS, 127, 11, b""))
        error, apis = wire.parse_api_versions_v0(wire.read_response(sock, 11))
        assert error == wire.ERR_UNSUPPORTED_VERSION
        assert wire.API_API_VERSIONS in apis and wire.API_PRODUCE in apis
        sock.sendall(wire.api_versions_v0(12))
        error, _ = wire.parse_api_versions_v0(wire.read_response(sock, 12))
        assert error == wire.ERR_NONE
    bystander.check()


def test_trailing_bytes_after_a_request_body_are_ignored(wire_broker, bystander):
    """Kafka reads the fields it knows and ignores whatever follows them. librdkafka 2.x relies on
    it: its all-topics Metadata v9+ request leaves a 4-byte placeholder where the compact null
    array takes one byte, so Kafka reads the placeholder's zeros as the remaining fields and three
    bytes trail the body. These are librdkafka 2.16's exact bytes."""
    body = bytes.fromhex("00000000" + "01" + "00" + "00")
    with wire.connect(wire_broker.port) as sock:
        sock.sendall(wire.flexible_request(wire.API_METADATA, 12, 15, body))
        response = wire.read_response(sock, 15)
        assert bystander.topic.encode() in response.data, "the all-topics answer does not list the topic"
    bystander.check()


def test_produce_with_bad_crc_is_corrupt_message(wire_broker, bystander):
    batch = bytearray(wire.record_batch([wire.Rec(b"key", b"value that will be flipped")]))
    batch[-5] ^= 0x01  # inside the record's value: the stored CRC no longer matches
    with wire.connect(wire_broker.port) as sock:
        sock.sendall(wire.produce_v3(21, bystander.topic, 0, bytes(batch)))
        (part,) = wire.parse_produce_v3(wire.read_response(sock, 21))
        assert (part.topic, part.partition) == (bystander.topic, 0)
        assert part.error_code == wire.ERR_CORRUPT_MESSAGE
        # Kafka answers and keeps the connection.
        sock.sendall(wire.api_versions_v0(22))
        assert wire.parse_api_versions_v0(wire.read_response(sock, 22))[0] == wire.ERR_NONE
    bystander.check()


def test_produce_with_bad_crc_in_header_field_is_corrupt_message(wire_broker, bystander):
    batch = bytearray(wire.record_batch([wire.Rec(None, b"v")]))
    batch[wire.BATCH_CRC_OFFSET] ^= 0xFF  # the CRC itself is wrong
    with wire.connect(wire_broker.port) as sock:
        sock.sendall(wire.produce_v3(23, bystander.topic, 0, bytes(batch)))
        (part,) = wire.parse_produce_v3(wire.read_response(sock, 23))
    assert part.error_code == wire.ERR_CORRUPT_MESSAGE
    bystander.check()


def test_valid_raw_produce_is_appended(wire_broker, bystander):
    """The encoder the other cases corrupt is itself right: unmodified, the broker takes it."""
    batch = wire.record_batch([wire.Rec(b"raw-key", b"raw-value", [("h", b"1")]), wire.Rec(None, b"raw-2")])
    with wire.connect(wire_broker.port) as sock:
        sock.sendall(wire.produce_v3(31, bystander.topic, 0, batch))
        (part,) = wire.parse_produce_v3(wire.read_response(sock, 31))
    assert part.error_code == wire.ERR_NONE
    assert part.base_offset == len(bystander.acked)
    got = confluent_consume(wire_broker.bootstrap, bystander.topic, 2, offset=part.base_offset)
    assert [(g.key, g.value, g.headers) for g in got] == [
        (b"raw-key", b"raw-value", (("h", b"1"),)),
        (None, b"raw-2", ()),
    ]
    bystander.acked += [
        (Ack(0, part.base_offset), b"raw-value"),
        (Ack(0, part.base_offset + 1), b"raw-2"),
    ]
    bystander.check()


def test_produce_to_unknown_partition(wire_broker, bystander):
    batch = wire.record_batch([wire.Rec(None, b"nowhere")])
    with wire.connect(wire_broker.port) as sock:
        sock.sendall(wire.produce_v3(41, bystander.topic, 7, batch))
        (part,) = wire.parse_produce_v3(wire.read_response(sock, 41))
    assert part.error_code == wire.ERR_UNKNOWN_TOPIC_OR_PARTITION
    bystander.check()


# --- framing edge cases a correct client may produce ----------------------------------------


def test_pipelined_requests_answered_in_order(wire_broker, bystander):
    frames = (
        wire.api_versions_v0(51) + wire.metadata_v4(52, [bystander.topic], False) + wire.api_versions_v0(53)
    )
    with wire.connect(wire_broker.port) as sock:
        sock.sendall(frames)
        assert wire.parse_api_versions_v0(wire.read_response(sock, 51))[0] == wire.ERR_NONE
        _, topics = wire.parse_metadata_v4(wire.read_response(sock, 52))
        assert [(t.name, t.error_code) for t in topics] == [(bystander.topic, wire.ERR_NONE)]
        assert wire.parse_api_versions_v0(wire.read_response(sock, 53))[0] == wire.ERR_NONE
    bystander.check()


def test_request_sent_one_byte_at_a_time(wire_broker, bystander):
    frame = wire.api_versions_v0(61)
    with wire.connect(wire_broker.port) as sock:
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        for i in range(len(frame)):
            sock.sendall(frame[i : i + 1])
            time.sleep(0.002)
        assert wire.parse_api_versions_v0(wire.read_response(sock, 61))[0] == wire.ERR_NONE
    bystander.check()


def test_many_bad_connections_in_a_row(wire_broker, bystander):
    rng = random.Random(11)
    for i in range(30):
        with wire.connect(wire_broker.port) as sock:
            with contextlib.suppress(OSError):
                sock.sendall(struct.pack(">i", rng.randint(1, 40)) + rng.randbytes(rng.randint(0, 40)))
            if i % 2:
                sock.shutdown(socket.SHUT_WR)
    bystander.check()


def _rss_kb(b: Any) -> int:
    assert b.proc is not None
    with open(f"/proc/{b.proc.pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise AssertionError("no VmRSS in /proc status")
