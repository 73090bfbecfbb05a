"""Add, refresh and remove knowledge-base sources.

Each source is read completely (files, or HTTP for remote ones) *before* a
write transaction starts, then its articles are replaced in one
transaction: a slow site never holds the database lock, and a failed read
leaves the previous articles untouched. A source whose read fails keeps
its articles (an unmounted share or a site outage is not a deletion) and
records the error; ``kb remove`` is how articles are dropped on purpose.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Mapping
from urllib.parse import unquote, urlsplit

import httpx

from ..errors import NotFound, SocialcareError, UsageError
from ..models import to_iso, utcnow
from ..store import Row, Store
from ..store import kb as store_kb
from .loaders import Article, LoadResult, load_local, load_remote, make_client
from .search import KbSettings

__all__ = ["SourceResult", "add_sources", "refresh_sources", "remove_source", "resolve_source"]


@dataclass
class SourceResult:
    """What adding or refreshing one source did (``error`` set when it failed)."""

    location: str
    source_id: int | None = None
    kind: str = ""
    seen: int = 0
    new: int = 0
    updated: int = 0
    removed: int = 0
    total: int = 0
    not_modified: bool = False
    warnings: list[str] = field(default_factory=list)
    error: SocialcareError | None = None


def _is_remote(location: str) -> bool:
    return urlsplit(location).scheme in ("http", "https")


def normalise_location(location: str) -> str:
    """An absolute path for local sources (``file://`` URIs too), the URL as given otherwise."""
    parts = urlsplit(location)
    if parts.scheme in ("http", "https"):
        if not parts.netloc:
            raise UsageError(f"{location}: not a valid URL")
        return location
    if parts.scheme == "file":
        return str(Path(unquote(parts.path)).resolve())
    if parts.scheme and len(parts.scheme) > 1:  # one letter is a Windows drive
        raise UsageError(f"{location}: only http(s) URLs, file:// URIs and paths are supported")
    return str(Path(location).expanduser().resolve())


def resolve_source(store: Store, ref: str) -> Row:
    """A source by id (as in ``kb list``) or by the location it was added with."""
    if ref.isdigit():
        return store_kb.get_source(store, int(ref))
    found = store_kb.source_by_location(store, ref)
    if found is None and not _is_remote(ref):
        try:
            found = store_kb.source_by_location(store, normalise_location(ref))
        except UsageError:
            found = None
    if found is None:
        raise NotFound(f"no knowledge-base source '{ref}' (see `socialcare kb list`)")
    return found


def _load(
    client: httpx.Client, location: str, source: Row | None, settings: KbSettings, store: Store
) -> LoadResult:
    if not _is_remote(location):
        return load_local(location)
    if source is None:
        return load_remote(client, location, max_pages=settings.max_pages)
    return load_remote(
        client,
        location,
        kind=source["kind"],
        etag=source["etag"],
        last_modified=source["last_modified"],
        known=store_kb.article_last_seen(store, int(source["id"])),
        max_pages=settings.max_pages,
    )


def _apply(store: Store, source_id: int, load: LoadResult, result: SourceResult) -> None:
    """Store what was read: upsert articles, drop the ones gone, remember validators."""
    now = to_iso(utcnow())
    problems = "; ".join(load.warnings)[:1000] or None
    if load.not_modified:
        store_kb.record_fetch(
            store, source_id, fetched_at=now, error=problems, keep_validators=True
        )
        result.not_modified = True
        result.total = store_kb.article_count(store, source_id)
        return
    before = store_kb.article_last_seen(store, source_id)
    previous = store_kb.article_contents(store, source_id)
    first: dict[str, Article] = {}
    for article in load.articles:
        first.setdefault(article.url, article)  # two files claiming one URL: the first wins
    unique = list(first.values())
    present = {a.url for a in unique} | load.keep
    store_kb.upsert_articles(
        store, source_id, [(a.url, a.title, a.body, a.tags) for a in unique], now
    )
    store_kb.touch_articles(store, source_id, sorted(load.keep), now)
    result.removed = store_kb.delete_articles(store, source_id, sorted(set(before) - present))
    store_kb.record_fetch(
        store,
        source_id,
        fetched_at=now,
        error=problems,
        etag=load.etag,
        last_modified=load.last_modified,
    )
    result.seen = len(unique)
    result.new = sum(1 for a in unique if a.url not in before)
    result.updated = sum(
        1
        for a in unique
        if a.url in previous
        and previous[a.url] != (a.title, a.body, json.dumps(list(a.tags), ensure_ascii=False))
    )
    result.total = store_kb.article_count(store, source_id)


def _refresh_one(
    store: Store, client: httpx.Client, source: Row, settings: KbSettings
) -> SourceResult:
    source_id = int(source["id"])
    result = SourceResult(location=source["location"], source_id=source_id, kind=source["kind"])
    try:
        load = _load(client, source["location"], source, settings, store)
    except SocialcareError as exc:
        with store.transaction():
            store_kb.record_fetch(
                store, source_id, fetched_at=to_iso(utcnow()), error=str(exc), keep_validators=True
            )
        result.error = exc
        result.total = store_kb.article_count(store, source_id)
        return result
    result.warnings = load.warnings
    with store.transaction():
        _apply(store, source_id, load, result)
    return result


def _settings(settings: KbSettings | Mapping[str, Any] | None) -> KbSettings:
    return settings if isinstance(settings, KbSettings) else KbSettings.from_mapping(settings)


def add_sources(
    store: Store,
    locations: Iterable[str],
    settings: KbSettings | Mapping[str, Any] | None = None,
    *,
    transport: httpx.BaseTransport | None = None,
) -> list[SourceResult]:
    """Index files, folders, pages, sitemaps or feeds; a location added before is refreshed.

    Every location is tried; failures are returned in ``SourceResult.error``
    (and no source is recorded for a location that could not be read).
    """
    cfg = _settings(settings)
    results: list[SourceResult] = []
    with make_client(cfg.timeout, transport) as client:
        for raw in locations:
            try:
                location = normalise_location(raw)
            except SocialcareError as exc:
                results.append(SourceResult(location=raw, error=exc))
                continue
            existing = store_kb.source_by_location(store, location)
            if existing is not None:
                results.append(_refresh_one(store, client, existing, cfg))
                continue
            result = SourceResult(location=location)
            try:
                load = _load(client, location, None, cfg, store)
            except SocialcareError as exc:
                result.error = exc
                results.append(result)
                continue
            result.kind, result.warnings = load.kind, load.warnings
            with store.transaction():
                result.source_id = store_kb.add_source(store, location, load.kind)
                _apply(store, result.source_id, load, result)
            results.append(result)
    return results


def refresh_sources(
    store: Store,
    refs: Iterable[str] | None = None,
    settings: KbSettings | Mapping[str, Any] | None = None,
    *,
    transport: httpx.BaseTransport | None = None,
) -> list[SourceResult]:
    """Re-read sources (all of them, or those named by id or location).

    Remote sources are fetched conditionally, so an unchanged one costs a
    single 304; articles a source no longer lists are removed.
    """
    cfg = _settings(settings)
    wanted = list(refs or [])
    sources = [resolve_source(store, r) for r in wanted] if wanted else store_kb.list_sources(store)
    with make_client(cfg.timeout, transport) as client:
        return [_refresh_one(store, client, s, cfg) for s in sources]


def remove_source(store: Store, ref: str) -> tuple[Row, int]:
    """Forget a source and delete its articles; returns (the source, articles deleted)."""
    source = resolve_source(store, ref)
    return source, store_kb.delete_source(store, int(source["id"]))
