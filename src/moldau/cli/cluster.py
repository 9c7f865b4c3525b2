"""``moldau cluster describe``: the cluster id, the controller and the brokers.

DescribeCluster answers with racks; a cluster that does not serve it is described from the
Metadata answer instead.
"""

from __future__ import annotations

import argparse
from typing import Any

from confluent_kafka import KafkaError

from moldau.cli import common
from moldau.cli.common import Cluster, kafka_error

_UNSUPPORTED = {KafkaError._UNSUPPORTED_FEATURE, KafkaError.UNSUPPORTED_VERSION, KafkaError.INVALID_REQUEST}


def add_parser(sub: Any) -> None:
    p = sub.add_parser("cluster", help="describe the cluster")
    actions = p.add_subparsers(dest="action", metavar="ACTION", required=True)
    common.add_command(
        actions, "describe", run_describe, "show the cluster id, the controller and the brokers", output=True
    )


def describe(cluster: Cluster) -> dict[str, Any]:
    future = cluster.admin.describe_cluster(request_timeout=common.REQUEST_TIMEOUT_S)
    try:
        answer = future.result()
    except Exception as e:
        err = kafka_error(e)
        if err is None or err.code() not in _UNSUPPORTED:
            raise
        md = cluster.metadata
        return {
            "cluster_id": md.cluster_id,
            "controller": md.controller_id if md.controller_id >= 0 else None,
            "brokers": [
                {"id": b.id, "host": b.host, "port": b.port, "rack": None}
                for b in sorted(md.brokers.values(), key=lambda b: b.id)
            ],
        }
    return {
        "cluster_id": answer.cluster_id,
        "controller": answer.controller.id if answer.controller is not None else None,
        "brokers": [
            {"id": n.id, "host": n.host, "port": n.port, "rack": n.rack or None}
            for n in sorted(answer.nodes, key=lambda n: n.id)
        ],
    }


def run_describe(args: argparse.Namespace) -> int:
    info = describe(Cluster(args))
    if args.output == "json":
        common.print_json(info)
        return 0
    print(f"Cluster ID: {common.cell(info['cluster_id'])}")
    print(f"Controller: {common.cell(info['controller'])}")
    print()
    common.print_table(
        ["BROKER", "HOST", "PORT", "RACK", "CONTROLLER"],
        [
            [b["id"], b["host"], b["port"], b["rack"], "yes" if b["id"] == info["controller"] else ""]
            for b in info["brokers"]
        ],
    )
    return 0
