"""KIP-227 fetch sessions: the request table, epochs and what incremental responses report."""

from __future__ import annotations

import pytest

from moldau.broker.fetch_session import FetchSessionCache, SessionPartition
from moldau.protocol.errors import ErrorCode, KafkaError
from moldau.protocol.primitives import ZERO_UUID


def sp(topic: str, partition: int, offset: int = 0) -> SessionPartition:
    return SessionPartition(
        topic=topic, partition=partition, topic_id=ZERO_UUID, fetch_offset=offset, max_bytes=100
    )


def test_sessionless_full_fetch() -> None:
    cache = FetchSessionCache()
    ctx = cache.resolve(0, -1, [sp("a", 0)], [])
    assert ctx.session_id == 0 and not ctx.incremental and len(cache) == 0


def test_open_then_incremental_then_close() -> None:
    cache = FetchSessionCache()
    full = cache.resolve(0, 0, [sp("a", 0), sp("a", 1)], [])
    assert full.session_id > 0 and not full.incremental
    inc = cache.resolve(full.session_id, 1, [sp("a", 1, 50), sp("b", 0)], [("a", 0)])
    assert inc.incremental
    assert [(p.topic, p.partition, p.fetch_offset) for p in inc.partitions] == [("a", 1, 50), ("b", 0, 0)]
    with pytest.raises(KafkaError) as e:
        cache.resolve(full.session_id, 1, [], [])
    assert e.value.code == ErrorCode.INVALID_FETCH_SESSION_EPOCH
    assert cache.resolve(full.session_id, 2, [], []).incremental
    closed = cache.resolve(full.session_id, -1, [sp("a", 0)], [])
    assert closed.session_id == 0 and len(cache) == 0
    with pytest.raises(KafkaError) as e:
        cache.resolve(full.session_id, 3, [], [])
    assert e.value.code == ErrorCode.FETCH_SESSION_ID_NOT_FOUND


def test_reopen_with_epoch_zero_replaces_session() -> None:
    cache = FetchSessionCache()
    first = cache.resolve(0, 0, [sp("a", 0)], [])
    second = cache.resolve(first.session_id, 0, [sp("b", 0)], [])
    assert second.session_id not in (0, first.session_id)
    assert len(cache) == 1


def test_epoch_without_session_is_invalid() -> None:
    with pytest.raises(KafkaError) as e:
        FetchSessionCache().resolve(0, 5, [], [])
    assert e.value.code == ErrorCode.INVALID_FETCH_SESSION_EPOCH


def test_full_cache_evicts_only_idle_sessions() -> None:
    now = [0.0]
    cache = FetchSessionCache(max_sessions=2, eviction_ms=1000, monotonic=lambda: now[0])
    a = cache.resolve(0, 0, [sp("a", 0)], []).session_id
    b = cache.resolve(0, 0, [sp("b", 0)], []).session_id
    # Full of live sessions: a newcomer fetches without a session and evicts nobody.
    assert cache.resolve(0, 0, [sp("c", 0)], []).session_id == 0
    assert cache.resolve(a, 1, [], []).incremental and cache.resolve(b, 1, [], []).incremental
    now[0] = 0.5
    cache.resolve(a, 2, [], [])
    now[0] = 1.2  # b idle for 1.2 s, a for 0.7 s: b, the least recently used, may go
    c = cache.resolve(0, 0, [sp("c", 0)], []).session_id
    assert c not in (0, a, b)
    with pytest.raises(KafkaError):
        cache.resolve(b, 2, [], [])
    assert cache.resolve(a, 3, [], []).incremental


def test_needs_report_tracks_last_sent_figures() -> None:
    p = sp("a", 0)
    assert p.needs_report(10, 10, 0)
    assert not p.needs_report(10, 10, 0)
    assert p.needs_report(11, 11, 0)
    assert p.needs_report(11, 11, 5)


def test_disabled_cache_never_opens_sessions() -> None:
    ctx = FetchSessionCache(max_sessions=0).resolve(0, 0, [sp("a", 0)], [])
    assert ctx.session_id == 0
