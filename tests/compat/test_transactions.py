"""Transactions through confluent-kafka (librdkafka): what read_committed and read_uncommitted
readers see, the last stable offset, consume-transform-produce, and zombie fencing.

Readers are ``PartitionReader``s: a confluent consumer assigned to one partition from offset
0 with ``enable.partition.eof``, so that "nothing more" can be asserted, not only "at least
these": librdkafka reports the end of a partition at the high watermark for read_uncommitted
and at the last stable offset (LSO) for read_committed. The LSO is also asked for directly,
with the AdminClient's ListOffsets at both isolation levels.

Records that a test aborts are flushed first, so they are really in the log (read_uncommitted
shows them) and it is the broker's markers and aborted-transaction lists that hide them.

The other transaction modules (``test_transactions_*.py``) reuse the harness defined here.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from typing import Any

import confluent_kafka
import pytest
from confluent_kafka import KafkaError, KafkaException, TopicPartition
from confluent_kafka.admin import OffsetSpec

from tests.conftest import BrokerProcess

from .clients import (
    Got,
    Out,
    _confluent_got,
    admin,
    confluent_consumer,
    confluent_produce,
    confluent_producer,
    create_topic,
)

# Kafka's settings, shortened so that timed-out transactions are found within a test run.
TXN_OVERRIDES = {
    "group.initial.rebalance.delay.ms": "0",
    "transaction.abort.timed.out.transaction.cleanup.interval.ms": "500",
}

READ_COMMITTED = "read_committed"
READ_UNCOMMITTED = "read_uncommitted"

# How librdkafka reports a producer whose epoch a newer instance (or the coordinator) bumped.
FENCING_ERRORS = {KafkaError._FENCED, KafkaError.PRODUCER_FENCED, KafkaError.INVALID_PRODUCER_EPOCH}

# Consumer settings under which librdkafka asks for as little as possible per fetch.
ONE_BATCH_PER_FETCH = {"message.max.bytes": 1000, "fetch.max.bytes": 1000, "max.partition.fetch.bytes": 1}

# How long a reader must see nothing new for "held back" to be believed.
HOLD_S = 1.5


@pytest.fixture(scope="module")
def txn_broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[BrokerProcess]:
    """One broker for the transaction tests of a module, with the shortened settings."""
    root = tmp_path_factory.mktemp("txn-broker")
    b = BrokerProcess(root / "data", overrides=TXN_OVERRIDES, log_path=root / "stderr.log")
    b.start()
    yield b
    b.close()


def txn_id(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def txn_producer(bootstrap: str, transactional_id: str, **conf: Any) -> confluent_kafka.Producer:
    """A transactional producer, initialised (InitProducerId done)."""
    p = confluent_producer(bootstrap, **{"transactional.id": transactional_id, **conf})
    p.init_transactions(30)
    return p


def produce_all(p: confluent_kafka.Producer, topic: str, values: list[bytes], partition: int = 0) -> None:
    """Produce and flush; every record must be acknowledged (so it is in the log)."""
    errors: list[KafkaError] = []

    def on_delivery(err: KafkaError | None, _msg: confluent_kafka.Message) -> None:
        if err is not None:
            errors.append(err)

    for v in values:
        p.produce(topic, value=v, partition=partition, on_delivery=on_delivery)
    remaining = p.flush(30)
    assert remaining == 0 and not errors, f"{remaining} undelivered, delivery errors: {errors}"


def committed_txn(p: confluent_kafka.Producer, topic: str, values: list[bytes], partition: int = 0) -> None:
    p.begin_transaction()
    produce_all(p, topic, values, partition)
    p.commit_transaction(30)


def aborted_txn(p: confluent_kafka.Producer, topic: str, values: list[bytes], partition: int = 0) -> None:
    p.begin_transaction()
    produce_all(p, topic, values, partition)
    p.abort_transaction(30)


def values(got: list[Got]) -> list[bytes | None]:
    return [g.value for g in got]


def list_offsets(bootstrap: str, topic: str, partition: int = 0) -> dict[str, int]:
    """ListOffsets LATEST at both isolation levels: {"read_uncommitted": HW, "read_committed": LSO}."""
    a = admin(bootstrap)
    out = {}
    for name, level in (
        (READ_UNCOMMITTED, confluent_kafka.IsolationLevel.READ_UNCOMMITTED),
        (READ_COMMITTED, confluent_kafka.IsolationLevel.READ_COMMITTED),
    ):
        tp = TopicPartition(topic, partition)
        futures = a.list_offsets({tp: OffsetSpec.latest()}, isolation_level=level, request_timeout=15)
        out[name] = futures[tp].result(timeout=20).offset
    return out


class PartitionReader:
    """A consumer assigned to one partition from ``start`` (default 0) at one isolation level;
    ``conf`` adds consumer settings.

    It keeps everything it read in ``got`` and the offset of the latest end-of-partition event
    in ``eof`` (the high watermark, or the LSO under read_committed, when it was reached).
    """

    def __init__(
        self,
        bootstrap: str,
        topic: str,
        partition: int = 0,
        isolation: str = READ_COMMITTED,
        start: int = 0,
        **conf: Any,
    ) -> None:
        self.topic = topic
        self.partition = partition
        self.isolation = isolation
        self.consumer = confluent_consumer(
            bootstrap,
            **{"isolation.level": isolation, "enable.partition.eof": True, "fetch.wait.max.ms": 50, **conf},
        )
        self.consumer.assign([TopicPartition(topic, partition, start)])
        self.got: list[Got] = []
        self.eof: int | None = None

    def _poll(self, timeout: float) -> None:
        msg = self.consumer.poll(timeout)
        if msg is None:
            return
        err = msg.error()
        if err is not None:
            if err.code() == KafkaError._PARTITION_EOF:
                self.eof = msg.offset()
                return
            raise AssertionError(f"{self.isolation} reader of {self.topic}: {err}")
        self.eof = None
        self.got.append(_confluent_got(msg))

    def poll_for(self, seconds: float) -> list[Got]:
        """Read for ``seconds``; returns what arrived meanwhile."""
        before = len(self.got)
        deadline = time.monotonic() + seconds
        while (left := deadline - time.monotonic()) > 0:
            self._poll(min(left, 0.1))
        return self.got[before:]

    def wait_for(self, count: int, timeout: float = 15.0) -> list[Got]:
        """Read until ``count`` records in all have arrived."""
        deadline = time.monotonic() + timeout
        while len(self.got) < count and time.monotonic() < deadline:
            self._poll(0.1)
        assert len(self.got) >= count, (
            f"{self.isolation} reader of {self.topic} got {len(self.got)} of {count} records "
            f"in {timeout} s: {values(self.got)}"
        )
        return self.got

    def read_to_end(self, end: int | None = None, timeout: float = 15.0) -> list[Got]:
        """Read until the partition's end (at ``end``, if given) is reported; returns all read."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            self._poll(0.1)
            if self.eof is not None and (end is None or self.eof >= end):
                return self.got
        raise AssertionError(
            f"{self.isolation} reader of {self.topic} saw no end of partition"
            f"{'' if end is None else f' at {end}'} in {timeout} s (last end {self.eof}); "
            f"read {values(self.got)}"
        )

    def close(self) -> None:
        self.consumer.close()


