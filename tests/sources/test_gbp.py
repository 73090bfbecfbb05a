"""The Google Business Profile adapter against the My Business API v4 JSON, at the transport.

As for Google Play: google-auth's real token flow is answered by ``responses``, the
adapter's httpx requests by ``httpx.MockTransport``; ``tests/fixtures/gbp`` holds review
lists, a reply and the 403 bodies a project without approved access gets.
"""

from __future__ import annotations

import json
import logging
from copy import deepcopy
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import httpx
import pytest
import responses
from cryptography.hazmat.primitives.asymmetric import rsa

from socialcare.errors import AuthError, ConfigError, RateLimited, UsageError
from socialcare.poll import poll_source
from socialcare.sources import registry
from socialcare.sources.gbp import GbpSource
from socialcare.store import Store
from tests.sources.test_googleplay import (
    TOKEN_URI,
    Google,
    Sleeps,
    assertion,
    rsa_key,
    token_endpoint,
    write_key,
)

__all__ = ["rsa_key", "token_endpoint"]  # fixtures shared with the Google Play tests

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "gbp"
LOCATION = "accounts/107869394537265736185/locations/4876932168921353477"
NOW = 1_715_600_000.0  # 2024-05-13T11:33:20Z
MARIA = "AbFvOqnQ3kZy1xW8cT5mNpRs2uVd9eJh"
ANON = "AbFvOqmT7hLp4cS2nB6vXqWz8yKr1gDf"
JONAS = "AbFvOqkZ9wEr3tY5uI7oP1aS2dF4gH6j"


def load(name: str) -> Any:
    return json.loads((FIXTURES / name).read_text(encoding="utf-8"))


def ok(name: str) -> httpx.Response:
    return httpx.Response(200, json=load(name))


@pytest.fixture
def gbp_key(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, rsa_key: rsa.RSAPrivateKey) -> Path:
    path = write_key(tmp_path / "gbp-key.json", rsa_key)
    monkeypatch.setenv("GBP_SERVICE_ACCOUNT_FILE", str(path))
    return path


def make(google: Google, sleeps: Sleeps | None = None, **cfg: Any) -> GbpSource:
    config: dict[str, Any] = {"locations": [LOCATION], "limit": 2, **cfg}
    return GbpSource(
        config,
        transport=httpx.MockTransport(google),
        sleep=Sleeps() if sleeps is None else sleeps,
        clock=lambda: NOW,
    )


def mentions_of(src: GbpSource, cursor: str | None = None) -> list[Any]:
    return [m for p in src.poll(LOCATION, cursor) for m in p.mentions]


@pytest.mark.store_free
def test_pages_follow_next_page_token_ordered_by_update_time(
    gbp_key: Path, token_endpoint: responses.RequestsMock, rsa_key: rsa.RSAPrivateKey
) -> None:
    google = Google(ok("reviews_page1.json"), ok("reviews_page2.json"))
    pages = list(make(google).poll(LOCATION, None))
    first, second = google.requests
    assert first.url.host == "mybusiness.googleapis.com"
    assert first.url.path == f"/v4/{LOCATION}/reviews"
    assert dict(first.url.params) == {"pageSize": "2", "orderBy": "updateTime desc"}
    assert second.url.params["pageToken"] == "ChAIARIMCNbLiLIGEKDa1_UB"
    [grant] = token_endpoint.calls
    assert assertion(grant, rsa_key)["scope"] == "https://www.googleapis.com/auth/business.manage"
    assert [p.cursor is None for p in pages] == [True, False] and pages[-1].complete
    assert json.loads(pages[-1].cursor or "")["ids"] == [MARIA]


