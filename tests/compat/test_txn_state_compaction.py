"""``__transaction_state`` is compacted like any compacted topic, and the transaction
coordinator reloads the right state from the compacted log.

A real broker with one transaction-state partition and segments of 1 MiB (the smallest
``segment.bytes`` a topic accepts, so also the smallest ``transaction.state.log.segment.bytes``
that works). Every transactional id is 16000 characters long: the id is the record key, so
each state record weighs about 16 KB and a few hundred short transactions fill several
segments in a couple of seconds.

The cleaner is held back while the transactions run (``log.cleaner.min.compaction.lag.ms`` of
an hour), so that the partition's uncleaned size can be measured on disk; then the lag is
set to 0 on the broker (a dynamic config) and the cleaner gets to work. Filler transactions
under other ids run after the main ones until the main ids' last records are out of the active
segment, so that after a restart their state can only come from cleaned segments. The
cleaner's first pass rewrites each full segment on its own, as Kafka's does, and so leaves as
many (mostly empty) files; one more segment of filler records makes it run again, and that
pass merges them.

Once the cleaner has shrunk the partition, the broker restarts (cleanly, then after a kill)
and must describe every id as before: state, producer id and epoch, timeout, start time. A
new producer for an existing id must get the next epoch and fence the old instance, and its
committed transaction must reach read_committed readers.
"""

from __future__ import annotations

import random
import string
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import confluent_kafka
import pytest
from confluent_kafka import KafkaException
from confluent_kafka.admin import AlterConfigOpType, ConfigEntry, ConfigResource, ResourceType
from kafka import KafkaAdminClient
from kafka.errors import KafkaError

from ..conftest import BrokerProcess
from .clients import admin, create_topic
from .test_transactions import (
    FENCING_ERRORS,
    READ_COMMITTED,
    aborted_txn,
    committed_txn,
    list_offsets,
    read_partition,
    txn_producer,
    values,
)

TXN_STATE = "__transaction_state"
SEGMENT_BYTES = 1024 * 1024
ID_BYTES = 16000
RECORD_OVERHEAD = 300  # batch and record headers plus the value: generous
MAIN_IDS = 30
ROUNDS = 8  # 240 transactions of the main ids: about 11 MiB of state records
EMPTY_IDS = 3
FILLER_IDS = 4
TOPIC = "txn-data"
HOUR_MS = 3_600_000


@pytest.fixture
def broker(tmp_path: Path) -> Iterator[BrokerProcess]:
    overrides = {
        "transaction.state.log.num.partitions": "1",
        "transaction.state.log.segment.bytes": str(SEGMENT_BYTES),
        "log.cleaner.backoff.ms": "100",
        "log.retention.check.interval.ms": "100",
        "log.segment.delete.delay.ms": "100",
        # No segment is cleanable until the test sets this to 0 on the broker.
        "log.cleaner.min.compaction.lag.ms": str(HOUR_MS),
    }
    b = BrokerProcess(tmp_path / "data", overrides=overrides, log_path=tmp_path / "stderr.log")
    b.start()
    yield b
    b.close()


def long_id(label: str) -> str:
    noise = "".join(random.choices(string.ascii_letters, k=ID_BYTES - len(label) - 1))
    return f"{label}-{noise}"


def label_of(tid: str) -> str:
    return tid.split("-", 1)[0]


Described = tuple[str, int, int, int, int, frozenset[tuple[str, int]]]


def describe(bootstrap: str, tids: list[str]) -> dict[str, Described]:
    """DescribeTransactions of ``tids``, keyed by label: (state, producer id, epoch, timeout,
    start time, partitions)."""
    client = KafkaAdminClient(bootstrap_servers=bootstrap, request_timeout_ms=15000)
    try:
        got = client.describe_transactions(tids)
    except KafkaError as e:  # the message would quote a 16000-character id
        raise AssertionError(f"DescribeTransactions failed: {type(e).__name__} {str(e)[:300]}") from None
    finally:
        client.close()
    assert sorted(got) == sorted(tids), sorted(label_of(t) for t in got)
    return {
        label_of(tid): (
            str(d.state.value),
            d.producer_id,
            d.producer_epoch,
            d.transaction_timeout_ms,
            d.transaction_start_time_ms,
            frozenset((tp.topic, tp.partition) for tp in d.topic_partitions),
        )
        for tid, d in got.items()
    }


def listed(bootstrap: str) -> dict[str, tuple[int, str]]:
    """ListTransactions, keyed by label: (producer id, state)."""
    client = KafkaAdminClient(bootstrap_servers=bootstrap, request_timeout_ms=15000)
    try:
        got = client.list_transactions()
    finally:
        client.close()
    return {
        label_of(t.transactional_id): (t.producer_id, str(t.state.value)) for per in got.values() for t in per
    }


