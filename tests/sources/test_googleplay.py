"""The Google Play adapter against the Play Developer API's documented JSON, at the transport.

google-auth builds and signs the service-account grant and parses the token answer
for real: ``responses`` answers its ``requests`` call to oauth2.googleapis.com. The
adapter's httpx client builds every API request; ``httpx.MockTransport`` answers.
``tests/fixtures/googleplay`` holds review lists, a reply result and error bodies in
the documented shapes. The RSA service-account key is made in ``tmp_path``.
"""

from __future__ import annotations

import json
import logging
from copy import deepcopy
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any, Callable, Iterator
from urllib.parse import parse_qs

import httpx
import jwt
import pytest
import responses
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from socialcare.errors import AuthError, ConfigError, MissingCredential, RateLimited, UsageError
from socialcare.poll import poll_source
from socialcare.sources import registry
from socialcare.sources.googleplay import GooglePlaySource
from socialcare.store import Store

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "googleplay"
TOKEN_URI = "https://oauth2.googleapis.com/token"
PACKAGE = "com.acme.lists"
REVIEWS = f"/androidpublisher/v3/applications/{PACKAGE}/reviews"
NOW = 1_715_600_000.0  # 2024-05-13T11:33:20Z
PRIYA = "gp:AOqpTOFmAVORqfWGcaqfF39ftwFjGkjecjvCXnC9m0bKQ4"
TOM = "gp:AOqpTOGx7Qk2yJ1rU0n6dP3vZ8sHc4tLw9mEa5bNf2iKo3"
CLIENT_EMAIL = "socialcare@acme-care.iam.gserviceaccount.com"


def load(name: str) -> Any:
    return json.loads((FIXTURES / name).read_text(encoding="utf-8"))


class Sleeps(list[float]):
    def __call__(self, seconds: float) -> None:
        self.append(seconds)


Handler = Callable[[httpx.Request], httpx.Response]


class Google:
    """Answers API requests in turn from a queue, recording them."""

    def __init__(self, *answers: httpx.Response) -> None:
        self.answers = list(answers)
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        if not self.answers:
            raise AssertionError(f"unexpected request {request.method} {request.url}")
        return self.answers.pop(0)


def ok(name: str) -> httpx.Response:
    return httpx.Response(200, json=load(name))


def write_key(path: Path, key: rsa.RSAPrivateKey) -> Path:
    """A service-account JSON key file in the shape Google Cloud console downloads."""
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()
    path.write_text(
        json.dumps(
            {
                "type": "service_account",
                "project_id": "acme-care",
                "private_key_id": "0f1e2d3c4b5a69788796a5b4c3d2e1f0a9b8c7d6",
                "private_key": pem,
                "client_email": CLIENT_EMAIL,
                "client_id": "104857600000000000001",
                "auth_uri": "https://accounts.google.com/o/oauth2/auth",
                "token_uri": TOKEN_URI,
                "auth_provider_x509_cert_url": "https://www.googleapis.com/oauth2/v1/certs",
                "client_x509_cert_url": "https://www.googleapis.com/robot/v1/metadata/x509/x",
                "universe_domain": "googleapis.com",
            }
        )
    )
    return path


@pytest.fixture(scope="session")
def rsa_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@pytest.fixture
def token_endpoint() -> Iterator[responses.RequestsMock]:
    """oauth2.googleapis.com answered by ``responses`` (google-auth talks ``requests``)."""
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        mock.post(TOKEN_URI, json=load("token.json"))
        yield mock


@pytest.fixture
def play_key(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, rsa_key: rsa.RSAPrivateKey) -> Path:
    path = write_key(tmp_path / "play-key.json", rsa_key)
    monkeypatch.setenv("GOOGLEPLAY_SERVICE_ACCOUNT_FILE", str(path))
    return path


def assertion(call: Any, key: rsa.RSAPrivateKey) -> dict[str, Any]:
    """The claims of the JWT grant google-auth sent to the token endpoint, verified."""
    body = call.request.body
    form = parse_qs(body.decode() if isinstance(body, bytes) else body)
    assert form["grant_type"] == ["urn:ietf:params:oauth:grant-type:jwt-bearer"]
    return jwt.decode(
        form["assertion"][0], key.public_key(), algorithms=["RS256"], audience=TOKEN_URI
    )


def make(google: Google, sleeps: Sleeps | None = None, **cfg: Any) -> GooglePlaySource:
    config: dict[str, Any] = {"packages": [PACKAGE], "limit": 2, **cfg}
    return GooglePlaySource(
        config,
        transport=httpx.MockTransport(google),
        sleep=Sleeps() if sleeps is None else sleeps,
        clock=lambda: NOW,
    )