@pytest.mark.store_free
def test_reviews_are_normalised_with_star_enum_location_and_anonymous_reviewers(
    gbp_key: Path, token_endpoint: responses.RequestsMock
) -> None:
    src = make(Google(ok("reviews_page1.json"), ok("reviews_page2.json")))
    maria, anon, reply, jonas = mentions_of(src)
    assert maria.text == "Waited 40 minutes for a table we had booked. Nobody apologised."
    assert (maria.kind, maria.rating, anon.rating, jonas.rating) == ("review", 1, 4, 5)
    assert maria.created_at == datetime(2024, 5, 13, 9, 12, 44, 512345, tzinfo=timezone.utc)
    assert maria.meta == {"location": LOCATION, "reviewer_anonymous": False}
    assert maria.author_handle == "Maria Lopez"
    # a rating without text, from "A Google User": no text, no name, no shared identity
    assert (anon.text, anon.author_handle, anon.meta["reviewer_anonymous"]) == ("", "", True)
    assert anon.created_at == datetime(2024, 5, 12, 18, 30, tzinfo=timezone.utc)
    assert anon.updated_at == datetime(2024, 5, 12, 19, 5, 10, tzinfo=timezone.utc)
    assert len({m.author_key for m in (maria, anon, jonas)}) == 3
    assert (reply.kind, reply.parent_id, reply.author_handle) == ("reply", ANON, "owner")
    assert [src.is_own(m) for m in (maria, anon, reply, jonas)] == [False, False, True, False]
    assert src.existing_reply(anon) == "Thank you for visiting us!"
    assert src.existing_reply(maria) is None


def test_an_owner_reply_marks_answered_and_an_edit_comes_back_with_the_same_id(
    store: Store, gbp_key: Path, token_endpoint: responses.RequestsMock
) -> None:
    edited = deepcopy(load("reviews_page1.json")["reviews"][0])
    edited.update(
        starRating="THREE",
        comment="They called me back and apologised. Better.",
        updateTime="2024-05-13T11:00:00Z",
    )
    google = Google(
        ok("reviews_page1.json"),
        ok("reviews_page2.json"),
        httpx.Response(200, json={"reviews": [edited], "totalReviewCount": 3}),
    )
    src = make(google)
    [first] = poll_source(store, src)
    assert (first.error, first.new, first.answered) == (None, 4, 1)
    assert store.get_mention(f"gbp:{ANON}")["answered_by"] == "@owner"
    [again] = mentions_of(src, store.get_cursor("gbp", LOCATION))
    assert (again.native_id, again.rating) == (MARIA, 3)
    assert again.created_at == datetime(2024, 5, 13, 9, 12, 44, 512345, tzinfo=timezone.utc)
    assert again.updated_at == datetime(2024, 5, 13, 11, 0, tzinfo=timezone.utc)


@pytest.mark.store_free
def test_no_reviews_is_a_complete_empty_page(
    gbp_key: Path, token_endpoint: responses.RequestsMock
) -> None:
    [page] = make(Google(httpx.Response(200, json={"totalReviewCount": 0}))).poll(LOCATION, None)
    assert (page.mentions, page.complete, page.cursor) == ([], True, None)


@pytest.mark.store_free
def test_unreadable_reviews_are_skipped(
    gbp_key: Path, token_endpoint: responses.RequestsMock, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING)
    [page] = make(Google(ok("reviews_odd.json")), limit=50).poll(LOCATION, None)
    [only] = page.mentions
    assert (only.native_id, only.rating, only.text) == ("ratingonly", 3, "")
    assert caplog.text.count("skipping an unreadable review") == 3


@pytest.mark.store_free
def test_reply_puts_the_comment_which_replaces_the_owner_reply(
    gbp_key: Path, token_endpoint: responses.RequestsMock
) -> None:
    google = Google(ok("reviews_page1.json"), ok("reviews_page2.json"))
    src = make(google)
    anon = mentions_of(src)[1]
    google.answers.append(ok("reply.json"))
    assert GbpSource.reply_replaces is True
    sent = src.reply(anon, "Thanks again, see you soon!")
    put = google.requests[-1]
    assert (put.method, put.url.path) == ("PUT", f"/v4/{LOCATION}/reviews/{ANON}/reply")
    assert json.loads(put.content) == {"comment": "Thanks again, see you soon!"}
    assert sent.native_id == f"{ANON}:response"


