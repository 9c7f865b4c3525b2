"""``datatype`` classes behave as ``dataclass`` classes of the same declaration: the same
equality, hashing, ``repr``, and the rest left to ``dataclass``."""

from __future__ import annotations

import dataclasses
import pickle
from typing import Any

import pytest

from moldau.util.datatype import datatype

SHAPES: list[dict[str, Any]] = [
    {},
    {"slots": True},
    {"slots": True, "kw_only": True},
    {"frozen": True},
    {"frozen": True, "slots": True},
    {"eq": False},
    {"repr": False},
]


def declare(decorator: Any, **options: Any) -> type:
    class Point:
        __annotations__ = {"x": "int", "y": "list[int]", "note": "str", "cached": "int"}
        y: list[int] = dataclasses.field(default_factory=list)
        note: str = dataclasses.field(default="", compare=False)
        cached: int = dataclasses.field(default=0, repr=False)

    Point.__annotations__ = {"x": "int", "y": "list[int]", "note": "str", "cached": "int"}
    return decorator(**options)(Point)  # type: ignore[no-any-return]


@pytest.mark.parametrize("options", SHAPES, ids=lambda o: ",".join(o) or "plain")
def test_a_datatype_compares_hashes_and_prints_as_a_dataclass(options: dict[str, Any]) -> None:
    ours, theirs = declare(datatype, **options), declare(dataclasses.dataclass, **options)
    kw = {"x": 1, "y": [2], "note": "a", "cached": 5}
    same = {"x": 1, "y": [2], "note": "b", "cached": 5}  # note is not compared
    other = {"x": 1, "y": [3], "note": "a", "cached": 5}
    for a, b in ((kw, same), (kw, other), (kw, kw)):
        assert (ours(**a) == ours(**b)) == (theirs(**a) == theirs(**b)), (a, b)
    assert ours(**kw) != theirs(**kw)  # another class is never equal
    if options.get("repr", True):
        shown = repr(ours(**kw)).replace(ours.__qualname__, "P")
        assert shown == repr(theirs(**kw)).replace(theirs.__qualname__, "P")
        assert shown == "P(x=1, y=[2], note='a')"
    else:
        assert ours.__repr__ is object.__repr__
    assert (ours.__hash__ is None) == (theirs.__hash__ is None)
    if ours.__hash__ is not None and options.get("frozen"):
        a, b = ours(x=1, y=(2,), note="a"), ours(x=1, y=(2,), note="b")  # type: ignore[call-arg]
        assert hash(a) == hash(b) and a == b
        assert {a: 1}[b] == 1
    assert [f.name for f in dataclasses.fields(ours)] == ["x", "y", "note", "cached"]
    assert hasattr(ours, "__slots__") == hasattr(theirs, "__slots__")


@datatype(frozen=True, slots=True)
class Key:
    topic: str
    partition: int


def test_frozen_stays_frozen_and_replace_and_pickle_work() -> None:
    k = Key("t", 1)
    with pytest.raises(dataclasses.FrozenInstanceError):
        k.partition = 2  # type: ignore[misc]
    assert dataclasses.replace(k, partition=2) == Key("t", 2)
    assert pickle.loads(pickle.dumps(k)) == k
    assert dataclasses.asdict(k) == {"topic": "t", "partition": 1}


def test_methods_of_the_class_body_are_kept() -> None:
    @datatype(frozen=True)
    class ByName:
        name: str
        weight: int = 0

        def __eq__(self, other: object) -> bool:
            return isinstance(other, ByName) and other.name == self.name

        def __hash__(self) -> int:
            return hash(self.name)

        def __repr__(self) -> str:
            return f"<{self.name}>"

    assert ByName("a", 1) == ByName("a", 2)
    assert hash(ByName("a", 1)) == hash("a")
    assert repr(ByName("a")) == "<a>"


def test_a_body_with_eq_alone_gets_the_hash_a_dataclass_would_give() -> None:
    def declare_with_eq(decorator: Any) -> Any:
        class Named:
            __annotations__ = {"name": "str"}

            def __eq__(self, other: object) -> bool:
                return isinstance(other, Named) and other.name == self.name  # type: ignore[attr-defined]

        return decorator(frozen=True)(Named)

    ours, theirs = declare_with_eq(datatype), declare_with_eq(dataclasses.dataclass)
    assert hash(ours("a")) == hash(ours("a"))
    assert (ours.__hash__ is None) == (theirs.__hash__ is None)


def test_a_subclass_compares_and_prints_its_own_fields() -> None:
    @datatype(kw_only=True)
    class Base:
        a: int = 0

    @datatype(kw_only=True)
    class Child(Base):
        b: int = 0

    assert Child(a=1, b=2) != Child(a=1, b=3)
    assert Child(a=1, b=2) != Base(a=1)
    assert repr(Child(a=1, b=2)).endswith("Child(a=1, b=2)")


def test_a_recursive_structure_prints_without_recursing_forever() -> None:
    @datatype
    class Node:
        children: list[Any]

    n = Node([])
    n.children.append(n)
    assert repr(n).endswith("Node(children=[...])")


def test_a_class_without_a_docstring_is_documented_by_its_fields() -> None:
    @datatype
    class Pair:
        left: int
        right: int

    @datatype
    class Documented:
        """Kept."""

        x: int

    assert Pair.__doc__ == "Pair(left, right)"
    assert Documented.__doc__ == "Kept."