def set_compaction_lag(bootstrap: str, lag_ms: int) -> None:
    entry = ConfigEntry(
        "log.cleaner.min.compaction.lag.ms", str(lag_ms), incremental_operation=AlterConfigOpType.SET
    )
    resource = ConfigResource(ResourceType.BROKER, "1", incremental_configs=[entry])
    a = admin(bootstrap)
    a.incremental_alter_configs([resource])[resource].result(10)


def segments(partition_dir: Path) -> list[tuple[int, int]]:
    """(base offset, size) of every segment, the active one last. A segment the cleaner swaps
    out while this looks is left out."""
    found = []
    for path in partition_dir.glob("*.log"):
        try:
            found.append((int(path.stem), path.stat().st_size))
        except FileNotFoundError:
            continue
    return sorted(found)


def wait_until_cleaned(
    broker: BrokerProcess, partition_dir: Path, passes: int, done: Callable[[list[tuple[int, int]]], bool]
) -> list[tuple[int, int]]:
    """Wait until the cleaner has finished ``passes`` passes over the partition (so that no
    swap is under way when the files are looked at) and ``done`` holds for its segments."""
    deadline = time.monotonic() + 30
    while True:
        finished = broker.current_log().count("Cleaned __transaction_state-0 ")
        now = segments(partition_dir)
        if finished >= passes and done(now):
            return now
        assert time.monotonic() < deadline, (
            f"not cleaned within 30 s ({finished} passes): {now}\n{broker.current_log()[-3000:]}"
        )
        time.sleep(0.2)


def check_state(bootstrap: str, tids: list[str], expected: dict[str, Described], when: str, log: str) -> None:
    got = describe(bootstrap, tids)
    wrong = {label: (got[label], want) for label, want in expected.items() if got[label] != want}
    assert not wrong, f"{when}: described (got, expected) differ for {wrong}\n{log[-3000:]}"
    mine = {label: v for label, v in listed(bootstrap).items() if label in expected}
    assert mine == {label: (d[1], d[0]) for label, d in expected.items()}, f"{when}: listed {mine}"


def fence_and_commit(
    bootstrap: str,
    tid: str,
    zombie: confluent_kafka.Producer,
    expected: dict[str, Described],
    committed: list[bytes],
    value: bytes,
) -> None:
    """A new instance for ``tid`` bumps the epoch and fences ``zombie``; then it commits
    ``value``. Updates ``expected`` and ``committed``."""
    label = label_of(tid)
    _, producer_id, epoch, timeout, _, _ = expected[label]
    successor = txn_producer(bootstrap, tid)
    [(state_now, pid_now, epoch_now, _, _, parts)] = describe(bootstrap, [tid]).values()
    assert (state_now, pid_now, epoch_now, parts) == ("Empty", producer_id, epoch + 1, frozenset()), (
        f"{label} after InitProducerId; it was {expected[label]}"
    )

    zombie.begin_transaction()
    zombie.produce(TOPIC, value=b"zombie-" + value, partition=0)
    with pytest.raises(KafkaException) as raised:
        zombie.flush(15)
        zombie.commit_transaction(15)
    err = raised.value.args[0]
    assert err.code() in FENCING_ERRORS and err.fatal(), f"the old instance of {label} failed with {err!r}"

    committed_txn(successor, TOPIC, [value])
    committed.append(value)
    [after] = describe(bootstrap, [tid]).values()
    assert after[:4] == ("CompleteCommit", producer_id, epoch + 1, timeout), after
    expected[label] = after


def fill(
    partition_dir: Path,
    producers: list[confluent_kafka.Producer],
    first_round: int,
    past: int,
    committed: list[bytes],
) -> int:
    """Commit rounds of filler transactions until the active segment starts at ``past`` or
    later; returns the next round's number."""
    for r in range(first_round, first_round + 40):
        if segments(partition_dir)[-1][0] >= past:
            return r
        for i, p in enumerate(producers):
            value = f"filler{i}-{r}".encode()
            committed_txn(p, TOPIC, [value])
            committed.append(value)
    raise AssertionError(f"the active segment does not start at {past} or later: {segments(partition_dir)}")


def check_committed(bootstrap: str, committed: list[bytes]) -> None:
    got, _ = read_partition(bootstrap, TOPIC, 0, READ_COMMITTED)
    assert values(got) == committed


