"""Message declarations, from which the codecs are derived (codegen.py).

Every API's request and response is declared once, as ordinary dataclasses whose fields carry
their wire description in ``dataclasses.field(metadata=...)``, written with :func:`field`::

    @datatype(slots=True, kw_only=True)
    class DeleteRecordsPartition:
        partition_index: int = field(INT32)
        offset: int = field(INT64)

    @datatype(slots=True, kw_only=True)
    class DeleteRecordsTopic:
        name: str = field(STRING)
        partitions: list[DeleteRecordsPartition] = field(Array(DeleteRecordsPartition))

The same class serves every version: a field lists the versions it exists in (``"3+"``,
``"0-12"``), the versions it may be null in, and, for tagged fields, its tag. Encoders and
decoders are compiled from the declaration once per ``(class, version, flexible)`` and cached
(codegen.py).
In flexible versions strings, bytes and arrays are compact and every struct ends with a tagged
field section; fields declared with a tag go there (only when their value differs from the
default), unknown tags are skipped on decode.

A field absent from a version decodes to its default and is silently dropped on encode.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any

from moldau.protocol.primitives import ZERO_UUID, Reader, Writer
from moldau.util.datatype import datatype

MAX_VERSION = 0x7FFF

Decoder = Callable[[Reader], Any]
Encoder = Callable[[Writer, Any], None]


@datatype(frozen=True, slots=True)
class Prim:
    """A primitive wire type. ``fixed`` names the Reader/Writer method used in every version;
    ``classic``/``compact`` name the (non-null, nullable) method pairs for variable types."""

    name: str
    default: Any
    fixed: str | None = None
    classic: tuple[str, str] | None = None
    compact: tuple[str, str] | None = None


BOOL = Prim("bool", False, fixed="bool")
INT8 = Prim("int8", 0, fixed="int8")
INT16 = Prim("int16", 0, fixed="int16")
INT32 = Prim("int32", 0, fixed="int32")
INT64 = Prim("int64", 0, fixed="int64")
UINT16 = Prim("uint16", 0, fixed="uint16")
UINT32 = Prim("uint32", 0, fixed="uint32")
FLOAT64 = Prim("float64", 0.0, fixed="float64")
UUID = Prim("uuid", ZERO_UUID, fixed="uuid")
STRING = Prim(
    "string",
    "",
    classic=("string", "nullable_string"),
    compact=("compact_string", "compact_nullable_string"),
)
BYTES = Prim(
    "bytes", b"", classic=("bytes", "nullable_bytes"), compact=("compact_bytes", "compact_nullable_bytes")
)
# RECORDS is always nullable on the wire; it is decoded as a zero-copy memoryview.
RECORDS = Prim(
    "records", None, classic=("records", "records"), compact=("compact_records", "compact_records")
)


@datatype(frozen=True, slots=True)
class Array:
    """An array of a primitive or of a declared struct (a dataclass)."""

    elem: Prim | type


FieldType = Prim | Array | type


def parse_versions(spec: str | None) -> tuple[int, int]:
    """``"3+"`` -> (3, MAX), ``"0-12"`` -> (0, 12), ``"5"`` -> (5, 5), ``"none"``/None -> empty."""
    if spec is None or spec == "none":
        return (1, 0)
    if spec.endswith("+"):
        return (int(spec[:-1]), MAX_VERSION)
    if "-" in spec:
        lo, hi = spec.split("-")
        return (int(lo), int(hi))
    v = int(spec)
    return (v, v)


@datatype(frozen=True, slots=True)
class FieldSpec:
    type: FieldType
    versions: tuple[int, int]
    nullable: tuple[int, int]
    tag: int | None
    tagged_versions: tuple[int, int]
    default: Any

    def present(self, version: int) -> bool:
        lo, hi = self.versions
        return lo <= version <= hi

    def is_nullable(self, version: int) -> bool:
        lo, hi = self.nullable
        return lo <= version <= hi

    def is_tagged(self, version: int) -> bool:
        lo, hi = self.tagged_versions
        return self.tag is not None and lo <= version <= hi


_META_KEY = "kafka"


def field(
    type_: FieldType,
    versions: str = "0+",
    *,
    nullable: str | None = None,
    tag: int | None = None,
    tagged_versions: str | None = None,
    default: Any = dataclasses.MISSING,
) -> Any:
    """Declare one wire field. ``default`` overrides the type's default (0, "", [], ...)."""
    if tag is not None and tagged_versions is None:
        tagged_versions = versions
    if default is dataclasses.MISSING:
        if isinstance(type_, Prim):
            default = type_.default
        else:
            default = None  # arrays and structs: factory below
    spec = FieldSpec(
        type=type_,
        versions=parse_versions(versions),
        nullable=parse_versions(nullable),
        tag=tag,
        tagged_versions=parse_versions(tagged_versions),
        default=default,
    )
    meta = {_META_KEY: spec}
    if default is None and isinstance(type_, Array):
        return dataclasses.field(default_factory=list, metadata=meta)
    if default is None and isinstance(type_, type):
        if nullable is not None:
            return dataclasses.field(default=None, metadata=meta)
        return dataclasses.field(default_factory=type_, metadata=meta)
    return dataclasses.field(default=default, metadata=meta)


def fields_of(cls: type) -> list[tuple[str, FieldSpec]]:
    return [(f.name, f.metadata[_META_KEY]) for f in dataclasses.fields(cls) if _META_KEY in f.metadata]


# -- API registry ----------------------------------------------------------------------------


@datatype(frozen=True, slots=True)
class Api:
    """One API: its key, request/response classes and the versions we serve.

    ``min_version``..``max_version`` are the versions we answer; ``advertised_min`` (when lower)
    is what ApiVersions reports, for clients that probe for old versions they never send.
    """

    key: int
    name: str
    request: type
    response: type
    min_version: int
    max_version: int
    flexible_from: int
    advertised_min: int | None = None
    declared_min: int | None = None  # lowest version the declaration can decode

    def flexible(self, version: int) -> bool:
        return version >= self.flexible_from

    def request_header_version(self, version: int) -> int:
        return 2 if self.flexible(version) else 1

    def response_header_version(self, version: int) -> int:
        if self.key == 18:  # ApiVersions responses always use header v0 (KIP-511)
            return 0
        return 1 if self.flexible(version) else 0

    @property
    def lowest_advertised(self) -> int:
        return self.min_version if self.advertised_min is None else self.advertised_min

    @property
    def lowest_decodable(self) -> int:
        lows = [self.min_version]
        if self.advertised_min is not None:
            lows.append(self.advertised_min)
        if self.declared_min is not None:
            lows.append(self.declared_min)
        return min(lows)


__all__ = [
    "BOOL",
    "BYTES",
    "FLOAT64",
    "INT8",
    "INT16",
    "INT32",
    "INT64",
    "RECORDS",
    "STRING",
    "UINT16",
    "UINT32",
    "UUID",
    "Api",
    "Array",
    "field",
    "fields_of",
]
