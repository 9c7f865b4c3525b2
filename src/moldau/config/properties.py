"""A reader for Java ``.properties`` text, the format of Kafka's ``server.properties``.

It follows ``java.util.Properties.load`` so that a file Kafka reads means the same here:

* Lines end at ``\\n``, ``\\r`` or ``\\r\\n``. Blanks (space, tab, form feed) at the start of
  a line are skipped; a line that is then empty, or starts with ``#`` or ``!``, is ignored.
* A line ending in an odd number of backslashes continues on the next line, whose leading
  blanks are skipped. A comment line never continues.
* The key ends at the first unescaped ``=``, ``:`` or blank. Blanks around the separator
  are skipped; a key alone on its line has the empty value. Blanks at the end of a value are
  kept (typed parsing trims them later).
* In keys and values ``\\t``, ``\\n``, ``\\r``, ``\\f`` and ``\\uXXXX`` are escapes, and a
  backslash before any other character stands for that character (``\\=``, ``\\:``,
  ``\\#``, ``\\ ``, ``\\\\``).
* A key given twice keeps its last value.

One difference: the text is decoded as UTF-8 by :func:`load_properties`, where the JVM reads
ISO-8859-1; ``\\uXXXX`` escapes work either way.
"""

from __future__ import annotations

import re
from pathlib import Path

__all__ = ["PropertiesError", "load_properties", "parse_properties"]

_LINE_BREAK = re.compile(r"\r\n|\r|\n")
_BLANKS = " \t\f"
_ESCAPES = {"t": "\t", "n": "\n", "r": "\r", "f": "\f"}


class PropertiesError(ValueError):
    """Text that is not a valid properties file (only a malformed ``\\u`` escape is)."""


def load_properties(path: str | Path) -> dict[str, str]:
    """Read and parse a properties file. ``OSError`` and ``UnicodeDecodeError`` pass through."""
    return parse_properties(Path(path).read_text(encoding="utf-8"))


def parse_properties(text: str) -> dict[str, str]:
    """The key/value pairs of properties text, in the order their keys first appear."""
    result: dict[str, str] = {}
    for line_number, logical in _logical_lines(text):
        key, value = _split(logical)
        try:
            result[_unescape(key)] = _unescape(value)
        except PropertiesError as e:
            raise PropertiesError(f"line {line_number}: {e}") from None
    return result


def _logical_lines(text: str) -> list[tuple[int, str]]:
    """(1-based number of the first physical line, joined text) for each entry line."""
    physical = _LINE_BREAK.split(text)
    out: list[tuple[int, str]] = []
    i = 0
    while i < len(physical):
        start = i + 1
        line = physical[i].lstrip(_BLANKS)
        i += 1
        if not line or line[0] in "#!":
            continue
        while _continues(line):
            line = line[:-1]
            if i >= len(physical):
                break
            line += physical[i].lstrip(_BLANKS)
            i += 1
        out.append((start, line))
    return out


def _continues(line: str) -> bool:
    trailing = len(line) - len(line.rstrip("\\"))
    return trailing % 2 == 1


def _split(line: str) -> tuple[str, str]:
    """Cut a logical line into raw (still escaped) key and value."""
    key_end = len(line)
    value_start = len(line)
    has_separator = False
    escaped = False
    for pos, c in enumerate(line):
        if not escaped and c in "=:":
            key_end, value_start, has_separator = pos, pos + 1, True
            break
        if not escaped and c in _BLANKS:
            key_end, value_start = pos, pos + 1
            break
        escaped = c == "\\" and not escaped
    while value_start < len(line):
        c = line[value_start]
        if c not in _BLANKS:
            if not has_separator and c in "=:":
                has_separator = True
            else:
                break
        value_start += 1
    return line[:key_end], line[value_start:]


def _unescape(text: str) -> str:
    if "\\" not in text:
        return text
    out: list[str] = []
    i = 0
    while i < len(text):
        c = text[i]
        i += 1
        if c != "\\" or i >= len(text):
            out.append(c)
            continue
        c = text[i]
        i += 1
        if c == "u":
            digits = text[i : i + 4]
            if len(digits) != 4 or any(d not in "0123456789abcdefABCDEF" for d in digits):
                raise PropertiesError("Malformed \\uxxxx encoding.")
            out.append(chr(int(digits, 16)))
            i += 4
        else:
            out.append(_ESCAPES.get(c, c))
    return "".join(out)