def mentions_of(src: GooglePlaySource, cursor: str | None = None) -> list[Any]:
    return [m for p in src.poll(PACKAGE, cursor) for m in p.mentions]


@pytest.mark.store_free
def test_pages_follow_next_page_token_with_a_service_account_token(
    play_key: Path, token_endpoint: responses.RequestsMock, rsa_key: rsa.RSAPrivateKey
) -> None:
    google = Google(ok("reviews_page1.json"), ok("reviews_page2.json"))
    pages = list(make(google).poll(PACKAGE, None))
    first, second = google.requests
    assert first.url.host == "androidpublisher.googleapis.com" and first.url.path == REVIEWS
    assert dict(first.url.params) == {"maxResults": "2"}
    assert dict(second.url.params) == {"maxResults": "2", "token": "CpMBCgsIkPm1sgYQgJvfNxKDAQ"}
    assert {r.headers["authorization"] for r in google.requests} == {
        "Bearer ya29.c.TEST-play-token-not-secret"
    }
    [grant] = token_endpoint.calls  # one token serves the whole poll
    claims = assertion(grant, rsa_key)
    assert claims["iss"] == CLIENT_EMAIL
    assert claims["scope"] == "https://www.googleapis.com/auth/androidpublisher"
    assert [p.cursor is None for p in pages] == [True, False] and pages[-1].complete
    assert json.loads(pages[-1].cursor or "")["ids"] == [PRIYA]


@pytest.mark.store_free
def test_reviews_are_normalised_with_title_version_device_and_language(
    play_key: Path, token_endpoint: responses.RequestsMock
) -> None:
    priya, tom, reply, german = mentions_of(
        make(Google(ok("reviews_page1.json"), ok("reviews_page2.json")))
    )
    assert priya.text == "Keeps logging me out since the last update"  # untitled: a leading tab
    assert tom.text == "Great widgets\nBut please add a dark mode"
    assert (priya.kind, priya.rating, tom.rating, german.rating) == ("review", 2, 4, 5)
    assert priya.created_at == datetime(2024, 5, 13, 9, 0, 0, 125000, tzinfo=timezone.utc)
    assert priya.updated_at == priya.created_at
    assert priya.meta == {
        "package": PACKAGE,
        "app_version": "4.2.1",
        "app_version_code": 4210,
        "android_os_version": 34,
        "device": "a52q",
        "title": "",
    }
    assert tom.meta["title"] == "Great widgets" and tom.language == "en_GB"
    assert (german.author_handle, german.language) == ("", "de")
    assert len({m.author_key for m in (priya, tom, german)}) == 3
    assert priya.url == f"https://play.google.com/store/apps/details?id={PACKAGE}&reviewId={PRIYA}"


@pytest.mark.store_free
def test_a_developer_comment_is_an_own_reply_and_the_existing_reply(
    play_key: Path, token_endpoint: responses.RequestsMock
) -> None:
    src = make(Google(ok("reviews_page1.json"), ok("reviews_page2.json")))
    mentions = mentions_of(src)
    reply = mentions[2]
    assert (reply.kind, reply.parent_id, reply.native_id) == ("reply", TOM, f"{TOM}:response")
    assert reply.created_at == datetime.fromtimestamp(1715594400, tz=timezone.utc)
    assert [src.is_own(m) for m in mentions] == [False, False, True, False]
    assert src.existing_reply(mentions[1]) == "Dark mode ships in 4.3, thanks for asking!"
    assert src.existing_reply(mentions[0]) is None


def test_native_reply_marks_the_review_answered_and_edits_keep_the_id(
    store: Store, play_key: Path, token_endpoint: responses.RequestsMock
) -> None:
    edited = deepcopy(load("reviews_page1.json")["reviews"][0])
    user = edited["comments"][0]["userComment"]
    user.update(
        text="\tFixed in 4.2.2, thanks", starRating=4, lastModified={"seconds": "1715599000"}
    )
    google = Google(
        ok("reviews_page1.json"),
        ok("reviews_page2.json"),
        httpx.Response(200, json={"reviews": [edited]}),
    )
    src = make(google)
    [first] = poll_source(store, src)
    assert (first.error, first.new, first.answered) == (None, 4, 1)
    assert store.get_mention(f"googleplay:{TOM}")["answered_by"] == "@developer"
    [again] = mentions_of(src, store.get_cursor("googleplay", PACKAGE))
    assert (again.native_id, again.rating) == (PRIYA, 4)
    assert again.updated_at == datetime.fromtimestamp(1715599000, tz=timezone.utc)
    assert again.created_at == again.updated_at  # Play gives only the last change


