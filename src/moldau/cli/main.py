"""The ``moldau`` command line.

``moldau serve`` builds only its own parser: the client commands import confluent-kafka,
which a broker never needs, and start-up time matters for the broker.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from moldau.cli import serve


def build_parser(*, serve_only: bool = False) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="moldau", description="Moldau: a Kafka-compatible event streaming platform"
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    serve.add_parser(sub)
    if serve_only:
        return parser
    from moldau.cli import cluster, configs, consume, groups, perf, produce, topics

    for module in (topics, produce, consume, groups, configs, cluster, perf):
        module.add_parser(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    words = list(sys.argv[1:] if argv is None else argv)
    parser = build_parser(serve_only=words[:1] == ["serve"])
    args = parser.parse_args(words)
    result: int = args.run(args)
    return result


if __name__ == "__main__":
    sys.exit(main())
