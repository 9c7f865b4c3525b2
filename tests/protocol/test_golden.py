"""Requests captured from the real clients (see golden/capture.py) decode, re-encode to the
same bytes, and carry what the clients were asked to send."""

from __future__ import annotations

from pathlib import Path

import pytest

from moldau.protocol import codegen
from moldau.protocol.connection import ServerCodec
from moldau.protocol.frames import frame
from moldau.protocol.headers import encode_request_header
from moldau.protocol.messages import all_apis
from moldau.protocol.records.batch import crc_ok, parse_header
from moldau.protocol.records.records import decode_records

GOLDEN = sorted((Path(__file__).parent / "golden").glob("*.bin"))


def _decode(path: Path):  # type: ignore[no-untyped-def]
    codec = ServerCodec(all_apis(), 1 << 20)
    codec.receive_data(frame(path.read_bytes()))
    req = codec.next_request()
    assert req is not None and codec.next_request() is None
    return req


def test_every_client_is_captured() -> None:
    clients = {p.name.split("-")[0] for p in GOLDEN}
    assert clients == {"aiokafka", "confluent", "kafka_python", "kcat"}


@pytest.mark.parametrize("path", GOLDEN, ids=[p.stem for p in GOLDEN])
def test_golden_request_round_trips(path: Path) -> None:
    req = _decode(path)
    api = req.api
    header = encode_request_header(req.header, api.request_header_version(req.version))
    body = codegen.encode(req.body, req.version, api.flexible(req.version))
    assert header + body == path.read_bytes()


@pytest.mark.parametrize("path", [p for p in GOLDEN if "-produce-" in p.name], ids=lambda p: p.stem)
def test_golden_produce_carries_the_record(path: Path) -> None:
    req = _decode(path)
    [topic] = req.body.topic_data
    assert topic.name == "golden"
    [part] = topic.partition_data
    records = bytes(part.records)
    h = parse_header(records)
    assert crc_ok(records, 0, h)
    [record] = decode_records(records)
    assert record.value == b"v"
    if not path.name.startswith("kcat"):
        assert record.key == b"k"
        assert record.timestamp == 1700000000000


@pytest.mark.parametrize("path", [p for p in GOLDEN if "-fetch-" in p.name], ids=lambda p: p.stem)
def test_golden_fetch_asks_for_the_topic(path: Path) -> None:
    req = _decode(path)
    [topic] = req.body.topics
    assert topic.topic == "golden" or req.version >= 13
    assert [p.partition for p in topic.partitions] == [0]
