"""``moldau configs`` and ``moldau cluster`` end to end against a live broker."""

from __future__ import annotations

import pytest

from tests.cli.helpers import Cli, assert_one_line_error
from tests.conftest import BrokerProcess


@pytest.fixture
def cli(shared_broker: BrokerProcess) -> Cli:
    return Cli(shared_broker.bootstrap)


def test_topic_configs(cli: Cli, topic_name: str) -> None:
    cli("topics", "create", topic_name)
    assert cli.json("configs", "describe", "--topic", topic_name) == []
    assert "at their defaults" in cli("configs", "describe", "--topic", topic_name)

    out = cli(
        "configs", "alter", "--topic", topic_name, "--set", "retention.ms=60000", "--set", "segment.ms=600000"
    )
    assert out.strip() == f"Altered configs of topic '{topic_name}'."
    described = {c["name"]: c for c in cli.json("configs", "describe", "--topic", topic_name)}
    assert set(described) == {"retention.ms", "segment.ms"}
    assert described["retention.ms"]["value"] == "60000"
    assert described["retention.ms"]["source"] == "DYNAMIC_TOPIC_CONFIG"

    # Incremental: deleting one key leaves the other alone.
    cli("configs", "alter", "--topic", topic_name, "--delete", "segment.ms")
    described = {c["name"]: c for c in cli.json("configs", "describe", "--topic", topic_name)}
    assert set(described) == {"retention.ms"}

    everything = {c["name"]: c for c in cli.json("configs", "describe", "--topic", topic_name, "--all")}
    assert everything["cleanup.policy"]["source"] == "DEFAULT_CONFIG"
    assert everything["retention.ms"]["value"] == "60000"

    table = cli("configs", "describe", "--topic", topic_name)
    assert table.splitlines()[0].split() == ["NAME", "VALUE", "SOURCE"]


def test_unknown_config_key(cli: Cli, topic_name: str) -> None:
    cli("topics", "create", topic_name)
    result = cli.run("configs", "alter", "--topic", topic_name, "--set", "no.such.config=1")
    assert_one_line_error(result, f"cannot alter configs of topic '{topic_name}'", "no.such.config")


def test_broker_configs(cli: Cli, shared_broker: BrokerProcess) -> None:
    broker_id = cli.json("cluster", "describe")["brokers"][0]["id"]
    described = {c["name"]: c for c in cli.json("configs", "describe", "--broker", str(broker_id))}
    # Set on the command line of `moldau serve`, so not a default.
    assert described["listeners"]["value"] == f"PLAINTEXT://{shared_broker.bootstrap}"
    assert described["listeners"]["source"] == "STATIC_BROKER_CONFIG"
    assert all(c["source"] != "DEFAULT_CONFIG" for c in described.values())
    everything = cli.json("configs", "describe", "--broker", str(broker_id), "--all")
    assert len(everything) > len(described)

    assert_one_line_error(cli.run("configs", "describe", "--broker", "4242"), "unknown broker 4242")


def test_cluster_describe(cli: Cli, shared_broker: BrokerProcess) -> None:
    info = cli.json("cluster", "describe")
    assert info["cluster_id"]
    assert len(info["brokers"]) == 1
    broker = info["brokers"][0]
    assert (broker["host"], broker["port"]) == ("127.0.0.1", shared_broker.port)
    assert info["controller"] == broker["id"]

    table = cli("cluster", "describe")
    assert f"Cluster ID: {info['cluster_id']}" in table
    assert "BROKER  HOST" in table and str(shared_broker.port) in table
