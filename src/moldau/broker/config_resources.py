"""Config resources as DescribeConfigs, AlterConfigs and IncrementalAlterConfigs name them."""

from __future__ import annotations

from collections.abc import Callable

from moldau.broker.core import Broker
from moldau.broker.errors import error_of
from moldau.protocol.errors import ErrorCode, KafkaError

TOPIC, BROKER = 2, 4  # ConfigResource.Type codes

DYNAMIC_BROKER_UNSUPPORTED = (
    "Dynamic broker configs are not supported; set them in server.properties and restart"
)


def check_broker_resource(broker: Broker, name: str) -> None:
    """A broker resource names this broker's id, or "" for the cluster-wide defaults."""
    if name not in ("", str(broker.node_id)):
        raise KafkaError(
            ErrorCode.INVALID_REQUEST,
            f"Unexpected broker id, expected {broker.node_id} or empty string, but received {name}",
        )


def alter(
    broker: Broker, resource_type: int, name: str, alter_topic: Callable[[], None], what: str
) -> tuple[ErrorCode, str | None]:
    """Run ``alter_topic`` for a topic resource; refuse broker and unknown resources."""
    try:
        if resource_type == TOPIC:
            alter_topic()
        elif resource_type == BROKER:
            check_broker_resource(broker, name)
            raise KafkaError(ErrorCode.INVALID_REQUEST, DYNAMIC_BROKER_UNSUPPORTED)
        else:
            raise KafkaError(ErrorCode.INVALID_REQUEST, f"Unsupported resource type {resource_type}")
    except Exception as e:
        return error_of(e, f"{what} {name}")
    return ErrorCode.NONE, None
