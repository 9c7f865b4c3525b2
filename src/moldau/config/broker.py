"""The broker's configuration: loading, typed access, dynamic layers, and DescribeConfigs
for a BROKER resource.

A :class:`BrokerConfig` is built once at startup from a Kafka-style ``server.properties``
file with command-line overrides on top (:meth:`BrokerConfig.load`). Its static settings never
change afterwards. The two *dynamic* layers on top of them (KIP-226) change only through
:meth:`BrokerConfig.update_dynamic`, which the broker calls on its event loop: once at start-up
with the layers kept in the metadata image, then whenever an AlterConfigs or
IncrementalAlterConfigs request on a BROKER resource succeeds. An update swaps a single
internal reference, so a reader never sees half of one; code that must follow dynamic changes
calls :meth:`BrokerConfig.get` when it needs the value rather than keeping a copy. Which
configs may change dynamically, and how a request to change them is checked, is
:mod:`moldau.config.dynamic`'s business.

Loading is strict where Kafka is lenient. Kafka logs a warning for a key it does not know and
carries on; Moldau refuses to start, naming the key, because a setting that silently does
nothing (a typo, a feature Moldau lacks) is worse than an error. KRaft settings
(``process.roles``, ``controller.*``) get their own explanation: Moldau has no KRaft
controller, a single node keeps its metadata in its data directory and a cluster coordinates
through ZooKeeper.

Layers and synonyms
-------------------
Kafka reports a broker value from one of these layers, most specific first:
``DYNAMIC_BROKER_CONFIG`` (set for this broker's id), ``DYNAMIC_DEFAULT_BROKER_CONFIG`` (set
for every broker, the resource named ""), ``STATIC_BROKER_CONFIG`` (the properties file and
overrides) and ``DEFAULT_CONFIG``. The values in effect are found the way Kafka finds them:
start from the static settings, lay the cluster-wide dynamic ones over them, then the
per-broker ones; each key laid over removes its synonyms from what lies below, so a dynamic
``log.retention.ms`` also hides a static ``log.retention.hours``.

Some settings have several names. ``log.retention.ms`` beats ``log.retention.minutes``, which
beats ``log.retention.hours``; ``log.roll.ms`` beats ``log.roll.hours`` (likewise for the
jitter); ``log.flush.interval.ms`` falls back to ``log.flush.scheduler.interval.ms``;
``log.dirs`` beats ``log.dir``; ``node.id`` and ``broker.id`` are one setting (giving one sets
both, as Kafka does, and giving both with different values is an error). The typed
properties (:attr:`BrokerConfig.log_retention_ms`, ...) return the resolved values;
:meth:`BrokerConfig.get` returns each name's own value.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from moldau.config.broker_defs import BROKER_CONFIGS, DYNAMIC_BROKER_CONFIGS
from moldau.config.defs import (
    ConfigError,
    ConfigSource,
    DescribedConfig,
    DescribedSynonym,
    UnknownConfigError,
)
from moldau.config.properties import PropertiesError, load_properties
from moldau.config.topic import TOPIC_CONFIG_SYNONYMS, TOPIC_CONFIGS

__all__ = [
    "BROKER_CONFIGS",
    "UNSUPPORTED",
    "BrokerConfig",
    "broker_config_synonyms",
    "unknown_broker_config",
]

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

_DEFAULT_STRINGS: dict[str, str] = {
    name: text for name, d in BROKER_CONFIGS.items() if (text := d.to_string(d.default)) is not None
}
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


@dataclass(frozen=True, slots=True)
class _State:
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


class BrokerConfig:
    """One broker's settings: the explicitly set ones as given, every one typed.

    ``BrokerConfig()`` is a broker with every default; ``BrokerConfig({"num.partitions": "3"})``
    sets one key. Construction validates everything and raises :class:`ConfigError` (or
    :class:`UnknownConfigError`) naming the offending key.
    """

    __slots__ = ("_state",)

    def __init__(self, settings: Mapping[str, str] | None = None) -> None:
        explicit = dict(settings or {})
        for key, raw in explicit.items():
            _check_key(key, raw)
        self._state = _resolve(explicit, {}, {})

    @classmethod
    def load(
        cls, properties_path: str | Path | None, overrides: Mapping[str, str] | None = None
    ) -> BrokerConfig:
        """Read ``properties_path`` (if given), apply ``overrides`` on top, and validate.

        ``OSError`` from reading the file passes through; a file that does not parse, or
        does not decode as UTF-8, raises :class:`ConfigError`.
        """
        settings: dict[str, str] = {}
        if properties_path is not None:
            try:
                settings = load_properties(properties_path)
            except (PropertiesError, UnicodeDecodeError) as e:
                raise ConfigError(
                    str(properties_path), None, str(e), message=f"{properties_path}: {e}"
                ) from e
        settings.update(overrides or {})
        return cls(settings)

    # --- dynamic layers ------------------------------------------------------------------

    def with_dynamic(
        self, default: Mapping[str, str] | None = None, per_broker: Mapping[str, str] | None = None
    ) -> BrokerConfig:
        """A new config with the same static settings and these dynamic layers (``None``
        keeps the current one). Values are parsed and checked like static ones and raise
        :class:`ConfigError` naming the key; which keys may be dynamic at all is checked by
        :mod:`moldau.config.dynamic`, not here. ``self`` is left as it is."""
        state = self._state
        other = object.__new__(BrokerConfig)
        other._state = _resolve(
            state.explicit,
            state.dynamic_default if default is None else dict(default),
            state.dynamic_broker if per_broker is None else dict(per_broker),
        )
        return other

    def update_dynamic(
        self, default: Mapping[str, str] | None = None, per_broker: Mapping[str, str] | None = None
    ) -> None:
        """Replace the dynamic layers in place (``None`` keeps one as it is); every holder of
        this config sees the new values from its next :meth:`get`. On :class:`ConfigError`
        nothing changes. Called on the broker's event loop only."""
        self._state = self.with_dynamic(default, per_broker)._state

    def dynamic_layer(self, per_broker: bool) -> dict[str, str]:
        """The text of the per-broker (``True``) or cluster-wide (``False``) dynamic layer."""
        state = self._state
        return dict(state.dynamic_broker if per_broker else state.dynamic_default)

    # --- access --------------------------------------------------------------------------

    def get(self, name: str) -> Any:
        """The typed value of broker config ``name`` in effect (``None`` when unset without
        default), dynamic layers included."""
        try:
            return self._state.values[name]
        except KeyError:
            raise KeyError(f"{name} is not a broker config") from None

    def is_set(self, name: str) -> bool:
        """Whether ``name`` was given in the properties file or the overrides."""
        return name in self._state.explicit

    def sources(self) -> dict[str, ConfigSource]:
        """Every key set anywhere, with the most specific layer that sets it: the properties
        file and overrides (``STATIC_BROKER_CONFIG``) or a dynamic layer."""
        state = self._state
        found = dict.fromkeys(state.explicit, ConfigSource.STATIC_BROKER_CONFIG)
        found.update(dict.fromkeys(state.dynamic_default, ConfigSource.DYNAMIC_DEFAULT_BROKER_CONFIG))
        found.update(dict.fromkeys(state.dynamic_broker, ConfigSource.DYNAMIC_BROKER_CONFIG))
        return found

    def settings(self) -> dict[str, str]:
        """The keys set in the properties file or the overrides, with their text as given."""
        return dict(self._state.explicit)

    def default_log_config(self) -> dict[str, Any]:
        """Every topic config's typed value for a topic without overrides on this broker.

        Topic configs with broker synonyms take the first synonym that has a value (set or
        defaulted, dynamic layers included), converted to the topic config's unit; the
        others take their own default.
        """
        return dict(self._state.log_defaults)

    @property
    def _values(self) -> dict[str, Any]:
        return self._state.values

    @property
    def node_id(self) -> int:
        return int(self._values["node.id"])

    @property
    def broker_id(self) -> int:
        return int(self._values["broker.id"])

    @property
    def listeners(self) -> list[str]:
        """``listeners`` split into its entries, e.g. ``["PLAINTEXT://127.0.0.1:9092"]``."""
        return _listeners(self._values)

    @property
    def advertised_listeners(self) -> list[str]:
        """``advertised.listeners`` split into entries, or :attr:`listeners` when unset."""
        return _advertised_listeners(self._values)

    @property
    def listener_security_protocol_map(self) -> dict[str, str]:
        """Listener name to security protocol, both upper case."""
        return _protocol_map(self._values)

    @property
    def log_dirs(self) -> list[str]:
        """The data directories: ``log.dirs`` if set, else ``log.dir``."""
        return _log_dirs(self._values)

    @property
    def log_retention_ms(self) -> int:
        """Resolved retention (ms > minutes > hours), -1 for unlimited."""
        return int(self._state.log_defaults["retention.ms"])

    @property
    def log_roll_ms(self) -> int:
        return int(self._state.log_defaults["segment.ms"])

    @property
    def log_roll_jitter_ms(self) -> int:
        return int(self._state.log_defaults["segment.jitter.ms"])

    @property
    def log_flush_interval_ms(self) -> int:
        return int(self._state.log_defaults["flush.ms"])

    @property
    def num_partitions(self) -> int:
        return int(self._values["num.partitions"])

    @property
    def auto_create_topics_enable(self) -> bool:
        return bool(self._values["auto.create.topics.enable"])

    # --- DescribeConfigs -----------------------------------------------------------------

    def describe(
        self, include_synonyms: bool, include_docs: bool = False, keys: Iterable[str] | None = None
    ) -> list[DescribedConfig]:
        """DescribeConfigs for this broker's own BROKER resource, sorted by config name.

        Every broker config with the value in effect; read-only unless Moldau can change it
        dynamically. ``keys`` None or empty asks for all; unknown names are left out.
        """
        wanted = set(keys) if keys else None
        values = self._values
        result: list[DescribedConfig] = []
        for name in sorted(BROKER_CONFIGS):
            if wanted is not None and name not in wanted:
                continue
            definition = BROKER_CONFIGS[name]
            chain = self.synonym_chain(name, broker_config_synonyms(name), definition.sensitive)
            result.append(
                DescribedConfig(
                    name=name,
                    value=None if definition.sensitive else definition.to_string(values[name]),
                    read_only=name not in DYNAMIC_BROKER_CONFIGS,
                    source=chain[0].source if chain else ConfigSource.DEFAULT_CONFIG,
                    sensitive=definition.sensitive,
                    synonyms=chain if include_synonyms else [],
                    type=definition.type,
                    doc=definition.doc if include_docs else None,
                )
            )
        return result

    def describe_cluster_defaults(
        self, include_synonyms: bool, include_docs: bool = False, keys: Iterable[str] | None = None
    ) -> list[DescribedConfig]:
        """DescribeConfigs for the cluster-wide BROKER resource (named ""), sorted by name.

        As in Kafka, only the configs set in the cluster-wide dynamic layer are listed, each
        with that layer's text, source ``DYNAMIC_DEFAULT_BROKER_CONFIG`` and only synonyms
        from that layer.
        """
        wanted = set(keys) if keys else None
        layer = self._state.dynamic_default
        result: list[DescribedConfig] = []
        for name in sorted(layer):
            if wanted is not None and name not in wanted:
                continue
            definition = BROKER_CONFIGS[name]
            chain = [
                entry
                for entry in self.synonym_chain(name, broker_config_synonyms(name), definition.sensitive)
                if entry.source is ConfigSource.DYNAMIC_DEFAULT_BROKER_CONFIG
            ]
            result.append(
                DescribedConfig(
                    name=name,
                    value=None if definition.sensitive else layer[name],
                    read_only=name not in DYNAMIC_BROKER_CONFIGS,
                    source=chain[0].source if chain else ConfigSource.DEFAULT_CONFIG,
                    sensitive=definition.sensitive,
                    synonyms=chain if include_synonyms else [],
                    type=definition.type,
                    doc=definition.doc if include_docs else None,
                )
            )
        return result

    def synonym_chain(self, name: str, synonyms: Sequence[str], sensitive: bool) -> list[DescribedSynonym]:
        """Where ``name``'s value could come from, as Kafka reports it (``configSynonyms``).

        Walks the layers from most to least specific and, within each layer, ``synonyms`` in
        precedence order, collecting every one that has a value there. Then, like Kafka,
        drops entries up to the first one named ``name``; so when ``name`` itself has a value
        nowhere the chain is empty even if a lower synonym is set.
        """
        chain = [
            DescribedSynonym(synonym, None if sensitive else layer[synonym], source)
            for source, layer in self._layers()
            for synonym in synonyms
            if synonym in layer
        ]
        for position, entry in enumerate(chain):
            if entry.name == name:
                return chain[position:]
        return []

    def _layers(self) -> list[tuple[ConfigSource, Mapping[str, str]]]:
        state = self._state
        return [
            (ConfigSource.DYNAMIC_BROKER_CONFIG, state.dynamic_broker),
            (ConfigSource.DYNAMIC_DEFAULT_BROKER_CONFIG, state.dynamic_default),
            (ConfigSource.STATIC_BROKER_CONFIG, state.static),
            (ConfigSource.DEFAULT_CONFIG, _DEFAULT_STRINGS),
        ]

    def __repr__(self) -> str:
        state = self._state
        parts = [repr(_shown(state.explicit))]
        if state.dynamic_default:
            parts.append(f"dynamic_default={_shown(state.dynamic_default)!r}")
        if state.dynamic_broker:
            parts.append(f"dynamic_broker={_shown(state.dynamic_broker)!r}")
        return f"BrokerConfig({', '.join(parts)})"


