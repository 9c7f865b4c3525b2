"""A waiting fetch wakes when enough bytes arrive, not at its timeout."""

from __future__ import annotations

import asyncio

from moldau.broker.purgatory import FetchPurgatory


async def test_wakes_when_enough_bytes_arrive() -> None:
    purgatory = FetchPurgatory()
    loop = asyncio.get_running_loop()
    waiter = asyncio.ensure_future(purgatory.wait([("t", 0), ("t", 1)], 100, 60_000))
    await asyncio.sleep(0)
    assert len(purgatory) == 1
    purgatory.notify("t", 0, 60)
    purgatory.notify("x", 0, 1000)
    await asyncio.sleep(0)
    assert not waiter.done()
    started = loop.time()
    purgatory.notify("t", 1, 40)
    await asyncio.wait_for(waiter, 5)
    assert loop.time() - started < 30  # woken by data, far from the 60 s timeout
    assert len(purgatory) == 0


async def test_times_out_and_cleans_up() -> None:
    purgatory = FetchPurgatory()
    await purgatory.wait([("t", 0)], 10, 10)
    assert len(purgatory) == 0


async def test_wake_all_releases_everyone() -> None:
    purgatory = FetchPurgatory()
    waiters = [asyncio.ensure_future(purgatory.wait([("t", i)], 1, 60_000)) for i in range(3)]
    await asyncio.sleep(0)
    purgatory.wake_all()
    await asyncio.wait_for(asyncio.gather(*waiters), 5)