@pytest.mark.store_free
def test_a_reply_over_4096_bytes_is_refused_before_sending(
    gbp_key: Path, token_endpoint: responses.RequestsMock
) -> None:
    google = Google(ok("reviews_page1.json"), ok("reviews_page2.json"))
    src = make(google)
    maria = mentions_of(src)[0]
    before = len(google.requests)
    text = "ü" * 2049  # 2049 characters, 4098 bytes
    with pytest.raises(UsageError, match="4098 characters.*limit is 4096"):
        src.reply(maria, text)
    assert len(google.requests) == before


@pytest.mark.store_free
@pytest.mark.parametrize("fixture", ["error_403_disabled.json", "error_403_denied.json"])
def test_no_approved_access_is_one_auth_error_saying_how_to_request_it(
    gbp_key: Path, token_endpoint: responses.RequestsMock, fixture: str
) -> None:
    google = Google(httpx.Response(403, json=load(fixture)))
    with pytest.raises(AuthError, match="request it at https://developers.google.com") as info:
        list(make(google).poll(LOCATION, None))
    message = str(info.value)
    assert "PERMISSION_DENIED" in message and "\n" not in message
    assert info.value.exit_code == 4 and len(google.requests) == 1


@pytest.mark.store_free
def test_invalid_grant_is_an_auth_error(
    gbp_key: Path, token_endpoint: responses.RequestsMock
) -> None:
    token_endpoint.replace(
        responses.POST,
        TOKEN_URI,
        status=400,
        json={"error": "invalid_grant", "error_description": "Invalid JWT Signature."},
    )
    with pytest.raises(AuthError, match="GBP_SERVICE_ACCOUNT_FILE.*invalid_grant"):
        list(make(Google()).poll(LOCATION, None))


@pytest.mark.store_free
def test_429_waits_then_raises_rate_limited_past_max_wait(
    gbp_key: Path, token_endpoint: responses.RequestsMock
) -> None:
    short = httpx.Response(429, json=load("error_429.json"), headers={"Retry-After": "5"})
    sleeps = Sleeps()
    assert len(mentions_of(make(Google(short, ok("reviews_page2.json")), sleeps))) == 1
    assert sleeps == [5.0]
    long = httpx.Response(429, json=load("error_429.json"), headers={"Retry-After": "600"})
    with pytest.raises(RateLimited):
        mentions_of(make(Google(long), max_wait_seconds=30))


@pytest.mark.store_free
def test_config_and_registration() -> None:
    with pytest.raises(ConfigError, match="accounts/123/locations/456"):
        GbpSource({"locations": ["locations/456"]})
    with pytest.raises(ConfigError, match="nothing to poll"):
        GbpSource({}).queries()
    assert registry.source_classes()["gbp"] is GbpSource


@pytest.mark.store_free
def test_a_404_names_the_locations_key_and_a_401_says_how_to_get_access(
    gbp_key: Path, token_endpoint: responses.RequestsMock
) -> None:
    from socialcare.errors import SourceError

    missing = {
        "error": {"code": 404, "message": "Requested entity was not found.", "status": "NOT_FOUND"}
    }
    expired = {
        "error": {
            "code": 401,
            "message": "Request had invalid credentials.",
            "status": "UNAUTHENTICATED",
        }
    }
    google = Google(httpx.Response(404, json=missing), httpx.Response(401, json=expired))
    src = make(google)
    with pytest.raises(SourceError) as info:
        list(src.poll(LOCATION, None))
    assert not isinstance(info.value, AuthError)
    assert "Google Business Profile found nothing" in str(info.value)
    assert str(info.value).endswith("): check sources.gbp.locations")
    with pytest.raises(AuthError, match="rejected the token .*request it at https://developers"):
        list(src.poll(LOCATION, None))
