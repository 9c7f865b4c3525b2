"""What the client commands share: connection options, the cluster handle, output and errors.

Every client command (``topics``, ``produce``, ``consume``, ``groups``, ``configs``,
``cluster``) talks to the cluster through confluent-kafka, so it works against any
Kafka-compatible cluster. The contract with the user is the same everywhere:

- ``--bootstrap-server HOST:PORT`` (default ``localhost:9092``), ``--connect-timeout`` and
  ``-X KEY=VALUE`` for any librdkafka client property (security settings, debug, ...).
- Results go to stdout, as an aligned table for people or ``--output json`` for scripts.
- A failure is one line on stderr, ``<prog>: <what failed>``, never a traceback. Usage errors
  exit 2 (argparse's convention), operational errors exit 1.

``command`` wraps a command's ``run`` function to enforce the last point; commands report a
failure by raising ``CommandError`` (or ``UsageError``). ``Cluster`` opens the AdminClient,
waits for the first metadata answer (so an unreachable broker is reported as such within a few
seconds instead of after librdkafka's long timeouts) and builds producers and consumers with
the same client configuration.
"""

from __future__ import annotations

import argparse
import functools
import json
import os
import re
import sys
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import Future
from typing import Any, TypeVar

from confluent_kafka import Consumer, KafkaError, KafkaException, Producer, TopicPartition
from confluent_kafka.admin import AdminClient, ClusterMetadata, OffsetSpec, TopicMetadata

DEFAULT_BOOTSTRAP = "localhost:9092"
DEFAULT_CONNECT_TIMEOUT_S = 10.0
# A refused connection or an unresolvable name fails fast, after this grace period (a broker
# that is still starting gets that long to open its port).
UNREACHABLE_GRACE_S = 1.0
# Admin requests after the connection is established.
REQUEST_TIMEOUT_S = 30.0

_UNREACHABLE_CODES = {KafkaError._ALL_BROKERS_DOWN, KafkaError._RESOLVE}
_TRANSPORT_CODES = {
    KafkaError._TRANSPORT,
    KafkaError._TIMED_OUT,
    KafkaError._ALL_BROKERS_DOWN,
    KafkaError._RESOLVE,
}

# Authentication and TLS failures: retrying will not help, so they are reported at once.
_REFUSED_CODES = {KafkaError._AUTHENTICATION, KafkaError._SSL, KafkaError.SASL_AUTHENTICATION_FAILED}

T = TypeVar("T")


class CommandError(Exception):
    """An operational failure: printed as ``<prog>: <message>``, exit code 1."""


class UsageError(CommandError):
    """A combination of arguments that argparse alone cannot reject: exit code 2."""


# -- argument parsing --------------------------------------------------------------------------


def key_value(text: str) -> tuple[str, str]:
    """argparse type for ``KEY=VALUE`` (the value may be empty, the key may not)."""
    key, sep, value = text.partition("=")
    if not sep or not key.strip():
        raise argparse.ArgumentTypeError(f"expected KEY=VALUE, got {text!r}")
    return key.strip(), value


def non_negative_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"expected a number >= 0, got {value}")
    return value


def positive_int(text: str) -> int:
    value = non_negative_int(text)
    if value == 0:
        raise argparse.ArgumentTypeError("expected a number >= 1, got 0")
    return value


