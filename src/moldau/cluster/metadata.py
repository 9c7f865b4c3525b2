"""The metadata image: brokers, topics, partitions, topic configs and dynamic broker configs.

On a single node the image is the whole truth and lives in one JSON file in the first data
directory (``LocalMetadataStore``), replaced atomically on every change. A partition already
carries what replication needs (leader, leader epoch, replicas, ISR) so a cluster can later
fill the same image from ZooKeeper.

Dynamic broker configs are kept per BROKER config resource name, as text: ``""`` for the
cluster-wide defaults, ``"<id>"`` for one broker (see ``moldau.config.dynamic``). A resource
without any dynamic config has no entry.

File layout (``moldau-metadata.json``)::

    {"version": 1, "cluster_id": "...", "producer_id_block_end": 0,
     "topics": {"<name>": {"id": "<uuid>", "configs": {"k": "v"},
                           "partitions": [{"replicas": [1], "isr": [1], "leader": 1,
                                           "leader_epoch": 0}, ...]}},
     "broker_configs": {"": {"log.retention.ms": "3600000"}, "1": {"max.connections": "100"}}}

``broker_configs`` may be missing (files written before it existed); it then reads as empty.
"""

from __future__ import annotations

import json
import os
import re
import uuid
from dataclasses import field

from moldau.protocol.errors import ErrorCode, KafkaError
from moldau.util.datatype import datatype

_LEGAL_TOPIC = re.compile(r"^[a-zA-Z0-9._-]+$")
MAX_TOPIC_NAME = 249
INTERNAL_TOPICS = frozenset({"__consumer_offsets", "__transaction_state"})


def validate_topic_name(name: str) -> None:
    """Kafka's rules: 1-249 chars of [a-zA-Z0-9._-], not '.' or '..'."""
    if not name:
        raise KafkaError(ErrorCode.INVALID_TOPIC_EXCEPTION, "Topic name is illegal, it can't be empty")
    if name in (".", ".."):
        raise KafkaError(ErrorCode.INVALID_TOPIC_EXCEPTION, 'Topic name cannot be "." or ".."')
    if len(name) > MAX_TOPIC_NAME:
        raise KafkaError(
            ErrorCode.INVALID_TOPIC_EXCEPTION,
            f"Topic name is illegal, it can't be longer than {MAX_TOPIC_NAME} characters",
        )
    if not _LEGAL_TOPIC.match(name):
        raise KafkaError(
            ErrorCode.INVALID_TOPIC_EXCEPTION,
            f"Topic name {name} is illegal, it contains a character other than "
            "ASCII alphanumerics, '.', '_' and '-'",
        )


@datatype(slots=True)
class PartitionInfo:
    replicas: list[int]
    isr: list[int]
    leader: int
    leader_epoch: int = 0


@datatype(slots=True)
class TopicInfo:
    name: str
    topic_id: uuid.UUID
    partitions: list[PartitionInfo]
    configs: dict[str, str] = field(default_factory=dict)

    @property
    def internal(self) -> bool:
        return self.name in INTERNAL_TOPICS


@datatype(frozen=True, slots=True)
class BrokerEndpoint:
    node_id: int
    host: str
    port: int
    listener: str = "PLAINTEXT"
    rack: str | None = None


class MetadataImage:
    """Topics by name and by id, the brokers, and the dynamic broker configs. Mutated only
    through its methods."""

    def __init__(self, cluster_id: str) -> None:
        self.cluster_id = cluster_id
        self.controller_id = -1
        self.producer_id_block_end = 0
        self.brokers: dict[int, BrokerEndpoint] = {}
        self.topics: dict[str, TopicInfo] = {}
        self.topics_by_id: dict[uuid.UUID, TopicInfo] = {}
        self.broker_configs: dict[str, dict[str, str]] = {}

    def broker_config(self, resource: str) -> dict[str, str]:
        """The dynamic configs of a BROKER resource (``""``: cluster-wide), as a copy."""
        return dict(self.broker_configs.get(resource, {}))

    def set_broker_config(self, resource: str, configs: dict[str, str]) -> None:
        """Replace the dynamic configs of a BROKER resource; an empty map removes the entry."""
        if configs:
            self.broker_configs[resource] = dict(configs)
        else:
            self.broker_configs.pop(resource, None)

    def add_topic(self, topic: TopicInfo) -> None:
        self.topics[topic.name] = topic
        self.topics_by_id[topic.topic_id] = topic

    def remove_topic(self, name: str) -> TopicInfo:
        topic = self.topics.pop(name)
        self.topics_by_id.pop(topic.topic_id, None)
        return topic

    def topic(self, name: str) -> TopicInfo | None:
        return self.topics.get(name)

    def to_json(self) -> dict[str, object]:
        return {
            "version": 1,
            "cluster_id": self.cluster_id,
            "producer_id_block_end": self.producer_id_block_end,
            "topics": {
                t.name: {
                    "id": str(t.topic_id),
                    "configs": t.configs,
                    "partitions": [
                        {
                            "replicas": p.replicas,
                            "isr": p.isr,
                            "leader": p.leader,
                            "leader_epoch": p.leader_epoch,
                        }
                        for p in t.partitions
                    ],
                }
                for t in self.topics.values()
            },
            "broker_configs": {name: dict(configs) for name, configs in self.broker_configs.items()},
        }

    @classmethod
    def from_json(cls, data: dict[str, object]) -> MetadataImage:
        if data.get("version") != 1:
            raise ValueError(f"unsupported metadata file version {data.get('version')!r}")
        image = cls(str(data["cluster_id"]))
        image.producer_id_block_end = int(data.get("producer_id_block_end", 0))  # type: ignore[call-overload]
        topics = data.get("topics", {})
        assert isinstance(topics, dict)
        for name, t in topics.items():
            image.add_topic(
                TopicInfo(
                    name=name,
                    topic_id=uuid.UUID(t["id"]),
                    configs=dict(t.get("configs", {})),
                    partitions=[PartitionInfo(**p) for p in t["partitions"]],
                )
            )
        broker_configs = data.get("broker_configs", {})
        assert isinstance(broker_configs, dict)
        for name, configs in broker_configs.items():
            image.set_broker_config(str(name), {str(k): str(v) for k, v in configs.items()})
        return image


METADATA_FILE = "moldau-metadata.json"


class LocalMetadataStore:
    """Persists the image of a single node atomically (write temp, fsync, rename, fsync dir)."""

    def __init__(self, directory: str) -> None:
        self.path = os.path.join(directory, METADATA_FILE)

    def load(self) -> MetadataImage | None:
        try:
            with open(self.path, encoding="utf-8") as f:
                data = json.load(f)
        except FileNotFoundError:
            return None
        except (OSError, ValueError) as e:
            raise RuntimeError(
                f"cannot read cluster metadata {self.path}: {e}; restore it from a backup or move it away"
            ) from e
        return MetadataImage.from_json(data)

    def save(self, image: MetadataImage) -> None:
        tmp = self.path + ".tmp"
        with open(tmp, "w", encoding="utf-8") as f:
            json.dump(image.to_json(), f, separators=(",", ":"))
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, self.path)
        dfd = os.open(os.path.dirname(self.path) or ".", os.O_RDONLY)
        try:
            os.fsync(dfd)
        finally:
            os.close(dfd)
