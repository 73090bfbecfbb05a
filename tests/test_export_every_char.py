"""CSV page checks, character by character: every Latin-1 character (and every character
beyond it that csv_safe strips) in every place of a cell, in each kind of column.

The hypothesis tests draw from a list of fragments; these cases are exhaustive for the
checks' tables (the Latin-1 marks), so a single character the marks get wrong fails here.
"""

from __future__ import annotations

from typing import Any

import pytest

from socialcare.safety import _FORMULA_START, _JOIN, csv_page, csv_rows
from tests.test_export_cells import _reference_cell

pytestmark = pytest.mark.store_free

#: what the checks read differently: all of Latin-1, the other characters csv_safe strips
#: (bidi controls), and a few that only make a column non-Latin-1
CHARS = [
    *map(chr, range(256)),
    *map(chr, range(0x202A, 0x202F)),
    *map(chr, range(0x2066, 0x206A)),
    "\u200b", "\u2028", "😀", "\u4e2d", "\ud800",
]  # fmt: skip


def _cells(ch: str) -> list[str]:
    """``ch`` alone, first, inside, last, after the separator's character, doubled."""
    return [ch, ch + "x", "x" + ch, "x" + ch + "y", "~" + ch, _JOIN + ch, ch + _JOIN, ch * 3]


def _columns(cell: str, wide: bool) -> list[list[Any]]:
    """Pages where ``cell`` sits in a column of plain text, of text and None, of mixed kinds,
    first and last; ``wide`` puts a non-Latin-1 character in the other cells."""
    plain = "plain é 😀" if wide else "plain é"
    return [
        [[cell], [plain], [plain]],
        [[plain], [plain], [cell]],
        [[plain], [None], [cell]],
        [[None], [cell], [3]],
        [[cell, 1, None], [plain, 2.5, "x"], ["", -1, None]],
    ]


@pytest.mark.parametrize("wide", [False, True])
def test_every_character_in_every_place(wide: bool) -> None:
    for ch in CHARS:
        for cell in _cells(ch):
            for page in _columns(cell, wide):
                expected = [[_reference_cell(v) for v in row] for row in page]
                got = [list(row) for row in csv_page(page)]
                assert [[repr(v) for v in r] for r in got] == [
                    [repr(v) for v in r] for r in expected
                ], (repr(ch), repr(cell), page)


def test_every_character_after_keys() -> None:
    """Key cells (before ``first``) are never checked, whatever they hold."""
    for ch in CHARS:
        cell = ch + "x"
        page = [(ch, cell, "plain"), (1, "plain", cell)]
        got = csv_page(page, first=1)
        assert [row[0] for row in got] == [ch, 1]
        assert [list(row[1:]) for row in got] == [
            [_reference_cell(v) for v in row[1:]] for row in page
        ]


def test_formula_characters_are_the_rules() -> None:
    """The marks' formula characters are the rule's, each one caught at a cell's start only."""
    for ch in _FORMULA_START:
        rows = [["ok"], [ch + "1"], ["1" + ch]]
        assert [list(r) for r in csv_rows(rows)] == [["ok"], ["'" + ch + "1"], ["1" + ch]]
