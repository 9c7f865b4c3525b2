"""``moldau configs describe | alter`` for a topic or a broker.

``describe`` shows, like ``kafka-configs --describe``, the configs that differ from the
defaults (DescribeConfigs entries whose source is not DEFAULT_CONFIG); ``--all`` shows every
entry with its source. ``alter`` uses IncrementalAlterConfigs: ``--set`` changes one key and
``--delete`` returns one to its default, leaving every other key as it is.
"""

from __future__ import annotations

import argparse
from typing import Any

from confluent_kafka.admin import ConfigResource, ResourceType

from moldau.cli import common, topics
from moldau.cli.common import Cluster, CommandError, UsageError


def add_parser(sub: Any) -> None:
    p = sub.add_parser("configs", help="describe and change topic and broker configs")
    actions = p.add_subparsers(dest="action", metavar="ACTION", required=True)

    d = common.add_command(
        actions, "describe", run_describe, "show the configs of a topic or a broker", output=True
    )
    add_resource_args(d)
    d.add_argument("--all", action="store_true", help="also show the configs at their defaults")

    a = common.add_command(actions, "alter", run_alter, "set or delete configs of a topic or a broker")
    add_resource_args(a)
    a.add_argument(
        "--set", type=common.key_value, action="append", default=[], metavar="KEY=VALUE", help="repeatable"
    )
    a.add_argument(
        "--delete", action="append", default=[], metavar="KEY", help="return KEY to its default (repeatable)"
    )


def add_resource_args(p: argparse.ArgumentParser) -> None:
    which = p.add_mutually_exclusive_group(required=True)
    which.add_argument("--topic", metavar="NAME")
    which.add_argument("--broker", type=common.non_negative_int, metavar="ID")


def resource(cluster: Cluster, args: argparse.Namespace) -> tuple[ConfigResource, str]:
    """The ConfigResource the arguments name (checked to exist) and how to call it in messages."""
    if args.topic is not None:
        cluster.topic(args.topic)
        return ConfigResource(ResourceType.TOPIC, args.topic), f"topic '{args.topic}'"
    brokers = sorted(cluster.metadata.brokers)
    if args.broker not in brokers:
        raise CommandError(f"unknown broker {args.broker} (the brokers are {', '.join(map(str, brokers))})")
    return ConfigResource(ResourceType.BROKER, str(args.broker)), f"broker {args.broker}"


def run_describe(args: argparse.Namespace) -> int:
    cluster = Cluster(args)
    res, name = resource(cluster, args)
    what = f"cannot describe configs of {name}"
    rows = (
        topics.describe_configs(cluster, res, what)
        if args.all
        else topics.non_default_configs(cluster, res, what)
    )
    if args.output == "json":
        common.print_json(rows)
    elif rows:
        topics.print_configs(rows)
    else:
        print(f"All configs of {name} are at their defaults.")
    return 0


def run_alter(args: argparse.Namespace) -> int:
    if not args.set and not args.delete:
        raise UsageError("nothing to alter: give --set KEY=VALUE or --delete KEY")
    entries = topics.incremental_entries(args.set, args.delete)
    cluster = Cluster(args)
    res, name = resource(cluster, args)
    topics.alter_configs(cluster, res, entries, f"cannot alter configs of {name}")
    print(f"Altered configs of {name}.")
    return 0
