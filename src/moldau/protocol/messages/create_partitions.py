"""CreatePartitions (key 37): versions 0-3, flexible from 2.

Raises the partition count of existing topics to ``count``, optionally placing each new
partition on the given brokers (``assignments`` null lets the controller choose).

Version history:

* v0: the baseline.
* v1: the broker answers before applying a quota throttle; no layout change.
* v2: first flexible version.
* v3: may answer THROTTLING_QUOTA_EXCEEDED; no layout change.
"""

from __future__ import annotations

from moldau.protocol.schema import BOOL, INT16, INT32, STRING, Api, Array, field
from moldau.util.datatype import datatype


@datatype(slots=True, kw_only=True)
class CreatePartitionsAssignment:
    broker_ids: list[int] = field(Array(INT32))


@datatype(slots=True, kw_only=True)
class CreatePartitionsTopic:
    name: str = field(STRING)
    count: int = field(INT32)
    assignments: list[CreatePartitionsAssignment] | None = field(
        Array(CreatePartitionsAssignment), nullable="0+"
    )


@datatype(slots=True, kw_only=True)
class CreatePartitionsRequest:
    topics: list[CreatePartitionsTopic] = field(Array(CreatePartitionsTopic))
    timeout_ms: int = field(INT32)
    validate_only: bool = field(BOOL)


@datatype(slots=True, kw_only=True)
class CreatePartitionsTopicResult:
    name: str = field(STRING)
    error_code: int = field(INT16)
    error_message: str | None = field(STRING, nullable="0+", default=None)


@datatype(slots=True, kw_only=True)
class CreatePartitionsResponse:
    throttle_time_ms: int = field(INT32)
    results: list[CreatePartitionsTopicResult] = field(Array(CreatePartitionsTopicResult))


CREATE_PARTITIONS = Api(
    key=37,
    name="CreatePartitions",
    request=CreatePartitionsRequest,
    response=CreatePartitionsResponse,
    min_version=0,
    max_version=3,
    flexible_from=2,
)
