"""The App Store adapter against App Store Connect's documented JSON:API, at the transport.

The adapter's real httpx client and PyJWT build every request; ``httpx.MockTransport``
answers. ``tests/fixtures/appstore`` holds ``customerReviews`` pages, error bodies and a
created ``customerReviewResponses`` as Apple documents them. A throwaway EC P-256 key is
made in ``tmp_path`` for each test, so no real key is ever near the suite.
"""

from __future__ import annotations

import json
import logging
from copy import deepcopy
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from socialcare.errors import (
    AuthError,
    ConfigError,
    MissingCredential,
    RateLimited,
    SourceError,
    UsageError,
)
from socialcare.models import Mention
from socialcare.poll import poll_source
from socialcare.sources import registry
from socialcare.sources.appstore import AppStoreSource
from socialcare.store import Store, ingest

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "appstore"
API = "https://api.appstoreconnect.apple.com"
APP = "1234567890"
NOW = 1_715_600_000.0  # 2024-05-13T11:33:20Z
ISSUER = "57246542-96fe-1a63-e053-0824d011072a"
KEY_ID = "2X9R4HXF34"
R4, R3, R1 = (f"7a1c4f0e-2b7d-4c33-9e51-00000000000{n}" for n in (4, 3, 1))


def load(name: str) -> Any:
    return json.loads((FIXTURES / name).read_text(encoding="utf-8"))


class Sleeps(list[float]):
    def __call__(self, seconds: float) -> None:
        self.append(seconds)


Handler = Callable[[httpx.Request], httpx.Response]


class Apple:
    """Answers like App Store Connect: queued answers first, then the fixture pages in turn."""

    def __init__(self, *answers: httpx.Response | Handler) -> None:
        self.answers = list(answers)
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        if not self.answers:
            raise AssertionError(f"unexpected request {request.method} {request.url}")
        answer = self.answers.pop(0)
        return answer(request) if callable(answer) else answer


class Catalog:
    """A growing review listing, paged like Apple's (``links.next`` with an opaque cursor)."""

    def __init__(self, reviews: list[dict[str, Any]]) -> None:
        self.reviews = reviews  # newest first
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        limit = int(request.url.params["limit"])
        offset = int(request.url.params.get("cursor", "0"))
        body: dict[str, Any] = {
            "data": self.reviews[offset : offset + limit],
            "links": {"self": str(request.url)},
            "meta": {"paging": {"total": len(self.reviews), "limit": limit}},
        }
        if offset + limit < len(self.reviews):
            body["links"]["next"] = str(request.url.copy_set_param("cursor", offset + limit))
        return httpx.Response(200, json=body)


def review(n: int, created: str, rating: int = 3, body: str = "") -> dict[str, Any]:
    """One ``customerReviews`` resource in Apple's shape."""
    rid = f"7a1c4f0e-2b7d-4c33-9e51-{n:012d}"
    return {
        "type": "customerReviews",
        "id": rid,
        "attributes": {
            "rating": rating,
            "title": f"Review {n}",
            "body": body or f"body {n}",
            "reviewerNickname": f"user{n}",
            "createdDate": created,
            "territory": "USA",
        },
        "relationships": {"response": {"links": {"self": f"{API}/v1/customerReviews/{rid}"}}},
        "links": {"self": f"{API}/v1/customerReviews/{rid}"},
    }


def ok(name: str) -> httpx.Response:
    return httpx.Response(200, json=load(name))


@pytest.fixture
def key_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> ec.EllipticCurvePrivateKey:
    key = ec.generate_private_key(ec.SECP256R1())
    path = tmp_path / f"AuthKey_{KEY_ID}.p8"
    path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    monkeypatch.setenv("APPSTORE_PRIVATE_KEY_FILE", str(path))
    monkeypatch.setenv("APPSTORE_ISSUER_ID", ISSUER)
    monkeypatch.setenv("APPSTORE_KEY_ID", KEY_ID)
    return key