def read_partition(
    bootstrap: str, topic: str, partition: int, isolation: str, start: int = 0, **conf: Any
) -> tuple[list[Got], int]:
    """Everything the partition shows at one isolation level from ``start``, and the end offset
    reported."""
    r = PartitionReader(bootstrap, topic, partition, isolation, start, **conf)
    try:
        got = r.read_to_end()
        assert r.eof is not None
        return got, r.eof
    finally:
        r.close()


# --- committed and aborted transactions ------------------------------------------------------


def test_mixed_committed_and_aborted_transactions(txn_broker: BrokerProcess, topic_name: str) -> None:
    """Transactions over two partitions, some committed, some aborted, with non-transactional
    records between them: read_committed shows exactly the committed and the plain records,
    in order; read_uncommitted shows every record; each transaction left one marker per
    partition."""
    bootstrap = txn_broker.bootstrap
    create_topic(bootstrap, topic_name, partitions=2)
    plan = [
        ("commit", 4),
        ("abort", 3),
        ("plain", 2),
        ("commit", 5),
        ("abort", 4),
        ("abort", 2),
        ("plain", 1),
        ("commit", 3),
        ("commit", 1),
        ("abort", 3),
    ]
    p = txn_producer(bootstrap, txn_id("mix"))
    plain = confluent_producer(bootstrap)
    written: dict[int, list[tuple[str, bytes]]] = {0: [], 1: []}
    for step, (kind, n) in enumerate(plan):
        if kind != "plain":
            p.begin_transaction()
        for partition in (0, 1):
            vals = [f"{step}-{kind}-p{partition}-{i}".encode() for i in range(n)]
            written[partition] += [(kind, v) for v in vals]
            if kind == "plain":
                confluent_produce(
                    bootstrap, topic_name, [Out(v, partition=partition) for v in vals], producer=plain
                )
            else:
                produce_all(p, topic_name, vals, partition)
        if kind == "commit":
            p.commit_transaction(30)
        elif kind == "abort":
            p.abort_transaction(30)

    markers = sum(1 for kind, _ in plan if kind != "plain")
    for partition in (0, 1):
        expected_all = [v for _, v in written[partition]]
        expected_committed = [v for kind, v in written[partition] if kind != "abort"]
        hw = len(expected_all) + markers

        rc, rc_end = read_partition(bootstrap, topic_name, partition, READ_COMMITTED)
        ru, ru_end = read_partition(bootstrap, topic_name, partition, READ_UNCOMMITTED)
        assert values(ru) == expected_all, f"partition {partition}, read_uncommitted"
        assert values(rc) == expected_committed, f"partition {partition}, read_committed"
        assert (ru_end, rc_end) == (hw, hw), (
            f"partition {partition}: ends reported {ru_end}, {rc_end}; HW {hw}"
        )
        # read_committed shows the very records (same offsets) that read_uncommitted shows.
        by_offset = {g.offset: g.value for g in ru}
        assert all(by_offset.get(g.offset) == g.value for g in rc), f"partition {partition}: {rc} vs {ru}"
        assert list_offsets(bootstrap, topic_name, partition) == {READ_UNCOMMITTED: hw, READ_COMMITTED: hw}

        # One batch per fetch (the broker still returns a whole first batch when it is larger
        # than the limits): each response must list the aborted transactions of its own range.
        small, _ = read_partition(bootstrap, topic_name, partition, READ_COMMITTED, **ONE_BATCH_PER_FETCH)
        assert values(small) == expected_committed, f"partition {partition}, read_committed batch by batch"

    # Starting in the middle: inside an aborted transaction, on a marker, inside a committed one.
    rc, _ = read_partition(bootstrap, topic_name, 0, READ_COMMITTED)
    ru, _ = read_partition(bootstrap, topic_name, 0, READ_UNCOMMITTED)
    aborted_offsets = [g.offset for g in ru if b"-abort-" in (g.value or b"")]
    starts = {aborted_offsets[0] + 1, aborted_offsets[-1], rc[0].offset + 1, rc[-1].offset, rc[-1].offset + 1}
    for start in sorted(starts):
        got, _ = read_partition(bootstrap, topic_name, 0, READ_COMMITTED, start=start)
        assert values(got) == [g.value for g in rc if g.offset >= start], f"read_committed from {start}"


