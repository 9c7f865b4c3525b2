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

from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from moldau.config import broker_resolve
from moldau.config.broker_defs import BROKER_CONFIGS, DYNAMIC_BROKER_CONFIGS
from moldau.config.broker_resolve import (
    UNSUPPORTED,
    broker_config_synonyms,
    unknown_broker_config,
)
from moldau.config.defs import ConfigError, ConfigSource, DescribedConfig, DescribedSynonym
from moldau.config.properties import PropertiesError, load_properties

__all__ = [
    "BROKER_CONFIGS",
    "UNSUPPORTED",
    "BrokerConfig",
    "broker_config_synonyms",
    "unknown_broker_config",
]

_DEFAULT_STRINGS: dict[str, str] = {
    name: text for name, d in BROKER_CONFIGS.items() if (text := d.to_string(d.default)) is not None
}


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
            broker_resolve.check_key(key, raw)
        self._state = broker_resolve.resolve(explicit, {}, {})

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
        other._state = broker_resolve.resolve(
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
        return broker_resolve.listeners(self._values)

    @property
    def advertised_listeners(self) -> list[str]:
        """``advertised.listeners`` split into entries, or :attr:`listeners` when unset."""
        return broker_resolve.advertised_listeners(self._values)

    @property
    def listener_security_protocol_map(self) -> dict[str, str]:
        """Listener name to security protocol, both upper case."""
        return broker_resolve.protocol_map(self._values)

    @property
    def log_dirs(self) -> list[str]:
        """The data directories: ``log.dirs`` if set, else ``log.dir``."""
        return broker_resolve.log_dirs(self._values)

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


def _shown(settings: Mapping[str, str]) -> dict[str, str]:
    return {k: ("[hidden]" if BROKER_CONFIGS[k].sensitive else v) for k, v in settings.items()}