@pytest.mark.store_free
def test_empty_list_is_a_complete_page(
    play_key: Path, token_endpoint: responses.RequestsMock
) -> None:
    cursor = json.dumps({"ts": NOW - 3600, "ids": [PRIYA]})
    [page] = make(Google(httpx.Response(200, json={}))).poll(PACKAGE, cursor)
    assert (page.mentions, page.complete, page.cursor) == ([], True, cursor)


@pytest.mark.store_free
def test_unreadable_reviews_are_skipped_and_the_poll_goes_on(
    play_key: Path, token_endpoint: responses.RequestsMock, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING)
    [page] = make(Google(ok("reviews_odd.json")), limit=100).poll(PACKAGE, None)
    [fine] = page.mentions
    assert (fine.native_id, fine.text, fine.rating, fine.author_handle) == ("gp:fine", "", 1, "")
    assert caplog.text.count("skipping an unreadable review") == 5
    assert page.complete


@pytest.mark.store_free
def test_reply_posts_reply_text_and_replaces_the_existing_reply(
    play_key: Path, token_endpoint: responses.RequestsMock
) -> None:
    google = Google(ok("reviews_page1.json"), ok("reviews_page2.json"))
    src = make(google)
    tom = mentions_of(src)[1]
    google.answers.append(ok("reply_result.json"))
    assert GooglePlaySource.reply_replaces is True
    sent = src.reply(tom, "Dark mode is live in 4.3!")
    post = google.requests[-1]
    assert (post.method, post.url.path) == ("POST", f"{REVIEWS}/{TOM}:reply")
    assert json.loads(post.content) == {"replyText": "Dark mode is live in 4.3!"}
    assert sent.native_id == f"{TOM}:response"


@pytest.mark.store_free
def test_a_reply_over_350_characters_is_refused_before_sending(
    play_key: Path, token_endpoint: responses.RequestsMock
) -> None:
    google = Google(ok("reviews_page1.json"), ok("reviews_page2.json"))
    src = make(google)
    priya = mentions_of(src)[0]
    before = len(google.requests)
    assert GooglePlaySource.max_length == 350
    with pytest.raises(UsageError, match="351 characters.*limit is 350"):
        src.reply(priya, "x" * 351)
    assert len(google.requests) == before


@pytest.mark.store_free
def test_invalid_grant_from_the_token_endpoint_is_an_auth_error(
    play_key: Path, token_endpoint: responses.RequestsMock, rsa_key: rsa.RSAPrivateKey
) -> None:
    token_endpoint.replace(
        responses.POST, TOKEN_URI, status=400, json=load("token_invalid_grant.json")
    )
    google = Google()
    with pytest.raises(AuthError, match="invalid_grant.*create a new key") as info:
        list(make(google).poll(PACKAGE, None))
    message = str(info.value)
    assert info.value.exit_code == 4 and "\n" not in message
    assert "GOOGLEPLAY_SERVICE_ACCOUNT_FILE" in message and "PRIVATE KEY" not in message
    assert google.requests == []  # nothing reached the API without a token


@pytest.mark.store_free
@pytest.mark.parametrize(
    ("status", "fixture", "words"),
    [
        (401, "error_401.json", "UNAUTHENTICATED, ACCESS_TOKEN_EXPIRED"),
        (403, "error_403.json", "PERMISSION_DENIED"),
    ],
)
def test_api_401_or_403_is_an_auth_error_saying_how_to_grant_access(
    play_key: Path, token_endpoint: responses.RequestsMock, status: int, fixture: str, words: str
) -> None:
    google = Google(httpx.Response(status, json=load(fixture)))
    with pytest.raises(AuthError, match="Reply to reviews") as info:
        list(make(google).poll(PACKAGE, None))
    assert words in str(info.value) and "\n" not in str(info.value)


@pytest.mark.store_free
def test_a_401_drops_the_token_so_the_next_poll_fetches_a_new_one(
    play_key: Path, token_endpoint: responses.RequestsMock
) -> None:
    google = Google(httpx.Response(401, json=load("error_401.json")), ok("reviews_page2.json"))
    src = make(google)
    with pytest.raises(AuthError):
        list(src.poll(PACKAGE, None))
    assert len(mentions_of(src)) == 1
    assert len(token_endpoint.calls) == 2


