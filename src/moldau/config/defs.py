"""How a configuration is declared, parsed, validated, rendered and described.

Theory of operation
-------------------
Every config Moldau knows, broker or topic, is one :class:`ConfigDef`: a name, a
:class:`ConfigType`, a typed default, an optional validator, a line of documentation and an
importance. Values arrive as strings (a properties file, ``--override``, a CreateTopics or
AlterConfigs request) and leave as strings (DescribeConfigs); in between they live as typed
Python values:

============  =========================  ==================================================
type          Python value               accepted text (after trimming surrounding blanks)
============  =========================  ==================================================
BOOLEAN       ``bool``                   ``true`` / ``false`` in any letter case
STRING        ``str``                    anything
INT           ``int`` (32-bit)           decimal digits with an optional sign
SHORT         ``int`` (16-bit)           decimal digits with an optional sign
LONG          ``int`` (64-bit)           decimal digits with an optional sign
DOUBLE        ``float``                  a Java double literal (``0.5``, ``1e3``, ``NaN``)
LIST          ``tuple[str, ...]``        comma-separated; blanks around commas are dropped;
                                         the empty string is the empty list
CLASS         ``str``                    a class name, kept as text (nothing is loaded)
PASSWORD      :class:`Password`          anything; never shown back
============  =========================  ==================================================

These are Kafka's ``ConfigDef`` rules, so a value Kafka accepts is accepted here and one it
rejects is rejected with the same kind of message: :class:`ConfigError` always names the
key, ``Invalid value abc for configuration num.partitions: Not a number of type INT``.

:meth:`ConfigDef.to_string` is the inverse used by DescribeConfigs; it renders values the
way the JVM would (``true``, ``9223372036854775807``, ``0.5``, ``1.7976931348623157E308``,
lists joined by commas without blanks) so that clients comparing strings see Kafka's text.

The numeric ids of :class:`ConfigType` and :class:`ConfigSource` are the ones DescribeConfigs
puts on the wire (``config_type`` from v3, ``config_source`` and synonym ``source`` from v1).

Nothing in this module does I/O.
"""

from __future__ import annotations

import decimal
import enum
import math
import re
from collections.abc import Callable, Sequence
from dataclasses import field
from typing import Any, NamedTuple, Protocol

from moldau.protocol.errors import ErrorCode, KafkaError
from moldau.util.datatype import datatype

__all__ = [
    "AtLeast",
    "Between",
    "ConfigDef",
    "ConfigError",
    "ConfigSource",
    "ConfigType",
    "DescribedConfig",
    "DescribedSynonym",
    "Importance",
    "ListOf",
    "OneOf",
    "Password",
    "Predicate",
    "Range",
    "UnknownConfigError",
    "Validator",
    "index",
    "java_double_str",
    "parse_value",
    "render_value",
]


class ConfigType(enum.IntEnum):
    """A config's value type, numbered as in DescribeConfigs v3+ ``config_type``."""

    UNKNOWN = 0
    BOOLEAN = 1
    STRING = 2
    INT = 3
    SHORT = 4
    LONG = 5
    DOUBLE = 6
    LIST = 7
    CLASS = 8
    PASSWORD = 9


class ConfigSource(enum.IntEnum):
    """Where a reported value comes from, numbered as DescribeConfigs puts it on the wire.

    Listed from the most specific to the least: a topic override beats a dynamic per-broker
    setting, which beats a dynamic cluster-wide default, which beats the broker's properties
    file, which beats the built-in default.
    """

    UNKNOWN = 0
    DYNAMIC_TOPIC_CONFIG = 1
    DYNAMIC_BROKER_CONFIG = 2
    DYNAMIC_DEFAULT_BROKER_CONFIG = 3
    STATIC_BROKER_CONFIG = 4
    DEFAULT_CONFIG = 5
    DYNAMIC_BROKER_LOGGER_CONFIG = 6
    CLIENT_METRICS_CONFIG = 7
    GROUP_CONFIG = 8


class Importance(enum.Enum):
    """How much an operator should care; only used for documentation."""

    HIGH = "high"
    MEDIUM = "medium"
    LOW = "low"


class ConfigError(KafkaError):
    """A config key or value that cannot be accepted.

    It carries ``INVALID_CONFIG``, the code Kafka answers CreateTopics, AlterConfigs and
    IncrementalAlterConfigs with for a bad config, so a handler may let it propagate to the
    place that turns exceptions into response codes. Startup code prints ``str(e)``.
    """

    def __init__(self, key: str, value: object, reason: str, *, message: str | None = None) -> None:
        if message is None:
            if value is None:
                message = f"Invalid configuration {key}: {reason}"
            else:
                message = f"Invalid value {_show(value)} for configuration {key}: {reason}"
        super().__init__(ErrorCode.INVALID_CONFIG, message)
        self.key = key
        self.value = value
        self.reason = reason