def make(
    handler: Handler,
    sleeps: Sleeps | None = None,
    clock: Callable[[], float] | None = None,
    **cfg: Any,
) -> AppStoreSource:
    config: dict[str, Any] = {"apps": [int(APP)], "limit": 2, **cfg}
    return AppStoreSource(
        config,
        transport=httpx.MockTransport(handler),
        sleep=Sleeps() if sleeps is None else sleeps,
        clock=clock or (lambda: NOW),
    )


def claims(request: httpx.Request, key: ec.EllipticCurvePrivateKey) -> dict[str, Any]:
    token = request.headers["authorization"].removeprefix("Bearer ")
    assert jwt.get_unverified_header(token) == {"alg": "ES256", "kid": KEY_ID, "typ": "JWT"}
    return jwt.decode(
        token,
        key.public_key(),
        algorithms=["ES256"],
        audience="appstoreconnect-v1",
        options={"verify_exp": False, "verify_iat": False},
    )


@pytest.mark.store_free
def test_pages_follow_links_next_and_only_the_last_carries_the_cursor(
    key_file: ec.EllipticCurvePrivateKey,
) -> None:
    apple = Apple(ok("reviews_page1.json"), ok("reviews_page2.json"))
    pages = list(make(apple).poll(APP, None))
    first, second = apple.requests
    assert first.url.path == f"/v1/apps/{APP}/customerReviews"
    assert dict(first.url.params) == {"sort": "-createdDate", "limit": "2", "include": "response"}
    assert second.url == httpx.URL(load("reviews_page1.json")["links"]["next"])
    assert [p.cursor is None for p in pages] == [True, False]
    assert json.loads(pages[-1].cursor or "") == {
        "ts": datetime(2024, 5, 13, 10, 15, tzinfo=timezone.utc).timestamp(),
        "ids": [R4],
    }
    assert pages[-1].complete and not pages[0].complete
    reviews = [m for p in pages for m in p.mentions if m.kind == "review"]
    assert [m.native_id for m in reviews] == [R4, R3, R1]


@pytest.mark.store_free
def test_requests_carry_an_es256_jwt_for_app_store_connect(
    key_file: ec.EllipticCurvePrivateKey,
) -> None:
    clock = [NOW]
    apple = Apple(*[ok("reviews_empty.json")] * 3)
    src = make(apple, clock=lambda: clock[0])
    list(src.poll(APP, None))
    clock[0] += 5 * 60
    list(src.poll(APP, None))
    clock[0] += 10 * 60  # under a minute left: a new token
    list(src.poll(APP, None))
    first, again, renewed = (claims(r, key_file) for r in apple.requests)
    assert first["iss"] == ISSUER and first["aud"] == "appstoreconnect-v1"
    assert first["iat"] == int(NOW) and 0 < first["exp"] - first["iat"] <= 20 * 60
    assert again == first  # reused while it has time left
    assert renewed["iat"] == int(NOW) + 15 * 60


@pytest.mark.store_free
def test_reviews_are_normalised_with_title_rating_territory_and_no_shared_identity(
    key_file: ec.EllipticCurvePrivateKey,
) -> None:
    apple = Apple(ok("reviews_page1.json"), ok("reviews_page2.json"))
    mentions = [m for p in make(apple).poll(APP, None) for m in p.mentions]
    crash, sync, response, german = mentions
    assert crash.text == (
        "Crashes on launch\nSince 4.2 the app crashes every time I open it. iPhone 13, iOS 17.4."
    )
    assert (crash.kind, crash.rating, crash.author_handle) == ("review", 1, "gadgetfan42")
    assert crash.created_at == datetime(2024, 5, 13, 10, 15, tzinfo=timezone.utc)
    assert crash.updated_at == crash.created_at
    assert crash.meta == {"app_id": APP, "territory": "USA", "title": "Crashes on launch"}
    assert crash.conversation_id == R4 and crash.parent_id is None
    # an empty nickname is no identity: every review is its own, unlinked author
    assert sync.author_handle == "" and sync.meta["territory"] == "GBR"
    assert len({m.author_key for m in (crash, sync, german)}) == 3
    assert german.text == "Beste App für Einkaufslisten." and german.rating == 5