# --- resolution ------------------------------------------------------------------------------


def _resolve(
    explicit: dict[str, str], dynamic_default: dict[str, str], dynamic_broker: dict[str, str]
) -> _State:
    """Layer, parse and check; raises :class:`ConfigError` naming the offending key.

    Static keys must already have passed ``_check_key``; an unknown dynamic key raises
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
    return _State(dict(explicit), static, dict(dynamic_default), dict(dynamic_broker), values, log_defaults)


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
    if not _log_dirs(values):
        key = "log.dirs" if values["log.dirs"] is not None else "log.dir"
        raise ConfigError(key, text.get(key, ""), "at least one log directory is needed")
    protocols = _protocol_map(values)
    names: list[str] = []
    for entry in _listeners(values):
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
        for entry in _advertised_listeners(values):
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


def _listeners(values: Mapping[str, Any]) -> list[str]:
    return _split(values["listeners"])


def _advertised_listeners(values: Mapping[str, Any]) -> list[str]:
    advertised = values["advertised.listeners"]
    return _listeners(values) if advertised is None else _split(advertised)


def _protocol_map(values: Mapping[str, Any]) -> dict[str, str]:
    pairs = (entry.split(":", 1) for entry in _split(values["listener.security.protocol.map"]))
    return {name.upper(): protocol.upper() for name, protocol in pairs}


def _log_dirs(values: Mapping[str, Any]) -> list[str]:
    dirs = values["log.dirs"]
    return _split(values["log.dir"] if dirs is None else dirs)


def _shown(settings: Mapping[str, str]) -> dict[str, str]:
    return {k: ("[hidden]" if BROKER_CONFIGS[k].sensitive else v) for k, v in settings.items()}


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


def _check_key(key: str, raw: str) -> None:
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