def add_connection_args(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("connection")
    g.add_argument(
        "--bootstrap-server",
        default=DEFAULT_BOOTSTRAP,
        metavar="HOST:PORT",
        help=f"a broker to bootstrap from, or several separated by commas (default {DEFAULT_BOOTSTRAP})",
    )
    g.add_argument(
        "--connect-timeout",
        type=float,
        default=DEFAULT_CONNECT_TIMEOUT_S,
        metavar="SECONDS",
        help=f"give up when no broker answers within this time (default {DEFAULT_CONNECT_TIMEOUT_S:g})",
    )
    g.add_argument(
        "-X",
        "--client-property",
        dest="client_properties",
        type=key_value,
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="a librdkafka client property, e.g. security.protocol=SASL_SSL (repeatable)",
    )


def add_output_arg(p: argparse.ArgumentParser, choices: Sequence[str] = ("table", "json")) -> None:
    p.add_argument(
        "--output",
        choices=choices,
        default=choices[0],
        help=f"{' or '.join(choices)} (default {choices[0]})",
    )


def add_command(
    sub: Any,
    name: str,
    run: Callable[[argparse.Namespace], int],
    help: str,
    *,
    output: bool = False,
) -> argparse.ArgumentParser:
    """A leaf subcommand that talks to a cluster: connection options, error handling, output."""
    p: argparse.ArgumentParser = sub.add_parser(
        name, help=help, description=help[:1].upper() + help[1:] + "."
    )
    add_connection_args(p)
    if output:
        add_output_arg(p)
    p.set_defaults(run=command(run), prog=p.prog)
    return p


# -- running a command -------------------------------------------------------------------------


def command(run: Callable[[argparse.Namespace], int]) -> Callable[[argparse.Namespace], int]:
    """Turn every way a command can fail into one line on stderr and an exit code."""

    @functools.wraps(run)
    def guarded(args: argparse.Namespace) -> int:
        prog = getattr(args, "prog", "moldau")
        try:
            return run(args)
        except UsageError as e:
            print(f"{prog}: error: {e}", file=sys.stderr)
            return 2
        except CommandError as e:
            print(f"{prog}: {e}", file=sys.stderr)
            return 1
        except KafkaException as e:
            print(f"{prog}: {describe_kafka_error(e)}", file=sys.stderr)
            return 1
        except KeyboardInterrupt:
            return 130
        except BrokenPipeError:
            # The reader went away (``| head``): stop quietly, and keep Python from complaining
            # when it flushes stdout at exit.
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, sys.stdout.fileno())
            return 141
        except Exception as e:
            if os.environ.get("MOLDAU_DEBUG"):
                raise
            print(
                f"{prog}: unexpected error: {type(e).__name__}: {e} (set MOLDAU_DEBUG=1 for details)",
                file=sys.stderr,
            )
            return 1

    return guarded


def kafka_error(e: BaseException) -> KafkaError | None:
    if isinstance(e, KafkaException) and e.args and isinstance(e.args[0], KafkaError):
        return e.args[0]
    return None


def describe_kafka_error(e: BaseException | KafkaError) -> str:
    """A KafkaError as text a person can act on: the message and, for broker errors, the code."""
    err = e if isinstance(e, KafkaError) else kafka_error(e)
    if err is None:
        return str(e)
    text = err.str().removeprefix("Broker: ")
    name = err.name()
    if name.startswith("_") or name.lower().replace("_", " ") == text.lower():
        return text
    return f"{text} ({name})"


def result(future: Future[T], what: str) -> T:
    """Wait for an admin future; a failure becomes ``CommandError("<what>: <reason>")``."""
    try:
        return future.result()
    except KafkaException as e:
        raise CommandError(f"{what}: {describe_kafka_error(e)}") from None


# -- the cluster -------------------------------------------------------------------------------


def base_config(args: argparse.Namespace) -> dict[str, Any]:
    """The librdkafka configuration every client of one command starts from."""
    return {
        "bootstrap.servers": args.bootstrap_server,
        "client.id": "moldau-cli",
        # librdkafka would otherwise log every failed connection attempt to stderr; the
        # commands report failures themselves. ``-X log_level=7`` brings the logs back.
        "log_level": 0,
    }


def _unreachable_reason(err: KafkaError) -> str:
    """'Connection refused' out of librdkafka's '<broker>: Connect to <addr> failed: ...'."""
    text = re.sub(r"\s*\(after \d+ms in state \w+\)$", "", err.str())
    text = re.sub(r"^\S+/(?:bootstrap|\d+): ", "", text)
    _, sep, tail = text.partition(" failed: ")
    return tail if sep else text