@pytest.mark.parametrize("ending", ["commit", "abort"])
def test_open_transaction_holds_back_read_committed(
    txn_broker: BrokerProcess, topic_name: str, ending: str
) -> None:
    """While a transaction is open, a read_committed reader stops at its first offset, even
    for non-transactional records written after it by another producer; commit releases the
    transaction's records and the later ones, abort releases only the later ones."""
    bootstrap = txn_broker.bootstrap
    create_topic(bootstrap, topic_name)
    p = txn_producer(bootstrap, txn_id(f"hold-{ending}"))
    before = [b"before-0", b"before-1", b"before-2"]
    committed_txn(p, topic_name, before)  # offsets 0-2, marker at 3

    in_txn = [b"txn-0", b"txn-1", b"txn-2"]
    p.begin_transaction()
    produce_all(p, topic_name, in_txn)  # offsets 4-6
    later = [b"later-0", b"later-1", b"later-2"]
    confluent_produce(bootstrap, topic_name, [Out(v) for v in later])  # offsets 7-9
    lso = len(before) + 1

    rc = PartitionReader(bootstrap, topic_name)
    ru = PartitionReader(bootstrap, topic_name, isolation=READ_UNCOMMITTED)
    try:
        assert values(ru.wait_for(len(before + in_txn + later))) == before + in_txn + later
        assert values(rc.read_to_end(lso)) == before
        assert rc.eof == lso, f"read_committed end reported at {rc.eof}, the LSO is {lso}"
        held = rc.poll_for(HOLD_S)
        assert held == [], f"read_committed read past the open transaction: {values(held)}"
        assert list_offsets(bootstrap, topic_name) == {READ_UNCOMMITTED: lso + 6, READ_COMMITTED: lso}

        if ending == "commit":
            p.commit_transaction(30)
            expected = before + in_txn + later
            hw = lso + 7
        else:
            p.abort_transaction(30)
            # Records written after the abort flow at once, transactional or not.
            after = [b"after-abort-0", b"after-abort-1"]
            confluent_produce(bootstrap, topic_name, [Out(v) for v in after])
            committed_txn(p, topic_name, [b"after-abort-txn"])
            expected = before + later + after + [b"after-abort-txn"]
            hw = lso + 7 + 2 + 2
        got = rc.read_to_end(hw)
        assert values(got) == expected, f"after {ending}"
        assert [g.offset for g in got] == sorted(g.offset for g in got)
        assert list_offsets(bootstrap, topic_name) == {READ_UNCOMMITTED: hw, READ_COMMITTED: hw}
        assert rc.poll_for(0.3) == []
    finally:
        rc.close()
        ru.close()


