"""A produce load that costs its client almost nothing: pre-encoded requests over N connections.

``moldau perf produce --connections N`` runs N librdkafka producers, which share one client
core and split the load between them, so their batches shrink as N grows: at 256 connections
the broker gets requests of one or two records and the client core is saturated too. That
measures request size and the client as much as connections. This load sends the *same*
requests whatever N is, so what changes with N is only the number of connections the broker
serves:

* every request is a Produce (v9, acks=1) with one batch of ``--records`` records of
  ``--record-size`` bytes for one partition, the partitions taken in turn;
* the requests are encoded once before the clock starts; each connection keeps ``--depth``
  of them in flight and sends one more for every response;
* every 64th response (and each connection's first) is decoded and its error codes checked:
  a broker that refuses the records fails the run rather than looking fast.

It needs the topic to exist. Prints one JSON line (``--output json``) or a sentence.

    python bench/rawload.py --bootstrap-server 127.0.0.1:9092 --topic t --connections 64
"""

from __future__ import annotations

import argparse
import asyncio
import json
import struct
import sys
import time
from functools import partial
from typing import Any

from moldau.protocol import codegen
from moldau.protocol.headers import RequestHeader, encode_request_header, parse_response_header
from moldau.protocol.messages.produce import (
    PRODUCE,
    PartitionProduceData,
    ProduceRequest,
    ProduceResponse,
    TopicProduceData,
)
from moldau.protocol.records.records import build_batch

VERSION = 9
CHECK_EVERY = 64
_SIZE = struct.Struct(">i")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--bootstrap-server", required=True, help="HOST:PORT of the broker")
    p.add_argument("--topic", required=True)
    p.add_argument("--partitions", type=int, default=16, help="partitions of the topic to write to (16)")
    p.add_argument("--connections", type=int, default=1)
    p.add_argument("--records", type=int, default=16, help="records per request (16)")
    p.add_argument("--record-size", type=int, default=1024)
    p.add_argument("--depth", type=int, default=4, help="requests in flight per connection (4)")
    p.add_argument("--duration", type=float, default=5.0, help="seconds measured, after 1 s of warm-up")
    p.add_argument("--output", choices=["text", "json"], default="text")
    return p.parse_args(argv)


def encode_requests(topic: str, partitions: int, records: int, size: int) -> list[bytes]:
    """One request frame per partition."""
    now = int(time.time() * 1000)
    batch = build_batch([(None, b"x" * size, [], now)] * records)
    header = encode_request_header(
        RequestHeader(PRODUCE.key, VERSION, 1, "moldau-rawload"), PRODUCE.request_header_version(VERSION)
    )
    frames = []
    for p in range(partitions):
        body = ProduceRequest(
            transactional_id=None,
            acks=1,
            timeout_ms=30_000,
            topic_data=[
                TopicProduceData(name=topic, partition_data=[PartitionProduceData(index=p, records=batch)])
            ],
        )
        payload = header + codegen.encode(body, VERSION, PRODUCE.flexible(VERSION))
        frames.append(_SIZE.pack(len(payload)) + payload)
    return frames


def response_errors(frame: bytes | memoryview) -> list[int]:
    """The non-zero error codes of one Produce response (without its size prefix)."""
    _, pos = parse_response_header(frame, PRODUCE.response_header_version(VERSION))
    response = codegen.decode(ProduceResponse, frame[pos:], VERSION, PRODUCE.flexible(VERSION))
    return [p.error_code for t in response.responses for p in t.partition_responses if p.error_code]


class Load:
    """What all connections share: the requests, the counters, and whether to stop."""

    def __init__(self, requests: list[bytes]) -> None:
        self.requests = requests
        self.answered = 0
        self.errors: list[int] = []
        self.stopping = False


class _Connection(asyncio.Protocol):
    def __init__(self, load: Load, first: int, depth: int) -> None:
        self.load = load
        self.next = first
        self.depth = depth
        self.buf = bytearray()
        self.seen = 0
        self.transport: asyncio.Transport | None = None
        self.lost: asyncio.Future[None] = asyncio.get_running_loop().create_future()

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]
        for _ in range(self.depth):
            self._send()

    def _send(self) -> None:
        requests = self.load.requests
        assert self.transport is not None
        self.transport.write(requests[self.next % len(requests)])
        self.next += 1

    def data_received(self, data: bytes) -> None:
        buf = self.buf
        buf += data
        pos, answered = 0, 0
        while len(buf) - pos >= 4:
            size = _SIZE.unpack_from(buf, pos)[0]
            if len(buf) - pos - 4 < size:
                break
            if self.seen % CHECK_EVERY == 0:
                self.load.errors += response_errors(memoryview(buf)[pos + 4 : pos + 4 + size])
            self.seen += 1
            pos += 4 + size
            answered += 1
        del buf[:pos]
        self.load.answered += answered
        if not self.load.stopping:
            for _ in range(answered):
                self._send()

    def connection_lost(self, exc: Exception | None) -> None:
        if not self.lost.done():
            self.lost.set_result(None)


async def run(args: argparse.Namespace) -> dict[str, Any]:
    host, port = args.bootstrap_server.rsplit(":", 1)
    load = Load(encode_requests(args.topic, args.partitions, args.records, args.record_size))
    loop = asyncio.get_running_loop()
    connections = []
    for c in range(args.connections):
        _, conn = await loop.create_connection(partial(_Connection, load, c, args.depth), host, int(port))
        connections.append(conn)
    await asyncio.sleep(1.0)  # warm-up: every connection has its pipeline full
    start_count, started = load.answered, time.perf_counter()
    await asyncio.sleep(args.duration)
    answered, elapsed = load.answered - start_count, time.perf_counter() - started
    load.stopping = True
    for conn in connections:
        if conn.transport is not None:
            conn.transport.close()
    await asyncio.gather(*(conn.lost for conn in connections))
    records = answered * args.records
    return {
        "mode": "raw",
        "topic": args.topic,
        "connections": args.connections,
        "requests": answered,
        "errors": len(load.errors),
        "error_codes": sorted(set(load.errors)),
        "elapsed_s": round(elapsed, 4),
        "requests_per_s": round(answered / elapsed, 1),
        "records_per_s": round(records / elapsed, 1),
        "mb_per_s": round(records * args.record_size / elapsed / 2**20, 3),
    }


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        summary = asyncio.run(run(args))
    except OSError as e:
        print(f"rawload: cannot reach {args.bootstrap_server}: {e}", file=sys.stderr)
        return 1
    if args.output == "json":
        print(json.dumps(summary))
    else:
        print(
            f"{summary['requests']} requests over {args.connections} connection(s): "
            f"{summary['requests_per_s']:,.0f} requests/s, {summary['mb_per_s']:,.1f} MB/s"
        )
    if summary["errors"]:
        print(f"rawload: the broker answered with errors {summary['error_codes']}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
