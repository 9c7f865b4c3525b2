"""A deliberately small, independent Kafka wire encoder/decoder for raw-socket tests.

It knows only the few non-flexible request versions these tests send (ApiVersions v0,
Produce v3, Metadata v4, Fetch v4) and the v2 record batch. It shares no code with the broker
on purpose: a test that used the broker's own codec could not catch a bug in it.
"""

from __future__ import annotations

import socket
import struct
import time
from dataclasses import dataclass, field

import crc32c

API_PRODUCE = 0
API_FETCH = 1
API_METADATA = 3
API_API_VERSIONS = 18

ERR_NONE = 0
ERR_CORRUPT_MESSAGE = 2
ERR_UNKNOWN_TOPIC_OR_PARTITION = 3
ERR_MESSAGE_TOO_LARGE = 10
ERR_UNSUPPORTED_VERSION = 35


# --- primitives -----------------------------------------------------------------------------


def i8(v: int) -> bytes:
    return struct.pack(">b", v)


def i16(v: int) -> bytes:
    return struct.pack(">h", v)


def i32(v: int) -> bytes:
    return struct.pack(">i", v)


def i64(v: int) -> bytes:
    return struct.pack(">q", v)


def string(s: str | None) -> bytes:
    if s is None:
        return i16(-1)
    b = s.encode()
    return i16(len(b)) + b


def nbytes(b: bytes | None) -> bytes:
    if b is None:
        return i32(-1)
    return i32(len(b)) + b


def varint(v: int) -> bytes:
    """Zig-zag varint (Kafka records use signed varints throughout)."""
    z = (v << 1) ^ (v >> 63)
    out = bytearray()
    while True:
        byte = z & 0x7F
        z >>= 7
        if z:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


class Reader:
    def __init__(self, data: bytes) -> None:
        self.data = data
        self.pos = 0

    def _take(self, fmt: str) -> int:
        (v,) = struct.unpack_from(fmt, self.data, self.pos)
        self.pos += struct.calcsize(fmt)
        return int(v)

    def i8(self) -> int:
        return self._take(">b")

    def i16(self) -> int:
        return self._take(">h")

    def i32(self) -> int:
        return self._take(">i")

    def i64(self) -> int:
        return self._take(">q")

    def string(self) -> str | None:
        n = self.i16()
        if n < 0:
            return None
        s = self.data[self.pos : self.pos + n].decode()
        self.pos += n
        return s

    def nbytes(self) -> bytes | None:
        n = self.i32()
        if n < 0:
            return None
        b = self.data[self.pos : self.pos + n]
        self.pos += n
        return b


# --- record batch v2 ------------------------------------------------------------------------


@dataclass
class Rec:
    key: bytes | None
    value: bytes | None
    headers: list[tuple[str, bytes | None]] = field(default_factory=list)
    timestamp_delta: int = 0


def _record(offset_delta: int, r: Rec) -> bytes:
    body = bytearray()
    body += i8(0)  # attributes
    body += varint(r.timestamp_delta)
    body += varint(offset_delta)
    for part in (r.key, r.value):
        if part is None:
            body += varint(-1)
        else:
            body += varint(len(part)) + part
    body += varint(len(r.headers))
    for hk, hv in r.headers:
        hkb = hk.encode()
        body += varint(len(hkb)) + hkb
        body += varint(-1) if hv is None else varint(len(hv)) + hv
    return varint(len(body)) + bytes(body)


def record_batch(records: list[Rec], base_timestamp: int | None = None, base_offset: int = 0) -> bytes:
    """An uncompressed magic-2 batch with a correct CRC-32C."""
    if base_timestamp is None:
        base_timestamp = int(time.time() * 1000)
    max_ts = base_timestamp + max(r.timestamp_delta for r in records)
    after_crc = (
        i16(0)  # attributes: no compression, CreateTime, not transactional
        + i32(len(records) - 1)  # last offset delta
        + i64(base_timestamp)
        + i64(max_ts)
        + i64(-1)  # producer id
        + i16(-1)  # producer epoch
        + i32(-1)  # base sequence
        + i32(len(records))
        + b"".join(_record(i, r) for i, r in enumerate(records))
    )
    crc = crc32c.crc32c(after_crc)
    after_length = i32(0) + i8(2) + struct.pack(">I", crc) + after_crc  # leader epoch, magic, crc
    return i64(base_offset) + i32(len(after_length)) + after_length


BATCH_CRC_OFFSET = 17  # base offset (8) + batch length (4) + leader epoch (4) + magic (1)


# --- requests -------------------------------------------------------------------------------


def request(
    api_key: int, api_version: int, correlation_id: int, body: bytes, client_id: str = "raw"
) -> bytes:
    """A whole frame: size prefix + request header v1 + body."""
    payload = i16(api_key) + i16(api_version) + i32(correlation_id) + string(client_id) + body
    return i32(len(payload)) + payload


def flexible_request(api_key: int, api_version: int, correlation_id: int, body: bytes) -> bytes:
    """A whole frame with request header v2 (header v1 plus an empty tagged-field section)."""
    payload = i16(api_key) + i16(api_version) + i32(correlation_id) + string("raw") + b"\x00" + body
    return i32(len(payload)) + payload