# --- consume-transform-produce ---------------------------------------------------------------


def test_consume_transform_produce_exactly_once(txn_broker: BrokerProcess, topic_name: str) -> None:
    """A loop that reads a batch, writes transformed records and the consumer's offsets in one
    transaction, aborting every third batch and rewinding to the committed offsets: the output
    holds each input record exactly once, in order, and the group's offsets reach the end."""
    bootstrap = txn_broker.bootstrap
    source, sink = f"{topic_name}-in", f"{topic_name}-out"
    partitions = 2
    per_partition = 40
    create_topic(bootstrap, source, partitions=partitions)
    create_topic(bootstrap, sink, partitions=partitions)
    inputs = {p: [f"in-p{p}-{i:03d}".encode() for i in range(per_partition)] for p in range(partitions)}
    plain = confluent_producer(bootstrap)
    for p, vals in inputs.items():
        confluent_produce(bootstrap, source, [Out(v, partition=p) for v in vals], producer=plain)

    group = f"ctp-{uuid.uuid4().hex[:8]}"
    consumer = confluent_consumer(
        bootstrap,
        **{
            "group.id": group,
            "auto.offset.reset": "earliest",
            "isolation.level": READ_COMMITTED,
            "session.timeout.ms": 10000,
        },
    )
    producer = txn_producer(bootstrap, txn_id("ctp"))
    consumer.subscribe([source])
    committed = {p: 0 for p in range(partitions)}
    batches = aborts = 0
    deadline = time.monotonic() + 60
    try:
        while any(committed[p] < per_partition for p in committed):
            assert time.monotonic() < deadline, f"loop stuck: committed {committed}, {batches} batches"
            msgs = consumer.consume(num_messages=7, timeout=0.5)
            errors = [m.error() for m in msgs if m.error() is not None]
            assert not errors, errors
            if not msgs:
                continue
            next_offsets: dict[int, int] = {}
            producer.begin_transaction()
            for m in msgs:
                value, partition, offset = m.value(), m.partition(), m.offset()
                assert value is not None and partition is not None and offset is not None
                producer.produce(sink, key=value, value=b"out:" + value, partition=partition)
                next_offsets[partition] = offset + 1
            producer.send_offsets_to_transaction(
                [TopicPartition(source, p, o) for p, o in next_offsets.items()],
                consumer.consumer_group_metadata(),
                30,
            )
            batches += 1
            if batches % 3 == 0:
                assert producer.flush(30) == 0
                producer.abort_transaction(30)
                aborts += 1
                for tp in consumer.committed(consumer.assignment(), timeout=15):
                    assert tp.error is None, tp.error
                    start = tp.offset if tp.offset >= 0 else confluent_kafka.OFFSET_BEGINNING
                    consumer.seek(TopicPartition(tp.topic, tp.partition, start))
            else:
                producer.commit_transaction(30)
                committed.update(next_offsets)
    finally:
        consumer.close()

    assert aborts >= 2, f"only {aborts} aborted batches in {batches}"
    for p in range(partitions):
        rc, _ = read_partition(bootstrap, sink, p, READ_COMMITTED)
        assert values(rc) == [b"out:" + v for v in inputs[p]], f"output partition {p}"
        ru, _ = read_partition(bootstrap, sink, p, READ_UNCOMMITTED)
        assert len(ru) >= len(rc)
    ru_total = sum(len(read_partition(bootstrap, sink, p, READ_UNCOMMITTED)[0]) for p in range(partitions))
    assert ru_total > partitions * per_partition, "the aborted batches wrote nothing"

    # The group's offsets, committed only through the transactions, are at the end.
    checker = confluent_consumer(bootstrap, **{"group.id": group, "isolation.level": READ_COMMITTED})
    try:
        offsets = checker.committed([TopicPartition(source, p) for p in range(partitions)], timeout=15)
    finally:
        checker.close()
    assert {tp.partition: tp.offset for tp in offsets} == {p: per_partition for p in range(partitions)}


