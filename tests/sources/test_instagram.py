"""The Instagram adapter against Instagram Graph API JSON as Meta documents it, answered by respx."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone
from typing import Any

import httpx
import pytest
import respx

from socialcare.errors import AuthError, ConfigError, MissingCredential, SourceError
from socialcare.models import Mention
from socialcare.poll import poll_source
from socialcare.sources.instagram import InstagramSource
from tests.sources.graph_helpers import NOW, PAGE, TOKEN, G, load_fixture

IG = "17841400000000001"
MEDIA = "17900000000000001"


def load(name: str) -> Any:
    return load_fixture("instagram", name)


@pytest.fixture(autouse=True)
def instagram_env(graph_env: None, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("INSTAGRAM_USER_ID", IG)


def source(**config: Any) -> InstagramSource:
    return InstagramSource(config, sleep=lambda s: None, clock=lambda: NOW.timestamp())


def mock_media(api: respx.MockRouter) -> tuple[respx.Route, respx.Route]:
    media = api.get(f"{G}/{IG}/media").respond(json=load("media.json"))
    more = api.get(f"{G}/{MEDIA}/comments").respond(json=load("comments_page2.json"))
    return media, more


@pytest.mark.store_free
def test_comments_and_their_replies_come_flat_with_parents(api: respx.MockRouter) -> None:
    media, more = mock_media(api)
    pages = list(source(dms=False).poll("comments", None))
    mentions = {m.native_id: m for p in pages for m in p.mentions}
    refund = mentions["17850000000000001"]
    assert (refund.kind, refund.parent_id, refund.conversation_id) == ("comment", MEDIA, MEDIA)
    assert (refund.author_id, refund.author_handle) == ("6300000000000001", "jo.smith")
    sam = mentions["17850000000000003"]
    assert (sam.kind, sam.parent_id) == ("reply", "17850000000000001")
    assert mentions["17850000000000004"].author_id == ""  # no from: no identity, still stored
    # the second page came by paging.cursors.after, without the token of paging.next
    url = more.calls.last.request.url
    assert url.params["after"] == "QVFIUmlnMg" and "access_token" not in url.params
    assert "17850000000000005" in mentions
    assert len([s for p in pages for s in p.skipped]) == 1  # no text is fine; no id is not
    assert mentions["17850000000000006"].text == ""
    assert pages[-1].cursor == str(
        int(datetime(2024, 5, 13, 10, 40, tzinfo=timezone.utc).timestamp())
    )
    assert media.calls.last.request.headers["authorization"] == f"Bearer {TOKEN}"


@pytest.mark.store_free
def test_a_poll_with_a_cursor_keeps_only_newer_comments(api: respx.MockRouter) -> None:
    mock_media(api)
    cursor = str(int(datetime(2024, 5, 13, 10, 15, tzinfo=timezone.utc).timestamp()))
    pages = list(source(dms=False, overlap_seconds=0).poll("comments", cursor))
    assert {m.native_id for p in pages for m in p.mentions} == {
        "17850000000000002",
        "17850000000000003",
    }


def test_the_accounts_own_reply_is_never_queued(api: respx.MockRouter, store: Any) -> None:
    mock_media(api)
    poll_source(store, source(dms=False))
    own = store.get_mention("instagram:17850000000000002")
    assert own["is_own"]
    assert store.get_mention("instagram:17850000000000001")["answered_by"]


@pytest.mark.store_free
def test_tags_are_posts_and_dms_come_through_the_page(api: respx.MockRouter) -> None:
    api.get(f"{G}/{IG}/tags").respond(json=load("tags.json"))
    convs = api.get(f"{G}/{PAGE}/conversations").respond(json=load("conversations.json"))
    src = source(tags=True)
    assert src.queries() == ["comments", "tags", "dms"]
    tagged = [m for p in src.poll("tags", None) for m in p.mentions]
    assert [(m.kind, m.author_handle) for m in tagged] == [("post", "unhappy.customer")]
    dms = [m for p in src.poll("dms", None) for m in p.mentions]
    assert convs.calls.last.request.url.params["platform"] == "instagram"
    assert [(m.kind, m.author_id, m.author_handle) for m in dms] == [
        ("dm", "6400000000000001", "jo.smith")
    ]
    assert dms[0].conversation_id == "aWdfZAG06MTpJR01lc3NhZA2VUaHJlYWQ6MTc4"


def ig_comment(**kw: Any) -> Mention:
    return Mention(
        source="instagram", native_id=kw.pop("native", "17850000000000003"), text="same problem",
        created_at=kw.pop("created_at", NOW - timedelta(hours=1)), author_id="6300000000000002",
        author_handle="sam", kind=kw.pop("kind", "reply"), conversation_id=MEDIA,
        parent_id=kw.pop("parent_id", "17850000000000001"),
    )  # fmt: skip


@pytest.mark.store_free
def test_reply_goes_to_the_top_level_comments_replies(api: respx.MockRouter) -> None:
    route = api.post(f"{G}/17850000000000001/replies").respond(json={"id": "17850000000000077"})
    sent = source().reply(ig_comment(), "@sam sorry, DM us please")
    assert json.loads(route.calls.last.request.content) == {"message": "@sam sorry, DM us please"}
    assert sent.native_id == "17850000000000077"


@pytest.mark.store_free
def test_reply_to_a_tagged_post_is_refused_before_any_request(api: respx.MockRouter) -> None:
    with pytest.raises(SourceError, match="replies to comments and DMs"):
        source().reply(ig_comment(kind="post", parent_id=None), "hi")


@pytest.mark.store_free
def test_private_reply_within_7_days_and_refused_after(api: respx.MockRouter) -> None:
    route = api.post(f"{G}/{PAGE}/messages").respond(
        json={"recipient_id": "6300000000000002", "message_id": "aWdfZAG1fPRIV"}
    )
    sent = source().private_reply(ig_comment(), "Hi Sam, what's your order number?")
    assert json.loads(route.calls.last.request.content)["recipient"] == {
        "comment_id": "17850000000000003"
    }
    assert sent.native_id == "aWdfZAG1fPRIV"
    with pytest.raises(SourceError, match="only within 7 days"):
        source().private_reply(ig_comment(created_at=NOW - timedelta(days=7, hours=1)), "hi")
    assert route.call_count == 1


def ig_dm(age: timedelta) -> Mention:
    return Mention(
        source="instagram", native_id="aWdfZAG1faXRlbToxOklHTWVzc2FnZAUlEOjE3ODQx", text="Hi",
        created_at=NOW - age, author_id="6400000000000001", author_handle="jo.smith", kind="dm",
        conversation_id="aWdfZAG06MTpJR01lc3NhZA2VUaHJlYWQ6MTc4",
    )  # fmt: skip


def mock_conversation(api: respx.MockRouter, age: timedelta) -> None:
    when = (NOW - age).strftime("%Y-%m-%dT%H:%M:%S+0000")
    api.get(f"{G}/aWdfZAG06MTpJR01lc3NhZA2VUaHJlYWQ6MTc4").respond(
        json={"messages": {"data": [{"id": "x", "created_time": when,
                                     "from": {"username": "jo.smith", "id": "6400000000000001"}}]}}
    )  # fmt: skip


@pytest.mark.store_free
def test_dm_inside_24_hours_is_sent(api: respx.MockRouter) -> None:
    mock_conversation(api, timedelta(hours=3))
    route = api.post(f"{G}/{PAGE}/messages").respond(json={"message_id": "aWdfZAG1fOK"})
    source().reply(ig_dm(timedelta(hours=3)), "We'll swap it for free")
    body = json.loads(route.calls.last.request.content)
    assert body["recipient"] == {"id": "6400000000000001"}
    assert body["messaging_type"] == "RESPONSE"


@pytest.mark.store_free
def test_dm_after_24_hours_is_refused_even_for_a_person(api: respx.MockRouter) -> None:
    mock_conversation(api, timedelta(hours=26))
    route = api.post(f"{G}/{PAGE}/messages").respond(json={"message_id": "m"})
    src = source()
    src.sent_by_person = True
    with pytest.raises(SourceError, match="only within 24 h"):
        src.reply(ig_dm(timedelta(hours=26)), "hello?")
    assert route.call_count == 0


@pytest.mark.store_free
def test_hide_posts_hide_true(api: respx.MockRouter) -> None:
    route = api.post(f"{G}/17850000000000003").respond(json={"success": True})
    source().hide(ig_comment())
    assert route.calls.last.request.url.params["hide"] == "true"
    route = api.post(f"{G}/17850000000000003").respond(json={"success": False})
    with pytest.raises(SourceError, match="did not confirm"):
        source().hide(ig_comment())


@pytest.mark.store_free
def test_expired_token_on_instagram_is_an_auth_error(api: respx.MockRouter) -> None:
    body = {"error": {"message": "Error validating access token: The session has been "
                      "invalidated because the user changed their password.",
                      "type": "OAuthException", "code": 190, "error_subcode": 460,
                      "fbtrace_id": "IgTr4ce"}}  # fmt: skip
    api.get(f"{G}/{IG}/media").respond(400, json=body)
    with pytest.raises(AuthError, match="subcode 460.*new Page access token"):
        list(source(dms=False).poll("comments", None))


@pytest.mark.store_free
def test_credentials_config_and_permissions(monkeypatch: pytest.MonkeyPatch) -> None:
    assert source().required_permissions() == [
        "instagram_basic",
        "instagram_manage_comments",
        "pages_read_engagement",
        "instagram_manage_messages",
    ]
    monkeypatch.delenv("INSTAGRAM_USER_ID")
    with pytest.raises(MissingCredential, match="INSTAGRAM_USER_ID"):
        source().check_credentials()
    with pytest.raises(ConfigError, match="did you mean"):
        InstagramSource({"medias": 3})
    with pytest.raises(ConfigError, match="nothing to poll"):
        source(comments=False, dms=False).queries()


@pytest.mark.store_free
def test_a_deleted_comment_is_reported_gone_and_an_edit_comes_back(api: respx.MockRouter) -> None:
    api.get(f"{G}/17850000000000003").respond(
        400, json={"error": {"message": "Unsupported get request.", "type": "GraphMethodException",
                             "code": 100, "error_subcode": 33, "fbtrace_id": "G0ne"}}
    )  # fmt: skip
    api.get(f"{G}/17850000000000001").respond(
        json={"id": "17850000000000001", "text": "Where is my refund?? (3rd time asking)",
              "timestamp": "2024-05-13T10:00:00+0000", "username": "jo.smith",
              "from": {"id": "6300000000000001", "username": "jo.smith"}}
    )  # fmt: skip
    refund = ig_comment(native="17850000000000001", kind="comment", parent_id=MEDIA)
    present, gone = source().recheck([refund, ig_comment()])
    assert [m.text for m in present] == ["Where is my refund?? (3rd time asking)"]
    assert present[0].updated_at == NOW
    assert [m.native_id for m in gone] == ["17850000000000003"]


@pytest.mark.store_free
def test_a_server_error_on_a_read_is_retried_then_named(api: respx.MockRouter) -> None:
    route = api.get(f"{G}/{IG}/media").mock(
        side_effect=[
            httpx.Response(500, json={"error": {"message": "x", "code": 2}}),
            httpx.Response(200, json={"data": []}),
        ]  # fmt: skip
    )
    assert [p.mentions for p in source(dms=False).poll("comments", None)] == [[]]
    assert route.call_count == 2


@pytest.mark.store_free
def test_a_dm_over_1000_bytes_is_refused_before_sending(api: respx.MockRouter) -> None:
    mock_conversation(api, timedelta(hours=1))
    route = api.post(f"{G}/{PAGE}/messages").respond(json={"message_id": "m"})
    with pytest.raises(SourceError, match="at most 1000 bytes, this one is 1002"):
        source().reply(ig_dm(timedelta(hours=1)), "é" * 501)  # 501 characters, 1002 bytes
    assert route.call_count == 0
