"""Fixtures for the storage tests: a manual clock, a fault-injecting filesystem, logs on real
files under ``tmp_path``."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from moldau.storage.config import LogConfig
from moldau.storage.log import PartitionLog
from moldau.util.clock import ManualClock

from .helpers import START_MS, TOPIC_ID, FaultyFileSystem


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(START_MS)


@pytest.fixture
def fs() -> FaultyFileSystem:
    return FaultyFileSystem()


@pytest.fixture
def small_config() -> LogConfig:
    """Small segments and a dense index, so a handful of batches exercises rolls and lookups."""
    return LogConfig(segment_bytes=1024, index_interval_bytes=100)


@pytest.fixture
def new_log(fs: FaultyFileSystem, clock: ManualClock, tmp_path: Path) -> Callable[..., PartitionLog]:
    def make(config: LogConfig | None = None, topic: str = "orders", partition: int = 0) -> PartitionLog:
        return PartitionLog.create(
            fs, str(tmp_path), topic, partition, TOPIC_ID, config or LogConfig(), clock
        )

    return make
