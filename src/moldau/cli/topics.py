"""``moldau topics list | describe | create | alter | delete``.

``describe`` gathers three answers: Metadata (partitions, leader, replicas, ISR), ListOffsets
(earliest and latest offset of every partition) and DescribeConfigs (only the entries whose
source is not DEFAULT_CONFIG are shown: what someone set on the topic or the broker).
``alter`` changes configs with IncrementalAlterConfigs and adds partitions with
CreatePartitions. ``list --exclude-internal`` asks for the topics' descriptions as well, for the
is_internal flag the broker sets (kafka-topics leaves out the same topics).
"""

from __future__ import annotations

import argparse
from typing import Any

from confluent_kafka import KafkaError, TopicCollection
from confluent_kafka.admin import (
    AlterConfigOpType,
    ConfigEntry,
    ConfigResource,
    ConfigSource,
    NewPartitions,
    NewTopic,
    OffsetSpec,
    ResourceType,
)

from moldau.cli import common
from moldau.cli.common import Cluster, CommandError, UsageError, kafka_error


def add_parser(sub: Any) -> None:
    p = sub.add_parser("topics", help="list, describe, create, alter and delete topics")
    actions = p.add_subparsers(dest="action", metavar="ACTION", required=True)

    ls = common.add_command(
        actions, "list", run_list, "list the topics with their partition counts", output=True
    )
    ls.add_argument(
        "--exclude-internal",
        action="store_true",
        help="leave out internal topics (__consumer_offsets, __transaction_state)",
    )

    d = common.add_command(
        actions,
        "describe",
        run_describe,
        "show a topic's partitions, offsets and non-default configs",
        output=True,
    )
    d.add_argument("name", metavar="NAME")

    c = common.add_command(actions, "create", run_create, "create a topic")
    c.add_argument("name", metavar="NAME")
    c.add_argument("--partitions", type=common.positive_int, help="default: the broker's num.partitions")
    c.add_argument(
        "--replication-factor",
        type=common.positive_int,
        help="default: the broker's default.replication.factor",
    )
    c.add_argument(
        "--config", type=common.key_value, action="append", default=[], metavar="KEY=VALUE", help="repeatable"
    )
    c.add_argument("--if-not-exists", action="store_true", help="succeed when the topic already exists")

    a = common.add_command(actions, "alter", run_alter, "change a topic's configs or add partitions")
    a.add_argument("name", metavar="NAME")
    a.add_argument(
        "--config",
        type=common.key_value,
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="set (repeatable)",
    )
    a.add_argument(
        "--delete-config",
        action="append",
        default=[],
        metavar="KEY",
        help="return a config to its default (repeatable)",
    )
    a.add_argument("--partitions", type=common.positive_int, help="raise the partition count to this number")

    r = common.add_command(actions, "delete", run_delete, "delete a topic and all its records")
    r.add_argument("name", metavar="NAME")


def internal_topics(cluster: Cluster, names: list[str]) -> set[str]:
    """The names the cluster marks internal (Metadata's is_internal, which list_topics does not show).

    A topic deleted since the metadata was read is left out of the answer, not an error.
    """
    if not names:
        return set()
    futures = cluster.admin.describe_topics(TopicCollection(names), request_timeout=common.REQUEST_TIMEOUT_S)
    internal = set()
    for name, future in futures.items():
        try:
            description = future.result()
        except Exception as e:
            err = kafka_error(e)
            if err is not None and err.code() == KafkaError.UNKNOWN_TOPIC_OR_PART:
                continue
            raise CommandError(f"cannot describe topic '{name}': {common.describe_kafka_error(e)}") from None
        if description.is_internal:
            internal.add(name)
    return internal


def run_list(args: argparse.Namespace) -> int:
    cluster = Cluster(args)
    names = sorted(cluster.metadata.topics)
    if args.exclude_internal:
        hidden = internal_topics(cluster, names)
        names = [n for n in names if n not in hidden]
    rows = []
    for name in names:
        topic = cluster.metadata.topics[name]
        replicas = max((len(p.replicas) for p in topic.partitions.values()), default=0)
        rows.append({"name": name, "partitions": len(topic.partitions), "replication_factor": replicas})
    if args.output == "json":
        common.print_json(rows)
    else:
        common.print_table(
            ["TOPIC", "PARTITIONS", "REPLICATION-FACTOR"],
            [[r["name"], r["partitions"], r["replication_factor"]] for r in rows],
        )
    return 0


def non_default_configs(cluster: Cluster, resource: ConfigResource, what: str) -> list[dict[str, Any]]:
    """DescribeConfigs entries whose source is not DEFAULT_CONFIG, sorted by name."""
    return [
        e
        for e in describe_configs(cluster, resource, what)
        if e["source"] != ConfigSource.DEFAULT_CONFIG.name
    ]


def describe_configs(cluster: Cluster, resource: ConfigResource, what: str) -> list[dict[str, Any]]:
    """Every DescribeConfigs entry of one resource as {name, value, source, read_only, sensitive}."""
    future = cluster.admin.describe_configs([resource], request_timeout=common.REQUEST_TIMEOUT_S)[resource]
    entries = common.result(future, what)
    rows = []
    for name in sorted(entries):
        entry = entries[name]
        try:
            source = ConfigSource(entry.source).name
        except ValueError:
            source = ConfigSource.UNKNOWN_CONFIG.name
        rows.append(
            {
                "name": name,
                "value": None if entry.is_sensitive else entry.value,
                "source": source,
                "read_only": entry.is_read_only,
                "sensitive": entry.is_sensitive,
            }
        )
    return rows


