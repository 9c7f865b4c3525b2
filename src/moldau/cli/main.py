"""The ``moldau`` command line."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from moldau.cli import cluster, configs, consume, groups, perf, produce, serve, topics


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="moldau", description="Moldau: a Kafka-compatible event streaming platform"
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    serve.add_parser(sub)
    topics.add_parser(sub)
    produce.add_parser(sub)
    consume.add_parser(sub)
    groups.add_parser(sub)
    configs.add_parser(sub)
    cluster.add_parser(sub)
    perf.add_parser(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    result: int = args.run(args)
    return result


if __name__ == "__main__":
    sys.exit(main())
