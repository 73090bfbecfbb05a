"""``socialcare kb ...``: a thin typer sub-app over :mod:`socialcare.kb`.

Mount it with ``app.add_typer(kb_app, name="kb")``; the root callback must
set ``ctx.obj = {"config": PATH_OR_NONE}``. Library errors propagate to the
root group, which prints them as one line with their exit code. Article text
comes from the web, so everything printed from it is cleaned of terminal
escapes and rendered as plain rich ``Text`` (never as markup).
"""

from __future__ import annotations

import json
import re
from functools import lru_cache
from typing import TYPE_CHECKING, Any, Optional

import typer

from ..safety import clean_text, one_line
from .common import (
    JSON_OPTION,
    MAX_COUNT,
    console,
    err_console,
    print_json,
    read_since,
    relative_times,
    sc_of,
    time_text,
)

if TYPE_CHECKING:
    import httpx
    from rich.text import Text

    from ..kb import DeflectionReport, SourceResult, Suggestion

__all__ = ["kb_app", "suggestion_lines", "suggestions_text", "NO_MATCH"]

NO_MATCH = "no article matches well enough"


@lru_cache(maxsize=1)
def _marked() -> re.Pattern[str]:
    """The snippet markers' pattern (the KB package loads only when a kb command runs)."""
    from ..kb import MARK_END, MARK_START

    return re.compile(f"{re.escape(MARK_START)}(.*?){re.escape(MARK_END)}")


kb_app = typer.Typer(
    help="Knowledge base: index help-centre articles, search them, suggest them, report deflection.",
    no_args_is_help=True,
    add_completion=False,
    rich_markup_mode=None,
)


def _obj(ctx: typer.Context) -> dict[str, Any]:
    obj = ctx.find_root().obj
    return obj if isinstance(obj, dict) else {}


def _transport(ctx: typer.Context) -> httpx.BaseTransport | None:
    """A test hook: ``ctx.obj["http_transport"]`` replaces the network."""
    import httpx

    transport = _obj(ctx).get("http_transport")
    return transport if isinstance(transport, httpx.BaseTransport) else None


def _snippet(snippet: str) -> Text:
    """A snippet on one line with its matched words in bold, cleaned of control codes."""
    from rich.text import Text

    flat = " ".join(snippet.split())  # the markers are not whitespace, so they survive
    out = Text()
    pos = 0
    for m in _marked().finditer(flat):
        out.append(clean_text(flat[pos : m.start()]))
        out.append(clean_text(m.group(1)), style="bold")
        pos = m.end()
    out.append(clean_text(flat[pos:]))
    return out


def suggestion_lines(suggestions: list[Suggestion]) -> list[str]:
    """:func:`suggestions_text`'s lines without their styles (``show`` on a pipe)."""
    if not suggestions:
        return [NO_MATCH]
    return [
        f"[{n}] {s.score:.2f} {one_line(s.title, 80)}  {one_line(s.url)}"
        for n, s in enumerate(suggestions, 1)
    ]


def suggestions_text(suggestions: list[Suggestion]) -> Text:
    """Suggestions as ``show``/``work`` print them: numbered for ``reply --kb N``, or NO_MATCH."""
    from rich.text import Text

    if not suggestions:
        return Text(NO_MATCH, style="dim")
    out = Text()
    for n, s in enumerate(suggestions, 1):
        if n > 1:
            out.append("\n")
        out.append(f"[{n}] ", style="bold")
        out.append(f"{s.score:.2f} ")
        out.append(one_line(s.title, 80), style="bold")
        out.append(f"  {one_line(s.url)}")
    return out


def _report_results(results: list[SourceResult]) -> None:
    """One line per source, warnings on stderr; raise the first failure after printing all."""
    from rich.text import Text

    failed = [r for r in results if r.error is not None]
    for r in results:
        if r.error is not None:
            if len(failed) > 1:
                err_console.print(Text(f"failed: {one_line(str(r.error))}"))
            continue
        head = f"#{r.source_id} {r.kind} {one_line(r.location)}: "
        if r.not_modified:
            console.print(Text(head + f"not modified, {r.total} articles"))
        else:
            console.print(
                Text(
                    head
                    + f"{r.total} articles ({r.new} new, {r.updated} updated, {r.removed} removed)"
                )
            )
        for warning in r.warnings:
            err_console.print(Text(f"  warning: {one_line(warning, 300)}"))
    if failed:
        first = failed[0].error
        assert first is not None
        if len(failed) == 1:
            raise first
        raise type(first)(f"{len(failed)} of {len(results)} sources failed; first: {first}")


