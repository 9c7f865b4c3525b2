"""The pure parts of the command line, in process: offset arithmetic, parsing, formatting."""

from __future__ import annotations

import argparse
from datetime import datetime

import pytest
from confluent_kafka import KafkaError

from moldau.cli import common, consume, groups, timespec
from moldau.cli.group_offsets import Member, PlanError, ResetKind, ResetSpec, lag_rows, plan_reset

T0, T1 = ("t", 0), ("t", 1)


def test_lag_rows() -> None:
    alice = Member("alice-1", "/10.0.0.1", "alice")
    rows = lag_rows(committed={T0: 3, ("u", 0): 7}, log_end={T0: 5, T1: 9, ("u", 0): 7}, owners={T1: alice})
    assert [(r.topic, r.partition, r.current_offset, r.log_end_offset, r.lag, r.member) for r in rows] == [
        ("t", 0, 3, 5, 2, None),
        ("t", 1, None, 9, None, alice),  # owned, nothing committed yet: no lag figure
        ("u", 0, 7, 7, 0, None),
    ]
    assert rows[1].as_dict()["client_id"] == "alice"


def test_lag_without_log_end() -> None:
    (row,) = lag_rows(committed={T0: 3}, log_end={}, owners={})
    assert (row.log_end_offset, row.lag) == (None, None)


def plan(
    spec: ResetSpec, by_time: dict[tuple[str, int], int] | None = None
) -> list[tuple[int, int | None, int]]:
    rows = plan_reset(
        spec, [T1, T0], {T0: 5}, earliest={T0: 2, T1: 0}, latest={T0: 10, T1: 4}, by_time=by_time
    )
    return [(r.partition, r.current_offset, r.new_offset) for r in rows]


def test_plan_reset() -> None:
    assert plan(ResetSpec(ResetKind.EARLIEST)) == [(0, 5, 2), (1, None, 0)]
    assert plan(ResetSpec(ResetKind.LATEST)) == [(0, 5, 10), (1, None, 4)]
    # Clamped into [earliest, latest].
    assert plan(ResetSpec(ResetKind.OFFSET, 3)) == [(0, 5, 3), (1, None, 3)]
    assert plan(ResetSpec(ResetKind.OFFSET, 1)) == [(0, 5, 2), (1, None, 1)]
    assert plan(ResetSpec(ResetKind.OFFSET, 99)) == [(0, 5, 10), (1, None, 4)]
    # -1: no record at or after that time, so the log end.
    assert plan(ResetSpec(ResetKind.DATETIME, 0), by_time={T0: 7, T1: -1}) == [(0, 5, 7), (1, None, 4)]


def test_plan_shift() -> None:
    rows = plan_reset(ResetSpec(ResetKind.SHIFT, -4), [T0], {T0: 5}, {T0: 2}, {T0: 10})
    assert rows[0].new_offset == 2
    rows = plan_reset(ResetSpec(ResetKind.SHIFT, 3), [T0], {T0: 5}, {T0: 2}, {T0: 10})
    assert rows[0].new_offset == 8
    with pytest.raises(PlanError, match="no committed offset"):
        plan(ResetSpec(ResetKind.SHIFT, 1))


def test_plan_current() -> None:
    # A committed offset stays; a partition without one gets the log end.
    assert plan(ResetSpec(ResetKind.CURRENT)) == [(0, 5, 5), (1, None, 4)]
    # Not clamped, as Kafka's --to-current: the committed offset is kept even if out of range.
    rows = plan_reset(ResetSpec(ResetKind.CURRENT), [T0], {T0: 1}, {T0: 2}, {T0: 10})
    assert rows[0].new_offset == 1


def test_reset_spec_timestamps() -> None:
    assert ResetSpec(ResetKind.DATETIME, 1234).timestamp_ms(now_ms=10_000) == 1234
    assert ResetSpec(ResetKind.DURATION, 600_000).timestamp_ms(now_ms=1_000_000) == 400_000
    with pytest.raises(ValueError):
        ResetSpec(ResetKind.EARLIEST).timestamp_ms(0)


