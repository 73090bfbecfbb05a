"""``deferred_dataclass`` (socialcare.models): a class that becomes, on first use, exactly the
dataclass ``@dataclass`` makes at import (issue 18: start-up). Each check that needs a class
not yet made runs in a fresh interpreter."""

from __future__ import annotations

import dataclasses
import inspect
import json
import os
import pickle
import subprocess
import sys
import threading
from datetime import datetime, timezone
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from socialcare import app, models, safety, scoring
from socialcare.incident import matching
from socialcare.models import deferred_dataclass
from socialcare.store import core
from socialcare.triage import score

pytestmark = pytest.mark.store_free

#: every class the package defers: (module, class name)
DEFERRED = [
    (models, "Step"),
    (models, "Mention"),
    (models, "Page"),
    (models, "SentPost"),
    (app, "MentionView"),
    (app, "ReplyOutcome"),
    (app, "DmOutcome"),
    (app, "SourceInfo"),
    (app, "AgentInfo"),
    (app, "ResponseTimes"),
    (safety, "HtmlDocument"),
    (core, "ClaimOutcome"),
    (core, "QueueFilter"),
    (scoring, "TrainReport"),
    (score, "Rule"),
    (matching, "FoldedIncident"),
]
_NAMES = [f"{module.__name__}.{name}" for module, name in DEFERRED]


def _reference(cls: type) -> type:
    """The same class body made a dataclass at once, as ``@dataclass`` would have made it:
    the class's namespace without what making it added, each field back as its ``field()``."""
    frozen = cls.__dataclass_params__.frozen  # type: ignore[attr-defined]
    body = {k: v for k, v in vars(cls).items() if k not in _ADDED}
    for f in dataclasses.fields(cls):
        body[f.name] = dataclasses.field(
            default=f.default, default_factory=f.default_factory, init=f.init, repr=f.repr,
            hash=f.hash, compare=f.compare, metadata=f.metadata, kw_only=f.kw_only,
        )  # fmt: skip
    return dataclasses.dataclass(frozen=frozen)(type(cls.__name__, cls.__bases__, body))


_GENERATED = {"__init__", "__repr__", "__eq__", "__hash__", "__setattr__", "__delattr__"}
#: what making a dataclass adds to the class (besides its fields' defaults)
_ADDED = {
    *_GENERATED, "__dict__", "__weakref__", "__dataclass_fields__", "__dataclass_params__",
    "__match_args__",
}  # fmt: skip


def _shape(cls: type) -> dict[str, Any]:
    """What ``@dataclass`` decides about a class, comparable across two class objects."""
    return {
        "fields": [
            (f.name, f.type, f.default, f.default_factory, f.init, f.repr, f.compare, f.kw_only)
            for f in dataclasses.fields(cls)
        ],
        "params": repr(cls.__dataclass_params__),  # type: ignore[attr-defined]
        "signature": str(inspect.signature(cls)),
        "match_args": cls.__match_args__,  # type: ignore[attr-defined]
        "hash": cls.__hash__ is None,
        "dict": sorted(k for k in vars(cls) if k not in {"__dict__", "__weakref__"}),
        "generated": sorted(k for k in _GENERATED if k in vars(cls)),
        "mro": [c.__name__ for c in cls.__mro__],
    }


@pytest.mark.parametrize(("module", "name"), DEFERRED, ids=_NAMES)
def test_a_deferred_class_becomes_the_dataclass_it_would_have_been(module: Any, name: str) -> None:
    cls = getattr(module, name)
    assert dataclasses.is_dataclass(cls)  # reading it makes it
    reference = _reference(cls)
    mine, theirs = _shape(cls), _shape(reference)
    assert mine.pop("dict") == theirs.pop("dict")
    assert mine == theirs
    assert "__new__" not in vars(cls) and cls.__new__ is object.__new__  # nothing left over


_VALUES = st.one_of(st.none(), st.integers(), st.text(max_size=8), st.booleans())


def _kwargs(cls: type, draw: Any) -> dict[str, Any]:
    return {f.name: draw(_VALUES) for f in dataclasses.fields(cls) if f.init}


