"""Parsing, rendering and validation rules of moldau.config.defs (Kafka's ConfigDef rules)."""

from __future__ import annotations

import math

import pytest

from moldau.config.defs import (
    AtLeast,
    Between,
    ConfigDef,
    ConfigError,
    ConfigSource,
    ConfigType,
    ListOf,
    OneOf,
    Password,
    java_double_str,
    parse_value,
    render_value,
)
from moldau.protocol.errors import ErrorCode, KafkaError

T = ConfigType


def test_wire_ids_of_types_and_sources() -> None:
    assert [(t.name, t.value) for t in ConfigType] == [
        ("UNKNOWN", 0), ("BOOLEAN", 1), ("STRING", 2), ("INT", 3), ("SHORT", 4),
        ("LONG", 5), ("DOUBLE", 6), ("LIST", 7), ("CLASS", 8), ("PASSWORD", 9),
    ]  # fmt: skip
    assert [(s.name, s.value) for s in ConfigSource] == [
        ("UNKNOWN", 0), ("DYNAMIC_TOPIC_CONFIG", 1), ("DYNAMIC_BROKER_CONFIG", 2),
        ("DYNAMIC_DEFAULT_BROKER_CONFIG", 3), ("STATIC_BROKER_CONFIG", 4), ("DEFAULT_CONFIG", 5),
        ("DYNAMIC_BROKER_LOGGER_CONFIG", 6), ("CLIENT_METRICS_CONFIG", 7), ("GROUP_CONFIG", 8),
    ]  # fmt: skip


@pytest.mark.parametrize(
    ("raw", "expected"),
    [("true", True), ("false", False), ("TRUE", True), ("False", False), (" true\t", True), ("tRuE", True)],
)
def test_boolean_accepts_any_case_and_trims(raw: str, expected: bool) -> None:
    assert parse_value("b", T.BOOLEAN, raw) is expected


@pytest.mark.parametrize("raw", ["yes", "1", "0", "", "t", "truex", "on"])
def test_boolean_rejects_anything_else(raw: str) -> None:
    with pytest.raises(ConfigError, match="Expected value to be either true or false") as e:
        parse_value("auto.create.topics.enable", T.BOOLEAN, raw)
    assert e.value.key == "auto.create.topics.enable"


def test_string_and_class_are_trimmed_text() -> None:
    assert parse_value("s", T.STRING, "  hello world \n") == "hello world"
    assert parse_value("s", T.STRING, "") == ""
    assert parse_value("c", T.CLASS, " org.example.Policy ") == "org.example.Policy"


@pytest.mark.parametrize(
    ("type_", "raw", "expected"),
    [
        (T.INT, "42", 42),
        (T.INT, "-7", -7),
        (T.INT, "+7", 7),
        (T.INT, " 10 ", 10),
        (T.INT, "2147483647", 2**31 - 1),
        (T.INT, "-2147483648", -(2**31)),
        (T.SHORT, "32767", 32767),
        (T.SHORT, "-32768", -32768),
        (T.LONG, "9223372036854775807", 2**63 - 1),
        (T.LONG, "-9223372036854775808", -(2**63)),
        (T.LONG, "007", 7),
    ],
)
def test_integers_in_range(type_: ConfigType, raw: str, expected: int) -> None:
    assert parse_value("n", type_, raw) == expected


@pytest.mark.parametrize(
    ("type_", "raw"),
    [
        (T.INT, "abc"),
        (T.INT, "2147483648"),
        (T.INT, "-2147483649"),
        (T.INT, "1.5"),
        (T.INT, "1e3"),
        (T.INT, "1_000"),
        (T.INT, ""),
        (T.INT, "0x10"),
        (T.INT, "١٢"),  # non-ASCII digits
        (T.SHORT, "32768"),
        (T.LONG, "9223372036854775808"),
        (T.LONG, "12 34"),
    ],
)
def test_integers_out_of_range_or_malformed(type_: ConfigType, raw: str) -> None:
    with pytest.raises(ConfigError, match=f"Not a number of type {type_.name}"):
        parse_value("n", type_, raw)


def test_int_error_message_names_the_key() -> None:
    with pytest.raises(ConfigError) as e:
        ConfigDef("num.partitions", T.INT, 1).parse("abc")
    assert str(e.value) == "Invalid value abc for configuration num.partitions: Not a number of type INT"
    assert e.value.key == "num.partitions"
    assert e.value.value == "abc"
    assert isinstance(e.value, KafkaError)
    assert e.value.code is ErrorCode.INVALID_CONFIG


@pytest.mark.parametrize(
    ("raw", "expected"),
    [("0.5", 0.5), ("1", 1.0), ("1e3", 1000.0), ("-2.5E-1", -0.25), (".5", 0.5), ("3.", 3.0),
     ("1.5d", 1.5), ("2f", 2.0), ("Infinity", math.inf), ("-Infinity", -math.inf)],
)  # fmt: skip
def test_double(raw: str, expected: float) -> None:
    assert parse_value("d", T.DOUBLE, raw) == expected


