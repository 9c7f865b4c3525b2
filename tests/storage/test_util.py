"""The utilities the storage layer stands on: clocks, the filesystem adapter, LogConfig."""

from __future__ import annotations

import os
import time

import pytest

from moldau.storage.config import LONG_MAX, LogConfig
from moldau.util.clock import ManualClock, SystemClock
from moldau.util.fs import LOCAL
from moldau.util.uuids import random_uuid_str, uuid_from_str


def test_manual_clock():
    clock = ManualClock(1000, 5)
    clock.advance(10)
    assert (clock.time_ms(), clock.monotonic_ms()) == (1010, 15)
    clock.set_time_ms(0)
    assert (clock.time_ms(), clock.monotonic_ms()) == (0, 15)
    with pytest.raises(ValueError):
        clock.advance(-1)


def test_system_clock():
    clock = SystemClock()
    assert abs(clock.time_ms() - time.time() * 1000) < 1000
    first = clock.monotonic_ms()
    assert clock.monotonic_ms() >= first


def test_positioned_io_and_atomic_write(tmp_path):
    path = str(tmp_path / "f")
    fd = LOCAL.open(path, create=True)
    try:
        LOCAL.pwrite(fd, b"hello world", 0)
        LOCAL.pwrite(fd, b"W", 6)
        assert LOCAL.pread(fd, 100, 0) == b"hello World"
        LOCAL.truncate(fd, 5)
        assert LOCAL.size(fd) == LOCAL.path_size(path) == 5
    finally:
        LOCAL.close(fd)
    LOCAL.write_atomic(path, b"replaced")
    assert LOCAL.read_file(path) == b"replaced"
    assert os.listdir(tmp_path) == ["f"]
    with pytest.raises(FileNotFoundError):
        LOCAL.open(str(tmp_path / "missing"))


def test_random_uuid_text():
    text = random_uuid_str()
    assert len(text) == 22 and not text.startswith("-")
    uuid_from_str(text)


def test_log_config_defaults_are_kafkas():
    c = LogConfig()
    assert (c.segment_bytes, c.segment_ms, c.index_interval_bytes, c.segment_index_bytes) == (
        1073741824,
        604800000,
        4096,
        10485760,
    )
    assert (c.max_message_bytes, c.flush_interval_messages, c.flush_interval_ms) == (
        1048588,
        LONG_MAX,
        LONG_MAX,
    )
    assert (c.retention_ms, c.retention_bytes, c.file_delete_delay_ms) == (604800000, -1, 60000)
    assert (c.message_timestamp_type, c.cleanup_policy, c.preallocate) == ("CreateTime", "delete", False)
    assert not c.log_append_time


@pytest.mark.parametrize(
    "kwargs",
    [
        {"segment_bytes": 0},
        {"index_interval_bytes": -1},
        {"segment_index_bytes": 8},
        {"flush_interval_messages": 0},
        {"message_timestamp_type": "WallClock"},
        {"cleanup_policy": "delete,shred"},
        {"retention_ms": -2},
    ],
)
def test_log_config_refuses_unworkable_values(kwargs):
    with pytest.raises(ValueError):
        LogConfig(**kwargs)


def test_log_config_accepts_both_cleanup_policies():
    assert LogConfig(cleanup_policy="compact,delete").cleanup_policy == "compact,delete"
