"""``moldau groups list | describe G | reset-offsets G ... | delete G``.

The output follows ``kafka-consumer-groups``: ``describe`` shows, per partition, the committed
offset, the log end offset, the lag and the member that owns the partition, then the members;
``reset-offsets`` prints the plan and changes nothing unless ``--execute`` is given. As in
Kafka, offsets are only reset for a group without active members (state Empty, or a group that
does not exist yet), dry run included: a running member would overwrite them with its next
commit.

The admin calls used: ListGroups, DescribeGroups, OffsetFetch, ListOffsets, OffsetCommit
(through AlterConsumerGroupOffsets) and DeleteGroups. The arithmetic lives in
``group_offsets``.
"""

from __future__ import annotations

import argparse
import time
from dataclasses import field
from typing import Any

from confluent_kafka import ConsumerGroupState, ConsumerGroupTopicPartitions, KafkaError, TopicPartition
from confluent_kafka.admin import ConsumerGroupDescription, OffsetSpec

from moldau.cli import common, timespec
from moldau.cli.common import Cluster, CommandError, kafka_error
from moldau.cli.group_offsets import (
    TP,
    Member,
    PlanError,
    ResetKind,
    ResetSpec,
    lag_rows,
    plan_reset,
)
from moldau.util.datatype import datatype

# Kafka's spelling of the group states, as kafka-consumer-groups prints them.
STATE_NAMES = {
    ConsumerGroupState.UNKNOWN: "Unknown",
    ConsumerGroupState.PREPARING_REBALANCING: "PreparingRebalance",
    ConsumerGroupState.COMPLETING_REBALANCING: "CompletingRebalance",
    ConsumerGroupState.STABLE: "Stable",
    ConsumerGroupState.DEAD: "Dead",
    ConsumerGroupState.EMPTY: "Empty",
}
_INACTIVE = {ConsumerGroupState.EMPTY, ConsumerGroupState.DEAD}


def topic_partitions(text: str) -> tuple[str, tuple[int, ...] | None]:
    """argparse type for --topic: 'TOPIC' or 'TOPIC:P,P,...'."""
    topic, sep, rest = text.partition(":")
    if not topic:
        raise argparse.ArgumentTypeError(f"expected TOPIC or TOPIC:PARTITION,..., got {text!r}")
    if not sep:
        return topic, None
    try:
        parts = tuple(common.non_negative_int(p) for p in rest.split(","))
    except argparse.ArgumentTypeError:
        raise argparse.ArgumentTypeError(
            f"expected TOPIC:PARTITION,... with partition numbers, got {text!r}"
        ) from None
    return topic, parts


def add_parser(sub: Any) -> None:
    p = sub.add_parser("groups", help="list, describe, reset and delete consumer groups")
    actions = p.add_subparsers(dest="action", metavar="ACTION", required=True)

    common.add_command(actions, "list", run_list, "list the consumer groups and their states", output=True)

    d = common.add_command(
        actions,
        "describe",
        run_describe,
        "show a group's offsets, lag per partition and members",
        output=True,
    )
    d.add_argument("group", metavar="GROUP")

    r = common.add_command(
        actions,
        "reset-offsets",
        run_reset,
        "plan (and with --execute, apply) new committed offsets",
        output=True,
    )
    r.add_argument("group", metavar="GROUP")
    which = r.add_mutually_exclusive_group(required=True)
    which.add_argument(
        "--topic",
        dest="topics",
        type=topic_partitions,
        action="append",
        metavar="TOPIC[:P,...]",
        help="a topic, or some of its partitions (repeatable)",
    )
    which.add_argument("--all-topics", action="store_true", help="every partition the group has offsets for")
    how = r.add_mutually_exclusive_group(required=True)
    how.add_argument("--to-earliest", action="store_true", help="the earliest offset")
    how.add_argument("--to-latest", action="store_true", help="the log end offset")
    how.add_argument(
        "--to-current",
        action="store_true",
        help="the committed offset (the log end offset where the group has none)",
    )
    how.add_argument("--to-offset", type=common.non_negative_int, metavar="N", help="offset N")
    how.add_argument(
        "--shift-by", type=int, metavar="N", help="the committed offset plus N (N may be negative)"
    )
    how.add_argument(
        "--to-datetime",
        type=timespec.instant_ms,
        metavar="ISO8601",
        help="the first record at or after this instant",
    )
    how.add_argument(
        "--by-duration",
        type=timespec.duration_ms,
        metavar="DURATION",
        help="the first record at most this long ago, e.g. PT10M",
    )
    mode = r.add_mutually_exclusive_group()
    mode.add_argument("--execute", action="store_true", help="commit the new offsets")
    mode.add_argument("--dry-run", action="store_true", help="only print the plan (the default)")

    x = common.add_command(actions, "delete", run_delete, "delete a group without members and its offsets")
    x.add_argument("group", metavar="GROUP")


