"""CSV export fast path: page checks in C give exactly the per-cell rule's cells and bytes.

Random pages of hostile cells (formula prefixes, control characters, escapes,
bidi overrides, NUL, lone surrogates, the join separator, long cells) in
columns of one kind with strays of others, so every branch of the column
checks runs: all text, text and None, numbers, mixes, str subclasses. The
reference is the straightforward rule: ``_reference_cell`` (a frozen copy of
``csv_safe``) on every cell, then ``csv.writer``.
"""

from __future__ import annotations

import io
from typing import Any, Iterator, Sequence

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from socialcare.reports.export import write_rows
from socialcare.safety import csv_page, csv_rows
from socialcare.store.reports import ExportRows
from tests.test_export_cells import HOSTILE, _reference_cell, _reference_csv, _Text

FRAGMENTS = [
    "=", "+", "-", "@", "\t", "\r", "\n", "\r\n", "~", "~~", "~~=", "a", "é", "😀", "\u4e2d",
    "\x00", "\x01", "\x07", "\x0b", "\x0c", "\x1b", "\x1b[31m", "\x1b]8;;x\x07", "\x1bP", "\x7f",
    "\x85", "\x9b", "\x9b1m", "\xa0", "\u202e", "\u2066", "\u200b", "\u2028", "\ud800", "\udfff",
    " ", ",", '"', "'", "0", "-1",
]  # fmt: skip
_texts = st.lists(st.sampled_from(FRAGMENTS), max_size=8).map("".join) | st.text(max_size=12)
_cells: dict[str, st.SearchStrategy[Any]] = {
    "text": _texts,
    "none": st.none(),
    "int": st.integers(),
    "float": st.floats(allow_nan=True, allow_infinity=True),
    "bool": st.booleans(),
    "hostile": st.sampled_from(HOSTILE),
    "subclass": _texts.map(_Text),
    "bytes": st.binary(max_size=4),
}
_KINDS = [k for k in _cells if k != "subclass"]


@st.composite
def pages(draw: st.DrawFn) -> list[list[Any]]:
    """A page whose columns each mostly hold one kind of cell, sometimes with strays."""
    width = draw(st.integers(1, 6))
    height = draw(st.integers(1, 40))
    columns = []
    for _ in range(width):
        kind = draw(st.sampled_from(_KINDS))
        strays = draw(st.lists(st.sampled_from([*_KINDS, "subclass"]), max_size=2))
        cells = [draw(_cells[kind]) for _ in range(height)]
        for stray in strays:
            cells[draw(st.integers(0, height - 1))] = draw(_cells[stray])
        columns.append(cells)
    return [list(row) for row in zip(*columns, strict=True)]


def _kind(cell: object) -> tuple[type, str]:
    # a str subclass cell the rule leaves equal may come back as itself rather than as
    # the rule's equal str: the same text, so the same bytes (csv.writer reads the text)
    return (str if isinstance(cell, str) else type(cell)), repr(cell)


def _same_cells(got: Sequence[Sequence[object]], rows: Sequence[Sequence[object]]) -> None:
    expected = [[_reference_cell(v) for v in row] for row in rows]
    assert [list(map(_kind, row)) for row in got] == [list(map(_kind, row)) for row in expected]


class _Keyed:
    """Pages the way ``iter_export`` hands them to a CSV writer: key cells first."""

    def __init__(self, pages: list[list[tuple[Any, ...]]], lead: int) -> None:
        self.lead = lead
        self._pages = pages

    def keyed_pages(self) -> Iterator[list[tuple[Any, ...]]]:
        return iter(self._pages)


_settings = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@_settings
@given(pages())
def test_csv_page_gives_the_reference_cells(page: list[list[Any]]) -> None:
    _same_cells(csv_page(page), page)
    _same_cells(list(csv_rows(page, page=7)), page)


@_settings
@given(pages(), st.integers(0, 3))
def test_keys_before_first_are_left_alone(page: list[list[Any]], lead: int) -> None:
    keyed = [("=key", *(["\x1b"] * (lead - 1)), *row) if lead else tuple(row) for row in page]
    got = csv_page(keyed, first=lead)
    assert [list(row[:lead]) for row in got] == [list(row[:lead]) for row in keyed]
    _same_cells([row[lead:] for row in got], page)


@_settings
@given(st.lists(pages(), min_size=1, max_size=3), st.integers(0, 2), st.booleans())
def test_paged_export_writes_the_reference_bytes(
    chunks: list[list[list[Any]]], lead: int, excel: bool
) -> None:
    width = len(chunks[0][0])
    chunks = [c for c in chunks if len(c[0]) == width] or chunks[:1]
    rows = [row for chunk in chunks for row in chunk]
    columns = [f"c{i}" for i in range(width)]
    keyed = [[(*range(lead), *row) for row in chunk] for chunk in chunks]
    out = io.StringIO(newline="")
    assert write_rows(out, "csv", columns, _Keyed(keyed, lead), excel=excel) == len(rows)
    assert out.getvalue() == ("\ufeff" if excel else "") + _reference_csv(columns, rows)


def _json_safe(rows: list[list[Any]]) -> list[list[Any]]:
    return [[v.decode("latin-1") if isinstance(v, bytes) else v for v in row] for row in rows]


@_settings
@given(st.lists(pages(), min_size=1, max_size=3), st.integers(0, 2))
def test_export_rows_without_keys_for_json_and_csv(
    chunks: list[list[list[Any]]], lead: int
) -> None:
    width = len(chunks[0][0])
    chunks = [_json_safe(c) for c in chunks if len(c[0]) == width]
    rows = [tuple(row) for chunk in chunks for row in chunk]
    columns = [f"c{i}" for i in range(width)]

    def export_rows() -> ExportRows:
        return ExportRows(iter([[(*range(lead), *r) for r in c] for c in chunks]), lead)

    assert list(export_rows()) == rows
    for fmt in ("jsonl", "json"):
        got, want = io.StringIO(), io.StringIO()
        write_rows(got, fmt, columns, export_rows())
        write_rows(want, fmt, columns, iter(rows))
        assert got.getvalue() == want.getvalue()
    csv_out = io.StringIO(newline="")
    write_rows(csv_out, "csv", columns, export_rows())
    assert csv_out.getvalue() == _reference_csv(columns, rows)
