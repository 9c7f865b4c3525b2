"""The transaction coordinator: the face the broker's runtime talks to.

One :class:`TxnCoordinator` serves every ``__transaction_state`` partition of a node. It is
sans-IO: requests go in as the protocol dataclasses, with an opaque token each; out come
:class:`~moldau.coordinator.txn.results.TxnResult` values that say what to append to the log,
whom to answer and which transaction markers to write (see :mod:`results` for the contract).
Time comes from the clock given at construction; timeouts and expiry happen only inside
:meth:`tick`, which the runtime calls at :meth:`next_deadline`.

Start-up: replay the whole of each partition through :meth:`replay`, then call
:meth:`loaded`, which sends the markers of transactions the log left half-ended.

Any :class:`~moldau.protocol.errors.KafkaError` an operation raises becomes that API's error
response here, and only here. Operations raise only before they have written anything.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from typing import TypeVar

from moldau.coordinator.group import CoordinatorRecord, Token
from moldau.coordinator.txn import admin, ending, init_producer_id, partitions, timeouts
from moldau.coordinator.txn.config import TxnConfig
from moldau.coordinator.txn.context import Context
from moldau.coordinator.txn.metadata import TopicPartition, TxnMetadata
from moldau.coordinator.txn.records import decode_key
from moldau.coordinator.txn.replay import replay as replay_record
from moldau.coordinator.txn.responses import error_response
from moldau.coordinator.txn.results import Effects, TxnResult
from moldau.coordinator.txn.state import TransactionState
from moldau.protocol.errors import KafkaError
from moldau.protocol.messages.add_offsets_to_txn import AddOffsetsToTxnRequest
from moldau.protocol.messages.add_partitions_to_txn import AddPartitionsToTxnRequest
from moldau.protocol.messages.describe_transactions import DescribeTransactionsRequest
from moldau.protocol.messages.end_txn import EndTxnRequest
from moldau.protocol.messages.init_producer_id import InitProducerIdRequest
from moldau.protocol.messages.list_transactions import ListTransactionsRequest
from moldau.util.clock import Clock

Req = TypeVar("Req")
Operation = Callable[[Context, Effects, Req, int, Token], None]


class TxnCoordinator:
    def __init__(
        self,
        clock: Clock,
        config: TxnConfig | None,
        allocate_producer_id: Callable[[], int],
        *,
        offsets_topic_num_partitions: int = 50,
        coordinator_epoch: Callable[[int], int] | None = None,
    ) -> None:
        """``config`` None means Kafka's defaults. ``allocate_producer_id()`` hands out
        producer ids never used before (the broker's ``ProducerIdAllocator``);
        ``offsets_topic_num_partitions`` is ``offsets.topic.num.partitions`` (AddOffsetsToTxn
        names a ``__consumer_offsets`` partition); ``coordinator_epoch(partition)`` is the
        leader epoch of a ``__transaction_state`` partition, stamped on the markers (0 if not
        given)."""
        self._ctx = Context(
            clock=clock,
            config=config or TxnConfig(),
            allocate_producer_id=allocate_producer_id,
            offsets_topic_num_partitions=offsets_topic_num_partitions,
            coordinator_epoch=coordinator_epoch or (lambda _partition: 0),
        )
        now = clock.time_ms()
        cfg = self._ctx.config
        self._ctx.next_abort_scan = now + cfg.transaction_abort_timed_out_transaction_cleanup_interval_ms
        self._ctx.next_expiry_scan = now + cfg.transaction_remove_expired_transaction_cleanup_interval_ms

    @property
    def config(self) -> TxnConfig:
        return self._ctx.config

    def partition_for(self, transactional_id: str) -> int:
        """The ``__transaction_state`` partition that owns ``transactional_id``
        (FindCoordinator(TRANSACTION))."""
        return self._ctx.partition_for(transactional_id)

    # -- operations --------------------------------------------------------------------------

    def _run(self, api: str, op: Operation[Req], req: Req, version: int, token: Token) -> TxnResult:
        fx = Effects()
        try:
            op(self._ctx, fx, req, version, token)
        except KafkaError as e:
            fx = Effects()
            fx.reply(token, error_response(api, req, version, e.code))
        return self._commit(fx)

    def _commit(self, fx: Effects) -> TxnResult:
        for tid, pending in fx.pending:
            self._ctx.pending.setdefault(tid, deque()).append(pending)
        return fx.result()

    def init_producer_id(self, req: InitProducerIdRequest, version: int, token: Token) -> TxnResult:
        """InitProducerId with a transactional id (see :mod:`.init_producer_id`)."""
        return self._run("init_producer_id", init_producer_id.init_producer_id, req, version, token)

    def add_partitions_to_txn(self, req: AddPartitionsToTxnRequest, version: int, token: Token) -> TxnResult:
        """AddPartitionsToTxn: v0-3 from producers, v4+ batched from brokers, with
        ``verify_only`` (see :mod:`.partitions`)."""
        return self._run("add_partitions_to_txn", partitions.add_partitions_to_txn, req, version, token)

    def add_offsets_to_txn(self, req: AddOffsetsToTxnRequest, version: int, token: Token) -> TxnResult:
        return self._run("add_offsets_to_txn", partitions.add_offsets_to_txn, req, version, token)

    def end_txn(self, req: EndTxnRequest, version: int, token: Token) -> TxnResult:
        """EndTxn (see :mod:`.ending`)."""
        return self._run("end_txn", ending.end_txn, req, version, token)

    def describe_transactions(
        self, req: DescribeTransactionsRequest, version: int, token: Token
    ) -> TxnResult:
        return self._run("describe_transactions", admin.describe_transactions, req, version, token)

    def list_transactions(self, req: ListTransactionsRequest, version: int, token: Token) -> TxnResult:
        return self._run("list_transactions", admin.list_transactions, req, version, token)

    def markers_written(
        self, transactional_id: str, producer_id: int, producer_epoch: int, errors: dict[TopicPartition, int]
    ) -> TxnResult:
        """The runtime wrote (or failed to write) markers of the transaction that
        ``transactional_id`` ended with ``producer_id``/``producer_epoch``: an error code per
        ``(topic, partition)``. The result asks again for markers that may still succeed, or
        carries the COMPLETE record once every partition has its marker."""
        fx = Effects()
        ending.markers_written(self._ctx, fx, transactional_id, producer_id, producer_epoch, errors)
        return self._commit(fx)

    # -- time --------------------------------------------------------------------------------

    def tick(self) -> TxnResult:
        """Run the scans that are due at ``clock.time_ms()`` (see :mod:`.timeouts`)."""
        ctx = self._ctx
        fx = Effects()
        now = ctx.now()
        cfg = ctx.config
        if now >= ctx.next_abort_scan:
            timeouts.abort_timed_out(ctx, fx)
            ctx.next_abort_scan = now + cfg.transaction_abort_timed_out_transaction_cleanup_interval_ms
        if now >= ctx.next_expiry_scan:
            timeouts.expire_transactional_ids(ctx, fx)
            ctx.next_expiry_scan = now + cfg.transaction_remove_expired_transaction_cleanup_interval_ms
        return self._commit(fx)

    def next_deadline(self) -> int:
        """The earliest ``time_ms`` at which :meth:`tick` has work."""
        return min(self._ctx.next_abort_scan, self._ctx.next_expiry_scan)

    # -- the log -----------------------------------------------------------------------------

    def replay(self, record: CoordinatorRecord) -> None:
        """Apply one record of ``__transaction_state``: after the runtime appended it, or while
        loading a partition. The only mutator of durable state."""
        replay_record(self._ctx, record)

    def write_failed(self, records: list[CoordinatorRecord]) -> None:
        """The runtime could not append ``records``: the changes they carried did not happen,
        and their transactional ids are free for the next attempt."""
        for record in records:
            tid = decode_key(record.key)
            if tid is not None:
                self._ctx.pending.pop(tid, None)

    def loaded(self) -> TxnResult:
        """Loading is over: transactions the log left in PREPARE_COMMIT / PREPARE_ABORT get
        their markers (again), and those without partitions their COMPLETE record."""
        fx = Effects()
        ending.resend_all(self._ctx, fx)
        return self._commit(fx)

    # -- inspection --------------------------------------------------------------------------

    def transaction(self, transactional_id: str) -> TxnMetadata | None:
        """The transactional id's metadata as the log holds it (immutable)."""
        return self._ctx.txns.get(transactional_id)

    def transactional_ids(self) -> list[str]:
        return list(self._ctx.txns)

    def ongoing_partitions(
        self, transactional_id: str, producer_id: int, producer_epoch: int
    ) -> frozenset[TopicPartition] | None:
        """For a partition leader checking a transactional write (KIP-890 part 1) without a
        round trip: the partitions of the ONGOING transaction of ``transactional_id`` if the
        producer id and epoch are its current ones, else None. AddPartitionsToTxn with
        ``verify_only`` answers the same question with Kafka's error codes."""
        txn = self._ctx.txns.get(transactional_id)
        if (
            txn is None
            or txn.state is not TransactionState.ONGOING
            or (txn.producer_id, txn.producer_epoch) != (producer_id, producer_epoch)
        ):
            return None
        return txn.partitions
