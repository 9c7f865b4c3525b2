"""Resolving a broker configuration: the static settings checked key by key, the dynamic
layers laid over them with their synonyms, every value typed, the topic defaults derived, and
the whole checked for consistency. ``BrokerConfig`` (broker.py) holds the result, a
``BrokerState``; broker.py's docstring explains the layers and synonyms.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Mapping
from typing import Any

from moldau.config.broker_defs import BROKER_CONFIGS
from moldau.config.defs import ConfigError, UnknownConfigError
from moldau.config.topic import TOPIC_CONFIG_SYNONYMS, TOPIC_CONFIGS
from moldau.util.datatype import datatype

_KRAFT = (
    "Moldau has no KRaft controller: a single node keeps its metadata in its data directory "
    "and a cluster coordinates through ZooKeeper. Remove the KRaft settings (process.roles, "
    "controller.*) from the configuration"
)

UNSUPPORTED: dict[str, str] = {
    "process.roles": _KRAFT,
    "controller.listener.names": _KRAFT,
    "controller.quorum.voters": _KRAFT,
    "controller.quorum.bootstrap.servers": _KRAFT,
    "metadata.log.dir": _KRAFT,
}
"""Kafka broker configs that Moldau rejects with a specific explanation. Any other key
starting with ``controller.quorum.`` is treated like ``controller.quorum.voters``."""

# Groups of broker names that set the same thing, highest precedence first; a name is only
# ever in one group (Kafka's DynamicBrokerConfig.brokerConfigSynonyms).
_SYNONYM_GROUPS: tuple[tuple[str, ...], ...] = (
    ("log.roll.ms", "log.roll.hours"),
    ("log.roll.jitter.ms", "log.roll.jitter.hours"),
    ("log.retention.ms", "log.retention.minutes", "log.retention.hours"),
)

_COMMA_LIST = re.compile(r"\s*,\s*")


def broker_config_synonyms(name: str) -> list[str]:
    """The broker names that set the same value as ``name``, highest precedence first.

    As in Kafka, ``log.flush.interval.ms`` lists its fallback
    ``log.flush.scheduler.interval.ms`` but not the other way round.
    """
    if name == "log.flush.interval.ms":
        return ["log.flush.interval.ms", "log.flush.scheduler.interval.ms"]
    for group in _SYNONYM_GROUPS:
        if name in group:
            return list(group)
    return [name]


@datatype(frozen=True, slots=True)
class BrokerState:
    """Everything a :class:`BrokerConfig` knows, replaced as a whole on a dynamic update.

    ``explicit`` is the static text as given; ``static`` the same with ``node.id`` and
    ``broker.id`` copied onto each other; ``dynamic_default`` / ``dynamic_broker`` the text of
    the two dynamic layers; ``values`` every broker config typed after layering;
    ``log_defaults`` every topic config's server default derived from ``values``.
    """

    explicit: dict[str, str]
    static: dict[str, str]
    dynamic_default: dict[str, str]
    dynamic_broker: dict[str, str]
    values: dict[str, Any]
    log_defaults: dict[str, Any]


# --- resolution ------------------------------------------------------------------------------


def resolve(
    explicit: dict[str, str], dynamic_default: dict[str, str], dynamic_broker: dict[str, str]
) -> BrokerState:
    """Layer, parse and check; raises :class:`ConfigError` naming the offending key.

    Static keys must already have passed ``check_key``; an unknown dynamic key raises
    :class:`UnknownConfigError`.
    """
    values = {name: d.default for name, d in BROKER_CONFIGS.items()}
    for key, raw in explicit.items():
        values[key] = BROKER_CONFIGS[key].parse(raw)
    static = dict(explicit)
    _resolve_node_id(static, values)
    text = dict(static)
    for layer in (dynamic_default, dynamic_broker):
        for key, raw in layer.items():
            problem = unknown_broker_config(key)
            if problem is not None:
                raise UnknownConfigError(key, raw, "unknown", message=problem)
            for synonym in broker_config_synonyms(key):
                if text.pop(synonym, None) is not None:
                    values[synonym] = BROKER_CONFIGS[synonym].default
            values[key] = BROKER_CONFIGS[key].parse(raw)
            text[key] = raw
    log_defaults = _derive_log_defaults(values, text)
    _check_consistency(values, text, log_defaults)
    return BrokerState(
        dict(explicit), static, dict(dynamic_default), dict(dynamic_broker), values, log_defaults
    )


def _derive_log_defaults(values: Mapping[str, Any], text: Mapping[str, str]) -> dict[str, Any]:
    derived: dict[str, Any] = {}
    for topic_name, definition in TOPIC_CONFIGS.items():
        value, source = definition.default, None
        for synonym in TOPIC_CONFIG_SYNONYMS.get(topic_name, ()):
            if values[synonym.name] is not None:
                source = synonym.name
                value = values[synonym.name]
                if synonym.factor != 1:
                    value *= synonym.factor
                break
        if topic_name == "retention.ms" and value < 0:
            value = -1
        if source is not None:
            try:
                definition.validate(value)
            except ConfigError as e:
                raise ConfigError(
                    source,
                    text.get(source, value),
                    f"{e.reason} (as the default of the topic config {topic_name})",
                ) from None
        derived[topic_name] = value
    return derived


def _check_consistency(
    values: Mapping[str, Any], text: Mapping[str, str], log_defaults: Mapping[str, Any]
) -> None:
    if log_defaults["retention.ms"] == 0:
        key = next(
            (s.name for s in TOPIC_CONFIG_SYNONYMS["retention.ms"] if values[s.name] is not None),
            "log.retention.ms",
        )
        raise ConfigError(key, text.get(key, 0), "retention must be -1 (unlimited) or at least 1 ms")
    if not log_dirs(values):
        key = "log.dirs" if values["log.dirs"] is not None else "log.dir"
        raise ConfigError(key, text.get(key, ""), "at least one log directory is needed")
    protocols = protocol_map(values)
    names: list[str] = []
    for entry in listeners(values):
        name = entry.split("://", 1)[0].upper()
        if name in names:
            raise ConfigError("listeners", values["listeners"], f"listener name {name} is used twice")
        if name not in protocols:
            raise ConfigError(
                "listeners",
                values["listeners"],
                f"no security protocol for listener {name} in listener.security.protocol.map",
            )
        names.append(name)
    if values["advertised.listeners"] is not None:
        for entry in advertised_listeners(values):
            name, _, address = entry.partition("://")
            if name.upper() not in names:
                raise ConfigError(
                    "advertised.listeners",
                    values["advertised.listeners"],
                    f"listener {name.upper()} is not among the listeners",
                )
            if address.startswith("0.0.0.0:"):
                raise ConfigError(
                    "advertised.listeners",
                    values["advertised.listeners"],
                    "clients cannot connect to the wildcard address 0.0.0.0; advertise a real host",
                )


def listeners(values: Mapping[str, Any]) -> list[str]:
    return _split(values["listeners"])


def advertised_listeners(values: Mapping[str, Any]) -> list[str]:
    advertised = values["advertised.listeners"]
    return listeners(values) if advertised is None else _split(advertised)


def protocol_map(values: Mapping[str, Any]) -> dict[str, str]:
    pairs = (entry.split(":", 1) for entry in _split(values["listener.security.protocol.map"]))
    return {name.upper(): protocol.upper() for name, protocol in pairs}


def log_dirs(values: Mapping[str, Any]) -> list[str]:
    dirs = values["log.dirs"]
    return _split(values["log.dir"] if dirs is None else dirs)


def unknown_broker_config(key: str) -> str | None:
    """Why ``key`` cannot be a broker config (``None`` when it is one): ``Unknown broker
    config x (did you mean y?)`` or ``Unsupported broker config x: <reason>``."""
    if key in BROKER_CONFIGS:
        return None
    reason = _unsupported_reason(key)
    if reason is not None:
        return f"Unsupported broker config {key}: {reason}"
    hint = ""
    if key in TOPIC_CONFIG_SYNONYMS:
        hint = f" ({key} is a topic config; its broker-wide default is {TOPIC_CONFIG_SYNONYMS[key][0].name})"
    elif key in TOPIC_CONFIGS:
        hint = f" ({key} is a topic config without a broker-wide default; set it on the topics)"
    else:
        close = difflib.get_close_matches(key, BROKER_CONFIGS, n=1, cutoff=0.8)
        if close:
            hint = f" (did you mean {close[0]}?)"
    return f"Unknown broker config {key}{hint}"


def _unsupported_reason(key: str) -> str | None:
    return UNSUPPORTED.get(key) or (_KRAFT if key.startswith("controller.quorum.") else None)


def check_key(key: str, raw: str) -> None:
    problem = unknown_broker_config(key)
    if problem is None:
        return
    reason = _unsupported_reason(key)
    if reason is not None:
        raise UnknownConfigError(key, raw, reason, message=f"{problem}.")
    raise UnknownConfigError(
        key,
        raw,
        "unknown",
        message=(
            f"{problem}. Moldau refuses settings it does not understand: remove it from the "
            "properties file or the overrides."
        ),
    )


def _resolve_node_id(static: dict[str, str], values: dict[str, Any]) -> None:
    """Make node.id and broker.id one setting: copy whichever was given to the other."""
    if "node.id" in static and "broker.id" in static:
        if values["node.id"] != values["broker.id"]:
            raise ConfigError(
                "broker.id",
                static["broker.id"],
                f"must equal node.id ({values['node.id']}) when both are set",
            )
    elif "node.id" in static:
        static["broker.id"] = static["node.id"]
        values["broker.id"] = values["node.id"]
    elif "broker.id" in static:
        static["node.id"] = static["broker.id"]
        values["node.id"] = values["broker.id"]


def _split(text: str) -> list[str]:
    return [entry for entry in _COMMA_LIST.split(text.strip()) if entry]