@kb_app.command("add")
def kb_add(
    ctx: typer.Context,
    locations: list[str] = typer.Argument(..., metavar="PATH_OR_URL..."),
) -> None:
    """Index Markdown/HTML/text files or folders, web pages, sitemaps or RSS/Atom feeds.

    Local files keep a file:// URL unless their front matter sets `url:`.
    Adding a location that is already indexed refreshes it.

    Example: socialcare kb add ./help-centre https://help.acme.example/sitemap.xml
    """
    _report_results(sc_of(ctx).kb_add(locations, transport=_transport(ctx)))


@kb_app.command("refresh")
def kb_refresh(
    ctx: typer.Context,
    sources: Optional[list[str]] = typer.Argument(None, metavar="[ID_OR_LOCATION]..."),
) -> None:
    """Re-read every source (or the ones named): changes are indexed, vanished articles removed.

    Remote sources are asked with If-None-Match/If-Modified-Since, so an
    unchanged one costs a single 304 response.

    Example: socialcare kb refresh
    """
    _report_results(sc_of(ctx).kb_refresh(sources, transport=_transport(ctx)))


@kb_app.command("list")
def kb_list(
    ctx: typer.Context,
    articles: bool = typer.Option(False, "--articles", help="List articles instead of sources."),
    source: Optional[str] = typer.Option(
        None, "--source", help="Only articles of this source (id or location).", metavar="ID"
    ),
    limit: int = typer.Option(
        100, "--limit", help="At most this many articles.", min=1, max=MAX_COUNT
    ),
    json_: bool = JSON_OPTION,
) -> None:
    """List sources (id, kind, articles, last fetched, location), or articles with --articles.

    Example: socialcare kb list --articles --source 1
    """
    from rich.text import Text

    sc = sc_of(ctx)
    if json_:
        rows = sc.kb_articles(source=source, limit=limit) if articles or source else sc.kb_sources()
        return print_json([dict(r) for r in rows])
    if articles or source:
        for a in sc.kb_articles(source=source, limit=limit):
            console.print(Text(f"{a['id']:>5}  {one_line(a['title'], 70)}  {one_line(a['url'])}"))
        return
    rows = sc.kb_sources()
    if not rows:
        console.print("No sources yet: add one with `socialcare kb add PATH_OR_URL`.")
        return
    relative = relative_times()
    for s in rows:
        fetched = (
            time_text(s["last_fetched"], sc.config.timezone, relative=relative)
            if s["last_fetched"]
            else "never"
        )
        line = f"{s['id']:>3}  {s['kind']:<7} {s['articles']:>6}  {fetched:<20}  {one_line(s['location'])}"
        console.print(Text(line))
        if s["last_error"]:
            console.print(Text(f"     last problem: {one_line(s['last_error'], 200)}", style="red"))


@kb_app.command("show")
def kb_show(
    ctx: typer.Context,
    article: str = typer.Argument(..., metavar="ID_OR_URL"),
) -> None:
    """Show one article: title, URL, tags, source, when it was last seen, and its text.

    Example: socialcare kb show 12
    """
    from rich.text import Text

    sc = sc_of(ctx)
    row = sc.kb_article(article)
    console.print(Text(f"#{row['id']} {one_line(row['title'])}", style="bold"))
    console.print(Text(f"url:       {one_line(row['url'])}"))
    console.print(Text(f"tags:      {one_line(', '.join(row['tags'])) or '-'}"))
    console.print(Text(f"source:    #{row['source_id']} {one_line(row['source_location'] or '')}"))
    console.print(Text(f"last seen: {time_text(row['last_seen'], sc.config.timezone)}"))
    console.print()
    console.print(Text(clean_text(row["body"])))


@kb_app.command("remove")
def kb_remove(
    ctx: typer.Context,
    source: str = typer.Argument(..., metavar="ID_OR_LOCATION"),
) -> None:
    """Forget a source (by the id `kb list` shows, or its location) and delete its articles.

    Example: socialcare kb remove 2
    """
    from rich.text import Text

    row, gone = sc_of(ctx).kb_remove(source)
    console.print(
        Text(
            f"Removed source #{row['id']} ({row['kind']} {one_line(row['location'])}) "
            f"and its {gone} articles."
        )
    )