def test_double_nan_and_bad_text() -> None:
    assert math.isnan(parse_value("d", T.DOUBLE, "NaN"))
    for raw in ["nan", "inf", "abc", "1,5", "", "1_0", "0x1p3"]:
        with pytest.raises(ConfigError, match="Not a number of type DOUBLE"):
            parse_value("d", T.DOUBLE, raw)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("", ()),
        ("   ", ()),
        ("delete", ("delete",)),
        ("compact,delete", ("compact", "delete")),
        (" compact ,  delete ", ("compact", "delete")),
        ("a,,b", ("a", "", "b")),
        ("a,", ("a", "")),
        ("a b,c", ("a b", "c")),
    ],
)
def test_list_is_comma_separated_and_trimmed(raw: str, expected: tuple[str, ...]) -> None:
    assert parse_value("l", T.LIST, raw) == expected


def test_password_is_hidden() -> None:
    p = parse_value("ssl.key.password", T.PASSWORD, " s3cret ")
    assert isinstance(p, Password)
    assert p.value == "s3cret"
    assert str(p) == "[hidden]"
    assert "s3cret" not in repr(p)
    assert p == Password("s3cret")
    d = ConfigDef("ssl.key.password", T.PASSWORD)
    assert d.sensitive


@pytest.mark.parametrize(
    ("type_", "value", "text"),
    [
        (T.BOOLEAN, True, "true"),
        (T.BOOLEAN, False, "false"),
        (T.INT, -3, "-3"),
        (T.LONG, 2**63 - 1, "9223372036854775807"),
        (T.DOUBLE, 0.5, "0.5"),
        (T.DOUBLE, 1.0, "1.0"),
        (T.DOUBLE, 1.7976931348623157e308, "1.7976931348623157E308"),
        (T.LIST, ("compact", "delete"), "compact,delete"),
        (T.LIST, (), ""),
        (T.STRING, "CreateTime", "CreateTime"),
        (T.PASSWORD, Password("x"), "[hidden]"),
        (T.INT, None, None),
    ],
)
def test_render_like_the_jvm(type_: ConfigType, value: object, text: str | None) -> None:
    assert render_value(type_, value) == text


@pytest.mark.parametrize(
    ("x", "text"),
    [
        (0.0, "0.0"),
        (-0.0, "-0.0"),
        (0.001, "0.001"),
        (0.0001, "1.0E-4"),
        (1234567.0, "1234567.0"),
        (1e7, "1.0E7"),
        (12345678.9, "1.23456789E7"),
        (-1.5e-5, "-1.5E-5"),
        (math.nan, "NaN"),
        (math.inf, "Infinity"),
        (-math.inf, "-Infinity"),
    ],
)
def test_java_double_str(x: float, text: str) -> None:
    assert java_double_str(x) == text


def test_parse_then_render_round_trips() -> None:
    for type_, raw in [(T.LONG, "604800000"), (T.DOUBLE, "0.9"), (T.LIST, "a,b"), (T.BOOLEAN, "true")]:
        assert render_value(type_, parse_value("k", type_, raw)) == raw


def test_range_messages() -> None:
    d = ConfigDef("segment.bytes", T.INT, 1 << 30, AtLeast(1024 * 1024))
    assert d.parse("1048576") == 1048576
    with pytest.raises(ConfigError) as e:
        d.parse("14")
    assert str(e.value) == "Invalid value 14 for configuration segment.bytes: Value must be at least 1048576"
    ratio = ConfigDef("min.cleanable.dirty.ratio", T.DOUBLE, 0.5, Between(0, 1))
    assert ratio.parse("1") == 1.0
    with pytest.raises(ConfigError) as e:
        ratio.parse("1.5")
    assert str(e.value) == (
        "Invalid value 1.5 for configuration min.cleanable.dirty.ratio: Value must be no more than 1"
    )
    assert str(AtLeast(1)) == "[1,...]"
    assert str(Between(0, 1)) == "[0,...,1]"


def test_one_of_is_case_sensitive() -> None:
    d = ConfigDef("message.timestamp.type", T.STRING, "CreateTime", OneOf("CreateTime", "LogAppendTime"))
    assert d.parse(" LogAppendTime ") == "LogAppendTime"
    with pytest.raises(ConfigError) as e:
        d.parse("createtime")
    assert str(e.value) == (
        "Invalid value createtime for configuration message.timestamp.type: "
        "String must be one of: CreateTime, LogAppendTime"
    )


def test_list_of_names_the_bad_element() -> None:
    d = ConfigDef("cleanup.policy", T.LIST, ("delete",), ListOf("compact", "delete"))
    assert d.parse("delete,compact") == ("delete", "compact")
    assert d.parse("") == ()
    with pytest.raises(ConfigError) as e:
        d.parse("compact,remove")
    assert str(e.value) == (
        "Invalid value remove for configuration cleanup.policy: String must be one of: compact, delete"
    )


def test_error_without_value() -> None:
    e = ConfigError("a", None, "expected KEY=VALUE after --override")
    assert str(e) == "Invalid configuration a: expected KEY=VALUE after --override"


def test_definition_documentation_helpers() -> None:
    d = ConfigDef("x", T.LIST, ("a", "b"), ListOf("a", "b", "c"))
    assert d.default_string == "a,b"
    assert d.valid_values == "[a, b, c]"
    assert ConfigDef("y", T.INT).valid_values == ""