class Cluster:
    """One command's view of a cluster: an AdminClient that has answered a metadata request.

    Built once per command; ``metadata`` is the answer of that first request (topics,
    partitions, leaders, replicas, brokers). Producers and consumers made here share the
    client configuration, so ``-X`` properties reach them too.
    """

    def __init__(self, args: argparse.Namespace) -> None:
        self.bootstrap: str = args.bootstrap_server
        self._base = base_config(args)
        self._user = dict(args.client_properties)
        self._errors: list[KafkaError] = []
        admin_config: dict[str, Any] = {**self._base, "error_cb": self._errors.append, **self._user}
        self.admin = AdminClient(admin_config)
        self.metadata = self._wait_for_metadata(float(args.connect_timeout))

    def _wait_for_metadata(self, timeout: float) -> ClusterMetadata:
        started = time.monotonic()
        deadline = started + max(timeout, 0.1)
        while True:
            try:
                metadata: ClusterMetadata = self.admin.list_topics(timeout=0.5)
                return metadata
            except KafkaException as e:
                err = kafka_error(e)
                if err is None or err.code() not in _TRANSPORT_CODES:
                    raise CommandError(
                        f"cannot read metadata from {self.bootstrap}: {describe_kafka_error(e)}"
                    ) from None
            self.admin.poll(0)
            now = time.monotonic()
            for err in self._errors:
                if err.code() in _REFUSED_CODES:
                    raise CommandError(f"cannot connect to {self.bootstrap}: {describe_kafka_error(err)}")
            down = any(err.code() in _UNREACHABLE_CODES for err in self._errors)
            if now >= deadline or (down and now - started >= UNREACHABLE_GRACE_S):
                causes = [e for e in self._errors if e.code() in (KafkaError._TRANSPORT, KafkaError._RESOLVE)]
                cause = _unreachable_reason(causes[-1]) if causes else f"no answer within {timeout:g} s"
                raise CommandError(f"cannot reach broker at {self.bootstrap} ({cause})")

    # -- topics --

    def topic(self, name: str) -> TopicMetadata:
        """The topic's metadata, or ``CommandError("unknown topic 'NAME'")``."""
        topic: TopicMetadata | None = self.metadata.topics.get(name)
        if topic is None or (
            topic.error is not None and topic.error.code() == KafkaError.UNKNOWN_TOPIC_OR_PART
        ):
            raise CommandError(f"unknown topic '{name}'")
        if topic.error is not None and not topic.partitions:
            raise CommandError(f"topic '{name}': {describe_kafka_error(topic.error)}")
        return topic

    def partitions(self, name: str, wanted: Iterable[int] | None = None) -> list[int]:
        """The topic's partition ids (all of them, or the wanted ones after checking they exist)."""
        existing = sorted(self.topic(name).partitions)
        if wanted is None:
            return existing
        chosen = sorted(set(wanted))
        missing = [p for p in chosen if p not in existing]
        if missing:
            raise CommandError(
                f"topic '{name}' has no partition {missing[0]} (it has {len(existing)} partitions, "
                f"0 to {len(existing) - 1})"
            )
        return chosen

    def offsets(
        self, specs: Mapping[tuple[str, int], OffsetSpec], *, missing_ok: bool = False
    ) -> dict[tuple[str, int], int]:
        """ListOffsets for many partitions at once: {(topic, partition): offset}.

        For a timestamp spec the offset is -1 when no record has a timestamp at or after it.
        A partition whose lookup fails is an error, or left out with ``missing_ok``.
        """
        if not specs:
            return {}
        futures = self.admin.list_offsets(
            {TopicPartition(t, p): spec for (t, p), spec in specs.items()},
            request_timeout=REQUEST_TIMEOUT_S,
        )
        answer: dict[tuple[str, int], int] = {}
        for tp, future in futures.items():
            if missing_ok and future.exception() is not None:
                continue
            info = result(future, f"cannot list offsets of {tp.topic}/{tp.partition}")
            answer[(tp.topic, tp.partition)] = int(info.offset)
        return answer

    # -- clients --

    def config(self, extra: Mapping[str, Any]) -> dict[str, Any]:
        """The command's own settings over the shared ones, and ``-X`` properties over both."""
        return {**self._base, **extra, **self._user}

    def producer(self, extra: Mapping[str, Any]) -> Producer:
        return Producer(self.config(extra))

    def consumer(self, extra: Mapping[str, Any]) -> Consumer:
        return Consumer(self.config(extra))


# -- output ------------------------------------------------------------------------------------


def cell(value: object) -> str:
    """A table cell: None is '-', lists are comma-separated."""
    if value is None:
        return "-"
    if isinstance(value, list | tuple):
        return ",".join(str(v) for v in value) if value else "-"
    return str(value)


def render_table(headers: Sequence[str], rows: Iterable[Sequence[object]]) -> str:
    """Left-aligned columns separated by two spaces, the way kafka-* tools print them."""
    text_rows = [[cell(v) for v in row] for row in rows]
    widths = [len(h) for h in headers]
    for row in text_rows:
        for i, value in enumerate(row):
            widths[i] = max(widths[i], len(value))
    lines = []
    for row in [list(headers), *text_rows]:
        lines.append("  ".join(v.ljust(w) for v, w in zip(row, widths, strict=True)).rstrip())
    return "\n".join(lines)


def print_table(headers: Sequence[str], rows: Iterable[Sequence[object]]) -> None:
    print(render_table(headers, rows))


def print_json(value: object) -> None:
    json.dump(value, sys.stdout, indent=2)
    sys.stdout.write("\n")


def stderr(message: str) -> None:
    print(message, file=sys.stderr)