@kb_app.command("search")
def kb_search(
    ctx: typer.Context,
    text: str = typer.Argument(..., help="Any text: a question, or a whole customer tweet."),
    limit: int = typer.Option(
        10, "--limit", help="At most this many articles.", min=1, max=MAX_COUNT
    ),
    suggest_only: bool = typer.Option(
        False, "--suggest", help="Only what show/work would suggest (threshold and max applied)."
    ),
    json_: bool = JSON_OPTION,
) -> None:
    """Rank articles for a text by BM25, with a normalised score (0-1) and a snippet.

    Articles scoring at least [kb] threshold are the ones suggested to agents;
    the text is turned into quoted words, so any punctuation is safe.

    Example: socialcare kb search "my phone has no signal since I landed in Spain"
    """
    from rich.text import Text

    sc = sc_of(ctx)
    settings = sc.kb_settings
    found = sc.kb_search(text, limit=settings.max_suggestions if suggest_only else limit)
    good = [s for s in found if s.score >= settings.threshold]
    shown = good if suggest_only else found
    if json_:
        from ..kb import plain_snippet

        return print_json(
            [
                {
                    "rank": n,
                    "article_id": s.article_id,
                    "title": s.title,
                    "url": s.url,
                    "score": s.score,
                    "suggested": s.score >= settings.threshold,
                    "snippet": plain_snippet(s.snippet),
                }
                for n, s in enumerate(shown, 1)
            ]
        )
    for n, s in enumerate(shown, 1):
        mark = "*" if s.score >= settings.threshold else " "
        line = Text(f"{n:>2}. {s.score:.2f}{mark} #{s.article_id} ")
        line.append(one_line(s.title, 90), style="bold")
        console.print(line)
        console.print(Text(f"          {one_line(s.url)}"))
        console.print(Text("          ").append(_snippet(s.snippet)))
    if not good:
        console.print(Text(f"{NO_MATCH} (threshold {settings.threshold:.2f})"))
    elif not suggest_only:
        console.print(
            Text(f"* {len(good)} clear the suggestion threshold {settings.threshold:.2f}")
        )


@kb_app.command("report")
def kb_report(
    ctx: typer.Context,
    since: Optional[str] = typer.Option(
        None, "--since", help="Only replies sent and questions asked since (e.g. 30d, 2026-01-01)."
    ),
    top: int = typer.Option(
        15, "--top", help="How many words to list for unanswered questions.", min=1, max=MAX_COUNT
    ),
    questions: int = typer.Option(
        1000,
        "--questions",
        help="Check at most this many of the newest questions.",
        min=1,
        max=MAX_COUNT,
    ),
    json_: bool = typer.Option(False, "--json", help="Print the report as JSON."),
) -> None:
    """Deflection: sent replies carrying an article (per article), and questions with none.

    A reply carries an article when it was sent with `reply --kb N` or its text
    contains an article URL. Questions are mentions with intent "question",
    open or answered, for which no article clears the threshold.

    Example: socialcare kb report --since 30d
    """
    from rich.text import Text

    sc = sc_of(ctx)
    when = read_since(sc, since)
    rep = sc.kb_report(since=when, questions=questions, top=top)
    if json_:
        console.print_json(json.dumps(_report_dict(rep)))
        return
    console.print(
        Text(
            f"Sent replies: {rep.sent_replies}; with an article: {rep.replies_with_article} "
            f"({rep.deflection_rate:.0%})"
        )
    )
    for use in rep.by_article:
        title = one_line(use.title, 60) if use.url else "(article removed)"
        console.print(Text(f"  {use.replies:>5}  #{use.article_id} {title}  {one_line(use.url)}"))
    console.print(
        Text(
            f"Questions checked: {rep.questions_checked}; without a suggestion: {len(rep.unanswered)}"
        )
    )
    if rep.top_terms:
        words = ", ".join(f"{one_line(w)} ({n})" for w, n in rep.top_terms)
        console.print(Text(f"  Top words: {words}"))
    for q in rep.unanswered[:5]:
        console.print(Text(f"  {one_line(q.mention_id)}  {one_line(q.text, 100)}"))


def _report_dict(rep: DeflectionReport) -> dict[str, Any]:
    return {
        "sent_replies": rep.sent_replies,
        "replies_with_article": rep.replies_with_article,
        "deflection_rate": round(rep.deflection_rate, 4),
        "by_article": [u.__dict__ for u in rep.by_article],
        "questions_checked": rep.questions_checked,
        "questions_without_article": len(rep.unanswered),
        "top_terms": [{"term": w, "questions": n} for w, n in rep.top_terms],
        "unanswered": [q.__dict__ for q in rep.unanswered],
    }
