"""A broker on a full disk, and a broker with more partitions than its descriptor limit.

Disk full: the broker's ``log.dirs`` is a small tmpfs mounted for the test (root is needed;
without it the test fails, saying so), most of it taken by a filler file. Producing until the
disk is full gets KAFKA_STORAGE_ERROR in the clients' delivery reports (confluent-kafka and
kafka-python); the broker stays up and serves every acknowledged record; once the filler is
deleted, produce succeeds again; after a clean restart and after a crash, every acknowledged
record is where it was acknowledged.

Scale: a broker whose descriptor limit is far below three files per partition serves a
topic with that many partitions, because segment files are opened through a bounded cache.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import confluent_kafka
import pytest
from kafka.errors import KafkaStorageError

from ..conftest import BrokerProcess
from .clients import (
    Ack,
    Got,
    Out,
    confluent_consume,
    confluent_producer,
    confluent_send,
    create_topic,
    kp_producer,
)

DISK = "8m"
FILLER_BYTES = 4 * 1024 * 1024
VALUE_BYTES = 16 * 1024


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    mount = tmp_path / "disk"
    mount.mkdir()
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={DISK}", "tmpfs", str(mount)], capture_output=True, text=True
    )
    if done.returncode != 0:
        pytest.fail(
            f"cannot mount a {DISK} tmpfs at {mount} (mounting needs root): "
            f"{(done.stderr or done.stdout).strip()}"
        )
    try:
        yield mount
    finally:
        subprocess.run(["umount", str(mount)], check=True)


def value(i: int) -> bytes:
    return f"{i:08d}".encode() + bytes((i + k) % 251 for k in range(VALUE_BYTES - 8))


def unretried_producer(bootstrap: str) -> confluent_kafka.Producer:
    """A producer that does not retry, so that the broker's answer is what the delivery
    report says."""
    return confluent_producer(bootstrap, retries=0, **{"enable.idempotence": False, "linger.ms": 0})


def produce_one(producer: confluent_kafka.Producer, topic: str, i: int) -> Ack | confluent_kafka.KafkaError:
    (result,) = confluent_send("", topic, [Out(value(i), key=str(i).encode())], producer)
    return result


def assert_acknowledged_records_present(bootstrap: str, topic: str, acked: dict[int, int]) -> None:
    """Every acknowledged record (offset → record number) reads back at its offset."""
    got: list[Got] = confluent_consume(bootstrap, topic, len(acked), timeout=30)
    by_offset = {g.offset: g for g in got}
    for offset, i in acked.items():
        g = by_offset.get(offset)
        assert g is not None, f"acknowledged offset {offset} is missing"
        assert (g.key, g.value) == (str(i).encode(), value(i)), f"offset {offset} holds something else"


def test_disk_full_refuses_produce_keeps_serving_and_recovers(small_disk: Path, tmp_path: Path) -> None:
    filler = small_disk / "filler"
    filler.write_bytes(b"\0" * FILLER_BYTES)
    broker = BrokerProcess(small_disk / "data", log_path=tmp_path / "broker.log")
    broker.start()
    try:
        bootstrap, topic = broker.bootstrap, "full-disk"
        create_topic(bootstrap, topic, config={"segment.bytes": str(1024 * 1024)})

        acked: dict[int, int] = {}
        error: confluent_kafka.KafkaError | None = None
        producer = unretried_producer(bootstrap)
        for i in range(1000):
            result = produce_one(producer, topic, i)
            if isinstance(result, Ack):
                acked[result.offset] = i
                continue
            error = result
            break
        assert error is not None, f"the {DISK} disk never filled up"
        assert error.code() == confluent_kafka.KafkaError.KAFKA_STORAGE_ERROR, error
        assert len(acked) > 50
        assert sorted(acked) == list(range(len(acked)))

        # kafka-python gets the same answer
        kp = kp_producer(bootstrap, retries=0, enable_idempotence=False, linger_ms=0)
        try:
            with pytest.raises(KafkaStorageError):
                kp.send(topic, key=b"kp", value=value(10**6)).get(timeout=30)
        finally:
            kp.close(timeout=5)

        # still up, still serving every acknowledged record
        assert broker.running
        assert_acknowledged_records_present(bootstrap, topic, acked)

        # space comes back: writes resume where the log ended
        filler.unlink()
        first_after = len(acked)
        for i in range(first_after, first_after + 20):
            result = produce_one(producer, topic, i)
            assert isinstance(result, Ack), f"produce after freeing space failed: {result}"
            assert result.offset == i
            acked[result.offset] = i
        assert_acknowledged_records_present(bootstrap, topic, acked)
        del producer

        broker.restart()
        assert_acknowledged_records_present(broker.bootstrap, topic, acked)
        broker.kill()
        broker.start()
        assert_acknowledged_records_present(broker.bootstrap, topic, acked)
        assert "Traceback" not in broker.log_text()
    finally:
        broker.close()


class LimitedBroker(BrokerProcess):
    """A broker process started with a low limit on open descriptors."""

    def __init__(self, *args: object, nofile: int, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self.nofile = nofile

    def command(self) -> list[str]:
        n = self.nofile
        limit = f"import resource, os, sys; resource.setrlimit(resource.RLIMIT_NOFILE, ({n}, {n}))"
        run = "; os.execv(sys.executable, [sys.executable, *sys.argv[1:]])"
        return [sys.executable, "-c", limit + run, *super().command()[1:]]


def test_more_partitions_than_the_descriptor_limit_allows_files(tmp_path: Path) -> None:
    nofile, partitions = 128, 200  # three files per partition would need 600 descriptors
    broker = LimitedBroker(tmp_path / "data", log_path=tmp_path / "broker.log", nofile=nofile)
    broker.start()
    try:
        assert broker.proc is not None
        bootstrap, topic = broker.bootstrap, "many"
        create_topic(bootstrap, topic, partitions=partitions)
        records = [Out(f"v{p}".encode(), key=f"k{p}".encode(), partition=p) for p in range(partitions)]
        producer = confluent_producer(bootstrap, **{"linger.ms": 20})
        results = confluent_send(bootstrap, topic, records, producer)
        assert all(isinstance(r, Ack) for r in results), [r for r in results if not isinstance(r, Ack)][:5]
        del producer
        open_now = len(os.listdir(f"/proc/{broker.proc.pid}/fd"))
        assert open_now < nofile
        for p in (0, partitions // 2, partitions - 1):
            (got,) = confluent_consume(bootstrap, topic, 1, partition=p)
            assert got.value == f"v{p}".encode()
        broker.restart()
        for p in (1, partitions - 2):
            (got,) = confluent_consume(broker.bootstrap, topic, 1, partition=p)
            assert got.value == f"v{p}".encode()
    finally:
        broker.close()
