"""Config resources as DescribeConfigs, AlterConfigs and IncrementalAlterConfigs name them,
and changes to BROKER resources (dynamic broker configs, KIP-226).

A BROKER resource is named by this broker's id or by "" for the cluster-wide defaults. A
change to one goes: build the resource's new layer (the handler says how), judge it with
:func:`moldau.config.dynamic.check_layer`, make sure every topic still has a usable config on
top of it, and, unless ``validate_only``, store the layer in the metadata image, persist the
image, lay it over the broker config in place and re-derive the topics' log configs. Nothing
is stored or applied when any step fails.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable

from moldau.broker.core import Broker, log_config_of
from moldau.broker.errors import error_of
from moldau.config.broker import BrokerConfig
from moldau.config.defs import ConfigError
from moldau.config.dynamic import check_layer
from moldau.config.topic import effective_topic_config
from moldau.protocol.errors import ErrorCode, KafkaError

log = logging.getLogger(__name__)

TOPIC, BROKER = 2, 4  # ConfigResource.Type codes

_JAVA_INT = re.compile(r"[+-]?[0-9]+")

LayerEdit = Callable[[dict[str, str]], dict[str, str]]
"""Turns a BROKER resource's stored dynamic layer into the requested one."""


def check_broker_resource(broker: Broker, name: str) -> None:
    """DescribeConfigs: a broker resource names this broker's id, or "" for the cluster-wide
    defaults (Kafka's messages)."""
    if name == "":
        return
    if _JAVA_INT.fullmatch(name) is None:
        raise KafkaError(ErrorCode.INVALID_REQUEST, f"Broker id must be an integer, but it is: {name}")
    if int(name) != broker.node_id:
        raise KafkaError(
            ErrorCode.INVALID_REQUEST,
            f"Unexpected broker id, expected {broker.node_id} or empty string, but received {name}",
        )


def alter(
    broker: Broker,
    resource_type: int,
    name: str,
    alter_topic: Callable[[], None],
    edit_broker: LayerEdit,
    validate_only: bool,
    what: str,
) -> tuple[ErrorCode, str | None]:
    """Run ``alter_topic`` for a topic resource or change a broker resource's dynamic layer
    with ``edit_broker``; the (code, message) pair for the response entry."""
    try:
        if resource_type == TOPIC:
            alter_topic()
        elif resource_type == BROKER:
            alter_broker(broker, name, edit_broker, validate_only)
        else:
            raise KafkaError(ErrorCode.INVALID_REQUEST, f"Unsupported resource type {resource_type}")
    except Exception as e:
        return error_of(e, f"{what} {name}")
    return ErrorCode.NONE, None


def alter_broker(broker: Broker, name: str, edit: LayerEdit, validate_only: bool) -> None:
    """Change the dynamic layer of BROKER resource ``name`` (see the module docstring)."""
    _check_alter_name(broker, name)
    per_broker = name != ""
    layer = edit(broker.metadata.broker_config(name))
    candidate = check_layer(broker.config, per_broker, layer)
    _check_topics(broker, candidate)
    if validate_only:
        return
    broker.metadata.set_broker_config(name, layer)
    broker.save_metadata()
    if per_broker:
        broker.config.update_dynamic(per_broker=layer)
    else:
        broker.config.update_dynamic(default=layer)
    broker.refresh_log_configs()
    log.info(
        "Dynamic configs of %s are now %s",
        f"broker {name}" if per_broker else "the cluster-wide broker defaults",
        layer or "empty",
    )


def _check_alter_name(broker: Broker, name: str) -> None:
    if name == "":
        return
    if _JAVA_INT.fullmatch(name) is None:
        raise KafkaError(ErrorCode.INVALID_REQUEST, f"Node id must be an integer, but it is: {name}")
    if int(name) != broker.node_id:
        raise KafkaError(
            ErrorCode.INVALID_REQUEST, f"Unexpected broker id, expected {broker.node_id}, but received {name}"
        )


def _check_topics(broker: Broker, candidate: BrokerConfig) -> None:
    """Every topic's overrides must still make a valid log config over the new defaults
    (``min.compaction.lag.ms`` above a new ``log.cleaner.max.compaction.lag.ms``, say)."""
    try:
        log_config_of(effective_topic_config({}, candidate))
    except (ConfigError, ValueError) as e:
        raise KafkaError(ErrorCode.INVALID_REQUEST, f"Invalid dynamic configuration: {e}") from None
    for topic in broker.metadata.topics.values():
        try:
            log_config_of(effective_topic_config(topic.configs, candidate))
        except (ConfigError, ValueError) as e:
            raise KafkaError(
                ErrorCode.INVALID_REQUEST, f"Invalid dynamic configuration for topic {topic.name}: {e}"
            ) from None