def print_configs(rows: list[dict[str, Any]]) -> None:
    common.print_table(
        ["NAME", "VALUE", "SOURCE"],
        [[r["name"], "(sensitive)" if r["sensitive"] else r["value"], r["source"]] for r in rows],
    )


def run_describe(args: argparse.Namespace) -> int:
    cluster = Cluster(args)
    topic = cluster.topic(args.name)
    partitions = sorted(topic.partitions.values(), key=lambda p: p.id)
    keys = [(args.name, p.id) for p in partitions]
    earliest = cluster.offsets({k: OffsetSpec.earliest() for k in keys})
    latest = cluster.offsets({k: OffsetSpec.latest() for k in keys})
    configs = non_default_configs(
        cluster,
        ConfigResource(ResourceType.TOPIC, args.name),
        f"cannot describe configs of topic '{args.name}'",
    )
    rows = [
        {
            "partition": p.id,
            "leader": p.leader if p.leader >= 0 else None,
            "replicas": list(p.replicas),
            "isr": list(p.isrs),
            "earliest_offset": earliest[(args.name, p.id)],
            "latest_offset": latest[(args.name, p.id)],
        }
        for p in partitions
    ]
    replication = max((len(p.replicas) for p in partitions), default=0)
    if args.output == "json":
        common.print_json(
            {
                "name": args.name,
                "partitions": rows,
                "replication_factor": replication,
                "configs": [{k: c[k] for k in ("name", "value", "source")} for c in configs],
            }
        )
        return 0
    print(f"Topic: {args.name}  Partitions: {len(rows)}  Replication factor: {replication}")
    print()
    common.print_table(
        ["PARTITION", "LEADER", "REPLICAS", "ISR", "EARLIEST-OFFSET", "LATEST-OFFSET"],
        [
            [r["partition"], r["leader"], r["replicas"], r["isr"], r["earliest_offset"], r["latest_offset"]]
            for r in rows
        ],
    )
    print()
    if configs:
        print("Configs that differ from the defaults:")
        print_configs(configs)
    else:
        print("Configs: all at their defaults")
    return 0


def run_create(args: argparse.Namespace) -> int:
    cluster = Cluster(args)
    new = NewTopic(
        args.name,
        num_partitions=args.partitions if args.partitions is not None else -1,
        replication_factor=args.replication_factor if args.replication_factor is not None else -1,
        config=dict(args.config),
    )
    future = cluster.admin.create_topics([new], request_timeout=common.REQUEST_TIMEOUT_S)[args.name]
    try:
        future.result()
    except Exception as e:
        err = kafka_error(e)
        if err is not None and err.code() == KafkaError.TOPIC_ALREADY_EXISTS:
            if args.if_not_exists:
                return 0
            raise CommandError(f"topic '{args.name}' already exists") from None
        raise CommandError(f"cannot create topic '{args.name}': {common.describe_kafka_error(e)}") from None
    print(f"Created topic {args.name}.")
    return 0


def incremental_entries(set_: list[tuple[str, str]], delete: list[str]) -> list[ConfigEntry]:
    """IncrementalAlterConfigs entries: SET for KEY=VALUE pairs, DELETE for bare keys."""
    both = {k for k, _ in set_} & set(delete)
    if both:
        raise UsageError(f"config {sorted(both)[0]!r} is both set and deleted")
    entries = [ConfigEntry(k, v, incremental_operation=AlterConfigOpType.SET) for k, v in set_]
    entries += [ConfigEntry(k, None, incremental_operation=AlterConfigOpType.DELETE) for k in delete]
    return entries


def alter_configs(cluster: Cluster, resource: ConfigResource, entries: list[ConfigEntry], what: str) -> None:
    resource.incremental_configs = entries
    futures = cluster.admin.incremental_alter_configs([resource], request_timeout=common.REQUEST_TIMEOUT_S)
    for future in futures.values():
        common.result(future, what)


def run_alter(args: argparse.Namespace) -> int:
    if not args.config and not args.delete_config and args.partitions is None:
        raise UsageError("nothing to alter: give --config, --delete-config or --partitions")
    entries = incremental_entries(args.config, args.delete_config)
    cluster = Cluster(args)
    topic = cluster.topic(args.name)
    grow = args.partitions is not None and args.partitions != len(topic.partitions)
    if grow and args.partitions < len(topic.partitions):
        raise CommandError(
            f"topic '{args.name}' has {len(topic.partitions)} partitions; the partition count can only grow"
        )
    if entries:
        alter_configs(
            cluster,
            ConfigResource(ResourceType.TOPIC, args.name),
            entries,
            f"cannot alter configs of topic '{args.name}'",
        )
    if grow:
        future = cluster.admin.create_partitions(
            [NewPartitions(args.name, args.partitions)], request_timeout=common.REQUEST_TIMEOUT_S
        )[args.name]
        common.result(future, f"cannot add partitions to topic '{args.name}'")
    print(f"Altered topic {args.name}.")
    return 0


def run_delete(args: argparse.Namespace) -> int:
    cluster = Cluster(args)
    cluster.topic(args.name)
    future = cluster.admin.delete_topics([args.name], request_timeout=common.REQUEST_TIMEOUT_S)[args.name]
    try:
        future.result()
    except Exception as e:
        err = kafka_error(e)
        if err is not None and err.code() == KafkaError.UNKNOWN_TOPIC_OR_PART:
            raise CommandError(f"unknown topic '{args.name}'") from None
        raise CommandError(f"cannot delete topic '{args.name}': {common.describe_kafka_error(e)}") from None
    print(f"Deleted topic {args.name}.")
    return 0
