"""A stand-in for the broker runtime: drives a TxnCoordinator with a ManualClock.

It follows the runtime contract of ``moldau.coordinator.txn.results``: the records of a
result are appended to an in-memory log and replayed, then its replies are delivered and its
markers queued (or, with ``fail_writes`` set, the records are dropped, ``write_failed`` is
called and ``replies_if_write_fails`` delivered). Markers are not written by themselves:
``write_markers`` reports them as written (or with the errors given), so a test controls
exactly when a transaction completes. ``tick`` runs whenever ``next_deadline`` has passed.
It also checks that no token is ever answered twice.
"""

from __future__ import annotations

import itertools
from typing import Any

from moldau.coordinator.group import CoordinatorRecord
from moldau.coordinator.txn import MarkerRequest, TxnConfig, TxnCoordinator, TxnMetadata, TxnResult
from moldau.coordinator.txn.records import encode_key, encode_value
from moldau.protocol.messages.add_offsets_to_txn import AddOffsetsToTxnRequest
from moldau.protocol.messages.add_partitions_to_txn import (
    AddPartitionsToTxnRequest,
    AddPartitionsToTxnTopic,
    AddPartitionsToTxnTransaction,
)
from moldau.protocol.messages.describe_transactions import DescribeTransactionsRequest
from moldau.protocol.messages.end_txn import EndTxnRequest
from moldau.protocol.messages.init_producer_id import InitProducerIdRequest
from moldau.protocol.messages.list_transactions import ListTransactionsRequest
from moldau.util.clock import ManualClock

START_MS = 1_700_000_000_000
TIMEOUT_MS = 60_000


def topics_of(partitions: list[tuple[str, int]]) -> list[AddPartitionsToTxnTopic]:
    by_topic: dict[str, list[int]] = {}
    for topic, partition in partitions:
        by_topic.setdefault(topic, []).append(partition)
    return [AddPartitionsToTxnTopic(name=t, partitions=p) for t, p in by_topic.items()]


