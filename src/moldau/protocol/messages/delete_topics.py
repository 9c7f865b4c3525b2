"""DeleteTopics (key 20): versions 1-6, flexible from 4.

Deletes topics by name or, from v6, by topic ID.

Version history:

* v1: the baseline (v0 is gone since Kafka 4.0); the response has a throttle time.
* v2: the broker answers before applying a quota throttle.
* v3: may answer TOPIC_DELETION_DISABLED; no layout change.
* v4: first flexible version.
* v5: per-topic error messages in the response; may answer THROTTLING_QUOTA_EXCEEDED.
* v6: the flat list of names becomes a list of ``{name, topic_id}`` entries where either may
  identify the topic (the name is then nullable); results carry the topic ID.
"""

from __future__ import annotations

import uuid

from moldau.protocol.schema import INT16, INT32, STRING, UUID, Api, Array, field
from moldau.util.datatype import datatype


@datatype(slots=True, kw_only=True)
class DeleteTopicState:
    name: str | None = field(STRING, "6+", nullable="6+", default=None)
    topic_id: uuid.UUID = field(UUID, "6+")


@datatype(slots=True, kw_only=True)
class DeleteTopicsRequest:
    topics: list[DeleteTopicState] = field(Array(DeleteTopicState), "6+")
    topic_names: list[str] = field(Array(STRING), "0-5")
    timeout_ms: int = field(INT32)


@datatype(slots=True, kw_only=True)
class DeletableTopicResult:
    name: str | None = field(STRING, nullable="6+")
    topic_id: uuid.UUID = field(UUID, "6+")
    error_code: int = field(INT16)
    error_message: str | None = field(STRING, "5+", nullable="5+", default=None)


@datatype(slots=True, kw_only=True)
class DeleteTopicsResponse:
    throttle_time_ms: int = field(INT32, "1+")
    responses: list[DeletableTopicResult] = field(Array(DeletableTopicResult))


DELETE_TOPICS = Api(
    key=20,
    name="DeleteTopics",
    request=DeleteTopicsRequest,
    response=DeleteTopicsResponse,
    min_version=1,
    max_version=6,
    flexible_from=4,
)
