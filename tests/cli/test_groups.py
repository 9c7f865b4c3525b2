"""``moldau groups`` end to end: lag against offsets committed by a real consumer, resets, delete."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest
from confluent_kafka import Consumer, TopicPartition

from tests.cli.helpers import Cli, assert_one_line_error
from tests.conftest import BrokerProcess


@pytest.fixture
def cli(shared_broker: BrokerProcess) -> Cli:
    return Cli(shared_broker.bootstrap)


def consumer(bootstrap: str, group: str, **extra: Any) -> Consumer:
    return Consumer(
        {
            "bootstrap.servers": bootstrap,
            "group.id": group,
            "enable.auto.commit": False,
            "log_level": 0,
            **extra,
        }
    )


@pytest.fixture
def group_with_commits(cli: Cli, topic_name: str) -> Iterator[tuple[str, str]]:
    """A two-partition topic with 5 and 4 records; a group that committed offsets 3 and 1."""
    cli("topics", "create", topic_name, "--partitions", "2")
    cli("produce", topic_name, "--partition", "0", input="a\nb\nc\nd\ne\n")
    cli("produce", topic_name, "--partition", "1", input="f\ng\nh\ni\n")
    group = f"group-{topic_name}"
    c = consumer(cli.bootstrap, group)
    c.commit(offsets=[TopicPartition(topic_name, 0, 3), TopicPartition(topic_name, 1, 1)], asynchronous=False)
    c.close()
    yield topic_name, group


def committed(cli: Cli, group: str) -> dict[int, int | None]:
    return {r["partition"]: r["current_offset"] for r in cli.json("groups", "describe", group)["offsets"]}


def test_describe_shows_lag_of_committed_offsets(cli: Cli, group_with_commits: tuple[str, str]) -> None:
    topic, group = group_with_commits
    described = cli.json("groups", "describe", group)
    assert described["group"] == group
    assert described["state"] == "Empty"
    assert described["members"] == []
    assert [
        (r["topic"], r["partition"], r["current_offset"], r["log_end_offset"], r["lag"], r["consumer_id"])
        for r in described["offsets"]
    ] == [(topic, 0, 3, 5, 2, None), (topic, 1, 1, 4, 3, None)]

    table = cli("groups", "describe", group)
    assert "State: Empty" in table
    header = "TOPIC  PARTITION  CURRENT-OFFSET  LOG-END-OFFSET  LAG  CONSUMER-ID  HOST  CLIENT-ID"
    lines = table.splitlines()
    assert any(line.startswith(header[: len("TOPIC")]) for line in lines)
    assert [line.split()[:5] for line in lines if line.startswith(topic)] == [
        [topic, "0", "3", "5", "2"],
        [topic, "1", "1", "4", "3"],
    ]

    listed = {g["group"]: g["state"] for g in cli.json("groups", "list")}
    assert listed[group] == "Empty"


def test_reset_is_a_dry_run_unless_executed(cli: Cli, group_with_commits: tuple[str, str]) -> None:
    topic, group = group_with_commits
    result = cli.run("groups", "reset-offsets", group, "--topic", topic, "--to-earliest")
    assert result.returncode == 0, result.stderr
    assert [line.split() for line in result.stdout.splitlines()] == [
        ["TOPIC", "PARTITION", "NEW-OFFSET"],
        [topic, "0", "0"],
        [topic, "1", "0"],
    ]
    assert "dry run" in result.stderr
    assert committed(cli, group) == {0: 3, 1: 1}

    plan = cli.json("groups", "reset-offsets", group, "--topic", topic, "--to-earliest", "--execute")
    assert plan["executed"] is True
    assert committed(cli, group) == {0: 0, 1: 0}

    def execute(*how: str) -> dict[int, int | None]:
        cli("groups", "reset-offsets", group, *how, "--execute")
        return committed(cli, group)

    assert execute("--topic", topic, "--shift-by", "2") == {0: 2, 1: 2}
    assert execute("--topic", f"{topic}:1", "--shift-by", "-1") == {0: 2, 1: 1}
    assert execute("--all-topics", "--to-latest") == {0: 5, 1: 4}
    assert execute("--topic", topic, "--to-offset", "3") == {0: 3, 1: 3}
    # Out of range offsets are clamped to the log, as Kafka does.
    assert execute("--topic", f"{topic}:0", "--to-offset", "100") == {0: 5, 1: 3}
    # Every record is younger than a day: back to the start. Nothing is in the future: the end.
    assert execute("--topic", topic, "--by-duration", "P1D") == {0: 0, 1: 0}
    assert execute("--topic", topic, "--to-datetime", "2999-01-01T00:00:00Z") == {0: 5, 1: 4}

    dry = cli.json(
        "groups", "reset-offsets", group, "--topic", topic, "--to-datetime", "2000-01-01T00:00:00Z"
    )
    assert dry["executed"] is False
    assert [(r["partition"], r["current_offset"], r["new_offset"]) for r in dry["offsets"]] == [
        (0, 5, 0),
        (1, 4, 0),
    ]
    assert committed(cli, group) == {0: 5, 1: 4}


def test_reset_to_current(cli: Cli, group_with_commits: tuple[str, str]) -> None:
    topic, group = group_with_commits
    # A third partition, with records but no committed offset: it gets its log end offset.
    cli("topics", "alter", topic, "--partitions", "3")
    cli("produce", topic, "--partition", "2", input="x\ny\n")
    dry = cli.json("groups", "reset-offsets", group, "--topic", topic, "--to-current")
    assert dry["executed"] is False
    assert [(r["partition"], r["current_offset"], r["new_offset"]) for r in dry["offsets"]] == [
        (0, 3, 3),
        (1, 1, 1),
        (2, None, 2),
    ]
    assert committed(cli, group) == {0: 3, 1: 1}

    cli("groups", "reset-offsets", group, "--topic", topic, "--to-current", "--execute")
    assert committed(cli, group) == {0: 3, 1: 1, 2: 2}
    result = cli.run("groups", "reset-offsets", group, "--all-topics", "--to-current")
    assert result.returncode == 0, result.stderr
    assert [line.split() for line in result.stdout.splitlines()] == [
        ["TOPIC", "PARTITION", "NEW-OFFSET"],
        [topic, "0", "3"],
        [topic, "1", "1"],
        [topic, "2", "2"],
    ]


def test_shift_needs_a_committed_offset(cli: Cli, topic_name: str) -> None:
    cli("topics", "create", topic_name)
    result = cli.run("groups", "reset-offsets", f"new-{topic_name}", "--topic", topic_name, "--shift-by", "1")
    assert_one_line_error(result, "no committed offset")
    # A group that does not exist yet can be given offsets.
    cli("groups", "reset-offsets", f"new-{topic_name}", "--topic", topic_name, "--to-earliest", "--execute")
    assert committed(cli, f"new-{topic_name}") == {0: 0}


def test_active_group_is_protected(cli: Cli, group_with_commits: tuple[str, str]) -> None:
    topic, group = group_with_commits
    member = consumer(cli.bootstrap, group, **{"client.id": "lag-watcher"})
    member.subscribe([topic])
    try:
        deadline = time.monotonic() + 30
        while len(member.assignment()) < 2:
            assert time.monotonic() < deadline, "the consumer never got its partitions"
            member.poll(0.1)
        described = cli.json("groups", "describe", group)
        assert described["state"] == "Stable"
        assert [m["client_id"] for m in described["members"]] == ["lag-watcher"]
        assert described["members"][0]["assignment"] == [[topic, 0], [topic, 1]]
        owners = {r["partition"]: r["client_id"] for r in described["offsets"]}
        assert owners == {0: "lag-watcher", 1: "lag-watcher"}

        for mode in ([], ["--execute"]):
            result = cli.run("groups", "reset-offsets", group, "--topic", topic, "--to-earliest", *mode)
            assert_one_line_error(result, f"cannot reset the offsets of group '{group}'", "active members")
        assert_one_line_error(cli.run("groups", "delete", group), "active members")
    finally:
        member.close()
    assert committed(cli, group) == {0: 3, 1: 1}

    assert cli("groups", "delete", group).strip() == f"Deleted group {group}."
    assert_one_line_error(cli.run("groups", "describe", group), f"unknown group '{group}'")
    assert_one_line_error(cli.run("groups", "delete", group), f"unknown group '{group}'")
    assert group not in {g["group"] for g in cli.json("groups", "list")}


def test_consume_with_a_group_commits_what_it_printed(cli: Cli, topic_name: str) -> None:
    cli("topics", "create", topic_name, "--partitions", "1")
    cli("produce", topic_name, input="1\n2\n3\n4\n5\n")
    group = f"console-{topic_name}"
    first = cli("consume", topic_name, "--group", group, "--from-beginning", "--max-messages", "3")
    assert first.splitlines() == ["1", "2", "3"]
    offsets = cli.json("groups", "describe", group)["offsets"]
    assert [(r["current_offset"], r["log_end_offset"], r["lag"]) for r in offsets] == [(3, 5, 2)]
    # The next member of the group resumes where the first stopped. Its --timeout-ms counts from
    # the moment it has partitions, not from its start (joining the group takes a while).
    rest = cli("consume", topic_name, "--group", group, "--timeout-ms", "1000")
    assert rest.splitlines() == ["4", "5"]
    assert committed(cli, group) == {0: 5}