class UnknownConfigError(ConfigError):
    """A key that names no config of the kind being set (topic or broker)."""


class Password:
    """A secret config value. ``str()`` and ``repr()`` hide it; ``.value`` reveals it."""

    __slots__ = ("value",)

    def __init__(self, value: str) -> None:
        self.value = value

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Password) and other.value == self.value

    def __hash__(self) -> int:
        return hash(self.value)

    def __repr__(self) -> str:
        return "Password([hidden])"

    def __str__(self) -> str:
        return "[hidden]"


# --- parsing and rendering -----------------------------------------------------------------

_INTEGER = re.compile(r"[+-]?[0-9]+")
_DOUBLE = re.compile(r"[+-]?(?:NaN|Infinity|(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?)[fFdD]?")
_COMMA = re.compile(r"\s*,\s*")
# Java's String.trim() removes every char up to and including the space.
_JAVA_BLANKS = "".join(chr(c) for c in range(0x21))
_INT_BOUNDS = {
    ConfigType.SHORT: (-(2**15), 2**15 - 1),
    ConfigType.INT: (-(2**31), 2**31 - 1),
    ConfigType.LONG: (-(2**63), 2**63 - 1),
}


def parse_value(name: str, type_: ConfigType, raw: str) -> Any:
    """Turn the text of config ``name`` into its typed value, or raise :class:`ConfigError`."""
    text = raw.strip(_JAVA_BLANKS)
    if type_ is ConfigType.BOOLEAN:
        lowered = text.lower()
        if lowered == "true":
            return True
        if lowered == "false":
            return False
        raise ConfigError(name, raw, "Expected value to be either true or false")
    if type_ in (ConfigType.STRING, ConfigType.CLASS):
        return text
    if type_ is ConfigType.PASSWORD:
        return Password(text)
    if type_ in _INT_BOUNDS:
        low, high = _INT_BOUNDS[type_]
        if _INTEGER.fullmatch(text) is None or not low <= int(text) <= high:
            raise ConfigError(name, raw, f"Not a number of type {type_.name}")
        return int(text)
    if type_ is ConfigType.DOUBLE:
        if _DOUBLE.fullmatch(text) is None:
            raise ConfigError(name, raw, f"Not a number of type {type_.name}")
        return float(text.rstrip("fFdD"))
    if type_ is ConfigType.LIST:
        return () if text == "" else tuple(_COMMA.split(text))
    raise ConfigError(name, raw, f"Unknown type {type_.name}")


def render_value(type_: ConfigType, value: Any) -> str | None:
    """The text DescribeConfigs shows for a typed value (``None`` stays ``None``)."""
    if value is None:
        return None
    if type_ is ConfigType.BOOLEAN or isinstance(value, bool):
        return "true" if value else "false"
    if type_ is ConfigType.LIST:
        return ",".join(str(item) for item in value)
    if type_ is ConfigType.DOUBLE or isinstance(value, float):
        return java_double_str(float(value))
    return str(value)


def java_double_str(x: float) -> str:
    """``Double.toString`` of the JVM: plain between 10^-3 and 10^7, else ``d.dddE±n``."""
    if math.isnan(x):
        return "NaN"
    if math.isinf(x):
        return "Infinity" if x > 0 else "-Infinity"
    if x == 0:
        return "-0.0" if math.copysign(1.0, x) < 0 else "0.0"
    if 1e-3 <= abs(x) < 1e7:
        return repr(x)  # Python's shortest repr is plain in this range and keeps the ".0"
    sign, digits, _ = decimal.Decimal(repr(x)).normalize().as_tuple()
    exponent = decimal.Decimal(repr(x)).adjusted()
    text = "".join(str(d) for d in digits)
    mantissa = text[0] + "." + (text[1:] or "0")
    return f"{'-' if sign else ''}{mantissa}E{exponent}"