class Harness:
    def __init__(
        self, config: TxnConfig | None = None, *, first_producer_id: int = 1000, **overrides: Any
    ) -> None:
        if config is None:
            config = TxnConfig(**overrides)
        self.clock = ManualClock(time_ms=START_MS)
        self._ids = itertools.count(first_producer_id)
        self.allocated: list[int] = []
        self.coordinator = TxnCoordinator(
            self.clock, config, self._allocate, offsets_topic_num_partitions=50, coordinator_epoch=lambda p: 7
        )
        self.log: list[CoordinatorRecord] = []
        self.replies: dict[Any, Any] = {}
        self.markers: list[MarkerRequest] = []
        self.fail_writes = False
        self._tokens = itertools.count(1)

    def _allocate(self) -> int:
        pid = next(self._ids)
        self.allocated.append(pid)
        return pid

    # -- runtime ------------------------------------------------------------------------------

    def apply(self, result: TxnResult) -> None:
        if result.records and self.fail_writes:
            self.coordinator.write_failed(result.records)
            sent = result.replies_if_write_fails
        else:
            for record in result.records:
                self.log.append(record)
                self.coordinator.replay(record)
            sent = result.replies
            self.markers.extend(result.markers)
        for token, response in sent:
            assert token not in self.replies, f"token {token} answered twice"
            self.replies[token] = response

    def call(self, method: str, request: Any, version: int) -> Any:
        token = next(self._tokens)
        self.apply(getattr(self.coordinator, method)(request, version, token))
        self.run_due()
        return self.replies[token]

    def run_due(self) -> None:
        while self.coordinator.next_deadline() <= self.clock.time_ms():
            self.apply(self.coordinator.tick())

    def advance(self, ms: int) -> None:
        """Move time forward, firing every deadline on the way, in order."""
        target = self.clock.time_ms() + ms
        while (deadline := self.coordinator.next_deadline()) <= target:
            if deadline > self.clock.time_ms():
                self.clock.advance(deadline - self.clock.time_ms())
            self.apply(self.coordinator.tick())
        self.clock.advance(target - self.clock.time_ms())

    def take_markers(self) -> list[MarkerRequest]:
        taken, self.markers = self.markers, []
        return taken

    def write_markers(self, errors: dict[tuple[str, int], int] | None = None) -> list[MarkerRequest]:
        """Report every queued marker as written (or failed with ``errors``), per transaction."""
        taken = self.take_markers()
        groups: dict[tuple[str, int, int], dict[tuple[str, int], int]] = {}
        for m in taken:
            key = (m.transactional_id, m.producer_id, m.producer_epoch)
            groups.setdefault(key, {})[(m.topic, m.partition)] = (errors or {}).get((m.topic, m.partition), 0)
        for (tid, pid, epoch), outcome in groups.items():
            self.apply(self.coordinator.markers_written(tid, pid, epoch, outcome))
        return taken

    def seed(self, txn: TxnMetadata) -> None:
        """Put ``txn`` in the log as if an earlier coordinator had written it, and replay it."""
        record = CoordinatorRecord(
            partition=self.coordinator.partition_for(txn.transactional_id),
            key=encode_key(txn.transactional_id),
            value=encode_value(txn.to_value(), 1),
        )
        self.log.append(record)
        self.coordinator.replay(record)

    def state(self, tid: str) -> str | None:
        txn = self.coordinator.transaction(tid)
        return None if txn is None else txn.state.value

    # -- requests -----------------------------------------------------------------------------

    def init_request(self, tid: str, timeout_ms: int = TIMEOUT_MS) -> InitProducerIdRequest:
        return InitProducerIdRequest(transactional_id=tid, transaction_timeout_ms=timeout_ms)

    def init(
        self,
        tid: str,
        *,
        version: int = 4,
        timeout_ms: int = TIMEOUT_MS,
        producer_id: int = -1,
        producer_epoch: int = -1,
    ) -> Any:
        req = InitProducerIdRequest(
            transactional_id=tid,
            transaction_timeout_ms=timeout_ms,
            producer_id=producer_id,
            producer_epoch=producer_epoch,
        )
        return self.call("init_producer_id", req, version)

    def add(
        self, tid: str, pid: int, epoch: int, partitions: list[tuple[str, int]], *, version: int = 3
    ) -> Any:
        req = AddPartitionsToTxnRequest(
            v3_and_below_transactional_id=tid,
            v3_and_below_producer_id=pid,
            v3_and_below_producer_epoch=epoch,
            v3_and_below_topics=topics_of(partitions),
        )
        return self.call("add_partitions_to_txn", req, version)

    def add_batch(
        self, *transactions: tuple[str, int, int, list[tuple[str, int]], bool], version: int = 5
    ) -> Any:
        req = AddPartitionsToTxnRequest(
            transactions=[
                AddPartitionsToTxnTransaction(
                    transactional_id=tid,
                    producer_id=pid,
                    producer_epoch=epoch,
                    verify_only=verify,
                    topics=topics_of(parts),
                )
                for tid, pid, epoch, parts, verify in transactions
            ]
        )
        return self.call("add_partitions_to_txn", req, version)

    def add_offsets(self, tid: str, pid: int, epoch: int, group: str, *, version: int = 3) -> Any:
        req = AddOffsetsToTxnRequest(
            transactional_id=tid, producer_id=pid, producer_epoch=epoch, group_id=group
        )
        return self.call("add_offsets_to_txn", req, version)

    def end(self, tid: str, pid: int, epoch: int, *, commit: bool = True, version: int = 4) -> Any:
        req = EndTxnRequest(transactional_id=tid, producer_id=pid, producer_epoch=epoch, committed=commit)
        return self.call("end_txn", req, version)

    def describe(self, *tids: str) -> Any:
        return self.call(
            "describe_transactions", DescribeTransactionsRequest(transactional_ids=list(tids)), 0
        )

    def list_txns(
        self,
        states: list[str] | None = None,
        pids: list[int] | None = None,
        duration: int = -1,
        version: int = 1,
    ) -> Any:
        req = ListTransactionsRequest(
            state_filters=states or [], producer_id_filters=pids or [], duration_filter=duration
        )
        return self.call("list_transactions", req, version)

    # -- whole steps --------------------------------------------------------------------------

    def producer(self, tid: str, **kwargs: Any) -> tuple[int, int]:
        answer = self.init(tid, **kwargs)
        assert answer.error_code == 0, answer
        return answer.producer_id, answer.producer_epoch

    def ongoing(self, tid: str, partitions: list[tuple[str, int]] | None = None) -> tuple[int, int]:
        """A producer with an ongoing transaction over ``partitions``."""
        pid, epoch = self.producer(tid)
        answer = self.add(tid, pid, epoch, partitions or [("t", 0), ("t", 1)])
        assert all(
            p.partition_error_code == 0
            for t in answer.results_by_topic_v3_and_below
            for p in t.results_by_partition
        ), answer
        return pid, epoch

    def replay_into(self, fresh: Harness) -> None:
        """Load this harness's log into ``fresh`` (a restart)."""
        for record in self.log:
            fresh.log.append(record)
            fresh.coordinator.replay(record)
        fresh.apply(fresh.coordinator.loaded())


def partition_codes(response: Any) -> dict[tuple[str, int], int]:
    """The per-partition codes of an AddPartitionsToTxn v0-3 answer."""
    return {
        (t.name, p.partition_index): p.partition_error_code
        for t in response.results_by_topic_v3_and_below
        for p in t.results_by_partition
    }


def batch_codes(response: Any) -> dict[str, dict[tuple[str, int], int]]:
    """The per-transaction, per-partition codes of an AddPartitionsToTxn v4+ answer."""
    return {
        r.transactional_id: {
            (t.name, p.partition_index): p.partition_error_code
            for t in r.topic_results
            for p in t.results_by_partition
        }
        for r in response.results_by_transaction
    }
