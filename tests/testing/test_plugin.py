"""The shipped test kit: the context manager and the pytest fixture, used as a user would."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

from kafka import KafkaConsumer, KafkaProducer, TopicPartition

from moldau.testing import Broker

USER_TEST = textwrap.dedent(
    """
    from kafka import KafkaConsumer, KafkaProducer, TopicPartition


    def test_round_trip(moldau_broker):
        producer = KafkaProducer(bootstrap_servers=moldau_broker.bootstrap_servers)
        producer.send("events", b"hello").get(timeout=10)
        producer.close()
        consumer = KafkaConsumer(bootstrap_servers=moldau_broker.bootstrap_servers)
        consumer.assign([TopicPartition("events", 0)])
        consumer.seek_to_beginning()
        records = consumer.poll(timeout_ms=5000, max_records=1)
        consumer.close()
        assert [r.value for batch in records.values() for r in batch] == [b"hello"]


    def test_session_broker_is_shared(moldau_broker_session, moldau_broker):
        assert moldau_broker_session.bootstrap_servers != moldau_broker.bootstrap_servers
    """
)


def test_user_suite_runs_with_the_fixture(tmp_path: Path) -> None:
    (tmp_path / "test_user.py").write_text(USER_TEST)
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(tmp_path / "test_user.py")],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "2 passed" in result.stdout


def test_context_manager_serves_and_cleans_up() -> None:
    with Broker(overrides={"num.partitions": "3"}) as broker:
        data_dir = Path(broker.data_dir)
        producer = KafkaProducer(bootstrap_servers=broker.bootstrap_servers)
        producer.send("t", b"x", partition=2).get(timeout=10)
        producer.close()
        consumer = KafkaConsumer(bootstrap_servers=broker.bootstrap_servers)
        assert consumer.partitions_for_topic("t") == {0, 1, 2}
        consumer.assign([TopicPartition("t", 2)])
        consumer.seek_to_beginning()
        records = consumer.poll(timeout_ms=5000, max_records=1)
        consumer.close()
        assert [r.value for batch in records.values() for r in batch] == [b"x"]
        assert (data_dir / "t-2").is_dir()
    assert not data_dir.exists()
