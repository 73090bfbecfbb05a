"""Hostile text: terminal escapes, rich markup and spreadsheet formulas."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from socialcare.safety import clean_text, csv_safe, html_to_text, markup_safe, one_line, read_html

pytestmark = pytest.mark.store_free


@pytest.mark.parametrize(
    "raw, expected",
    [
        ("\x1b[2J\x1b[31mred", "red"),
        ("\x1b]8;;http://evil.example\x07click\x1b]8;;\x07", "click"),
        ("a\x00b\x07c\x7fd\x85e", "abcde"),
        ("bell\x07", "bell"),
        ("rtl\u202eevil", "rtlevil"),
        ("line1\r\nline2", "line1\nline2"),
        ("tab\tok", "tab\tok"),
    ],
)
def test_clean_text_strips_escapes_and_controls(raw: str, expected: str) -> None:
    assert clean_text(raw) == expected


def test_one_line_collapses_and_truncates() -> None:
    assert one_line("a\n\n b\tc") == "a b c"
    assert one_line("abcdef", 4) == "abc…"


def test_markup_is_escaped() -> None:
    assert markup_safe("[bold red]x[/]") == r"\[bold red]x\[/]"


@pytest.mark.parametrize("cell", ["=1+1", "+1", "-2", "@SUM(A1)", "\tx", "\rx"])
def test_csv_formula_cells_are_made_inert(cell: str) -> None:
    assert csv_safe(cell) == "'" + cell


def test_csv_plain_cells_and_numbers_pass() -> None:
    assert csv_safe("hello") == "hello"
    assert csv_safe(-3) == -3


def test_read_html_drops_page_furniture_only_when_reading_a_page() -> None:
    html = (
        "<html><head><title>T</title><script>alert(1)</script></head><body>"
        "<nav>Home | Help</nav><main><h1>Refunds</h1><p>Ask within <b>30</b> days.</p>"
        "<ul><li>one</li><li>two</li></ul></main><footer>© Brand</footer></body></html>"
    )
    page = read_html(html, page=True)
    assert "Home" not in page.text and "Brand" not in page.text and "alert" not in page.text
    assert page.title == "T" and page.h1 == "Refunds"
    assert "Ask within 30 days." in page.main and "- one\n- two" in page.main
    fragment = read_html(html)
    assert "Home | Help" in fragment.text and "© Brand" in fragment.text
    assert "alert" not in fragment.text


def test_html_to_text_keeps_the_authors_breaks() -> None:
    assert html_to_text("<p>Hi<br>there</p><p>Second &amp; last</p>") == (
        "Hi\nthere\n\nSecond & last"
    )
    assert html_to_text("line one<p>HN paragraph<p>another") == (
        "line one\n\nHN paragraph\n\nanother"
    )
    assert html_to_text("<br/><br/>  <p></p>text") == "text"


_HOSTILE = st.text(
    alphabet=st.sampled_from(
        list("ab \n\t\r[]0;?~\\") + ["\x1b", "\x07", "\x9b", "\x85", "\x00", "\x7f", "\u202e",
                                     "\u2066", "\u00a0", "\u00ad", "\u200b", "é", "東"]
    ),
    max_size=40,
)  # fmt: skip


@settings(max_examples=500, deadline=None)
@given(text=_HOSTILE)
def test_clean_text_takes_its_shortcut_only_when_the_patterns_would_change_nothing(
    text: str,
) -> None:
    """``clean_text`` returns printable text untouched without its patterns: the same
    as stripping escapes and controls the long way."""
    from socialcare import safety

    long_way = safety._CONTROLS.sub(
        "", safety._ESCAPES.sub("", text.replace("\r\n", "\n")).replace("\r", "\n")
    )
    assert clean_text(text) == long_way