@pytest.mark.store_free
def test_a_response_written_in_app_store_connect_is_an_own_reply_to_its_review(
    key_file: ec.EllipticCurvePrivateKey,
) -> None:
    apple = Apple(ok("reviews_page1.json"), ok("reviews_page2.json"))
    src = make(apple)
    mentions = [m for p in src.poll(APP, None) for m in p.mentions]
    [response] = [m for m in mentions if m.kind == "reply"]
    assert response.parent_id == R3 and response.native_id == f"{R3}:response"
    assert response.text == "Thanks! Sync speed-ups ship in 4.3 next week."
    assert response.created_at == datetime(2024, 5, 13, 8, 0, tzinfo=timezone.utc)
    assert [src.is_own(m) for m in mentions] == [False, False, True, False]
    by_id = {m.native_id: m for m in mentions}
    assert src.existing_reply(by_id[R3]) == "Thanks! Sync speed-ups ship in 4.3 next week."
    assert src.existing_reply(by_id[R4]) is None


def test_native_response_marks_the_review_answered_in_the_store(
    store: Store, key_file: ec.EllipticCurvePrivateKey
) -> None:
    apple = Apple(ok("reviews_page1.json"), ok("reviews_page2.json"))
    [result] = poll_source(store, make(apple))
    assert (result.error, result.new, result.answered) == (None, 4, 1)
    assert store.get_mention(f"appstore:{R3}")["answered_by"] == "@developer"
    assert not store.get_mention(f"appstore:{R4}")["answered_by"]


@pytest.mark.store_free
def test_a_nickname_equal_to_a_brand_handle_is_not_own(
    key_file: ec.EllipticCurvePrivateKey,
) -> None:
    apple = Apple(ok("reviews_page2.json"))
    src = AppStoreSource(
        {"apps": [APP]},
        brand_handles=("Mo",),
        transport=httpx.MockTransport(apple),
        clock=lambda: NOW,
    )
    [german] = [m for p in src.poll(APP, None) for m in p.mentions]
    assert german.author_handle == "Mo" and not src.is_own(german)


@pytest.mark.store_free
def test_empty_listing_is_one_complete_page_that_keeps_the_cursor(
    key_file: ec.EllipticCurvePrivateKey,
) -> None:
    cursor = json.dumps({"ts": NOW - 3600, "ids": [R1]})
    [page] = make(Apple(ok("reviews_empty.json"))).poll(APP, cursor)
    assert (page.mentions, page.complete, page.cursor) == ([], True, cursor)


@pytest.mark.store_free
def test_unreadable_items_are_skipped_and_the_poll_goes_on(
    key_file: ec.EllipticCurvePrivateKey, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING)
    [page] = make(Apple(ok("reviews_odd.json")), limit=200).poll(APP, None)
    [okay] = page.mentions
    assert okay.native_id.endswith("7") and okay.text == "Okay" and okay.author_handle == ""
    assert caplog.text.count("skipping an unreadable review") == 4
    assert page.complete and page.cursor is not None


def test_an_edited_review_comes_back_with_the_same_id_and_new_text(
    store: Store, key_file: ec.EllipticCurvePrivateKey
) -> None:
    edited = load("reviews_page1.json")
    crash = deepcopy(edited["data"][0])
    crash["attributes"].update(
        rating=3, body="4.2.1 fixed the crash, thanks.", createdDate="2024-05-13T11:30:00Z"
    )
    newer = {"data": [crash], "links": {"self": f"{API}/v1/apps/{APP}/customerReviews"}}
    apple = Apple(
        ok("reviews_page1.json"), ok("reviews_page2.json"), httpx.Response(200, json=newer)
    )
    src = make(apple)
    poll_source(store, src)
    pages = list(src.poll(APP, store.get_cursor("appstore", APP)))
    [again] = pages[0].mentions
    assert again.native_id == R4 and again.rating == 3
    assert again.updated_at == datetime(2024, 5, 13, 11, 30, tzinfo=timezone.utc)
    # the store refreshes the text, rating and update time of a known id
    ingest.ingest_mentions(store, [again])
    row = store.get_mention(f"appstore:{R4}")
    assert row["text"].endswith("4.2.1 fixed the crash, thanks.")
    assert (row["rating"], row["updated_at"]) == (3, "2024-05-13T11:30:00Z")