def state_name(state: ConsumerGroupState | None) -> str:
    return STATE_NAMES.get(state, "Unknown") if state is not None else "Unknown"


# -- reading a group ---------------------------------------------------------------------------


@datatype
class GroupView:
    """What the cluster says about one group: description (None if unknown) and offsets."""

    group: str
    description: ConsumerGroupDescription | None
    committed: dict[TP, int] = field(default_factory=dict)

    @property
    def state(self) -> ConsumerGroupState | None:
        state = None if self.description is None else self.description.state
        return state if isinstance(state, ConsumerGroupState) else None

    @property
    def members(self) -> list[Any]:
        return [] if self.description is None else list(self.description.members)

    @property
    def exists(self) -> bool:
        if self.committed or self.members:
            return True
        return self.state not in (None, ConsumerGroupState.DEAD)

    @property
    def active(self) -> bool:
        return self.description is not None and (self.state not in _INACTIVE or bool(self.members))

    def owners(self) -> dict[TP, Member]:
        owned = {}
        for m in self.members:
            member = Member(m.member_id, m.host, m.client_id)
            for tp in m.assignment.topic_partitions if m.assignment else []:
                owned[(tp.topic, tp.partition)] = member
        return owned


def _not_found(e: BaseException) -> bool:
    err = kafka_error(e)
    return err is not None and err.code() == KafkaError.GROUP_ID_NOT_FOUND


def read_group(cluster: Cluster, group: str) -> GroupView:
    future = cluster.admin.describe_consumer_groups([group], request_timeout=common.REQUEST_TIMEOUT_S)[group]
    try:
        description: ConsumerGroupDescription | None = future.result()
    except Exception as e:
        if not _not_found(e):
            raise CommandError(f"cannot describe group '{group}': {common.describe_kafka_error(e)}") from None
        description = None
    view = GroupView(group, description)
    request = [ConsumerGroupTopicPartitions(group)]
    future = cluster.admin.list_consumer_group_offsets(request, request_timeout=common.REQUEST_TIMEOUT_S)[
        group
    ]
    try:
        answer = future.result()
    except Exception as e:
        if not _not_found(e):
            raise CommandError(
                f"cannot fetch the offsets of group '{group}': {common.describe_kafka_error(e)}"
            ) from None
        return view
    for tp in answer.topic_partitions or []:
        if tp.error is None and tp.offset >= 0:
            view.committed[(tp.topic, tp.partition)] = tp.offset
    return view


# -- commands ----------------------------------------------------------------------------------


def run_list(args: argparse.Namespace) -> int:
    cluster = Cluster(args)
    listing = common.result(
        cluster.admin.list_consumer_groups(request_timeout=common.REQUEST_TIMEOUT_S), "cannot list groups"
    )
    for err in listing.errors or []:
        common.stderr(f"{args.prog}: a broker did not list its groups: {common.describe_kafka_error(err)}")
    rows = sorted(
        ({"group": g.group_id, "state": state_name(g.state)} for g in listing.valid or []),
        key=lambda r: r["group"],
    )
    if args.output == "json":
        common.print_json(rows)
    else:
        common.print_table(["GROUP", "STATE"], [[r["group"], r["state"]] for r in rows])
    return 0


def run_describe(args: argparse.Namespace) -> int:
    cluster = Cluster(args)
    view = read_group(cluster, args.group)
    if not view.exists:
        raise CommandError(f"unknown group '{args.group}'")
    owners = view.owners()
    partitions = set(view.committed) | set(owners)
    log_end = cluster.offsets({tp: OffsetSpec.latest() for tp in partitions}, missing_ok=True)
    rows = lag_rows(view.committed, log_end, owners)
    desc = view.description
    coordinator = desc.coordinator.id if desc is not None and desc.coordinator is not None else None
    assignor = desc.partition_assignor if desc is not None and desc.partition_assignor else None
    members = [
        {
            "consumer_id": m.member_id,
            "host": m.host,
            "client_id": m.client_id,
            "group_instance_id": m.group_instance_id,
            "assignment": sorted(
                [tp.topic, tp.partition] for tp in (m.assignment.topic_partitions if m.assignment else [])
            ),
        }
        for m in view.members
    ]
    if args.output == "json":
        common.print_json(
            {
                "group": args.group,
                "state": state_name(view.state),
                "coordinator": coordinator,
                "partition_assignor": assignor,
                "offsets": [r.as_dict() for r in rows],
                "members": members,
            }
        )
        return 0
    print(
        f"Group: {args.group}  State: {state_name(view.state)}  Coordinator: {common.cell(coordinator)}  "
        f"Assignor: {common.cell(assignor)}  Members: {len(members)}"
    )
    print()
    headers = [
        "TOPIC",
        "PARTITION",
        "CURRENT-OFFSET",
        "LOG-END-OFFSET",
        "LAG",
        "CONSUMER-ID",
        "HOST",
        "CLIENT-ID",
    ]
    common.print_table(headers, [list(r.as_dict().values()) for r in rows])
    if members:
        print()
        common.print_table(
            ["CONSUMER-ID", "HOST", "CLIENT-ID", "#PARTITIONS"],
            [[m["consumer_id"], m["host"], m["client_id"], len(m["assignment"])] for m in members],
        )
    return 0


