"""Message declarations and the codecs derived from them.

Every API's request and response is declared once, as ordinary dataclasses whose fields carry
their wire description in ``dataclasses.field(metadata=...)``, written with :func:`field`::

    @dataclass(slots=True, kw_only=True)
    class DeleteRecordsPartition:
        partition_index: int = field(INT32)
        offset: int = field(INT64)

    @dataclass(slots=True, kw_only=True)
    class DeleteRecordsTopic:
        name: str = field(STRING)
        partitions: list[DeleteRecordsPartition] = field(Array(DeleteRecordsPartition))

The same class serves every version: a field lists the versions it exists in (``"3+"``,
``"0-12"``), the versions it may be null in, and, for tagged fields, its tag. Encoders and
decoders are compiled from the declaration once per ``(class, version, flexible)`` and cached.
In flexible versions strings, bytes and arrays are compact and every struct ends with a tagged
field section; fields declared with a tag go there (only when their value differs from the
default), unknown tags are skipped on decode.

A field absent from a version decodes to its default and is silently dropped on encode.
"""

from __future__ import annotations

import dataclasses
import struct
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from moldau.protocol.primitives import ZERO_UUID, DecodeError, Reader, Writer

MAX_VERSION = 0x7FFF

Decoder = Callable[[Reader], Any]
Encoder = Callable[[Writer, Any], None]


@dataclass(frozen=True, slots=True)
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


@dataclass(frozen=True, slots=True)
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


@dataclass(frozen=True, slots=True)
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


# -- compilation -----------------------------------------------------------------------------

_decoders: dict[tuple[type, int, bool], Decoder] = {}
_encoders: dict[tuple[type, int, bool], Encoder] = {}


def _prim_decoder(p: Prim, flexible: bool, nullable: bool) -> Decoder:
    if p.fixed is not None:
        return getattr(Reader, "read_" + p.fixed)
    pair = p.compact if flexible else p.classic
    assert pair is not None
    return getattr(Reader, "read_" + pair[1 if nullable else 0])


def _prim_encoder(p: Prim, flexible: bool, nullable: bool) -> Encoder:
    if p.fixed is not None:
        return getattr(Writer, "write_" + p.fixed)
    pair = p.compact if flexible else p.classic
    assert pair is not None
    return getattr(Writer, "write_" + pair[1 if nullable else 0])


def _type_decoder(t: FieldType, version: int, flexible: bool, nullable: bool) -> Decoder:
    if isinstance(t, Prim):
        return _prim_decoder(t, flexible, nullable)
    if isinstance(t, Array):
        elem = _type_decoder(t.elem, version, flexible, False)
        read_len = Reader.read_compact_array_len if flexible else Reader.read_array_len

        def read_array(r: Reader) -> list[Any] | None:
            n = read_len(r)
            if n < 0:
                if nullable:
                    return None
                raise DecodeError("null in non-nullable array")
            return [elem(r) for _ in range(n)]

        return read_array
    struct_dec = decoder(t, version, flexible)
    if not nullable:
        return struct_dec

    def read_nullable_struct(r: Reader) -> Any:
        return None if r.read_int8() < 0 else struct_dec(r)

    return read_nullable_struct


def _type_encoder(t: FieldType, version: int, flexible: bool, nullable: bool) -> Encoder:
    if isinstance(t, Prim):
        return _prim_encoder(t, flexible, nullable)
    if isinstance(t, Array):
        elem = _type_encoder(t.elem, version, flexible, False)

        def write_array(w: Writer, v: list[Any] | None) -> None:
            if v is None:
                if not nullable:
                    raise ValueError("null in non-nullable array")
                w.buf += b"\x00" if flexible else b"\xff\xff\xff\xff"
                return
            if flexible:
                n = len(v) + 1
                if n < 0x80:
                    w.buf.append(n)
                else:
                    w.write_uvarint(n)
            else:
                w.write_int32(len(v))
            for item in v:
                elem(w, item)

        return write_array
    struct_enc = encoder(t, version, flexible)
    if not nullable:
        return struct_enc

    def write_nullable_struct(w: Writer, v: Any) -> None:
        if v is None:
            w.write_int8(-1)
        else:
            w.write_int8(1)
            struct_enc(w, v)

    return write_nullable_struct


def decoder(cls: type, version: int, flexible: bool) -> Decoder:
    """The decoder of ``cls`` at ``version``; compiled once and cached."""
    key = (cls, version, flexible)
    dec = _decoders.get(key)
    if dec is None:
        dec = _compile_decoder(cls, version, flexible)
        _decoders[key] = dec
    return dec