def test_a_cut_short_poll_leaves_a_gap_that_the_next_poll_fills(
    store: Store, key_file: ec.EllipticCurvePrivateKey
) -> None:
    old = [review(n, f"2024-05-10T0{n}:00:00Z") for n in (3, 2, 1)]
    catalog = Catalog(old)
    src = make(catalog, max_pages=2, overlap_seconds=0)
    [first] = poll_source(store, src)
    assert (first.error, first.new) == (None, 3)
    # six new reviews arrive; two pages of two are not enough to reach the cursor
    catalog.reviews = [review(n, f"2024-05-12T0{n}:00:00Z") for n in (9, 8, 7, 6, 5, 4)] + old
    [cut] = poll_source(store, src)
    assert (cut.new, cut.gaps_open) == (4, 1)
    [gap] = ingest.open_gaps(store, "appstore", APP)
    assert (
        src.position_key(str(gap["before_cursor"]))[0]
        == datetime(2024, 5, 12, 6, tzinfo=timezone.utc).timestamp()
    )
    # the backfill re-walks from the top: pages above the gap cost a request but no page
    # of max_pages, so each poll stores up to max_pages pages of the gap
    [narrowed] = poll_source(store, src)
    assert (narrowed.error, narrowed.new, narrowed.gaps_open) == (None, 2, 1)
    [filled] = poll_source(store, src)
    assert (filled.new, filled.gaps_filled, filled.gaps_open) == (0, 1, 0)
    stored = {store.find_mention("appstore", r["id"]) is not None for r in catalog.reviews}
    assert stored == {True}


@pytest.mark.store_free
def test_reply_posts_a_customer_review_response_that_replaces_the_old_one(
    key_file: ec.EllipticCurvePrivateKey,
) -> None:
    apple = Apple(ok("reviews_page1.json"), ok("reviews_page2.json"))
    src = make(apple)
    by_id = {m.native_id: m for p in src.poll(APP, None) for m in p.mentions}
    apple.answers.append(httpx.Response(201, json=load("response_created.json")))
    assert AppStoreSource.reply_replaces is True
    sent = src.reply(by_id[R3], "Sync is faster in 4.3: please update!")
    post = apple.requests[-1]
    assert (post.method, post.url.path) == ("POST", "/v1/customerReviewResponses")
    assert json.loads(post.content) == {
        "data": {
            "type": "customerReviewResponses",
            "attributes": {"responseBody": "Sync is faster in 4.3: please update!"},
            "relationships": {"review": {"data": {"type": "customerReviews", "id": R3}}},
        }
    }
    assert sent.native_id == f"{R3}:response"


@pytest.mark.store_free
def test_too_long_reply_and_reply_to_a_response_are_refused_before_sending(
    key_file: ec.EllipticCurvePrivateKey,
) -> None:
    apple = Apple(ok("reviews_page1.json"), ok("reviews_page2.json"))
    src = make(apple)
    mentions = [m for p in src.poll(APP, None) for m in p.mentions]
    sent_before = len(apple.requests)
    with pytest.raises(UsageError, match="5971 characters.*limit is 5970"):
        src.reply(mentions[0], "x" * 5971)
    with pytest.raises(UsageError, match="not a review"):
        src.reply(mentions[2], "thanks")
    assert len(apple.requests) == sent_before


@pytest.mark.store_free
@pytest.mark.parametrize(
    ("status", "fixture", "fix"),
    [(401, "error_401.json", "check the issuer id"), (403, "error_403.json", "Customer Support")],
)
def test_rejected_key_is_an_auth_error_saying_what_to_fix(
    key_file: ec.EllipticCurvePrivateKey, status: int, fixture: str, fix: str
) -> None:
    apple = Apple(httpx.Response(status, json=load(fixture)))
    with pytest.raises(AuthError, match=fix) as info:
        list(make(apple).poll(APP, None))
    assert info.value.exit_code == 4 and "\n" not in str(info.value)
    assert load(fixture)["errors"][0]["code"] in str(info.value)