def _show(value: object) -> str:
    """A value as it appears inside an error message."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return java_double_str(value)
    if isinstance(value, tuple | list):
        return "[" + ", ".join(str(v) for v in value) + "]"
    return str(value)


def _number(n: float) -> str:
    return java_double_str(n) if isinstance(n, float) else str(n)


# --- validators ----------------------------------------------------------------------------


class Validator(Protocol):
    """Checks a parsed, non-null value; raises :class:`ConfigError` naming ``name``.

    ``str(validator)`` describes the valid values for documentation.
    """

    def __call__(self, name: str, value: Any) -> None: ...


@datatype(frozen=True, slots=True)
class Range:
    """A number within ``[low, high]``; either bound may be open (``None``)."""

    low: float | None = None
    high: float | None = None

    def __call__(self, name: str, value: Any) -> None:
        if self.low is not None and value < self.low:
            raise ConfigError(name, value, f"Value must be at least {_number(self.low)}")
        if self.high is not None and value > self.high:
            raise ConfigError(name, value, f"Value must be no more than {_number(self.high)}")

    def __str__(self) -> str:
        low = "..." if self.low is None else _number(self.low)
        if self.high is None:
            return f"[{low},...]"
        return f"[{low},...,{_number(self.high)}]"


def AtLeast(low: float) -> Range:
    return Range(low, None)


def Between(low: float, high: float) -> Range:
    return Range(low, high)


@datatype(frozen=True, slots=True)
class OneOf:
    """A string equal (case-sensitively) to one of ``choices``."""

    choices: tuple[str, ...]

    def __init__(self, *choices: str) -> None:
        object.__setattr__(self, "choices", choices)

    def __call__(self, name: str, value: Any) -> None:
        if value not in self.choices:
            raise ConfigError(name, value, "String must be one of: " + ", ".join(self.choices))

    def __str__(self) -> str:
        return "[" + ", ".join(self.choices) + "]"


@datatype(frozen=True, slots=True)
class ListOf:
    """A list whose every element is one of ``choices``; an empty list passes."""

    choices: tuple[str, ...]

    def __init__(self, *choices: str) -> None:
        object.__setattr__(self, "choices", choices)

    def __call__(self, name: str, value: Any) -> None:
        for item in value:
            if item not in self.choices:
                raise ConfigError(name, item, "String must be one of: " + ", ".join(self.choices))

    def __str__(self) -> str:
        return "[" + ", ".join(self.choices) + "]"


@datatype(frozen=True, slots=True)
class Predicate:
    """A validator from a test function, the reason shown when it fails, and a description."""

    test: Callable[[Any], bool]
    reason: str
    description: str

    def __call__(self, name: str, value: Any) -> None:
        if not self.test(value):
            raise ConfigError(name, value, self.reason)

    def __str__(self) -> str:
        return self.description


# --- definitions ---------------------------------------------------------------------------


@datatype(frozen=True, slots=True)
class ConfigDef:
    """One config: its name, type, typed default (``None``: unset), checks and documentation.

    ``sensitive`` values are never shown back (DescribeConfigs reports ``null``); every
    PASSWORD config is sensitive whatever the argument says.
    """

    name: str
    type: ConfigType
    default: Any = None
    validator: Validator | None = None
    doc: str = ""
    importance: Importance = Importance.MEDIUM
    sensitive: bool = False

    def __post_init__(self) -> None:
        if self.type is ConfigType.PASSWORD and not self.sensitive:
            object.__setattr__(self, "sensitive", True)

    def parse(self, raw: str) -> Any:
        """The typed, validated value for ``raw``; :class:`ConfigError` names this config."""
        value = parse_value(self.name, self.type, raw)
        self.validate(value)
        return value

    def validate(self, value: Any) -> None:
        """Check an already typed value (``None``, an unset value, always passes)."""
        if value is not None and self.validator is not None:
            self.validator(self.name, value)

    def to_string(self, value: Any) -> str | None:
        """The text DescribeConfigs reports for ``value`` (sensitivity is the caller's call)."""
        return render_value(self.type, value)

    @property
    def default_string(self) -> str | None:
        return self.to_string(self.default)

    @property
    def valid_values(self) -> str:
        """Documentation of the accepted values, empty when any value of the type goes."""
        return "" if self.validator is None else str(self.validator)


class DescribedSynonym(NamedTuple):
    """One place a described config's value could come from, in precedence order."""

    name: str
    value: str | None
    source: ConfigSource


@datatype(frozen=True, slots=True)
class DescribedConfig:
    """One entry of a DescribeConfigs answer, before it is put in the response message.

    ``value`` is ``None`` for a sensitive config or an unset one. ``synonyms`` is empty unless
    they were asked for; ``doc`` is ``None`` unless documentation was asked for.
    """

    name: str
    value: str | None
    read_only: bool
    source: ConfigSource
    sensitive: bool
    synonyms: list[DescribedSynonym] = field(default_factory=list)
    type: ConfigType = ConfigType.UNKNOWN
    doc: str | None = None


def index(defs: Sequence[ConfigDef]) -> dict[str, ConfigDef]:
    """Definitions by name; a repeated name is a programming error."""
    table: dict[str, ConfigDef] = {}
    for d in defs:
        if d.name in table:
            raise ValueError(f"config {d.name} is defined twice")
        table[d.name] = d
    return table