@pytest.mark.store_free
def test_429_waits_for_retry_after_then_a_long_one_raises_rate_limited(
    play_key: Path, token_endpoint: responses.RequestsMock
) -> None:
    short = httpx.Response(429, json=load("error_429.json"), headers={"Retry-After": "20"})
    sleeps = Sleeps()
    google = Google(short, ok("reviews_page2.json"))
    assert len(mentions_of(make(google, sleeps))) == 1 and sleeps == [20.0]
    long = httpx.Response(429, json=load("error_429.json"), headers={"Retry-After": "7200"})
    with pytest.raises(RateLimited) as info:
        mentions_of(make(Google(long)))
    assert info.value.reset_at == NOW + 7200


@pytest.mark.store_free
def test_a_cursor_older_than_the_7_day_window_is_warned_about(
    play_key: Path, token_endpoint: responses.RequestsMock, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING)
    assert GooglePlaySource.history_window == timedelta(days=7)
    recent = json.dumps({"ts": NOW - 6 * 86400, "ids": []})
    list(make(Google(ok("reviews_page2.json"))).poll(PACKAGE, recent))
    assert "last 7 days" not in caplog.text
    stale = json.dumps({"ts": NOW - 8 * 86400, "ids": []})
    list(make(Google(ok("reviews_page2.json"))).poll(PACKAGE, stale))
    assert "lists only the last 7 days" in caplog.text


@pytest.mark.store_free
def test_key_file_problems_name_the_variable(
    play_key: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    src = make(Google())
    src.check_credentials()
    monkeypatch.setenv("GOOGLEPLAY_SERVICE_ACCOUNT_FILE", str(tmp_path / "missing.json"))
    with pytest.raises(MissingCredential, match="GOOGLEPLAY_SERVICE_ACCOUNT_FILE"):
        make(Google()).check_credentials()
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"type": "service_account", "client_email": CLIENT_EMAIL}))
    monkeypatch.setenv("GOOGLEPLAY_SERVICE_ACCOUNT_FILE", str(bad))
    with pytest.raises(ConfigError, match="not a usable Google service-account key"):
        make(Google()).check_credentials()
    monkeypatch.delenv("GOOGLEPLAY_SERVICE_ACCOUNT_FILE")
    with pytest.raises(MissingCredential, match="GOOGLEPLAY_SERVICE_ACCOUNT_FILE"):
        make(Google()).check_credentials()


@pytest.mark.store_free
def test_config_and_registration() -> None:
    with pytest.raises(ConfigError, match="packages"):
        GooglePlaySource({"packages": "com.acme.lists"})
    with pytest.raises(ConfigError, match="nothing to poll"):
        GooglePlaySource({}).queries()
    assert registry.source_classes()["googleplay"] is GooglePlaySource


#: Google's documented error body for an unknown resource
NOT_FOUND = {
    "error": {"code": 404, "message": "Package not found: com.acme.app.", "status": "NOT_FOUND"}
}


@pytest.mark.store_free
def test_a_404_is_a_source_error_naming_what_to_check(
    play_key: Path, token_endpoint: responses.RequestsMock
) -> None:
    from socialcare.errors import SourceError

    google = Google(httpx.Response(404, json=NOT_FOUND))
    with pytest.raises(SourceError) as info:
        list(make(google).poll(PACKAGE, None))
    assert not isinstance(info.value, AuthError)
    assert str(info.value) == (
        f"Google Play found nothing for reviews of {PACKAGE} (HTTP 404 NOT_FOUND: Package "
        "not found: com.acme.app.): check sources.googleplay.packages, and that the review is under 7 days old"
    )


@pytest.mark.store_free
@pytest.mark.parametrize(
    ("body", "said"),
    [
        (
            {"reviews": {"reviewId": "gp:1"}},
            "expected a list in 'reviews', got {'reviewId': 'gp:1'}",
        ),
        ([{"reviewId": "gp:1"}], "expected an object with 'reviews', got [{'reviewId': 'gp:1'}]"),
    ],
    ids=["reviews-not-a-list", "a-bare-list"],
)
def test_a_page_of_the_wrong_shape_is_one_source_error(
    play_key: Path, token_endpoint: responses.RequestsMock, body: Any, said: str
) -> None:
    from socialcare.errors import SourceError

    with pytest.raises(SourceError) as info:
        list(make(Google(httpx.Response(200, json=body))).poll(PACKAGE, None))
    assert str(info.value) == f"Google Play API error (reviews of {PACKAGE}): {said}"
