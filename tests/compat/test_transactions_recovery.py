"""Transactions that outlive their producer or their broker.

* An abandoned transaction (its producer killed with SIGKILL, or alive but idle) holds
  read_committed readers back until the coordinator aborts it after ``transaction.timeout.ms``;
  then the transactions committed behind it become visible and its own records never do.
* A transaction open across a broker restart (SIGTERM, or SIGKILL and recovery) is still open
  afterwards: the LSO holds readers back before and after the restart, and the producer,
  reconnected, can add to the transaction and commit it.

The harness (readers, producers, the broker settings) is ``test_transactions``'s.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from confluent_kafka import KafkaException

from tests.conftest import BrokerFactory, BrokerProcess

from .clients import Out, confluent_produce, create_topic
from .test_transactions import (
    FENCING_ERRORS,
    HOLD_S,
    READ_COMMITTED,
    READ_UNCOMMITTED,
    TXN_OVERRIDES,
    PartitionReader,
    committed_txn,
    list_offsets,
    produce_all,
    read_partition,
    txn_id,
    txn_producer,
    values,
)

TXN_TIMEOUT_MS = 2000

# A transactional producer that opens a transaction, writes into it, says so and waits to be
# killed. Its transaction.timeout.ms is short; message.timeout.ms may not exceed it.
ABANDONING_PRODUCER = r"""
import json
import sys
import time

import confluent_kafka

cfg = json.loads(sys.argv[1])
p = confluent_kafka.Producer({
    "bootstrap.servers": cfg["bootstrap"],
    "transactional.id": cfg["transactional_id"],
    "transaction.timeout.ms": cfg["timeout_ms"],
    "message.timeout.ms": cfg["timeout_ms"],
    "linger.ms": 5,
})
p.init_transactions(30)
p.begin_transaction()
print(json.dumps({"ev": "begun", "t": time.time()}), flush=True)
for v in cfg["values"]:
    p.produce(cfg["topic"], value=v.encode(), partition=0)
