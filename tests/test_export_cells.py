"""CSV export cells: the row-at-a-time neutraliser writes exactly the bytes of the per-cell rule.

``_reference_cell`` is a frozen copy of ``csv_safe`` as it stood before export
formatting went row by row (issue 25 item 5); every CSV path must keep
producing what that rule produced, on the values a stranger can send.
"""

from __future__ import annotations

import csv
import io
import random
import re
from typing import Any, Sequence

import pytest

from socialcare.reports.export import write_rows
from socialcare.safety import csv_rows, csv_safe
from socialcare.store import Store
from socialcare.store.reports import EXPORT_COLUMNS, ExportQuery, iter_export
from tests.test_reports import add_mention, at

_REF_ESCAPES = re.compile(
    r"\x1b\[[0-?]*[ -/]*[@-~]"
    r"|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)?"
    r"|\x1b[PX^_][^\x1b]*(?:\x1b\\)?"
    r"|\x1b[@-Z\\-_]"
    r"|\x9b[0-?]*[ -/]*[@-~]"
)
_REF_CONTROLS = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")


def _reference_cell(value: object) -> object:
    if not isinstance(value, str):
        return value
    if not value.isprintable():
        value = _REF_CONTROLS.sub("", _REF_ESCAPES.sub("", value))
    if value.startswith(("=", "+", "-", "@", "\t", "\r")):
        return "'" + value
    return value


def _reference_csv(columns: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    out = io.StringIO(newline="")
    writer = csv.writer(out)
    writer.writerow(columns)
    for row in rows:
        writer.writerow([_reference_cell(v) for v in row])
    return out.getvalue()


class _Text(str):
    """A str subclass: not the exact type the fast test looks for."""


HOSTILE: list[object] = [
    "=SUM(A1:A9)", "+1", "-2", "@admin", "\tx", "\rx", "\r\n=cmd", "=", "+", "-", "@",
    "a=b", " =lead space", "'=already", "\x1b[31m=red\x1b[0m", "\x1b]8;;http://x\x07link\x1b]8;;\x07",
    "\x1b[2J\x1b[H", "\x9b31m", "\x00", "a\x00b", "\x00=x", "\x07bell", "\x7fdel", "\x85nel",
    "\u202eevil\u202c", "\u2066iso\u2069", "=\u202e", "\u200bzero width", "\u2028line sep",
    "line one\nline two, with a comma", 'say "hi"', "tab\tinside", "cr\rinside", "\x0b\x0c",
    "", " ", "café naïve 😀", "\ud83d", "x" * 100_000, "=" + "y" * 50_000,
    "\x1b" * 1000 + "=z", None, 0, -3, 12345678901234567890, 0.1, -0.5, float("inf"),
    float("nan"), 1e-300, True, False, b"=bytes\x00", _Text("=sub"), _Text("plain"),
]  # fmt: skip


def test_csv_rows_matches_the_reference_rule_cell_by_cell() -> None:
    """Every hostile value, alone and among others, becomes what csv_safe made of it."""
    rows = [[v] for v in HOSTILE] + [HOSTILE, list(reversed(HOSTILE))]
    for row, cells in zip(rows, csv_rows(rows), strict=True):
        expected = [_reference_cell(v) for v in row]
        assert [type(c) for c in cells] == [type(e) for e in expected]
        assert [repr(c) for c in cells] == [repr(e) for e in expected]
        assert [repr(csv_safe(v)) for v in row] == [repr(e) for e in expected]


def test_write_rows_csv_is_byte_identical_to_the_reference() -> None:
    """Random rows of hostile values: the export writes the reference's exact text."""
    rnd = random.Random(25)
    columns = [f"c{i}" for i in range(7)]
    rows = [[rnd.choice(HOSTILE) for _ in columns] for _ in range(2000)]
    for excel in (False, True):
        out = io.StringIO(newline="")
        assert write_rows(out, "csv", columns, rows, excel=excel) == len(rows)
        assert out.getvalue() == ("\ufeff" if excel else "") + _reference_csv(columns, rows)


def test_mentions_export_is_byte_identical_to_the_reference(store: Store) -> None:
    """A store of hostile mentions exports exactly as the per-cell rule wrote it."""
    texts = [v for v in HOSTILE if isinstance(v, str) and "\x00" not in v and "\ud83d" not in v]
    for i, text in enumerate(texts):
        add_mention(
            store, str(i), at(f"2026-03-01T{i % 24:02d}:{i % 60:02d}:00Z"), text=text,
            author=text[:20] or "empty",
            compound=-0.5 if i % 2 else 0.25, intent="complaint" if i % 3 else "question",
        )  # fmt: skip
    columns = EXPORT_COLUMNS["mentions"]
    rows = list(iter_export(store, ExportQuery("mentions")))
    assert len(rows) == len(texts)
    out = io.StringIO(newline="")
    write_rows(out, "csv", columns, iter_export(store, ExportQuery("mentions")))
    assert out.getvalue() == _reference_csv(columns, rows)


@pytest.mark.parametrize("value", ["=1", "\x1b[0m-1", "@x", "\u202e", "ok"])
def test_the_fast_test_never_skips_a_cell_the_rule_changes(value: str) -> None:
    """Text the rule changes always reaches csv_safe, wherever it sits in the row."""
    row = ["ok", 1, None, value, 2.5, value]
    assert list(list(csv_rows([row]))[0]) == [_reference_cell(v) for v in row]


def test_pages_of_mixed_columns_match_the_reference() -> None:
    """Columns of one type, of text and None, of text and numbers, ragged rows, page edges."""
    rnd = random.Random(7)
    pools: list[list[object]] = [
        ["plain", "café", "", "~~=x", "a~~-b", "~~", "x~~"],
        ["ok", None, ""],
        ["ok", 3, 2.5, None, True, b"b"],
        [1, 2.5, None, -1, False],
        HOSTILE,
    ]
    rows: list[list[object]] = [[rnd.choice(pool) for pool in pools] for _ in range(2500)]
    rows[1700] = rows[1700][:3]  # a short row in the second page
    got = [list(r) for r in csv_rows(rows, page=1000)]
    assert [[repr(c) for c in r] for r in got] == [
        [repr(_reference_cell(v)) for v in r] for r in rows
    ]
    clean = [[rnd.choice(pools[0][:3]), rnd.choice(pools[3])] for _ in range(1200)]
    assert [list(r) for r in csv_rows(clean, page=500)] == clean
