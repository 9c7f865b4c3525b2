"""The codecs derived from the message declarations (schema.py): an encoder and a decoder per
``(class, version, flexible)``, generated as Python source the first time they are asked for
and cached. Consecutive fixed-width fields take one ``struct`` call, arrays are read and
written in place, other fields call the codecs of their types; each generated function keeps
its source in ``__doc__`` for debugging.
"""

from __future__ import annotations

import struct
from typing import Any

from moldau.protocol.primitives import DecodeError, Reader, Writer
from moldau.protocol.schema import Array, Decoder, Encoder, FieldSpec, FieldType, Prim, fields_of

_decoders: dict[tuple[type, int, bool], Decoder] = {}
_encoders: dict[tuple[type, int, bool], Encoder] = {}
_tagged_defaults: dict[type, Any] = {}


def tagged_default(cls: type) -> Any:
    """The one default instance of struct ``cls`` that encoders compare tagged fields of that
    type against: a field holding this very object is seen to be at its default without
    comparing field by field. Shared by every caller, so never to be changed in place."""
    default = _tagged_defaults.get(cls)
    if default is None:
        default = _tagged_defaults[cls] = cls()
    return default


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
    encoders, then (flexible versions) the tagged fields that differ from their defaults: a
    zero count, written in place, when none does."""
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
                default = tagged_default(spec.type)  # written only when it differs from this
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
    if flexible and tagged:  # a count of 0 when every tagged field has its default, the usual case
        same = []
        for j, (_, name, _, default) in enumerate(tagged):
            env[f"T{j}"] = default
            same.append(f"(obj.{name} is T{j} or obj.{name} == T{j})")
        lines += [
            f"    if {' and '.join(same)}:",
            "        w.buf.append(0)",
            "    else:",
            "        write_tagged(w, obj)",
        ]
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