def reset_spec(args: argparse.Namespace) -> ResetSpec:
    if args.to_earliest:
        return ResetSpec(ResetKind.EARLIEST)
    if args.to_latest:
        return ResetSpec(ResetKind.LATEST)
    if args.to_current:
        return ResetSpec(ResetKind.CURRENT)
    if args.to_offset is not None:
        return ResetSpec(ResetKind.OFFSET, args.to_offset)
    if args.shift_by is not None:
        return ResetSpec(ResetKind.SHIFT, args.shift_by)
    if args.to_datetime is not None:
        return ResetSpec(ResetKind.DATETIME, args.to_datetime)
    return ResetSpec(ResetKind.DURATION, args.by_duration)


def reset_partitions(cluster: Cluster, args: argparse.Namespace, view: GroupView) -> list[TP]:
    if args.all_topics:
        existing = [tp for tp in view.committed if tp[0] in cluster.metadata.topics]
        if not existing:
            raise CommandError(f"group '{args.group}' has no committed offsets; name the topics with --topic")
        return sorted(existing)
    chosen: set[TP] = set()
    for topic, wanted in args.topics:
        chosen.update((topic, p) for p in cluster.partitions(topic, wanted))
    return sorted(chosen)


def run_reset(args: argparse.Namespace) -> int:
    spec = reset_spec(args)
    cluster = Cluster(args)
    view = read_group(cluster, args.group)
    if view.active:
        raise CommandError(
            f"cannot reset the offsets of group '{args.group}': it has active members "
            f"(state {state_name(view.state)}); stop its consumers first"
        )
    partitions = reset_partitions(cluster, args, view)
    earliest = cluster.offsets({tp: OffsetSpec.earliest() for tp in partitions})
    latest = cluster.offsets({tp: OffsetSpec.latest() for tp in partitions})
    by_time = None
    if spec.kind.by_time:
        when = spec.timestamp_ms(int(time.time() * 1000))
        by_time = cluster.offsets({tp: OffsetSpec.for_timestamp(when) for tp in partitions})
    try:
        plan = plan_reset(spec, partitions, view.committed, earliest, latest, by_time)
    except PlanError as e:
        raise CommandError(str(e)) from None
    if args.execute:
        commit_plan(cluster, args.group, [TopicPartition(r.topic, r.partition, r.new_offset) for r in plan])
    if args.output == "json":
        common.print_json(
            {"group": args.group, "executed": args.execute, "offsets": [r.as_dict() for r in plan]}
        )
    else:
        common.print_table(
            ["TOPIC", "PARTITION", "NEW-OFFSET"], [[r.topic, r.partition, r.new_offset] for r in plan]
        )
    if not args.execute:
        common.stderr(f"{args.prog}: dry run, nothing changed; add --execute to commit these offsets")
    return 0


def commit_plan(cluster: Cluster, group: str, offsets: list[TopicPartition]) -> None:
    request = [ConsumerGroupTopicPartitions(group, offsets)]
    future = cluster.admin.alter_consumer_group_offsets(request, request_timeout=common.REQUEST_TIMEOUT_S)[
        group
    ]
    answer = common.result(future, f"cannot commit the offsets of group '{group}'")
    for tp in answer.topic_partitions or []:
        if tp.error is not None:
            raise CommandError(
                f"cannot commit the offset of {tp.topic}/{tp.partition} for group '{group}': "
                f"{common.describe_kafka_error(tp.error)}"
            )


def run_delete(args: argparse.Namespace) -> int:
    cluster = Cluster(args)
    future = cluster.admin.delete_consumer_groups([args.group], request_timeout=common.REQUEST_TIMEOUT_S)[
        args.group
    ]
    try:
        future.result()
    except Exception as e:
        err = kafka_error(e)
        if err is not None and err.code() == KafkaError.GROUP_ID_NOT_FOUND:
            raise CommandError(f"unknown group '{args.group}'") from None
        if err is not None and err.code() == KafkaError.NON_EMPTY_GROUP:
            raise CommandError(f"group '{args.group}' has active members; stop its consumers first") from None
        raise CommandError(f"cannot delete group '{args.group}': {common.describe_kafka_error(e)}") from None
    print(f"Deleted group {args.group}.")
    return 0