def encoder(cls: type, version: int, flexible: bool) -> Encoder:
    """The encoder of ``cls`` at ``version``; compiled once and cached."""
    key = (cls, version, flexible)
    enc = _encoders.get(key)
    if enc is None:
        enc = _compile_encoder(cls, version, flexible)
        _encoders[key] = enc
    return enc


_STRUCT_CODES = {"bool": "?", "int8": "b", "int16": "h", "int32": "i", "int64": "q"}
_STRUCT_CODES.update({"uint16": "H", "uint32": "I", "float64": "d"})


def _compile_decoder(cls: type, version: int, flexible: bool) -> Decoder:
    """Generate the decoder's source: consecutive fixed-width fields are read with one
    ``struct`` call, arrays in place (count, then elements through their decoder), other
    fields through their compiled decoders, and the object is built with one keyword call.
    The generated function is plain Python, kept readable in ``decode.__doc__`` for
    debugging."""
    plain: list[tuple[str, FieldSpec]] = []
    tagged: dict[int, tuple[str, Decoder]] = {}
    for name, spec in fields_of(cls):
        if not spec.present(version):
            continue
        if flexible and spec.is_tagged(version):
            assert spec.tag is not None
            tagged[spec.tag] = (name, _type_decoder(spec.type, version, flexible, spec.is_nullable(version)))
        else:
            plain.append((name, spec))

    env: dict[str, Any] = {"cls": cls, "tagged": tagged, "Reader": Reader, "DecodeError": DecodeError}
    lines = ["def decode(r):"]
    run: list[tuple[str, str]] = []  # (variable, struct code) of the current fixed-width run

    def flush_run() -> None:
        if not run:
            return
        st = struct.Struct(">" + "".join(code for _, code in run))
        env[f"S{len(env)}"] = st
        lines.append(f"    p = r._take({st.size})")
        lines.append(f"    {', '.join(v for v, _ in run)}, = S{len(env) - 1}.unpack_from(r.buf, p)")
        run.clear()

    args = []
    for i, (name, spec) in enumerate(plain):
        var = f"f{i}"
        args.append(f"{name}={var}")
        t = spec.type
        if isinstance(t, Prim) and t.fixed is not None and t.fixed in _STRUCT_CODES:
            run.append((var, _STRUCT_CODES[t.fixed]))
            continue
        flush_run()
        if isinstance(t, Array):
            # Inline: no call for the array itself, and none for the comprehension of a
            # one-element array (one topic, one partition: the usual request).
            env[f"D{i}"] = _type_decoder(t.elem, version, flexible, False)
            env[f"L{i}"] = Reader.read_compact_array_len if flexible else Reader.read_array_len
            null = (
                f"{var} = None"
                if spec.is_nullable(version)
                else "raise DecodeError('null in non-nullable array')"
            )
            if flexible:  # a count below 127 is one byte: read it here
                lines += [
                    "    p = r.pos",
                    "    if p < r.end and r.buf[p] < 0x80:",
                    "        r.pos = p + 1",
                    "        n = r.buf[p] - 1",
                    "    else:",
                    f"        n = L{i}(r)",
                ]
            else:
                lines.append(f"    n = L{i}(r)")
            lines += [
                "    if n == 1:",
                f"        {var} = [D{i}(r)]",
                "    elif n >= 0:",
                f"        {var} = [D{i}(r) for _ in range(n)]",
                "    else:",
                f"        {null}",
            ]
            continue
        env[f"D{i}"] = _type_decoder(t, version, flexible, spec.is_nullable(version))
        lines.append(f"    {var} = D{i}(r)")
    flush_run()
    if flexible:
        lines += [
            "    p = r.pos",
            "    if p < r.end and r.buf[p] == 0:  # no tagged fields, the usual case",
            "        r.pos = p + 1",
            f"        return cls({', '.join(args)})",
            "    extra = {}",
            "    for _ in range(r.read_uvarint()):",
            "        tag = r.read_uvarint()",
            "        size = r.read_uvarint()",
            "        end = r.pos + size",
            "        if end > r.end:",
            "            raise DecodeError(f'tagged field {tag} overruns its struct')",
            "        known = tagged.get(tag)",
            "        if known is not None:",
            "            extra[known[0]] = known[1](Reader(r.buf, r.pos, end))",
            "        r.pos = end",
            f"    return cls({', '.join([*args, '**extra'])})",
        ]
    else:
        lines.append(f"    return cls({', '.join(args)})")
    source = "\n".join(lines)
    exec(compile(source, f"<decoder {cls.__name__} v{version}>", "exec"), env)
    decode: Decoder = env["decode"]
    decode.__doc__ = source
    return decode


