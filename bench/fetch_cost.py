"""The broker's Python cost per Fetch request over many partitions, without sockets.

A consumer that has read everything and fetches from many partitions at once (librdkafka
sends every assigned partition of a broker in each Fetch, read_committed by default) costs
the broker a pass over all of them per request. As ``request_cost.py`` does for Produce, a
real ``Server`` runs in this process; Fetch requests (v12, no fetch session, ``max_wait_ms``
0, every partition at its log end) are fed to a ``KafkaConnection`` with a stub transport.

    python bench/fetch_cost.py [--partitions 1024] [--requests 300]
"""

from __future__ import annotations

import argparse
import asyncio
import struct
import time

from request_cost import InProcessBroker

from moldau.protocol import codegen
from moldau.protocol.headers import RequestHeader, encode_request_header
from moldau.protocol.messages.fetch import FETCH, FetchPartition, FetchRequest, FetchTopic

VERSION = 12  # the last version that names topics (13+ use topic ids)


def fetch_frame(topic: str, partitions: int, read_committed: bool) -> bytes:
    body = FetchRequest(
        max_wait_ms=0,
        min_bytes=1,
        isolation_level=1 if read_committed else 0,
        session_id=0,
        session_epoch=-1,
        topics=[
            FetchTopic(
                topic=topic,
                partitions=[
                    FetchPartition(partition=p, fetch_offset=0, partition_max_bytes=1 << 20)
                    for p in range(partitions)
                ],
            )
        ],
        forgotten_topics_data=[],
        rack_id="",
    )
    header = encode_request_header(
        RequestHeader(FETCH.key, VERSION, 1, "fetch-cost"), FETCH.request_header_version(VERSION)
    )
    payload = header + codegen.encode(body, VERSION, FETCH.flexible(VERSION))
    return struct.pack(">i", len(payload)) + payload


async def main(args: argparse.Namespace) -> None:
    async with InProcessBroker("fetch-cost") as broker:
        await broker.create_topic("cost", args.partitions)
        frame = fetch_frame("cost", args.partitions, not args.read_uncommitted)

        def feed(count: int) -> None:
            for _ in range(count):
                broker.feed(frame)

        feed(10)
        written = broker.transport.written
        feed(1)
        if broker.transport.written == written:
            raise SystemExit("fetch_cost: the broker did not answer the fetch")
        best = float("inf")
        for _ in range(args.repeat):
            started = time.perf_counter()
            feed(args.requests)
            best = min(best, time.perf_counter() - started)
        per = best / args.requests
        print(
            f"{per * 1e6:,.0f} us per Fetch of {args.partitions} partitions "
            f"({per / args.partitions * 1e6:.2f} us a partition, best of {args.repeat} x {args.requests})"
        )


if __name__ == "__main__":
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--partitions", type=int, default=1024)
    p.add_argument("--requests", type=int, default=300)
    p.add_argument("--repeat", type=int, default=5)
    p.add_argument("--read-uncommitted", action="store_true")
    asyncio.run(main(p.parse_args()))
