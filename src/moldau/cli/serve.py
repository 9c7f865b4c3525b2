"""``moldau serve``: run a broker in the foreground until SIGTERM/SIGINT."""

from __future__ import annotations

import argparse
import logging
import sys
from typing import Any

from moldau.config.defs import ConfigError


def add_parser(sub: Any) -> None:
    p = sub.add_parser("serve", help="run a broker", description="Run a Moldau broker in the foreground.")
    p.add_argument("--data-dir", help="where the logs live (the broker config log.dirs)")
    p.add_argument("--listeners", help="e.g. PLAINTEXT://127.0.0.1:9092 (comma-separated for several)")
    p.add_argument("--advertised-listeners", help="what clients are told to connect to")
    p.add_argument("--config", metavar="FILE", help="a server.properties file with Kafka broker configs")
    p.add_argument(
        "--override",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="a broker config, applied after --config (repeatable)",
    )
    p.add_argument("--log-level", default="INFO", help="DEBUG, INFO, WARNING or ERROR")
    p.add_argument(
        "--event-loop",
        choices=["auto", "uvloop", "asyncio"],
        default="auto",
        help="uvloop when installed (auto, the default), or the standard library's asyncio loop",
    )
    p.set_defaults(run=run)


def overrides_from_args(args: argparse.Namespace) -> dict[str, str]:
    overrides: dict[str, str] = {}
    for item in args.override:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise ConfigError(item, None, "expected KEY=VALUE after --override")
        overrides[key.strip()] = value.strip()
    if args.data_dir:
        overrides["log.dirs"] = args.data_dir
    if args.listeners:
        overrides["listeners"] = args.listeners
    if args.advertised_listeners:
        overrides["advertised.listeners"] = args.advertised_listeners
    return overrides


def run(args: argparse.Namespace) -> int:
    logging.basicConfig(
        level=args.log_level.upper(),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    from moldau.broker import server
    from moldau.config.broker import BrokerConfig

    try:
        config = BrokerConfig.load(args.config, overrides_from_args(args))
    except ConfigError as e:
        print(f"moldau serve: {e}", file=sys.stderr)
        return 2
    except OSError as e:
        print(f"moldau serve: cannot read config file: {e}", file=sys.stderr)
        return 2
    try:
        server.main(config, args.event_loop)
    except KeyboardInterrupt:
        pass
    except ImportError as e:
        print(
            f"moldau serve: --event-loop {args.event_loop}: {e}; install it or use another loop",
            file=sys.stderr,
        )
        return 2
    except OSError as e:
        print(f"moldau serve: {e}", file=sys.stderr)
        return 1
    return 0