@pytest.mark.store_free
def test_missing_or_wrong_key_file_says_which_variable(
    key_file: ec.EllipticCurvePrivateKey, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    src = make(Apple())
    src.check_credentials()
    monkeypatch.setenv("APPSTORE_PRIVATE_KEY_FILE", str(tmp_path / "nope.p8"))
    with pytest.raises(MissingCredential, match="APPSTORE_PRIVATE_KEY_FILE"):
        src.check_credentials()
    rsa_key = tmp_path / "rsa.p8"
    rsa_key.write_bytes(
        rsa.generate_private_key(public_exponent=65537, key_size=2048).private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    monkeypatch.setenv("APPSTORE_PRIVATE_KEY_FILE", str(rsa_key))
    with pytest.raises(ConfigError, match="not an App Store Connect API key") as info:
        src.check_credentials()
    assert "PRIVATE KEY" not in str(info.value)
    monkeypatch.delenv("APPSTORE_ISSUER_ID")
    with pytest.raises(MissingCredential, match="APPSTORE_ISSUER_ID"):
        src.check_credentials()


@pytest.mark.store_free
def test_rate_limit_with_retry_after_waits_then_continues(
    key_file: ec.EllipticCurvePrivateKey,
) -> None:
    limited = httpx.Response(429, json=load("error_429.json"), headers={"Retry-After": "30"})
    sleeps = Sleeps()
    apple = Apple(limited, ok("reviews_page1.json"), ok("reviews_page2.json"))
    pages = list(make(apple, sleeps).poll(APP, None))
    assert sleeps == [30.0] and pages[-1].cursor is not None


@pytest.mark.store_free
def test_rate_limit_longer_than_max_wait_raises_rate_limited(
    key_file: ec.EllipticCurvePrivateKey,
) -> None:
    limited = httpx.Response(429, json=load("error_429.json"), headers={"Retry-After": "3600"})
    with pytest.raises(RateLimited, match="max_wait_seconds") as info:
        list(make(Apple(limited)).poll(APP, None))
    assert info.value.reset_at == NOW + 3600


@pytest.mark.store_free
def test_a_next_link_to_another_host_is_not_followed_with_the_token(
    key_file: ec.EllipticCurvePrivateKey,
) -> None:
    body = load("reviews_page1.json")
    body["links"]["next"] = "https://evil.example/v1/apps/1/customerReviews?cursor=x"
    apple = Apple(httpx.Response(200, json=body))
    with pytest.raises(SourceError, match="refusing to follow"):
        list(make(apple).poll(APP, None))
    assert len(apple.requests) == 1


@pytest.mark.store_free
def test_config_needs_app_ids_and_the_source_is_registered() -> None:
    with pytest.raises(ConfigError, match="apps"):
        AppStoreSource({"apps": ["com.acme.app"]})
    with pytest.raises(ConfigError, match="nothing to poll"):
        AppStoreSource({}).queries()
    assert registry.source_classes()["appstore"] is AppStoreSource


def test_a_stored_review_row_rebuilds_with_rating_update_time_and_meta(
    store: Store, key_file: ec.EllipticCurvePrivateKey
) -> None:
    poll_source(store, make(Apple(ok("reviews_page1.json"), ok("reviews_page2.json"))))
    again = Mention.from_row(store.get_mention(f"appstore:{R3}"))
    assert (again.kind, again.native_id) == ("review", R3)
    assert again.rating == 4
    assert again.updated_at == datetime(2024, 5, 12, 22, 40, 10, tzinfo=timezone.utc)
    assert again.meta == {"app_id": APP, "territory": "GBR", "title": "Good but sync is slow"}
    # the raw JSON:API document survives, so the CLI can still warn what a reply replaces
    assert make(Apple()).existing_reply(again) == "Thanks! Sync speed-ups ship in 4.3 next week."
