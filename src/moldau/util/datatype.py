"""``datatype``: ``dataclasses.dataclass`` with ``__eq__``, ``__repr__`` and ``__hash__`` built
from closures instead of generated source.

``dataclass`` writes each method it adds as Python source and compiles it with ``exec``;
on Python 3.11 that is about 0.1 ms per method, and the broker declares some 250 classes
(every message of every API, coordinator records, configs), so the compiling was about 80 ms
of a 270 ms start-up. ``datatype`` still lets ``dataclass`` write ``__init__`` (the one that
runs on hot paths, and the one whose keyword handling is worth generating) and the frozen
classes' ``__setattr__``; it gives equality, hashing and ``repr`` closures over the field
names, which compare, hash and print exactly as the generated methods would. A class without
a docstring gets its field names as one, where ``dataclass`` would ask ``inspect`` for the
signature of ``__init__``. Everything else
(``fields``, ``replace``, ``asdict``, slots, ``kw_only``, ``frozen``) is ``dataclass``'s own.

The project uses it in place of ``@dataclass`` everywhere (ruff's banned-api rule says so).
"""

from __future__ import annotations

import dataclasses
import reprlib
from collections.abc import Callable
from operator import attrgetter
from typing import Any, TypeVar, dataclass_transform, overload

_T = TypeVar("_T")


def _values(names: tuple[str, ...]) -> Callable[[Any], Any]:
    """A function returning what equality and hashing compare: the named attributes of an
    object as a tuple, the attribute itself for one name (equal and hashed alike)."""
    if not names:
        return lambda _obj: ()
    return attrgetter(*names)


def _eq(values: Callable[[Any], Any]) -> Callable[[Any, Any], Any]:
    def __eq__(self: Any, other: Any) -> Any:
        if other.__class__ is self.__class__:
            return values(self) == values(other)
        return NotImplemented

    return __eq__


def _hash(values: Callable[[Any], Any]) -> Callable[[Any], int]:
    def __hash__(self: Any) -> int:
        return hash(values(self))

    return __hash__


def _repr(names: tuple[str, ...]) -> Callable[[Any], str]:
    @reprlib.recursive_repr()
    def __repr__(self: Any) -> str:
        shown = ", ".join(f"{name}={getattr(self, name)!r}" for name in names)
        return f"{self.__class__.__qualname__}({shown})"

    return __repr__


def _finish(cls: type[Any], repr: bool, eq: bool, frozen: bool, own: dict[str, Any]) -> None:
    """Add what ``dataclass`` was told not to write, as it would have: methods the class body
    defines stay; with ``eq``, a mutable class is unhashable and a frozen one hashes its
    compared fields, unless the body defines ``__hash__``."""
    fields = dataclasses.fields(cls)
    if repr and "__repr__" not in own:
        cls.__repr__ = _repr(tuple(f.name for f in fields if f.repr))  # type: ignore[assignment]
    if not eq:
        return
    if "__eq__" not in own:
        cls.__eq__ = _eq(_values(tuple(f.name for f in fields if f.compare)))  # type: ignore[assignment]
    body_hash = own.get("__hash__", dataclasses.MISSING)
    # a body that defines __eq__ alone gets __hash__ = None from Python: not an explicit one
    if body_hash is dataclasses.MISSING or (body_hash is None and "__eq__" in own):
        if frozen:
            hashed = tuple(f.name for f in fields if (f.compare if f.hash is None else f.hash))
            cls.__hash__ = _hash(_values(hashed))  # type: ignore[assignment]
        else:
            cls.__hash__ = None  # type: ignore[assignment]


@overload
def datatype(cls: type[_T], /) -> type[_T]: ...


@overload
def datatype(
    *,
    init: bool = True,
    repr: bool = True,
    eq: bool = True,
    frozen: bool = False,
    kw_only: bool = False,
    slots: bool = False,
) -> Callable[[type[_T]], type[_T]]: ...


@dataclass_transform(field_specifiers=(dataclasses.field, dataclasses.Field))
def datatype(
    cls: type[_T] | None = None,
    /,
    *,
    init: bool = True,
    repr: bool = True,
    eq: bool = True,
    frozen: bool = False,
    kw_only: bool = False,
    slots: bool = False,
) -> type[_T] | Callable[[type[_T]], type[_T]]:
    """``@datatype`` / ``@datatype(frozen=True, slots=True, kw_only=True)``: a dataclass."""

    def wrap(cls: type[_T]) -> type[_T]:
        own = dict(cls.__dict__)
        if not cls.__doc__:
            # dataclass would build this from inspect.signature (another 0.1 ms a class)
            cls.__doc__ = f"{cls.__name__}({', '.join(own.get('__annotations__', ()))})"
        made = dataclasses.dataclass(
            cls, init=init, repr=False, eq=False, frozen=frozen, kw_only=kw_only, slots=slots
        )
        _finish(made, repr, eq, frozen, own)
        return made

    return wrap if cls is None else wrap(cls)