def api_versions_v0(correlation_id: int) -> bytes:
    return request(API_API_VERSIONS, 0, correlation_id, b"")


def produce_v3(correlation_id: int, topic: str, partition: int, batch: bytes, acks: int = -1) -> bytes:
    body = (
        string(None)  # transactional id
        + i16(acks)
        + i32(10_000)
        + i32(1)
        + string(topic)
        + i32(1)
        + i32(partition)
        + nbytes(batch)
    )
    return request(API_PRODUCE, 3, correlation_id, body)


def metadata_v4(correlation_id: int, topics: list[str] | None, allow_auto_create: bool) -> bytes:
    topic_part = i32(-1) if topics is None else i32(len(topics)) + b"".join(string(t) for t in topics)
    return request(API_METADATA, 4, correlation_id, topic_part + i8(1 if allow_auto_create else 0))


def fetch_v4(correlation_id: int, topic: str, partition: int, offset: int, max_wait_ms: int) -> bytes:
    body = (
        i32(-1)  # replica id: a consumer
        + i32(max_wait_ms)
        + i32(1)  # min bytes
        + i32(1 << 20)  # max bytes
        + i8(0)  # read_uncommitted
        + i32(1)
        + string(topic)
        + i32(1)
        + i32(partition)
        + i64(offset)
        + i32(1 << 20)
    )
    return request(API_FETCH, 4, correlation_id, body)


# --- responses ------------------------------------------------------------------------------


def recv_exact(sock: socket.socket, n: int) -> bytes:
    buf = bytearray()
    while len(buf) < n:
        chunk = sock.recv(n - len(buf))
        if not chunk:
            raise ConnectionError(f"connection closed after {len(buf)} of {n} bytes")
        buf += chunk
    return bytes(buf)


def read_response(sock: socket.socket, correlation_id: int) -> Reader:
    """Read one response frame; check the correlation id; return a reader at the body."""
    (size,) = struct.unpack(">i", recv_exact(sock, 4))
    r = Reader(recv_exact(sock, size))
    got = r.i32()
    assert got == correlation_id, f"response correlation id {got}, expected {correlation_id}"
    return r


def parse_api_versions_v0(r: Reader) -> tuple[int, dict[int, tuple[int, int]]]:
    error = r.i16()
    apis = {}
    for _ in range(r.i32()):
        key, lo, hi = r.i16(), r.i16(), r.i16()
        apis[key] = (lo, hi)
    return error, apis


@dataclass
class ProducePartition:
    topic: str
    partition: int
    error_code: int
    base_offset: int
    log_append_time: int


def parse_produce_v3(r: Reader) -> list[ProducePartition]:
    out = []
    for _ in range(r.i32()):
        topic = r.string() or ""
        for _ in range(r.i32()):
            out.append(ProducePartition(topic, r.i32(), r.i16(), r.i64(), r.i64()))
    r.i32()  # throttle time
    return out


@dataclass
class MetadataTopic:
    error_code: int
    name: str
    partitions: list[tuple[int, int, int]]  # (error_code, index, leader)


def parse_metadata_v4(r: Reader) -> tuple[list[tuple[int, str, int]], list[MetadataTopic]]:
    r.i32()  # throttle
    brokers = []
    for _ in range(r.i32()):
        node_id = r.i32()
        host = r.string() or ""
        port = r.i32()
        r.string()  # rack
        brokers.append((node_id, host, port))
    r.string()  # cluster id
    r.i32()  # controller id
    topics = []
    for _ in range(r.i32()):
        error = r.i16()
        name = r.string() or ""
        r.i8()  # is internal
        parts = []
        for _ in range(r.i32()):
            p_err, index, leader = r.i16(), r.i32(), r.i32()
            for _ in range(2):  # replicas, isr
                for _ in range(r.i32()):
                    r.i32()
            parts.append((p_err, index, leader))
        topics.append(MetadataTopic(error, name, parts))
    return brokers, topics


@dataclass
class FetchPartition:
    partition: int
    error_code: int
    high_watermark: int
    records: bytes | None


def parse_fetch_v4(r: Reader) -> list[FetchPartition]:
    r.i32()  # throttle
    out = []
    for _ in range(r.i32()):
        r.string()
        for _ in range(r.i32()):
            index, error, hw = r.i32(), r.i16(), r.i64()
            r.i64()  # last stable offset
            aborted = r.i32()
            for _ in range(max(aborted, 0)):
                r.i64()
                r.i64()
            out.append(FetchPartition(index, error, hw, r.nbytes()))
    return out


def connect(port: int, timeout: float = 5.0) -> socket.socket:
    sock = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    sock.settimeout(timeout)
    return sock


def closed_by_peer(sock: socket.socket, timeout: float = 5.0) -> bool:
    """True if the peer closes (EOF or reset) within ``timeout`` without sending anything.

    Any bytes received first make this False: the broker answered instead of closing.
    """
    sock.settimeout(timeout)
    try:
        data = sock.recv(65536)
    except (ConnectionResetError, BrokenPipeError):
        return True
    except TimeoutError:
        return False
    return data == b""
