"""Reading articles: front matter, Markdown, HTML, text, folders, sitemaps and feeds (no network)."""

from __future__ import annotations

import gzip
from pathlib import Path

import pytest

from socialcare.errors import NotFound, SourceError, UsageError
from socialcare.kb.loaders import (
    Fetched,
    detect_kind,
    html_to_article,
    load_local,
    markdown_to_article,
    parse_feed,
    parse_front_matter,
    parse_sitemap,
    text_to_article,
)

pytestmark = pytest.mark.store_free

FIXTURES = Path(__file__).parent / "fixtures" / "kb"
DOCS = FIXTURES / "docs"
SITE = FIXTURES / "site"


def test_front_matter_inline_and_dash_lists_quotes_and_comments() -> None:
    meta, rest = parse_front_matter(
        "---\ntitle: 'Quoted: with colon'\ntags: [a, \"b c\", d]\nkeywords:\n  - x\n  - y\n"
        "# comment\nempty:\n---\nBody here\n"
    )
    assert meta["title"] == "Quoted: with colon"
    assert meta["tags"] == ["a", "b c", "d"]
    assert meta["keywords"] == ["x", "y"]
    assert meta["empty"] == []
    assert rest == "Body here\n"


def test_no_front_matter_leaves_text_alone() -> None:
    meta, rest = parse_front_matter("# Title\n---\nnot front matter\n---\n")
    assert meta == {} and rest.startswith("# Title")


def test_markdown_front_matter_wins_and_markup_is_stripped() -> None:
    art = markdown_to_article((DOCS / "roaming.md").read_text(), "file:///x/roaming.md")
    assert art.title == "Using your phone abroad"
    assert art.url == "https://help.acme.example/articles/roaming"  # published URL, not the file
    assert art.tags == ("roaming", "travel")
    assert "data roaming" in art.body
    assert "**" not in art.body and "](" not in art.body and "#" not in art.body
    assert "the price list" in art.body  # link text kept, URL dropped


def test_markdown_without_front_matter_uses_first_heading_and_file_url() -> None:
    art = markdown_to_article((DOCS / "sub" / "bill.md").read_text(), "file:///x/bill.md")
    assert art.title == "Understanding your bill"
    assert art.url == "file:///x/bill.md"
    assert art.tags == ()


def test_markdown_dash_list_tags_and_comma_string_tags() -> None:
    art = markdown_to_article((DOCS / "sub" / "router.md").read_text(), "file:///r.md")
    assert art.tags == ("router", "broadband")
    art2 = markdown_to_article("---\ntags: billing, Billing, refunds\n---\nx", "file:///t.md")
    assert art2.tags == ("billing", "refunds")  # de-duplicated case-insensitively


def test_html_title_keywords_and_boilerplate_removed() -> None:
    art = html_to_article((DOCS / "outage.html").read_text(), "file:///o.html")
    assert art.title == "Check for an outage"  # <h1>, even inside <header>
    assert art.tags == ("outage", "service status", "network")
    assert "postcode" in art.body and "outages & repairs" in art.body
    for junk in ("do not index me", "color: red", "Shop everything", "footer text", "Acme Help"):
        assert junk not in art.body


def test_html_title_falls_back_to_title_element_then_url() -> None:
    assert html_to_article("<title>Only title</title><p>x</p>", "u").title == "Only title"
    art = html_to_article("<p>no title at all</p>", "https://h.example/help/reset-your-pin.html")
    assert art.title == "Reset your pin"


def test_html_strips_terminal_escapes_from_untrusted_pages() -> None:
    art = html_to_article("<h1>Hi\x1b[2J there</h1><p>body\x07 text</p>", "u")
    assert "\x1b" not in art.title and "\x07" not in art.body


def test_text_file_first_line_is_title() -> None:
    art = text_to_article((DOCS / "store-hours.txt").read_text(), "file:///s.txt")
    assert art.title == "Store opening hours"
    assert "9am to 6pm" in art.body


def test_folder_is_read_recursively_skipping_hidden_and_other_files() -> None:
    result = load_local(str(DOCS))
    assert result.kind == "folder"
    titles = sorted(a.title for a in result.articles)
    assert titles == [
        "Check for an outage",
        "Router lights explained",
        "Store opening hours",
        "Understanding your bill",
        "Using your phone abroad",
    ]
    urls = {a.url for a in result.articles}
    assert (DOCS / "sub" / "bill.md").resolve().as_uri() in urls
    assert not any("secret" in u or "logo" in u for u in urls)


def test_single_file_and_errors() -> None:
    assert load_local(str(DOCS / "store-hours.txt")).kind == "file"
    with pytest.raises(NotFound):
        load_local(str(DOCS / "missing.md"))
    with pytest.raises(UsageError):
        load_local(str(DOCS / "logo.png"))


def test_sitemap_urlset_index_gzip_and_entities() -> None:
    is_index, entries = parse_sitemap((SITE / "sitemap.xml").read_bytes())
    assert not is_index
    assert entries[0] == ("https://help.acme.example/articles/esim", "2020-01-10")
    assert entries[1] == ("https://help.acme.example/articles/5g", None)
    index = (
        b'<sitemapindex xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">'
        b"<sitemap><loc>https://h.example/s1.xml</loc></sitemap></sitemapindex>"
    )
    assert parse_sitemap(gzip.compress(index)) == (True, [("https://h.example/s1.xml", None)])
    bomb = b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "aaaa">]><urlset>&a;</urlset>'
    with pytest.raises(SourceError, match="entities"):
        parse_sitemap(bomb)
    with pytest.raises(SourceError):
        parse_sitemap(b"<html><body>not xml")


def test_rss_feed_uses_full_content_and_categories() -> None:
    arts = parse_feed((SITE / "feed.xml").read_bytes(), "https://help.acme.example/feed.xml")
    assert [a.title for a in arts] == ["Porting your number", "Contract end date"]
    assert arts[0].tags == ("porting", "switching")
    assert arts[0].body == "Text PAC to 65075 to get your code."  # content:encoded, not summary
    assert arts[1].body == "Your contract end date is in the app."


def test_atom_feed() -> None:
    (art,) = parse_feed((SITE / "atom.xml").read_bytes(), "https://help.acme.example/atom")
    assert art.url == "https://help.acme.example/articles/wifi-calling"
    assert art.tags == ("network",)
    assert "signal is weak" in art.body


@pytest.mark.parametrize(
    ("content", "ctype", "kind"),
    [
        ((SITE / "sitemap.xml").read_bytes(), "application/xml", "sitemap"),
        ((SITE / "feed.xml").read_bytes(), "text/xml", "feed"),
        ((SITE / "atom.xml").read_bytes(), "application/atom+xml", "feed"),
        (b"<!-- hi --><!DOCTYPE html><html><body>x</body></html>", "", "page"),
        (b"plain words", "text/plain", "page"),
    ],
)
def test_detect_kind(content: bytes, ctype: str, kind: str) -> None:
    assert detect_kind(Fetched("https://h.example/x", 200, content, ctype)) == kind


def test_detect_kind_refuses_other_documents() -> None:
    with pytest.raises(SourceError, match="not an HTML page, sitemap or RSS/Atom feed"):
        detect_kind(Fetched("https://h.example/x.pdf", 200, b"%PDF-1.7", "application/pdf"))
