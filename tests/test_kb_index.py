"""Adding, refreshing and removing sources; HTTP answered by ``httpx.MockTransport``."""

from __future__ import annotations

import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

from socialcare.errors import NotFound, SourceError
from socialcare.kb import KbSettings, add_sources, refresh_sources, remove_source
from socialcare.store import Store
from socialcare.store import kb as store_kb

SITE = Path(__file__).parent / "fixtures" / "kb" / "site"
DOCS = Path(__file__).parent / "fixtures" / "kb" / "docs"
HELP = "https://help.acme.example"
SETTINGS = KbSettings(timeout=2)


@dataclass
class Site:
    """A tiny web server: path -> (status, body, content type), ETag/Last-Modified aware."""

    pages: dict[str, tuple[int, bytes, str]] = field(default_factory=dict)
    etags: dict[str, str] = field(default_factory=dict)
    requests: list[httpx.Request] = field(default_factory=list)

    def handler(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        url = str(request.url)
        if url not in self.pages:
            return httpx.Response(404)
        status, body, ctype = self.pages[url]
        headers = {"Content-Type": ctype}
        if url in self.etags:
            headers["ETag"] = self.etags[url]
            headers["Last-Modified"] = "Wed, 01 Jan 2026 00:00:00 GMT"
            if request.headers.get("If-None-Match") == self.etags[url]:
                return httpx.Response(304, headers=headers)
        return httpx.Response(status, content=body, headers=headers)

    @property
    def transport(self) -> httpx.MockTransport:
        return httpx.MockTransport(self.handler)

    def urls(self) -> list[str]:
        return [str(r.url) for r in self.requests]


def _sitemap_site() -> Site:
    site = Site()
    site.pages[f"{HELP}/sitemap.xml"] = (
        200,
        (SITE / "sitemap.xml").read_bytes(),
        "application/xml",
    )
    site.pages[f"{HELP}/articles/esim"] = (200, (SITE / "esim.html").read_bytes(), "text/html")
    site.pages[f"{HELP}/articles/5g"] = (200, (SITE / "5g.html").read_bytes(), "text/html")
    site.etags[f"{HELP}/sitemap.xml"] = '"v1"'
    return site


def _articles(store: Store) -> list[dict[str, Any]]:
    return [store_kb.get_article(store, int(a["id"])) for a in store_kb.list_articles(store)]


# -- local files ---------------------------------------------------------------------
def test_add_folder_indexes_every_article(store: Store, tmp_path: Path) -> None:
    folder = tmp_path / "kb"
    shutil.copytree(DOCS, folder)
    (result,) = add_sources(store, [str(folder)], SETTINGS)
    assert result.error is None
    assert (result.kind, result.total, result.new) == ("folder", 5, 5)
    rows = {a["title"]: a for a in _articles(store)}
    assert rows["Using your phone abroad"]["url"] == "https://help.acme.example/articles/roaming"
    assert rows["Using your phone abroad"]["tags"] == ["roaming", "travel"]
    assert rows["Understanding your bill"]["url"] == (folder / "sub" / "bill.md").resolve().as_uri()
    assert all(a["last_seen"] for a in rows.values())
    (source,) = store_kb.list_sources(store)
    assert source["location"] == str(folder.resolve()) and source["articles"] == 5


def test_refresh_folder_updates_adds_and_removes(store: Store, tmp_path: Path) -> None:
    folder = tmp_path / "kb"
    shutil.copytree(DOCS, folder)
    add_sources(store, [str(folder)], SETTINGS)
    (folder / "sub" / "bill.md").unlink()
    (folder / "store-hours.txt").write_text("Store hours\n\nOpen 8am to 8pm every day.\n")
    (folder / "new.md").write_text("# Brand new article\n\nAbout eSIMs.\n")
    (result,) = refresh_sources(store, None, SETTINGS)
    assert (result.total, result.new, result.removed) == (5, 1, 1)
    titles = {a["title"] for a in _articles(store)}
    assert "Understanding your bill" not in titles
    assert {"Store hours", "Brand new article"} <= titles
    # the FTS index follows: the removed article cannot be found, the edit can
    assert store_kb.rank(store, '"bill"', (10, 1, 5), 5) == []
    assert [r["title"] for r in store_kb.rank(store, '"8pm"', (10, 1, 5), 5)] == ["Store hours"]


def test_adding_a_location_twice_refreshes_it(store: Store, tmp_path: Path) -> None:
    file = tmp_path / "a.md"
    file.write_text("# A\n\nfirst\n")
    add_sources(store, [str(file)], SETTINGS)
    file.write_text("# A\n\nsecond\n")
    (again,) = add_sources(store, [f"file://{file}"], SETTINGS)
    assert again.source_id == 1 and len(store_kb.list_sources(store)) == 1
    assert _articles(store)[0]["body"] == "A\nsecond"


def test_missing_path_fails_without_recording_a_source(store: Store, tmp_path: Path) -> None:
    good = tmp_path / "ok.txt"
    good.write_text("Title\n\nbody\n")
    bad, ok = add_sources(store, [str(tmp_path / "nope"), str(good)], SETTINGS)
    assert isinstance(bad.error, NotFound)
    assert ok.error is None and ok.total == 1
    assert [s["location"] for s in store_kb.list_sources(store)] == [str(good.resolve())]


def test_unreadable_source_keeps_its_articles_and_records_the_error(
    store: Store, tmp_path: Path
) -> None:
    folder = tmp_path / "kb"
    shutil.copytree(DOCS, folder)
    add_sources(store, [str(folder)], SETTINGS)
    shutil.rmtree(folder)
    (result,) = refresh_sources(store, None, SETTINGS)
    assert isinstance(result.error, NotFound)
    assert store_kb.article_count(store) == 5
    assert "no such file or folder" in store_kb.list_sources(store)[0]["last_error"]


def test_remove_by_id_or_location(store: Store, tmp_path: Path) -> None:
    a, b = tmp_path / "a.txt", tmp_path / "b.txt"
    a.write_text("A\n\nx\n")
    b.write_text("B\n\ny\n")
    add_sources(store, [str(a), str(b)], SETTINGS)
    source, gone = remove_source(store, "1")
    assert source["location"] == str(a.resolve()) and gone == 1
    remove_source(store, str(b))  # the path as typed, resolved to the stored location
    assert store_kb.article_count(store) == 0 and store_kb.list_sources(store) == []
    with pytest.raises(NotFound):
        remove_source(store, "1")


# -- sitemaps ------------------------------------------------------------------------------
def test_sitemap_fetches_each_page_on_its_own_host_only(store: Store) -> None:
    site = _sitemap_site()
    (result,) = add_sources(store, [f"{HELP}/sitemap.xml"], SETTINGS, transport=site.transport)
    assert result.error is None and (result.kind, result.total) == ("sitemap", 2)
    assert "https://evil.example/internal" not in site.urls()
    assert any("another host" in w for w in result.warnings)
    rows = {a["url"]: a for a in _articles(store)}
    assert rows[f"{HELP}/articles/esim"]["title"] == "Set up an eSIM"
    assert rows[f"{HELP}/articles/esim"]["tags"] == ["esim", "sim"]
    assert rows[f"{HELP}/articles/esim"]["body"] == "Set up an eSIM\nScan the QR code we email you."
    source = store_kb.list_sources(store)[0]
    assert source["etag"] == '"v1"' and source["last_modified"].startswith("Wed, 01 Jan 2026")


def test_unchanged_sitemap_costs_one_conditional_request_and_changes_nothing(store: Store) -> None:
    site = _sitemap_site()
    add_sources(store, [f"{HELP}/sitemap.xml"], SETTINGS, transport=site.transport)
    before = _articles(store)
    site.requests.clear()
    (result,) = refresh_sources(store, None, SETTINGS, transport=site.transport)
    assert result.not_modified and result.error is None and result.total == 2
    assert len(site.requests) == 1
    sent = site.requests[0].headers
    assert sent["If-None-Match"] == '"v1"'
    assert sent["If-Modified-Since"] == "Wed, 01 Jan 2026 00:00:00 GMT"
    assert _articles(store) == before


def test_changed_sitemap_drops_vanished_pages_and_keeps_failed_ones(store: Store) -> None:
    site = _sitemap_site()
    add_sources(store, [f"{HELP}/sitemap.xml"], SETTINGS, transport=site.transport)
    site.etags[f"{HELP}/sitemap.xml"] = '"v2"'
    site.pages[f"{HELP}/sitemap.xml"] = (
        200,
        b'<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">'
        b"<url><loc>https://help.acme.example/articles/5g</loc></url>"
        b"<url><loc>https://help.acme.example/articles/gone</loc></url></urlset>",
        "application/xml",
    )
    site.pages[f"{HELP}/articles/5g"] = (503, b"busy", "text/plain")
    (result,) = refresh_sources(store, ["1"], SETTINGS, transport=site.transport)
    urls = {a["url"] for a in _articles(store)}
    assert urls == {f"{HELP}/articles/5g"}  # esim left the sitemap; 5g failed, so it is kept
    assert result.removed == 1
    assert any("503" in w for w in result.warnings)
    source = store_kb.list_sources(store)[0]
    assert source["etag"] == '"v2"' and "503" in source["last_error"]


def test_sitemap_lastmod_not_newer_than_last_seen_skips_the_page(store: Store) -> None:
    site = _sitemap_site()
    add_sources(store, [f"{HELP}/sitemap.xml"], SETTINGS, transport=site.transport)
    site.etags.clear()  # the sitemap itself now answers 200 every time
    site.requests.clear()
    refresh_sources(store, None, SETTINGS, transport=site.transport)
    # esim's lastmod (2020-01-10) is older than when we read it; 5g has no lastmod
    assert f"{HELP}/articles/esim" not in site.urls()
    assert f"{HELP}/articles/5g" in site.urls()
    assert store_kb.article_count(store) == 2


def test_http_error_on_add_is_a_source_error_and_records_nothing(store: Store) -> None:
    site = Site(pages={f"{HELP}/sitemap.xml": (500, b"oops", "text/plain")})
    (result,) = add_sources(store, [f"{HELP}/sitemap.xml"], SETTINGS, transport=site.transport)
    assert isinstance(result.error, SourceError) and "HTTP 500" in str(result.error)
    assert store_kb.list_sources(store) == []


# -- feeds -----------------------------------------------------------------------------------
def test_feed_add_conditional_refresh_and_removal(store: Store) -> None:
    site = Site()
    feed_url = f"{HELP}/feed.xml"
    site.pages[feed_url] = (200, (SITE / "feed.xml").read_bytes(), "application/rss+xml")
    site.etags[feed_url] = '"f1"'
    (added,) = add_sources(store, [feed_url], SETTINGS, transport=site.transport)
    assert (added.kind, added.total) == ("feed", 2)
    assert {tuple(a["tags"]) for a in _articles(store)} == {
        ("porting", "switching"),
        ("contracts",),
    }

    site.requests.clear()
    (same,) = refresh_sources(store, None, SETTINGS, transport=site.transport)
    assert same.not_modified and len(site.requests) == 1
    assert site.requests[0].headers["If-None-Match"] == '"f1"'

    site.etags[feed_url] = '"f2"'
    smaller = (SITE / "feed.xml").read_text().split("<item>")
    site.pages[feed_url] = (
        200,
        ("<item>".join(smaller[:2]) + "</channel></rss>").encode(),
        "text/xml",
    )
    (changed,) = refresh_sources(store, None, SETTINGS, transport=site.transport)
    assert (changed.total, changed.removed) == (1, 1)
    assert [a["title"] for a in _articles(store)] == ["Porting your number"]


def test_single_page_source(store: Store) -> None:
    site = Site(pages={f"{HELP}/articles/5g": (200, (SITE / "5g.html").read_bytes(), "text/html")})
    (result,) = add_sources(store, [f"{HELP}/articles/5g"], SETTINGS, transport=site.transport)
    assert result.kind == "page" and _articles(store)[0]["title"] == "Where can I get 5G?"