def test_transaction_state_is_compacted_and_reloaded_after_a_restart(broker: BrokerProcess) -> None:
    bootstrap = broker.bootstrap
    create_topic(bootstrap, TOPIC)
    main = [long_id(f"main{i:02d}") for i in range(MAIN_IDS)]
    empty = [long_id(f"empty{i}") for i in range(EMPTY_IDS)]
    fillers = [long_id(f"filler{i}") for i in range(FILLER_IDS)]
    every = main + empty + fillers
    committed: list[bytes] = []

    # Main ids: rounds of one-record transactions, every third one aborted. Halfway, a second
    # instance of each "empty" id bumps its epoch, so that its first Empty record is stale.
    producers = {tid: txn_producer(bootstrap, tid) for tid in main + empty}
    for r in range(ROUNDS):
        if r == ROUNDS // 2:
            for tid in empty:
                producers[tid] = txn_producer(bootstrap, tid)
        for i, tid in enumerate(main):
            value = f"main{i:02d}-{r}".encode()
            if (i + r) % 3 == 0:
                aborted_txn(producers[tid], TOPIC, [value])
            else:
                committed_txn(producers[tid], TOPIC, [value])
                committed.append(value)
    main_end = list_offsets(bootstrap, TXN_STATE)["read_uncommitted"]
    assert main_end >= 3 * MAIN_IDS * ROUNDS, main_end  # Ongoing, Prepare*, Complete* each

    # Filler transactions until the main ids' last records are below the active segment.
    partition_dir = broker.data_dir / f"{TXN_STATE}-0"
    filler_producers = [txn_producer(bootstrap, tid) for tid in fillers]
    rounds = fill(partition_dir, filler_producers, 0, main_end, committed)
    before = segments(partition_dir)
    assert before[-1][0] >= main_end, f"the main ids' records are still in the active segment: {before}"
    written = sum(size for _, size in before[:-1])
    assert len(before) >= 10 and written >= 10 * SEGMENT_BYTES * 0.9, before
    assert "Cleaned __transaction_state-0" not in broker.current_log()

    expected = describe(bootstrap, every)
    for i, tid in enumerate(main):
        last_aborted = (i + ROUNDS - 1) % 3 == 0
        want = "CompleteAbort" if last_aborted else "CompleteCommit"
        assert expected[label_of(tid)][0] == want and expected[label_of(tid)][5] == frozenset(), expected[
            label_of(tid)
        ]
    for tid in empty:
        state, _, epoch, _, start, parts = expected[label_of(tid)]
        assert (state, start, parts) == ("Empty", -1, frozenset()), expected[label_of(tid)]
        assert epoch >= 1, f"the second instance of {label_of(tid)} did not bump the epoch: {epoch}"
    for tid in fillers:
        assert expected[label_of(tid)][0] == "CompleteCommit", expected[label_of(tid)]
    assert len({d[1] for d in expected.values()}) == len(every), "producer ids are not distinct"
    check_committed(bootstrap, committed)

    # Release the cleaner: one record per id is left below the active segment.
    set_compaction_lag(bootstrap, 0)
    keys_bound = len(every) * (ID_BYTES + RECORD_OVERHEAD)
    wait_until_cleaned(broker, partition_dir, 1, lambda now: sum(size for _, size in now[:-1]) <= keys_bound)
    check_state(bootstrap, every, expected, "after the first cleaning", broker.current_log())

    # Another segment of filler records: the next pass merges the cleaned segments.
    end = list_offsets(bootstrap, TXN_STATE)["read_uncommitted"]
    fill(partition_dir, filler_producers, rounds, end, committed)
    expected.update(describe(bootstrap, fillers))
    now = wait_until_cleaned(
        broker,
        partition_dir,
        2,
        lambda now: len(now) < len(before) // 2 and sum(size for _, size in now[:-1]) <= keys_bound,
    )
    # The main and empty ids' latest records are all there, below the active segment.
    assert sum(size for _, size in now[:-1]) >= (MAIN_IDS + EMPTY_IDS) * ID_BYTES, now
    check_state(bootstrap, every, expected, "after the second cleaning", broker.current_log())
    check_committed(bootstrap, committed)

    broker.restart()
    check_state(bootstrap, every, expected, "after a clean restart", broker.current_log())
    check_committed(bootstrap, committed)
    fence_and_commit(bootstrap, main[1], producers[main[1]], expected, committed, b"after-restart")
    check_committed(bootstrap, committed)

    broker.kill()
    broker.start()
    check_state(bootstrap, every, expected, "after a kill and restart", broker.current_log())
    check_committed(bootstrap, committed)
    aborted_last = next(tid for i, tid in enumerate(main) if (i + ROUNDS - 1) % 3 == 0)
    fence_and_commit(bootstrap, aborted_last, producers[aborted_last], expected, committed, b"after-kill")
    check_committed(bootstrap, committed)

    # A new transactional id gets a producer id no reloaded id holds.
    newcomer = long_id("newcomer")
    txn_producer(bootstrap, newcomer)
    [(_, new_pid, _, _, _, _)] = describe(bootstrap, [newcomer]).values()
    assert new_pid not in {d[1] for d in expected.values()}, new_pid
