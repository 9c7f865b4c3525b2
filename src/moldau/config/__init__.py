"""Broker and topic configuration, with Kafka's names, types, defaults and rules.

* :mod:`moldau.config.defs`: the definition machinery (types, parsing, validators, errors,
  the DescribeConfigs entry shape).
* :mod:`moldau.config.properties`: the ``.properties`` file reader.
* :mod:`moldau.config.topic`: every topic config, its broker synonyms, validation and
  DescribeConfigs for topics.
* :mod:`moldau.config.broker_defs` / :mod:`moldau.config.broker`: the broker configs and the
  loaded :class:`BrokerConfig`, with its dynamic layers.
* :mod:`moldau.config.dynamic`: which broker configs may change without a restart, and the
  checks of an AlterConfigs / IncrementalAlterConfigs request on a BROKER resource.

Pure code: the only I/O is reading the properties file in :meth:`BrokerConfig.load`.
"""

from moldau.config.broker import BROKER_CONFIGS, BrokerConfig, broker_config_synonyms
from moldau.config.defs import (
    ConfigDef,
    ConfigError,
    ConfigSource,
    ConfigType,
    DescribedConfig,
    DescribedSynonym,
    Importance,
    Password,
    UnknownConfigError,
)
from moldau.config.properties import PropertiesError, load_properties, parse_properties
from moldau.config.topic import (
    TOPIC_CONFIG_SYNONYMS,
    TOPIC_CONFIGS,
    describe_topic_configs,
    effective_topic_config,
    validate_topic_configs,
)

__all__ = [
    "BROKER_CONFIGS",
    "TOPIC_CONFIGS",
    "TOPIC_CONFIG_SYNONYMS",
    "BrokerConfig",
    "ConfigDef",
    "ConfigError",
    "ConfigSource",
    "ConfigType",
    "DescribedConfig",
    "DescribedSynonym",
    "Importance",
    "Password",
    "PropertiesError",
    "UnknownConfigError",
    "broker_config_synonyms",
    "describe_topic_configs",
    "effective_topic_config",
    "load_properties",
    "parse_properties",
    "validate_topic_configs",
]
