"""Dynamic broker configs (KIP-226): the rules for changing broker configs without a restart.

Theory of operation
-------------------
A BROKER config resource is named either by a broker's id (the change applies to that broker
alone: ``DYNAMIC_BROKER_CONFIG``) or by the empty string (the change applies to every broker
that does not set the key itself: ``DYNAMIC_DEFAULT_BROKER_CONFIG``). Each resource holds one
*layer*: a flat ``{name: text}`` map, kept in the metadata image and laid over the static
configuration by :class:`~moldau.config.broker.BrokerConfig`.

A request produces the complete new layer of its resource: AlterConfigs replaces the layer
with the request's entries; IncrementalAlterConfigs edits the stored layer
(:func:`apply_incremental`). :func:`check_layer` then judges the whole new layer the way Kafka
does, in this order, and raises :class:`~moldau.protocol.errors.KafkaError` with the code a
Kafka broker answers:

1. a name that is no broker config at all: ``INVALID_CONFIG`` (Kafka stores unknown names
   without complaint, for plugins; Moldau has no plugins and refuses them, as it does at
   start-up);
2. names that cannot change dynamically: ``INVALID_REQUEST``, ``Cannot update these configs
   dynamically: Set(a, b)``; for the few that Kafka can change but Moldau reads only at
   start-up (:data:`~moldau.config.broker_defs.RESTART_ONLY_CONFIGS`) the message says so;
3. a value that does not parse or validate, a thread count changed by more than a factor of
   two, or a combination the broker would not start with: ``INVALID_REQUEST`` with the
   config error's text. Kafka answers these with INVALID_REQUEST rather than INVALID_CONFIG
   (KAFKA-13609) and clients match on it.

On success it returns the :class:`BrokerConfig` the new layer would give, which the caller
throws away (``validate_only``) or stores and applies.

At start-up the stored layers are read with :func:`usable_layer`, which drops (and reports)
entries that are no longer acceptable instead of refusing to start, as Kafka does.

Nothing in this module does I/O.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence

from moldau.config.broker import BrokerConfig, unknown_broker_config
from moldau.config.broker_defs import (
    BROKER_CONFIGS,
    DYNAMIC_BROKER_CONFIGS,
    RESTART_ONLY_CONFIGS,
    THREAD_COUNT_CONFIGS,
)
from moldau.config.defs import ConfigDef, ConfigError, ConfigType, UnknownConfigError
from moldau.protocol.errors import ErrorCode, KafkaError

__all__ = [
    "APPEND",
    "DELETE",
    "SET",
    "SUBTRACT",
    "apply_incremental",
    "check_layer",
    "replacement_layer",
    "usable_layer",
]

SET, DELETE, APPEND, SUBTRACT = 0, 1, 2, 3
"""IncrementalAlterConfigs operation codes (KIP-339)."""

_OP_NAMES = {APPEND: "append", SUBTRACT: "subtract"}


def replacement_layer(entries: Iterable[tuple[str, str | None]]) -> dict[str, str]:
    """AlterConfigs: the request's entries become the whole layer. A repeated name or a null
    value is INVALID_REQUEST, as in Kafka."""
    layer: dict[str, str] = {}
    nulls: list[str] = []
    for name, value in entries:
        if name in layer or name in nulls:
            raise KafkaError(ErrorCode.INVALID_REQUEST, "Error due to duplicate config keys")
        if value is None:
            nulls.append(name)
        else:
            layer[name] = value
    if nulls:
        raise KafkaError(ErrorCode.INVALID_REQUEST, "Null value not supported for : " + ", ".join(nulls))
    return layer


def apply_incremental(
    layer: Mapping[str, str],
    ops: Sequence[tuple[str, int, str | None]],
    *,
    definitions: Mapping[str, ConfigDef] = BROKER_CONFIGS,
    list_base: Callable[[str], str] | None = None,
) -> dict[str, str]:
    """IncrementalAlterConfigs: ``(name, operation, value)`` applied in order to a copy of
    ``layer`` (a broker layer, or a topic's overrides with ``definitions=TOPIC_CONFIGS``).

    SET stores the value, DELETE removes the name (returning it to the layers below).
    APPEND and SUBTRACT work on LIST configs only and start from the layer's own value, else
    from ``list_base(name)`` (a topic: its effective value), else the config's built-in
    default (a broker layer: not the static setting, as in Kafka); APPEND leaves out items
    already present.
    """
    updated = dict(layer)
    seen: set[str] = set()
    for name, op, value in ops:
        if name in seen:
            raise KafkaError(ErrorCode.INVALID_REQUEST, "Error due to duplicate config keys")
        seen.add(name)
        if op == SET:
            if value is None:
                raise KafkaError(ErrorCode.INVALID_REQUEST, f"Null value not supported for : {name}")
            updated[name] = value
        elif op == DELETE:
            updated.pop(name, None)
        elif op in _OP_NAMES:
            definition = definitions.get(name)
            if definition is None:
                message = _unknown_message(name) if definitions is BROKER_CONFIGS else None
                raise UnknownConfigError(name, value, "unknown config", message=message)
            if definition.type is not ConfigType.LIST:
                raise KafkaError(
                    ErrorCode.INVALID_REQUEST,
                    f"Config value {_OP_NAMES[op]} is not allowed for config key: {name}",
                )
            if name in updated:
                current_text = updated[name]
            elif list_base is not None:
                current_text = list_base(name)
            else:
                current_text = definition.default_string or ""
            current = [item for item in (v.strip() for v in current_text.split(",")) if item]
            items = [item for item in (v.strip() for v in (value or "").split(",")) if item]
            if op == APPEND:
                current += [item for item in items if item not in current]
            else:
                current = [item for item in current if item not in items]
            updated[name] = ",".join(current)
        else:
            raise KafkaError(ErrorCode.INVALID_REQUEST, f"Unknown operations type {op}")
    return updated


def check_layer(
    config: BrokerConfig, per_broker: bool, layer: Mapping[str, str], *, resizing: bool = True
) -> BrokerConfig:
    """Judge ``layer`` as the new per-broker (``per_broker``) or cluster-wide dynamic layer of
    ``config``; return the config it would give, or raise ``KafkaError`` (see the module
    docstring for the order of checks and the codes). ``resizing`` False skips the
    thread-count rule, which compares with the values in effect and so only applies to a
    change, not to layers read back at start-up."""
    for name in layer:
        if name not in BROKER_CONFIGS:
            raise UnknownConfigError(name, layer[name], "", message=_unknown_message(name))
    fixed = sorted(name for name in layer if name not in DYNAMIC_BROKER_CONFIGS)
    not_dynamic = [name for name in fixed if name not in RESTART_ONLY_CONFIGS]
    if not_dynamic:
        raise KafkaError(
            ErrorCode.INVALID_REQUEST, f"Cannot update these configs dynamically: {_set(not_dynamic)}"
        )
    if fixed:
        raise KafkaError(
            ErrorCode.INVALID_REQUEST,
            f"Cannot update these configs dynamically: {_set(fixed)} (Moldau reads them only at "
            "start-up: set them in the properties file and restart the broker)",
        )
    try:
        for name, raw in layer.items():
            BROKER_CONFIGS[name].parse(raw)
        if per_broker:
            candidate = config.with_dynamic(per_broker=layer)
        else:
            candidate = config.with_dynamic(default=layer)
    except ConfigError as e:
        raise KafkaError(ErrorCode.INVALID_REQUEST, str(e)) from None
    if resizing:
        _check_thread_counts(config, candidate)
    return candidate


def usable_layer(
    config: BrokerConfig, per_broker: bool, layer: Mapping[str, str]
) -> tuple[dict[str, str], list[str]]:
    """The entries of a stored layer that :func:`check_layer` still accepts on top of
    ``config``, and one message for each entry left out. Used at start-up, where a stored
    entry that has become unacceptable (a config no longer dynamic, a value a newer version
    rejects) is skipped with an error in the log rather than keeping the broker down."""
    kept: dict[str, str] = {}
    dropped: list[str] = []
    for name, raw in layer.items():
        trial = {**kept, name: raw}
        try:
            check_layer(config, per_broker, trial, resizing=False)
        except KafkaError as e:
            dropped.append(f"{name}={raw}: {e}")
        else:
            kept = trial
    return kept, dropped


def _check_thread_counts(current: BrokerConfig, candidate: BrokerConfig) -> None:
    for name in sorted(THREAD_COUNT_CONFIGS):
        old, new = current.get(name), candidate.get(name)
        if new == old:
            continue
        failed = f"Dynamic thread count update validation failed for {name}={new}"
        if new < old // 2:
            raise KafkaError(
                ErrorCode.INVALID_REQUEST, f"{failed}, value should be at least half the current value {old}"
            )
        if new > old * 2:
            raise KafkaError(
                ErrorCode.INVALID_REQUEST,
                f"{failed}, value should not be greater than double the current value {old}",
            )


def _unknown_message(name: str) -> str:
    return unknown_broker_config(name) or f"Unknown broker config {name}"


def _set(names: Iterable[str]) -> str:
    """A set of names as Kafka's (Scala) messages print it: ``Set(a, b)``."""
    return "Set(" + ", ".join(names) + ")"
