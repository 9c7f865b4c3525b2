"""DescribeLogDirs (key 35): versions 1-4, flexible from 2.

Lists a broker's log directories and, for the requested partitions (``topics`` null means
all), each replica's size on disk, its lag behind the log end, and whether it is the future
replica of an in-progress move between directories.

Version history:

* v1: the baseline (v0 is gone since Kafka 4.0); the broker answers before applying a quota
  throttle.
* v2: first flexible version.
* v3: a top-level ``error_code`` in the response.
* v4: each directory reports its ``total_bytes`` and ``usable_bytes`` (-1 when unknown).
"""

from __future__ import annotations

from moldau.protocol.schema import BOOL, INT16, INT32, INT64, STRING, Api, Array, field
from moldau.util.datatype import datatype


@datatype(slots=True, kw_only=True)
class DescribableLogDirTopic:
    topic: str = field(STRING)
    partitions: list[int] = field(Array(INT32))


@datatype(slots=True, kw_only=True)
class DescribeLogDirsRequest:
    topics: list[DescribableLogDirTopic] | None = field(Array(DescribableLogDirTopic), nullable="0+")


@datatype(slots=True, kw_only=True)
class DescribeLogDirsPartition:
    partition_index: int = field(INT32)
    partition_size: int = field(INT64)
    offset_lag: int = field(INT64)
    is_future_key: bool = field(BOOL)


@datatype(slots=True, kw_only=True)
class DescribeLogDirsTopic:
    name: str = field(STRING)
    partitions: list[DescribeLogDirsPartition] = field(Array(DescribeLogDirsPartition))


@datatype(slots=True, kw_only=True)
class DescribeLogDirsResult:
    error_code: int = field(INT16)
    log_dir: str = field(STRING)
    topics: list[DescribeLogDirsTopic] = field(Array(DescribeLogDirsTopic))
    total_bytes: int = field(INT64, "4+", default=-1)
    usable_bytes: int = field(INT64, "4+", default=-1)


@datatype(slots=True, kw_only=True)
class DescribeLogDirsResponse:
    throttle_time_ms: int = field(INT32)
    error_code: int = field(INT16, "3+")
    results: list[DescribeLogDirsResult] = field(Array(DescribeLogDirsResult))


DESCRIBE_LOG_DIRS = Api(
    key=35,
    name="DescribeLogDirs",
    request=DescribeLogDirsRequest,
    response=DescribeLogDirsResponse,
    min_version=1,
    max_version=4,
    flexible_from=2,
)