def test_instants() -> None:
    assert timespec.instant_ms("1970-01-01T00:00:01Z") == 1000
    assert timespec.instant_ms("2024-05-01T14:00:00.250+02:00") == 1714564800250
    assert timespec.instant_ms("1714564800250") == 1714564800250
    # No zone: local time.
    assert timespec.instant_ms("2024-05-01T12:00:00") == round(datetime(2024, 5, 1, 12).timestamp() * 1000)
    for bad in ("yesterday", "2024-13-01", ""):
        with pytest.raises(argparse.ArgumentTypeError):
            timespec.instant_ms(bad)


def test_durations() -> None:
    assert timespec.duration_ms("PT10M") == 600_000
    assert timespec.duration_ms("P1DT2H") == 93_600_000
    assert timespec.duration_ms("pt0.5s") == 500
    assert timespec.duration_ms("P2W") == 1_209_600_000
    for bad in ("10M", "P", "PT", "P1H", "PT1D", "-PT1M"):
        with pytest.raises(argparse.ArgumentTypeError):
            timespec.duration_ms(bad)


def test_render_table() -> None:
    text = common.render_table(["A", "LONGER"], [["wide value", 1], [None, [1, 2]], ["x", []]])
    assert text.splitlines() == [
        "A           LONGER",
        "wide value  1",
        "-           1,2",
        "x           -",
    ]


def test_key_value() -> None:
    assert common.key_value("a=b=c") == ("a", "b=c")
    assert common.key_value("empty=") == ("empty", "")
    for bad in ("novalue", "=x"):
        with pytest.raises(argparse.ArgumentTypeError):
            common.key_value(bad)


def test_topic_partitions() -> None:
    assert groups.topic_partitions("orders") == ("orders", None)
    assert groups.topic_partitions("orders:0,2") == ("orders", (0, 2))
    for bad in (":1", "orders:", "orders:a", "orders:-1"):
        with pytest.raises(argparse.ArgumentTypeError):
            groups.topic_partitions(bad)


def test_templates() -> None:
    assert consume.template(r"{key}\t{value}\\n") == "{key}\t{value}\\n"
    assert consume.template("{partition:>3}:{offset}") == "{partition:>3}:{offset}"
    for bad in ("{nope}", "{", "{}"):
        with pytest.raises(argparse.ArgumentTypeError):
            consume.template(bad)


def test_start_offsets() -> None:
    assert consume.start_offset("earliest") < 0 and consume.start_offset("latest") < 0
    assert consume.start_offset("42") == 42
    with pytest.raises(argparse.ArgumentTypeError):
        consume.start_offset("-3")


def test_unreachable_reason() -> None:
    refused = KafkaError(
        KafkaError._TRANSPORT,
        "127.0.0.1:1/bootstrap: Connect to ipv4#127.0.0.1:1 failed: Connection refused "
        "(after 0ms in state CONNECT)",
    )
    assert common._unreachable_reason(refused) == "Connection refused"
    unresolved = KafkaError(
        KafkaError._RESOLVE,
        "nohost:9092/bootstrap: Failed to resolve 'nohost:9092': Name or service not known "
        "(after 1ms in state CONNECT)",
    )
    assert (
        common._unreachable_reason(unresolved) == "Failed to resolve 'nohost:9092': Name or service not known"
    )


def test_error_descriptions() -> None:
    assert common.describe_kafka_error(
        KafkaError(KafkaError._TRANSPORT, "Local: Broker transport failure")
    ) == ("Local: Broker transport failure")
    described = common.describe_kafka_error(
        KafkaError(KafkaError.INVALID_CONFIG, "Unknown topic config name: x")
    )
    assert described == "Unknown topic config name: x (INVALID_CONFIG)"
