"""The per-mention fast paths of a poll (issue 25) against the slow spelling they replace."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from socialcare.models import Mention, to_iso
from socialcare.scoring import _TEXT_INPUTS, _row_fingerprint, _row_fingerprinter
from socialcare.sources.demo import _line_value
from socialcare.store import Store
from socialcare.store.core import _json_text


def _reference_iso(dt: datetime) -> str:
    """``to_iso`` as it was: strftime of the time in UTC."""
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=timezone.utc)
    return dt.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


_ZONES = st.sampled_from(
    [None, timezone.utc, timezone(timedelta(hours=5, minutes=30)), timezone(-timedelta(hours=8))]
)


@given(
    st.datetimes(min_value=datetime(2, 1, 1), max_value=datetime(9998, 12, 31), timezones=_ZONES)
)
def test_to_iso_matches_strftime(dt: datetime) -> None:
    assert to_iso(dt) == _reference_iso(dt)


def test_to_iso_years_before_1000_and_utc_edges() -> None:
    for dt in (
        datetime(999, 12, 31, 23, 59, 59, tzinfo=timezone.utc),
        datetime(1000, 1, 1, tzinfo=timezone.utc),
        datetime(5, 6, 7, 8, 9, 10, tzinfo=timezone.utc),
        datetime(2026, 12, 3, 9, 8, 7, 654321, tzinfo=timezone.utc),
    ):
        assert to_iso(dt) == _reference_iso(dt)


def _post(native: str, author: str, minute: int, handle: str | None = None) -> Mention:
    return Mention(
        source="demo", native_id=native, text=f"help {native}", author_id=author,
        author_handle=handle or f"user{author}",
        created_at=datetime(2026, 11, 1, tzinfo=timezone.utc) + timedelta(minutes=minute),
    )  # fmt: skip


def test_waiting_before_is_the_count_stored_rows_get(store: Store) -> None:
    """``waiting_before`` on a page (read once per row) says what ``unanswered_before_many``
    reads once the page is stored: stored and in-page earlier posts, own and unknown authors."""
    store.upsert_mentions([_post("1", "a", 0), _post("2", "b", 5), _post("3", "a", 9)], ["acme"])
    page = [
        _post("4", "a", 3), _post("5", "a", 9), _post("6", "b", 1), _post("7", "", 2),
        _post("8", "", 3), _post("9", "c", 4, handle="Acme"), _post("10", "c", 6),
        _post("11", "a", 20), _post("12", "d", 7),
    ]  # fmt: skip
    rows = store.mention_rows(page, ["acme"])
    counts = store.waiting_before(rows)
    store.upsert_mentions(page, ["acme"])
    stored = store.unanswered_before_many([str(r["id"]) for r in rows])
    assert counts == [0 if r["is_own"] else stored.get(str(r["id"]), 0) for r in rows]
    assert counts[-2] == 4 and counts[5] == 0  # a's four earlier posts; the brand's own


_SCALARS = (
    st.none() | st.booleans() | st.integers() | st.floats() | st.text()
    | st.datetimes(timezones=_ZONES)  # not JSON: stored as its str
)  # fmt: skip
_KEYS = st.text() | st.integers() | st.booleans() | st.none() | st.floats(allow_nan=False)
_PAYLOADS = st.recursive(
    _SCALARS,
    lambda inner: (
        st.lists(inner, max_size=4)
        | st.tuples(inner, inner)
        | st.dictionaries(_KEYS, inner, max_size=4)
    ),
    max_leaves=20,
)


@given(st.dictionaries(_KEYS, _PAYLOADS, max_size=6))
def test_json_text_is_json_dumps(raw: dict[Any, Any]) -> None:
    """The payload text the C encoder built once writes is ``json.dumps``'s."""
    assert _json_text(raw) == json.dumps(raw, ensure_ascii=False, default=str)


def test_json_text_of_a_loop_is_json_dumps_error() -> None:
    raw: dict[str, Any] = {"a": [1, {"b": 2}]}
    raw["a"][1]["self"] = raw
    with pytest.raises(ValueError, match="Circular reference"):
        json.dumps(raw, ensure_ascii=False, default=str)
    with pytest.raises(ValueError, match="Circular reference"):
        _json_text(raw)
    assert _json_text({"ok": "é"}) == '{"ok": "é"}'  # and the next payload is fine


def _loads_outcome(load: Any, line: str) -> tuple[str, Any]:
    try:
        return "value", load(line)
    except Exception as exc:  # the same error, message and all
        return type(exc).__name__, str(exc)


_EDGES = st.sampled_from(["", " ", "\n", "\r\n", "\t", "\ufeff", "\u00a0", "x", "}", "{"])


@given(_EDGES, st.dictionaries(st.text(), _PAYLOADS, max_size=4), _EDGES)
def test_demo_line_value_is_json_loads(before: str, obj: dict[str, Any], after: str) -> None:
    """The demo source's scan of a line gives what ``json.loads`` gives, errors too."""
    line = before + json.dumps(obj, default=str) + after
    assert _loads_outcome(_line_value, line) == _loads_outcome(json.loads, line)
    assert _loads_outcome(_line_value, line[:-3]) == _loads_outcome(json.loads, line[:-3])


_ROW_VALUES = st.none() | st.integers() | st.floats() | st.text()


@given(
    st.binary(min_size=16, max_size=16),
    st.fixed_dictionaries({}, optional={c: _ROW_VALUES for c in _TEXT_INPUTS}),
)
def test_page_fingerprinter_is_row_fingerprint(key: bytes, row: dict[str, Any]) -> None:
    """The page scorer's copied keyed state gives ``_row_fingerprint``'s ``triage_fp``."""
    fingerprint = _row_fingerprinter(key)
    assert fingerprint(row) == _row_fingerprint(key, row)
    assert fingerprint(row) == _row_fingerprint(key, row)  # the bound state is not consumed
