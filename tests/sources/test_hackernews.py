"""The Hacker News adapter against the Algolia HN Search API, answered by respx.

``tests/fixtures/hackernews`` holds ``search_by_date`` responses shaped as
Algolia returns them (``hits`` with ``objectID``, ``created_at_i``, ``_tags``,
``comment_text`` ..., plus ``page``, ``nbPages``, ``hitsPerPage``).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Iterator

import httpx
import pytest
import respx

from socialcare.errors import ConfigError, SourceError
from socialcare.poll import poll_source
from socialcare.sources import registry
from socialcare.sources.hackernews import HackerNewsSource
from socialcare.store import Store

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "hackernews"
SEARCH = "https://hn.algolia.com/api/v1/search_by_date"
NEWEST = 1715594700  # the second of the two newest comments in search_page0.json


def load(name: str) -> Any:
    return json.loads((FIXTURES / name).read_text(encoding="utf-8"))


class Sleeps(list[float]):
    def __call__(self, seconds: float) -> None:
        self.append(seconds)


def params(call: Any) -> dict[str, str]:
    return dict(call.request.url.params.multi_items())


@pytest.fixture
def api() -> Iterator[respx.MockRouter]:
    with respx.mock(assert_all_called=False) as router:
        yield router


def make(sleeps: Sleeps | None = None, **config: Any) -> HackerNewsSource:
    cfg: dict[str, Any] = {"queries": ["acme"], "hits_per_page": 3, **config}
    return HackerNewsSource(cfg, sleep=Sleeps() if sleeps is None else sleeps)


def test_pages_through_nbpages_and_stores_the_newest_second(
    store: Store, api: respx.MockRouter
) -> None:
    route = api.get(SEARCH).mock(
        side_effect=[
            httpx.Response(200, json=load("search_page0.json")),
            httpx.Response(200, json=load("search_page1.json")),
        ]
    )
    [result] = poll_source(store, make())
    assert (result.new, result.pages, result.error) == (4, 2, None)
    assert params(route.calls[0]) == {
        "query": "acme",
        "tags": "(story,comment)",
        "hitsPerPage": "3",
        "page": "0",
    }
    assert params(route.calls[1])["page"] == "1"
    assert json.loads(result.cursor or "") == {
        "created_at_i": NEWEST,
        "ids": ["40360002", "40360003"],  # both comments of that second
    }


def test_only_the_last_page_carries_the_cursor(api: respx.MockRouter) -> None:
    api.get(SEARCH).mock(
        side_effect=[
            httpx.Response(200, json=load("search_page0.json")),
            httpx.Response(200, json=load("search_page1.json")),
        ]
    )
    pages = list(make().poll("acme", None))
    assert [p.cursor is None for p in pages] == [True, False]


def test_second_poll_filters_by_time_and_skips_ids_already_seen(
    store: Store, api: respx.MockRouter
) -> None:
    route = api.get(SEARCH).mock(
        side_effect=[
            httpx.Response(200, json=load("search_page0.json")),
            httpx.Response(200, json=load("search_page1.json")),
            httpx.Response(200, json=load("search_newer.json")),
        ]
    )
    src = make()
    poll_source(store, src)
    [again] = poll_source(store, src)
    # >= (not >): a comment in the same second as the last one seen must not be lost
    assert params(route.calls[2])["numericFilters"] == f"created_at_i>={NEWEST}"
    assert (again.fetched, again.new) == (2, 2)
    assert json.loads(again.cursor or "") == {"created_at_i": 1715601600, "ids": ["40370000"]}
    assert store.find_mention("hackernews", "40360004") is not None
    assert store.mention_count() == 6


def test_hits_are_normalised() -> None:
    src = make()
    page0 = load("search_page0.json")["hits"]
    comment = src._mention(page0[0], "acme")
    assert comment.text == (
        "We switched off Acme after their support ignored us for a week.\n\n"
        'Their status page said "all good" the whole time: https://status.acme.example'
    )
    assert (comment.kind, comment.parent_id, comment.conversation_id) == (
        "comment",
        "40360001",
        "40360001",
    )
    assert comment.url == "https://news.ycombinator.com/item?id=40360003"
    assert comment.created_at.isoformat() == "2024-05-13T10:05:00+00:00"
    assert "_highlightResult" not in comment.raw and comment.raw["story_title"]
    story = src._mention(page0[2], "acme")
    assert story.text == "Acme raises Series B\n\nhttps://acme.example/blog/launch"
    assert (story.kind, story.parent_id, story.conversation_id) == ("post", None, "40360001")
    ask = src._mention(load("search_page1.json")["hits"][0], "acme")
    assert ask.text == (
        "Ask HN: Is Acme any good?\n\nI am evaluating Acme.\n\nAny experiences with their support?"
    )


def test_server_error_on_page_two_keeps_page_one_without_moving_the_cursor(
    store: Store, api: respx.MockRouter
) -> None:
    api.get(SEARCH).mock(
        side_effect=[httpx.Response(200, json=load("search_page0.json"))]
        + [httpx.Response(503, text="Service Unavailable")] * 4
    )
    sleeps = Sleeps()
    [result] = poll_source(store, make(sleeps))
    assert result.error_code == 4 and "HTTP 503" in (result.error or "")
    assert result.new == 3 and store.get_cursor("hackernews", "acme") is None
    assert sleeps == [1.0, 2.0, 4.0]


def test_429_with_retry_after_waits_then_continues(api: respx.MockRouter) -> None:
    api.get(SEARCH).mock(
        side_effect=[
            httpx.Response(429, headers={"Retry-After": "3"}),
            httpx.Response(200, json=load("search_newer.json")),
        ]
    )
    sleeps = Sleeps()
    [page] = list(make(sleeps).poll("acme", None))
    assert sleeps == [3.0] and len(page.mentions) == 4


def test_read_only_source_refuses_to_publish() -> None:
    src = make()
    assert src.read_only is True
    mention = src._mention(load("search_page0.json")["hits"][0], "acme")
    with pytest.raises(SourceError, match="read-only: reply on the platform itself"):
        src.reply(mention, "Sorry to hear that!")
    with pytest.raises(SourceError, match="read-only"):
        src.post("We are hiring")


def test_config_is_validated_and_registry_builds_it() -> None:
    with pytest.raises(ConfigError, match="nothing to poll"):
        HackerNewsSource({}).queries()
    with pytest.raises(ConfigError, match="hits_per_page"):
        make(hits_per_page=0)
    registry.register(HackerNewsSource)
    try:
        assert registry.get_source_class("hackernews") is HackerNewsSource
    finally:
        registry.unregister("hackernews")


def test_a_bad_stored_cursor_is_ignored_not_fatal(api: respx.MockRouter) -> None:
    route = api.get(SEARCH).mock(return_value=httpx.Response(200, json=load("search_newer.json")))
    list(make().poll("acme", "not json"))
    assert "numericFilters" not in params(route.calls[0])
    list(make().poll("acme", "1715500000"))  # a bare second, e.g. set by hand
    assert params(route.calls[1])["numericFilters"] == "created_at_i>=1715500000"


@pytest.mark.parametrize(
    ("body", "said"),
    [
        (
            {"message": "Index does not exist", "status": 404},
            "expected a list in 'hits', got nothing",
        ),
        ({"hits": {"objectID": "1"}}, "expected a list in 'hits', got {'objectID': '1'}"),
        (["not", "an", "object"], "expected an object with 'hits', got ['not', 'an', 'object']"),
    ],
    ids=["error-object", "hits-not-a-list", "a-list"],
)
def test_a_page_of_the_wrong_shape_is_one_error_line_and_keeps_the_cursor(
    store: Store, api: respx.MockRouter, body: Any, said: str
) -> None:
    api.get(SEARCH).mock(return_value=httpx.Response(200, json=body))
    [result] = poll_source(store, make())
    assert result.error == f"Hacker News API error (search 'acme'): {said}"
    assert (result.new, result.cursor) == (0, None)