@settings(max_examples=60, deadline=None)
@given(data=st.data(), which=st.sampled_from(DEFERRED))
def test_instances_behave_as_the_dataclass_s(data: st.DataObject, which: tuple[Any, str]) -> None:
    """repr, ==, hash, replace, asdict and frozenness are the eager dataclass's, value for value."""
    cls = getattr(*which)
    reference = _reference(cls)
    values = _kwargs(cls, data.draw)
    other = _kwargs(cls, data.draw)
    mine, theirs = cls(**values), reference(**values)
    assert repr(mine) == repr(theirs)
    assert dataclasses.asdict(mine) == dataclasses.asdict(theirs)
    assert (mine == cls(**other)) == (theirs == reference(**other))
    assert mine == cls(**values) and mine != theirs  # compares as its own class only
    if reference.__hash__ is None:
        assert cls.__hash__ is None
    else:
        try:
            expected: object = hash(theirs)
        except TypeError as exc:  # an unhashable value in a frozen class
            expected = type(exc)
        try:
            got: object = hash(mine)
        except TypeError as exc:
            got = type(exc)
        assert got == expected
    name = next(f.name for f in dataclasses.fields(cls))
    assert repr(dataclasses.replace(mine, **{name: 5})) == repr(
        dataclasses.replace(theirs, **{name: 5})
    )
    if cls.__dataclass_params__.frozen:  # type: ignore[attr-defined]
        with pytest.raises(dataclasses.FrozenInstanceError):
            setattr(mine, name, 1)


def _fresh(body: str) -> str:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SOCIALCARE_")}
    return subprocess.run(
        [sys.executable, "-c", body], env=env, capture_output=True, text=True, check=True
    ).stdout.strip()


def test_importing_makes_none_of_them() -> None:
    """The point: ``import socialcare.app`` (and the store) compiles none of their methods."""
    body = (
        "import json, socialcare.app, socialcare.store, socialcare.safety, socialcare.scoring\n"
        "import socialcare.incident.matching\n"
        "from socialcare import models\n"
        "print(json.dumps(sorted(c.__qualname__ for c in models._DEFERRED)))\n"
    )
    waiting = json.loads(_fresh(body))
    assert waiting == sorted(name for _, name in DEFERRED)


@pytest.mark.parametrize(
    "first",
    [
        "models.Mention(source='s', native_id='1', text='t', created_at=now,"
        " author_id='a', author_handle='h')",
        "pickle.loads(blob)",
        "dataclasses.fields(models.Mention)",
        "inspect.signature(models.Mention)",
        "dataclasses.is_dataclass(models.Mention)",
    ],
)
def test_any_first_use_makes_it(first: str) -> None:
    """Creating, unpickling, or reading the fields or signature of a class not made yet."""
    mention = models.Mention(
        source="s", native_id="1", text="t", created_at=datetime(2026, 1, 1, tzinfo=timezone.utc),
        author_id="a", author_handle="h",
    )  # fmt: skip
    body = (
        "import dataclasses, inspect, pickle\n"
        "from datetime import datetime, timezone\n"
        "from socialcare import models\n"
        "now = datetime(2026, 1, 1, tzinfo=timezone.utc)\n"
        f"blob = {pickle.dumps(mention)!r}\n"
        "assert models.Mention in models._DEFERRED\n"
        f"{first}\n"
        "m = pickle.loads(blob)\n"
        "assert models.Mention not in models._DEFERRED\n"
        "print(repr(m), str(inspect.signature(models.Mention)), m.id, m.raw)\n"
    )
    printed = _fresh(body)
    assert printed == (
        f"{mention!r} {inspect.signature(models.Mention)} {mention.id} {mention.raw}"
    )


def test_threads_racing_to_make_it_make_it_once() -> None:
    @deferred_dataclass
    class Racer:
        a: int
        b: list[int] = dataclasses.field(default_factory=list)

    made: list[Racer] = []
    start = threading.Barrier(8)

    def build() -> None:
        start.wait()
        made.append(Racer(1))

    threads = [threading.Thread(target=build) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert [repr(r) for r in made] == ["test_threads_racing_to_make_it_make_it_once.<locals>."
                                       "Racer(a=1, b=[])"] * 8  # fmt: skip
    assert len({id(r.b) for r in made}) == 8  # each its own default list
