"""``moldau topics`` end to end against a live broker."""

from __future__ import annotations

import pytest

from tests.cli.helpers import Cli, assert_one_line_error
from tests.conftest import BrokerProcess


@pytest.fixture
def cli(shared_broker: BrokerProcess) -> Cli:
    return Cli(shared_broker.bootstrap)


def test_create_list_describe_alter_delete(cli: Cli, topic_name: str) -> None:
    out = cli("topics", "create", topic_name, "--partitions", "3", "--config", "retention.ms=3600000")
    assert out.strip() == f"Created topic {topic_name}."

    listed = {t["name"]: t for t in cli.json("topics", "list")}
    assert listed[topic_name] == {"name": topic_name, "partitions": 3, "replication_factor": 1}
    assert topic_name in cli("topics", "list")

    cli("produce", topic_name, "--partition", "1", input="a\nb\nc\n")
    described = cli.json("topics", "describe", topic_name)
    assert [p["partition"] for p in described["partitions"]] == [0, 1, 2]
    for p in described["partitions"]:
        assert p["leader"] is not None and p["replicas"] == [p["leader"]] and p["isr"] == [p["leader"]]
        assert p["earliest_offset"] == 0
    assert [p["latest_offset"] for p in described["partitions"]] == [0, 3, 0]
    # Only what differs from the defaults.
    assert described["configs"] == [
        {"name": "retention.ms", "value": "3600000", "source": "DYNAMIC_TOPIC_CONFIG"}
    ]

    table = cli("topics", "describe", topic_name)
    assert "PARTITION  LEADER  REPLICAS  ISR  EARLIEST-OFFSET  LATEST-OFFSET" in table
    assert "retention.ms" in table and "DYNAMIC_TOPIC_CONFIG" in table and "DEFAULT_CONFIG" not in table

    cli(
        "topics", "alter", topic_name, "--config", "cleanup.policy=compact",
        "--delete-config", "retention.ms", "--partitions", "5",
    )  # fmt: skip
    described = cli.json("topics", "describe", topic_name)
    assert len(described["partitions"]) == 5
    assert described["configs"] == [
        {"name": "cleanup.policy", "value": "compact", "source": "DYNAMIC_TOPIC_CONFIG"}
    ]

    assert cli("topics", "delete", topic_name).strip() == f"Deleted topic {topic_name}."
    assert topic_name not in {t["name"] for t in cli.json("topics", "list")}


def test_create_twice(cli: Cli, topic_name: str) -> None:
    cli("topics", "create", topic_name)
    assert_one_line_error(cli.run("topics", "create", topic_name), f"topic '{topic_name}' already exists")
    cli("topics", "create", topic_name, "--if-not-exists")


def test_partition_count_only_grows(cli: Cli, topic_name: str) -> None:
    cli("topics", "create", topic_name, "--partitions", "2")
    assert_one_line_error(cli.run("topics", "alter", topic_name, "--partitions", "1"), "can only grow")


def test_bad_config_is_named(cli: Cli, topic_name: str) -> None:
    result = cli.run("topics", "create", topic_name, "--config", "retention.ms=soon")
    assert_one_line_error(result, f"cannot create topic '{topic_name}'", "retention.ms")


def test_list_exclude_internal(cli: Cli, topic_name: str) -> None:
    cli("topics", "create", topic_name)
    # A group commit makes sure __consumer_offsets exists.
    cli("produce", topic_name, input="a\n")
    cli("consume", topic_name, "--group", f"group-{topic_name}", "--from-beginning", "--max-messages", "1")
    every = {t["name"] for t in cli.json("topics", "list")}
    assert {topic_name, "__consumer_offsets"} <= every

    listed = {t["name"] for t in cli.json("topics", "list", "--exclude-internal")}
    assert topic_name in listed
    assert "__consumer_offsets" not in listed
    assert listed == every - {"__consumer_offsets", "__transaction_state"}
    table = cli("topics", "list", "--exclude-internal")
    assert topic_name in table and "__consumer_offsets" not in table
