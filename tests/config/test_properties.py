"""The .properties reader, against java.util.Properties.load semantics."""

from __future__ import annotations

from pathlib import Path

import pytest

from moldau.config.properties import PropertiesError, load_properties, parse_properties


def test_separators_equals_colon_and_blank() -> None:
    text = "a=1\nb: 2\nc 3\nd\t=\t4\ne = = 5\nf:=6\ng   \n"
    assert parse_properties(text) == {"a": "1", "b": "2", "c": "3", "d": "4", "e": "= 5", "f": "=6", "g": ""}


def test_comments_and_blank_lines() -> None:
    text = "# a comment\n! another\n   # indented comment\n\n\t\nkey=value # not a comment\n"
    assert parse_properties(text) == {"key": "value # not a comment"}


def test_leading_blanks_skipped_trailing_kept() -> None:
    assert parse_properties("   \f key = value  \t") == {"key": "value  \t"}


@pytest.mark.parametrize("newline", ["\n", "\r\n", "\r"])
def test_every_line_ending(newline: str) -> None:
    text = newline.join(["a=1", "b=2", "# c=3", "d=4"]) + newline
    assert parse_properties(text) == {"a": "1", "b": "2", "d": "4"}


def test_line_continuation() -> None:
    text = "listeners=PLAINTEXT://a:9092,\\\n    SSL://b:9093\nnext=1\n"
    assert parse_properties(text) == {"listeners": "PLAINTEXT://a:9092,SSL://b:9093", "next": "1"}


def test_continuation_over_several_lines_and_of_the_key() -> None:
    text = "lo\\\n  ng.key = a\\\n\tb\\\n c\n"
    assert parse_properties(text) == {"long.key": "abc"}


def test_even_backslashes_do_not_continue() -> None:
    text = "path=C:\\\\dir\\\\\nother=1\n"
    assert parse_properties(text) == {"path": "C:\\dir\\", "other": "1"}


def test_continued_line_may_start_with_hash() -> None:
    assert parse_properties("a=x\\\n#y\n") == {"a": "x#y"}


def test_comment_line_is_never_continued() -> None:
    assert parse_properties("# comment \\\na=1\n") == {"a": "1"}


def test_continuation_at_end_of_text() -> None:
    assert parse_properties("a=x\\") == {"a": "x"}
    assert parse_properties("a=x\\\n") == {"a": "x"}


def test_continuation_followed_by_empty_line_ends_the_entry() -> None:
    assert parse_properties("a=x\\\n\nb=2") == {"a": "x", "b": "2"}


def test_escapes() -> None:
    text = r"k\=ey\:x\ y = v\tw\nx\\y\u00e9\u20AC\q\#" + "\n"
    assert parse_properties(text) == {"k=ey:x y": "v\tw\nx\\y\u00e9\u20acq#"}


def test_malformed_unicode_escape() -> None:
    with pytest.raises(PropertiesError, match=r"line 2: Malformed \\uxxxx encoding"):
        parse_properties("a=1\nb=\\u12G4\n")
    with pytest.raises(PropertiesError):
        parse_properties("b=\\u12")


def test_last_value_wins() -> None:
    assert parse_properties("a=1\na=2\n") == {"a": "2"}


def test_empty_text() -> None:
    assert parse_properties("") == {}
    assert parse_properties("\n\n# only comments\n") == {}


def test_kafka_style_server_properties(tmp_path: Path) -> None:
    path = tmp_path / "server.properties"
    path.write_text(
        "############################# Server Basics #############################\n"
        "# The id of the broker.\n"
        "node.id=1\n"
        "\n"
        "listeners=PLAINTEXT://:9092\n"
        "log.dirs=/tmp/kraft-combined-logs\n"
        "num.partitions=1\n"
        "log.retention.hours=168\n"
        "log.dir=/tmp/caf\u00e9\n",
        encoding="utf-8",
    )
    assert load_properties(path) == {
        "node.id": "1",
        "listeners": "PLAINTEXT://:9092",
        "log.dirs": "/tmp/kraft-combined-logs",
        "num.partitions": "1",
        "log.retention.hours": "168",
        "log.dir": "/tmp/caf\u00e9",
    }