# --- zombie fencing ---------------------------------------------------------------------------


@pytest.mark.parametrize("then", ["commit", "produce"])
def test_zombie_producer_is_fenced(txn_broker: BrokerProcess, topic_name: str, then: str) -> None:
    """A second producer with the same transactional.id fences the first: the first's open
    transaction is aborted, its next commit (straight away, or after producing more) fails
    with a fatal fencing error, and none of its records ever reach a read_committed reader."""
    bootstrap = txn_broker.bootstrap
    create_topic(bootstrap, topic_name)
    tid = txn_id("zombie")
    zombie = txn_producer(bootstrap, tid)
    zombie.begin_transaction()
    produce_all(zombie, topic_name, [b"zombie-0", b"zombie-1"])

    successor = txn_producer(bootstrap, tid)
    committed_txn(successor, topic_name, [b"successor-0", b"successor-1"])

    if then == "produce":
        # The late record is refused with INVALID_PRODUCER_EPOCH, which librdkafka turns into a
        # fatal fencing error that flush() raises.
        zombie.produce(topic_name, value=b"zombie-late", partition=0)
        with pytest.raises(KafkaException) as late:
            zombie.flush(15)
        assert late.value.args[0].code() in FENCING_ERRORS and late.value.args[0].fatal(), late.value
    with pytest.raises(KafkaException) as raised:
        zombie.commit_transaction(15)
    err = raised.value.args[0]
    assert err.code() in FENCING_ERRORS, f"commit of the zombie failed with {err!r}, not a fencing error"
    assert err.fatal(), f"the zombie's error is not fatal: {err!r}"

    committed_txn(successor, topic_name, [b"successor-2"])
    rc, end = read_partition(bootstrap, topic_name, 0, READ_COMMITTED)
    assert values(rc) == [b"successor-0", b"successor-1", b"successor-2"]
    ru, ru_end = read_partition(bootstrap, topic_name, 0, READ_UNCOMMITTED)
    assert values(ru) == [b"zombie-0", b"zombie-1", b"successor-0", b"successor-1", b"successor-2"]
    assert end == ru_end, f"read_committed ends at {end}, the high watermark is {ru_end}"