def _compile_encoder(cls: type, version: int, flexible: bool) -> Encoder:
    """Generate the encoder's source, as for decoders: consecutive fixed-width fields are
    packed with one ``struct`` call, arrays in place, other fields written by their compiled
    encoders, then
    (flexible versions) the tagged fields that differ from their defaults."""
    plain: list[tuple[str, FieldSpec]] = []
    tagged: list[tuple[int, str, Encoder, Any]] = []
    for name, spec in fields_of(cls):
        if not spec.present(version):
            continue
        if flexible and spec.is_tagged(version):
            assert spec.tag is not None
            enc = _type_encoder(spec.type, version, flexible, spec.is_nullable(version))
            default = spec.default
            if default is None and isinstance(spec.type, Array):
                default = []
            elif default is None and isinstance(spec.type, type) and not spec.is_nullable(version):
                default = spec.type()  # a tagged struct is written only when it differs from this
            tagged.append((spec.tag, name, enc, default))
        else:
            plain.append((name, spec))
    tagged.sort(key=lambda t: t[0])

    def write_tagged(w: Writer, obj: Any) -> None:
        present = [t for t in tagged if getattr(obj, t[1]) != t[3]]
        w.write_uvarint(len(present))
        for tag, name, enc, _ in present:
            sub = Writer()
            enc(sub, getattr(obj, name))
            value = sub.getvalue()
            w.write_uvarint(tag)
            w.write_uvarint(len(value))
            w.buf += value

    env: dict[str, Any] = {"write_tagged": write_tagged}
    lines = ["def encode(w, obj):"]
    run: list[tuple[str, str]] = []  # (attribute, struct code) of the current fixed-width run

    def flush_run() -> None:
        if not run:
            return
        env[f"S{len(env)}"] = struct.Struct(">" + "".join(code for _, code in run))
        lines.append(f"    w.buf += S{len(env) - 1}.pack({', '.join(f'obj.{a}' for a, _ in run)})")
        run.clear()

    for i, (name, spec) in enumerate(plain):
        t = spec.type
        if isinstance(t, Prim) and t.fixed is not None and t.fixed in _STRUCT_CODES:
            run.append((name, _STRUCT_CODES[t.fixed]))
            continue
        flush_run()
        if isinstance(t, Array):  # inline, as in the decoder
            env[f"E{i}"] = _type_encoder(t.elem, version, flexible, False)
            if spec.is_nullable(version):
                null = "w.buf += " + ("b'\\x00'" if flexible else "b'\\xff\\xff\\xff\\xff'")
            else:
                null = "raise ValueError('null in non-nullable array')"
            size = (
                [
                    "        n = len(v) + 1",
                    "        if n < 0x80:",
                    "            w.buf.append(n)",
                    "        else:",
                    "            w.write_uvarint(n)",
                ]
                if flexible
                else ["        w.write_int32(len(v))"]
            )
            lines += [
                f"    v = obj.{name}",
                "    if v is None:",
                f"        {null}",
                "    else:",
                *size,
                "        for item in v:",
                f"            E{i}(w, item)",
            ]
            continue
        env[f"E{i}"] = _type_encoder(t, version, flexible, spec.is_nullable(version))
        lines.append(f"    E{i}(w, obj.{name})")
    flush_run()
    if flexible and tagged:
        lines.append("    write_tagged(w, obj)")
    elif flexible:
        lines.append("    w.buf.append(0)  # no tagged fields declared")
    elif len(lines) == 1:
        lines.append("    pass")
    source = "\n".join(lines)
    exec(compile(source, f"<encoder {cls.__name__} v{version}>", "exec"), env)
    encode: Encoder = env["encode"]
    encode.__doc__ = source
    return encode


def encode(obj: Any, version: int, flexible: bool) -> bytes:
    w = Writer()
    encoder(type(obj), version, flexible)(w, obj)
    return w.getvalue()


def decode(cls: type, data: bytes | bytearray | memoryview, version: int, flexible: bool) -> Any:
    """Decode a whole buffer; trailing bytes are an error."""
    r = Reader(data)
    obj = decoder(cls, version, flexible)(r)
    if r.remaining():
        raise DecodeError(f"{r.remaining()} trailing bytes after {cls.__name__} v{version}")
    return obj


# -- API registry ----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
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
    "decode",
    "decoder",
    "encode",
    "encoder",
    "field",
    "fields_of",
]
