"""The page-at-a-time sanitiser returns exactly what the per-mention rule returns."""

from __future__ import annotations

import dataclasses
from datetime import datetime, timezone
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from socialcare.models import Mention
from socialcare.sources import base
from socialcare.sources.base import REPLACED_KEY, sanitise_mention, sanitise_page

# Characters the rule treats specially, mixed into ordinary text: controls, escapes,
# bidi overrides, every kind of whitespace, NUL, lone surrogates, C1, emoji.
_SPECIAL = (
    "\x00\x01\x07\t\n\x0b\x0c\r\x1b\x1c\x1f\x7f\x85\x9b\x9f\xa0 "
    "\u1680\u2000\u200a\u2028\u2029\u202a\u202e\u202f\u205f\u2066\u2069\u3000"
    "\ud800\udbff\udc00\udfff\ufffd\U0001f600é["
)
_chars = st.one_of(
    st.sampled_from(_SPECIAL), st.characters(codec=None), st.sampled_from("ab1 :/.@_-")
)
_text = st.text(_chars, max_size=12)
# Most pages are clean: plain values, so the fast path is taken and then broken by one.
_plain = st.text(st.sampled_from("abcdefgh0123456789:/._-@"), max_size=10)
_value = st.one_of(_plain, _plain, _text)
_scalar = st.one_of(st.none(), st.integers(), st.booleans(), st.floats(allow_nan=False), _value)
_payload = st.recursive(
    _scalar,
    lambda inner: st.one_of(
        st.lists(inner, max_size=3),
        st.lists(inner, max_size=3).map(tuple),
        st.dictionaries(st.one_of(_value, st.integers()), inner, max_size=3),
    ),
    max_leaves=8,
)


@st.composite
def mentions(draw: Any) -> Mention:
    when = datetime(2026, 1, 1, tzinfo=timezone.utc)
    optional = st.one_of(st.none(), _value)
    return Mention(
        source=draw(st.one_of(st.just("demo"), _value)),
        native_id=draw(_value),
        text=draw(st.one_of(_plain, _text, st.text(max_size=30))),
        created_at=when,
        author_id=draw(_value),
        author_handle=draw(st.one_of(_value, st.sampled_from(["Jo Smith", " jo", "jo ", "a  b"]))),
        author_name=draw(_value),
        author_followers=draw(st.one_of(st.none(), st.integers())),
        url=draw(_value),
        language=draw(optional),
        conversation_id=draw(optional),
        parent_id=draw(optional),
        query=draw(_value),
        kind=draw(st.sampled_from(["post", "reply", "dm"])),
        repost_of=draw(optional),
        raw=draw(st.one_of(st.dictionaries(_value, _payload, max_size=4), _payload)),
        meta=draw(st.dictionaries(_plain, _scalar, max_size=2)),
    )


def _same(got: list[Mention], expected: list[Mention], page: list[Mention]) -> None:
    assert len(got) == len(expected)
    for g, e, m in zip(got, expected, page, strict=True):
        assert g == e
        assert repr(g) == repr(e)  # the same field values, to the type (NaN-free payloads)
        assert (g is m) == (e is m)  # unchanged mentions are handed back as they came


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(mentions(), max_size=12))
def test_page_matches_the_rule(page: list[Mention]) -> None:
    expected = [base._sanitise_one(m) for m in page]
    _same(sanitise_page(page), expected, page)
    _same([sanitise_mention(m) for m in page], expected, page)


def _clean(i: int) -> Mention:
    return Mention(
        source="demo", native_id=str(i), text=f"hello {i} 😀", author_id=f"u{i}",
        author_handle="Jo Smith", created_at=datetime(2026, 1, 1, tzinfo=timezone.utc),
        url=f"https://x.test/{i}", raw={"id": str(i), "nested": [{"k": "v"}], 3: None},
    )  # fmt: skip


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("text", "bad\x00nul"),
        ("text", "lone \ud83d surrogate"),
        ("author_name", "\udc80"),
        ("native_id", "12\x1b[31m"),
        ("native_id", "1 2"),
        ("url", "https://x.test/\u202e"),
        ("author_handle", "Jo  Smith"),
        ("author_handle", " Jo"),
        ("author_handle", "Jo "),
        ("author_handle", "Jo\t\tSmith"),
        ("parent_id", "p\x85"),
        ("raw", {"k": ["x", {"deep": "\ud800"}]}),
        ("raw", {"\udfff": 1}),
        ("raw", {"t": ("a", "\udfff")}),
    ],
)
def test_one_dirty_mention_in_a_clean_page(field: str, value: object) -> None:
    """Each kind of dirt is found in the middle of a long clean page (the halving)."""
    page = [_clean(i) for i in range(37)]
    page[23] = dataclasses.replace(page[23], **{field: value})
    got = sanitise_page(page)
    assert got[23] is not page[23]
    assert got[23] == base._sanitise_one(page[23])
    assert field in got[23].raw[REPLACED_KEY]
    assert all(g is m for i, (g, m) in enumerate(zip(got, page, strict=True)) if i != 23)


def test_clean_page_is_handed_back() -> None:
    page = [_clean(i) for i in range(50)]
    got = sanitise_page(page)
    assert all(g is m for g, m in zip(got, page, strict=True))
    assert base._clean_page(page)  # the fast path took it, not the rule per mention


def test_subclass_fields_follow_the_rule() -> None:
    @dataclasses.dataclass
    class Extra(Mention):
        extra: str = ""

    m = Extra(
        source="demo", native_id="1", text="t", author_id="u", author_handle="h",
        created_at=datetime(2026, 1, 1, tzinfo=timezone.utc), extra="x\x00y",
    )  # fmt: skip
    got = sanitise_page([m, _clean(1)])
    assert got[0].extra == "x\ufffdy"  # type: ignore[attr-defined]
    assert got[0].raw[REPLACED_KEY] == {"extra": 1}