assert p.flush(30) == 0
print(json.dumps({"ev": "written", "t": time.time()}), flush=True)
time.sleep(600)
"""


def start_abandoning_producer(
    bootstrap: str, topic: str, tid: str, vals: list[str], log_dir: Path
) -> tuple[subprocess.Popen[bytes], float]:
    """Run ``ABANDONING_PRODUCER``; returns the process, once its records are written, and the
    wall-clock time at which it began its transaction (no timeout can run out before)."""
    cfg = {
        "bootstrap": bootstrap,
        "topic": topic,
        "transactional_id": tid,
        "timeout_ms": TXN_TIMEOUT_MS,
        "values": vals,
    }
    log_dir.mkdir(parents=True, exist_ok=True)
    with open(log_dir / "abandoning-producer.stderr", "ab") as err:
        proc = subprocess.Popen(
            [sys.executable, "-c", ABANDONING_PRODUCER, json.dumps(cfg)],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=err,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )
    assert proc.stdout is not None
    began = None
    for raw in proc.stdout:
        ev = json.loads(raw)
        if ev["ev"] == "begun":
            began = ev["t"]
        elif ev["ev"] == "written":
            assert began is not None
            return proc, began
    proc.wait()
    stderr = (log_dir / "abandoning-producer.stderr").read_text(errors="replace")
    raise AssertionError(f"the abandoning producer exited {proc.returncode} before writing\n{stderr[-2000:]}")


@pytest.mark.parametrize("how", ["killed", "idle"])
def test_abandoned_transaction_is_aborted_after_its_timeout(
    broker_factory: BrokerFactory, topic_name: str, tmp_path: Path, how: str
) -> None:
    """The coordinator aborts a transaction nobody ends once ``transaction.timeout.ms`` has
    passed: until then read_committed readers stop at its first offset, afterwards they see
    the transaction committed behind it and never the abandoned records."""
    broker = broker_factory(overrides=TXN_OVERRIDES)
    bootstrap = broker.bootstrap
    create_topic(bootstrap, topic_name)
    abandoned_id = txn_id("abandoned")
    abandoned = [f"abandoned-{i}" for i in range(3)]
    other = txn_producer(bootstrap, txn_id("behind"))
    committed_txn(other, topic_name, [b"first"])  # offset 0, marker at 1

    idle = None
    if how == "killed":
        proc, began = start_abandoning_producer(bootstrap, topic_name, abandoned_id, abandoned, tmp_path)
        proc.kill()
        proc.wait()
    else:
        began = time.time()
        idle = txn_producer(
            bootstrap,
            abandoned_id,
            **{
                "transaction.timeout.ms": TXN_TIMEOUT_MS,
                "message.timeout.ms": TXN_TIMEOUT_MS,
                "socket.timeout.ms": TXN_TIMEOUT_MS,  # librdkafka: at most the transaction timeout + 100
            },
        )
        idle.begin_transaction()
        produce_all(idle, topic_name, [v.encode() for v in abandoned])  # offsets 2-4

    behind = [b"behind-0", b"behind-1"]
    committed_txn(other, topic_name, behind)  # offsets 5-6, marker at 7
    lso = 2
    rc = PartitionReader(bootstrap, topic_name)
    try:
        assert values(rc.read_to_end(lso)) == [b"first"]
        # Held back for as long as the timeout certainly has not run out.
        window = began + TXN_TIMEOUT_MS / 1000 - 0.3 - time.time()
        if window > 0:
            held = rc.poll_for(window)
            assert held == [], f"read_committed read past the abandoned transaction: {values(held)}"
            assert rc.eof == lso

        got = rc.wait_for(1 + len(behind), timeout=TXN_TIMEOUT_MS / 1000 + 10)
        released = time.time()
        assert values(got) == [b"first", *behind]
        assert released >= began + TXN_TIMEOUT_MS / 1000, (
            f"aborted {released - began:.2f} s after the transaction began, timeout {TXN_TIMEOUT_MS} ms"
        )
        hw = 9  # first, marker, 3 abandoned, 2 behind, marker, abort marker
        got = rc.read_to_end(hw)
        assert values(got) == [b"first", *behind]
    finally:
        rc.close()
    ru, _ = read_partition(bootstrap, topic_name, 0, READ_UNCOMMITTED)
    assert values(ru) == [b"first", *[v.encode() for v in abandoned], *behind]
    assert list_offsets(bootstrap, topic_name) == {READ_UNCOMMITTED: hw, READ_COMMITTED: hw}

    if idle is not None:
        # The coordinator bumped the epoch when it aborted: the idle producer is fenced.
        with pytest.raises(KafkaException) as raised:
            idle.commit_transaction(15)
        err = raised.value.args[0]
        assert err.code() in FENCING_ERRORS and err.fatal(), (
            f"the timed-out producer's commit failed with {err!r}"
        )

    # The transactional id is free again, and the abandoned records stay invisible.
    successor = txn_producer(bootstrap, abandoned_id)
    committed_txn(successor, topic_name, [b"successor"])
    rc_values = values(read_partition(bootstrap, topic_name, 0, READ_COMMITTED)[0])
    assert rc_values == [b"first", *behind, b"successor"]


@pytest.mark.parametrize("stop", ["sigterm", "sigkill"])
def test_transaction_open_across_a_broker_restart(
    broker_factory: BrokerFactory, topic_name: str, stop: str
) -> None:
    """Restart the broker (cleanly, or after a crash) while a transaction has written but not
    committed: the LSO holds readers back before and after the restart, and the producer,
    reconnected, adds to the transaction and commits it."""
    broker: BrokerProcess = broker_factory(overrides=TXN_OVERRIDES)
    bootstrap = broker.bootstrap
    create_topic(bootstrap, topic_name)
    p = txn_producer(bootstrap, txn_id("restart"), **{"message.timeout.ms": 30000})
    committed_txn(p, topic_name, [b"before-0", b"before-1"])  # offsets 0-1, marker at 2

    p.begin_transaction()
    in_txn = [b"txn-0", b"txn-1", b"txn-2"]
    produce_all(p, topic_name, in_txn)  # offsets 3-5
    later = [b"later-0", b"later-1"]
    confluent_produce(bootstrap, topic_name, [Out(v) for v in later])  # offsets 6-7
    lso = 3

    rc = PartitionReader(bootstrap, topic_name)
    try:
        assert values(rc.read_to_end(lso)) == [b"before-0", b"before-1"]
    finally:
        rc.close()
    assert list_offsets(bootstrap, topic_name) == {READ_UNCOMMITTED: 8, READ_COMMITTED: lso}

    if stop == "sigterm":
        broker.restart()
    else:
        broker.kill()
        broker.start()

    assert list_offsets(bootstrap, topic_name) == {READ_UNCOMMITTED: 8, READ_COMMITTED: lso}, (
        f"after the restart\n{broker.current_log()[-3000:]}"
    )
    rc = PartitionReader(bootstrap, topic_name)
    try:
        assert values(rc.read_to_end(lso)) == [b"before-0", b"before-1"]
        held = rc.poll_for(HOLD_S)
        assert held == [], f"read_committed read past the open transaction after the restart: {values(held)}"

        more = [b"txn-3", b"txn-4"]
        produce_all(p, topic_name, more)  # offsets 8-9, same transaction
        try:
            p.commit_transaction(30)
        except KafkaException as e:
            raise AssertionError(
                f"commit after the restart failed: {e.args[0]!r}\n--- broker log since the restart ---\n"
                f"{broker.current_log()[-4000:]}"
            ) from None
        hw = 11
        got = rc.read_to_end(hw)
        assert values(got) == [b"before-0", b"before-1", *in_txn, *later, *more]
    finally:
        rc.close()
    assert list_offsets(bootstrap, topic_name) == {READ_UNCOMMITTED: hw, READ_COMMITTED: hw}
