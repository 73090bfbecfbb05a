"""The Facebook adapter against Graph API JSON as Meta documents it, answered by respx.

Polling (feed posts, comments and replies, visitor posts, Messenger), the
brand's own items, replies, private replies, the Messenger window with a fixed
clock, hide, and edits and deletions reaching the store through the library.
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any, Iterator

import httpx
import pytest
import respx
from typer.testing import CliRunner

from socialcare.app import Socialcare
from socialcare.cli import app
from socialcare.config import Config
from socialcare.errors import SourceError
from socialcare.models import Mention
from socialcare.outbox import send_item
from socialcare.poll import poll_source
from socialcare.sources.facebook import FacebookSource
from tests.sources.graph_helpers import NOW, PAGE, G, load_fixture

pytestmark = pytest.mark.usefixtures("graph_env")
P1 = f"{PAGE}_555000000000001"
JO_COMMENT = "555000000000001_700000000000002"
SAM_REPLY = "555000000000001_700000000000003"
PAGE_REPLY = "555000000000001_700000000000004"


def load(name: str) -> Any:
    return load_fixture("facebook", name)


def source(**config: Any) -> FacebookSource:
    return FacebookSource(config, sleep=lambda s: None, clock=lambda: NOW.timestamp())


def mock_feed(api: respx.MockRouter) -> tuple[respx.Route, respx.Route]:
    feed = api.get(f"{G}/{PAGE}/feed").mock(
        side_effect=[
            httpx.Response(200, json=load("feed_page1.json")),
            httpx.Response(200, json=load("feed_page2.json")),
        ]
    )
    comments = api.get(f"{G}/{P1}/comments").respond(json=load("comments_page2.json"))
    return feed, comments


@pytest.mark.store_free
def test_feed_poll_gives_posts_visitor_posts_comments_and_replies(api: respx.MockRouter) -> None:
    feed, comments = mock_feed(api)
    pages = list(source(messenger=False).poll("feed", None))
    mentions = {m.native_id: m for p in pages for m in p.mentions}
    jo = mentions[JO_COMMENT]
    assert (jo.kind, jo.parent_id, jo.conversation_id) == ("comment", P1, P1)
    assert (jo.author_id, jo.author_handle) == ("7100000000000001", "Jo Smith")
    sam = mentions[SAM_REPLY]
    assert (sam.kind, sam.parent_id) == ("reply", JO_COMMENT)
    visitor = mentions[f"{PAGE}_555000000000002"]
    assert (visitor.kind, visitor.author_handle) == ("post", "Alex Visitor")
    assert mentions[f"{PAGE}_555000000000003"].text == "Acme Help updated their cover photo."
    # the inline comments' paging continued from /{post-id}/comments with the cursor
    assert comments.calls.last.request.url.params["after"] == "QVFIUkFGVEVSMQ"
    assert comments.calls.last.request.url.params["filter"] == "stream"
    assert comments.calls.last.request.url.params["order"] == "reverse_chronological"
    assert "555000000000001_700000000000001" in mentions
    # a comment without a time and a post without an id are skipped, not fatal
    reasons = [s["reason"] for p in pages for s in p.skipped]
    assert len(reasons) == 2
    # only the last page carries the cursor: the newest created_time seen
    assert [p.cursor for p in pages[:-1]] == [None] * (len(pages) - 1)
    assert pages[-1].cursor == str(
        int(datetime(2024, 5, 13, 11, 40, tzinfo=timezone.utc).timestamp())
    )


@pytest.mark.store_free
def test_a_second_poll_stops_at_the_cursor(api: respx.MockRouter) -> None:
    feed, comments = mock_feed(api)
    cursor = str(int(datetime(2024, 5, 13, 11, 10, tzinfo=timezone.utc).timestamp()))
    pages = list(source(messenger=False, overlap_seconds=0).poll("feed", cursor))
    ids = {m.native_id for p in pages for m in p.mentions}
    assert ids == {SAM_REPLY, PAGE_REPLY}  # older comments and posts are not re-read
    assert comments.call_count == 0  # the inline page already reached the cursor


def test_the_pages_own_comment_is_never_queued_and_answers_its_parent(
    api: respx.MockRouter, store: Any
) -> None:
    mock_feed(api)
    poll_source(store, source(messenger=False))
    own = store.get_mention(f"facebook:{PAGE_REPLY}")
    assert own["is_own"]
    jo = store.get_mention(f"facebook:{JO_COMMENT}")
    assert jo["answered_by"]  # the Page answered on Facebook itself
    from socialcare.store import QueueFilter

    queued = {r["id"] for r in store.queue(QueueFilter(limit=100), NOW.timestamp(), 0, 24)}
    assert f"facebook:{PAGE_REPLY}" not in queued
    assert f"facebook:{P1}" not in queued  # the Page's own post
    assert f"facebook:{SAM_REPLY}" in queued


@pytest.mark.store_free
def test_messenger_conversations_are_dms_of_their_conversation(api: respx.MockRouter) -> None:
    route = api.get(f"{G}/{PAGE}/conversations").respond(json=load("conversations.json"))
    cursor = str(int(datetime(2024, 5, 10, tzinfo=timezone.utc).timestamp()))
    src = source(feed=False)
    pages = list(src.poll("messenger", cursor))
    mentions = [m for p in pages for m in p.mentions]
    assert route.call_count == 1  # the older conversation ends the walk; no second page
    assert route.calls.last.request.url.params["platform"] == "messenger"
    assert {m.native_id for m in mentions} == {"m_AAAA0001", "m_AAAA0002", "m_AAAA0003"}
    assert {m.kind for m in mentions} == {"dm"}
    assert {m.conversation_id for m in mentions} == {"t_10158000000000001"}
    by_id = {m.native_id: m for m in mentions}
    assert by_id["m_AAAA0001"].text == "[attachment]"
    assert src.is_own(by_id["m_AAAA0003"]) and not src.is_own(by_id["m_AAAA0002"])
    assert by_id["m_AAAA0002"].url.startswith("https://www.facebook.com/104530000000001/inbox/")


def comment(kind: str = "comment", native: str = JO_COMMENT, **kw: Any) -> Mention:
    return Mention(
        source="facebook", native_id=native, text="My order never arrived",
        created_at=kw.pop("created_at", NOW - timedelta(hours=1)), author_id="7100000000000001",
        author_handle="Jo Smith", kind=kind, conversation_id=P1,
        parent_id=kw.pop("parent_id", P1), **kw,
    )  # fmt: skip


@pytest.mark.store_free
def test_reply_to_a_comment_and_to_a_reply_goes_to_the_top_level_comment(
    api: respx.MockRouter,
) -> None:
    route = api.post(url__regex=rf"{G}/.+/comments").respond(json={"id": "555_900"})
    src = source()
    sent = src.reply(comment(), "Sorry Jo, we're on it")
    assert route.calls.last.request.url.path.endswith(f"/{JO_COMMENT}/comments")
    assert json.loads(route.calls.last.request.content) == {"message": "Sorry Jo, we're on it"}
    assert sent.native_id == "555_900"
    src.reply(comment("reply", SAM_REPLY, parent_id=JO_COMMENT), "Sam, us too")
    assert route.calls.last.request.url.path.endswith(f"/{JO_COMMENT}/comments")


@pytest.mark.store_free
def test_a_reply_answer_without_an_id_is_unknown_not_failed(api: respx.MockRouter) -> None:
    from socialcare.errors import SendOutcomeUnknown

    api.post(f"{G}/{JO_COMMENT}/comments").respond(json={"success": True})
    with pytest.raises(SendOutcomeUnknown):
        source().reply(comment(), "hi")


@pytest.mark.store_free
def test_private_reply_goes_to_the_page_messages_with_the_comment_id(
    api: respx.MockRouter,
) -> None:
    route = api.post(f"{G}/{PAGE}/messages").respond(
        json={"recipient_id": "7300000000000001", "message_id": "m_PRIV1"}
    )
    sent = source().private_reply(comment(), "Could you DM us your order number?")
    body = json.loads(route.calls.last.request.content)
    assert body["recipient"] == {"comment_id": JO_COMMENT}
    assert body["message"] == {"text": "Could you DM us your order number?"}
    assert sent.native_id == "m_PRIV1"


@pytest.mark.store_free
def test_private_reply_after_7_days_is_refused_before_any_request(api: respx.MockRouter) -> None:
    route = api.post(f"{G}/{PAGE}/messages").respond(json={"message_id": "m"})
    with pytest.raises(SourceError, match="only within 7 days"):
        source().private_reply(comment(created_at=NOW - timedelta(days=8)), "hi")
    assert route.call_count == 0


def dm(age: timedelta) -> Mention:
    return Mention(
        source="facebook", native_id="m_AAAA0002", text="Hello, my parcel is lost",
        created_at=NOW - age, author_id="7300000000000001", author_handle="Jo Smith",
        kind="dm", conversation_id="t_10158000000000001",
    )  # fmt: skip


def mock_conversation(api: respx.MockRouter, last: datetime) -> None:
    body = load("conversation_messages.json")
    body["messages"]["data"][1]["created_time"] = last.strftime("%Y-%m-%dT%H:%M:%S+0000")
    body["messages"]["data"][0]["created_time"] = (last + timedelta(minutes=5)).strftime(
        "%Y-%m-%dT%H:%M:%S+0000"
    )
    api.get(f"{G}/t_10158000000000001").respond(json=body)


@pytest.mark.store_free
def test_messenger_inside_24_hours_is_a_response(api: respx.MockRouter) -> None:
    mock_conversation(api, NOW - timedelta(hours=2))
    route = api.post(f"{G}/{PAGE}/messages").respond(json={"message_id": "m_R1"})
    source().reply(dm(timedelta(hours=2)), "Sorry! Checking now")
    body = json.loads(route.calls.last.request.content)
    assert body["recipient"] == {"id": "7300000000000001"}
    assert body["messaging_type"] == "RESPONSE" and "tag" not in body


@pytest.mark.store_free
def test_the_window_counts_from_the_customers_last_message_not_the_pages(
    api: respx.MockRouter,
) -> None:
    # the mention is 30 h old, but the customer wrote again 1 h ago (and the Page after that)
    mock_conversation(api, NOW - timedelta(hours=1))
    route = api.post(f"{G}/{PAGE}/messages").respond(json={"message_id": "m_R2"})
    source().reply(dm(timedelta(hours=30)), "Thanks")
    assert json.loads(route.calls.last.request.content)["messaging_type"] == "RESPONSE"


@pytest.mark.store_free
def test_after_24_hours_a_person_sends_with_the_human_agent_tag(api: respx.MockRouter) -> None:
    mock_conversation(api, NOW - timedelta(hours=30))
    route = api.post(f"{G}/{PAGE}/messages").respond(json={"message_id": "m_H1"})
    src = source()
    src.sent_by_person = True
    src.reply(dm(timedelta(hours=30)), "Following up on your parcel")
    body = json.loads(route.calls.last.request.content)
    assert (body["messaging_type"], body["tag"]) == ("MESSAGE_TAG", "HUMAN_AGENT")


@pytest.mark.store_free
def test_after_7_days_messenger_refuses_even_a_person(api: respx.MockRouter) -> None:
    mock_conversation(api, NOW - timedelta(days=8))
    route = api.post(f"{G}/{PAGE}/messages").respond(json={"message_id": "m"})
    src = source()
    src.sent_by_person = True
    with pytest.raises(SourceError, match="no reply after 7 days"):
        src.reply(dm(timedelta(days=8)), "hello?")
    assert route.call_count == 0


# -- through the library: the outbox, hide, sources/status, edits and deletions ----------------
@pytest.fixture
def sc(database: str) -> Iterator[Socialcare]:
    cfg = Config(database=database, agent="alice", brand_handles=("Acme Help",),
                 sources={"facebook": {"posts": 3}})  # fmt: skip
    care = Socialcare(cfg)
    care.store.upsert_mentions([comment(created_at=NOW - timedelta(hours=1)),
                                dm(timedelta(hours=30))])  # fmt: skip
    care.adapters.get("facebook").api.clock = lambda: NOW.timestamp()
    yield care
    care.shutdown()


def test_reply_by_a_person_after_24h_is_tagged_but_the_same_followup_by_due_is_refused(
    sc: Socialcare, api: respx.MockRouter
) -> None:
    mock_conversation(api, NOW - timedelta(hours=30))
    route = api.post(f"{G}/{PAGE}/messages").respond(json={"message_id": "m_OK"})
    outcome = sc.reply("facebook:m_AAAA0002", text="Hi Jo, a person here", force=True)
    assert outcome.item is not None and outcome.item["status"] == "sent"
    assert json.loads(route.calls.last.request.content)["tag"] == "HUMAN_AGENT"
    item = sc.followup_add("facebook:m_AAAA0002", when=datetime.now(timezone.utc) + timedelta(
        minutes=1), text="Any news?")  # fmt: skip
    sent = send_item(sc.store, sc.adapters, int(item["id"]))  # what `due` does with it
    assert sent["status"] == "failed"
    assert "only a person may answer" in sent["error"]
    assert route.call_count == 1


def test_a_dm_followup_on_a_comment_is_a_private_reply_through_the_outbox(
    sc: Socialcare, api: respx.MockRouter
) -> None:
    route = api.post(f"{G}/{PAGE}/messages").respond(json={"message_id": "m_P"})
    item = sc.followup_add(f"facebook:{JO_COMMENT}", when=datetime.now(timezone.utc) + timedelta(
        minutes=1), text="Checking in privately", dm=True)  # fmt: skip
    sent = send_item(sc.store, sc.adapters, int(item["id"]))
    assert sent["status"] == "sent" and sent["platform_id"] == "m_P"
    assert json.loads(route.calls.last.request.content)["recipient"] == {"comment_id": JO_COMMENT}


def write_config(tmp_path: Path, database: str) -> Path:
    path = tmp_path / "config.toml"
    path.write_text(
        f'database = "{database}"\nagent = "alice"\n[sources.facebook]\nposts = 3\n',
        encoding="utf-8",
    )
    return path


def test_hide_command_hides_the_comment_and_logs_it(
    sc: Socialcare, api: respx.MockRouter, tmp_path: Path, database: str
) -> None:
    route = api.post(f"{G}/{JO_COMMENT}").respond(json={"success": True})
    cfg = write_config(tmp_path, database)
    result = CliRunner().invoke(app, ["--config", str(cfg), "hide", f"facebook:{JO_COMMENT}"])
    assert result.exit_code == 0, result.output
    assert "hidden" in result.output
    assert route.calls.last.request.url.params["is_hidden"] == "true"
    assert [e["action"] for e in sc.log(mention_id=f"facebook:{JO_COMMENT}")][0] == "hide"
    result = CliRunner().invoke(
        app, ["--config", str(cfg), "hide", "--unhide", f"facebook:{JO_COMMENT}"]
    )
    assert result.exit_code == 0 and route.calls.last.request.url.params["is_hidden"] == "false"


def test_hide_refuses_a_dm_and_a_failed_hide_exits_4(
    sc: Socialcare, api: respx.MockRouter, tmp_path: Path, database: str
) -> None:
    cfg = write_config(tmp_path, database)
    result = CliRunner().invoke(app, ["--config", str(cfg), "hide", "facebook:m_AAAA0002"])
    assert result.exit_code == 4 and "only comments can be hidden" in result.output
    api.post(f"{G}/{JO_COMMENT}").respond(400, json=load("error_expired_token.json"))
    result = CliRunner().invoke(app, ["--config", str(cfg), "hide", f"facebook:{JO_COMMENT}"])
    assert result.exit_code == 4 and "new Page access token" in result.output


def test_sources_and_status_name_the_missing_permission_and_the_coming_expiry(
    sc: Socialcare, api: respx.MockRouter, tmp_path: Path, database: str
) -> None:
    api.get(f"{G}/debug_token").respond(json=load("debug_token.json"))
    info = next(i for i in sc.sources() if i.name == "facebook")
    assert "pages_read_engagement" in info.access and "missing: pages_messaging" in info.access
    assert "lacks pages_messaging" in info.problem
    st = sc.status(datetime.fromtimestamp(1715860800, tz=timezone.utc) - timedelta(days=2))
    alerts = [a for s in st.sources if s.source == "facebook" for a in s.alerts]
    assert any("expires at 2024-05-16T12:00:00Z" in a for a in alerts)
    assert any("lacks pages_messaging" in a for a in alerts)


def test_status_alert_exits_10_before_the_token_expires(
    sc: Socialcare, api: respx.MockRouter, tmp_path: Path, database: str
) -> None:
    body = load("debug_token.json")
    body["data"]["scopes"] += ["pages_messaging"]
    body["data"]["expires_at"] = int((datetime.now(timezone.utc) + timedelta(days=3)).timestamp())
    api.get(f"{G}/debug_token").respond(json=body)
    cfg = write_config(tmp_path, database)
    result = CliRunner().invoke(app, ["--config", str(cfg), "status", "--alert"])
    assert result.exit_code == 10, result.output
    assert "the token expires at" in result.output


def test_an_edited_comment_updates_the_mention_and_a_deleted_one_is_closed_with_a_note(
    sc: Socialcare, api: respx.MockRouter
) -> None:
    sc.store.upsert_mentions([comment("reply", SAM_REPLY, parent_id=JO_COMMENT,
                                      created_at=NOW - timedelta(minutes=30))])  # fmt: skip
    api.get(f"{G}/{JO_COMMENT}").respond(json=load("comment_edited.json"))
    api.get(f"{G}/{SAM_REPLY}").respond(400, json=load("error_gone.json"))
    before = sc.mention_count()
    edited, deleted = sc._recheck(["facebook"], NOW)
    assert (edited, deleted) == (1, 1)
    assert sc.mention_count() == before  # updated in place, never duplicated
    jo = sc.mention(f"facebook:{JO_COMMENT}")
    assert jo["text"] == "My order never arrived. UPDATE: still nothing"
    assert jo["status"] == "open"
    gone = sc.mention(f"facebook:{SAM_REPLY}")
    assert gone["status"] == "closed"
    notes = [e for e in sc.log(mention_id=f"facebook:{SAM_REPLY}") if e["action"] == "note"]
    assert notes and "deleted on Facebook" in json.dumps(notes[0]["detail"])


def test_poll_through_the_library_rechecks_what_it_did_not_see(
    sc: Socialcare, api: respx.MockRouter, monkeypatch: pytest.MonkeyPatch
) -> None:
    ticks = iter(range(10_000))

    def clock() -> datetime:  # the fixture's "now", a second further on every reading
        return NOW + timedelta(seconds=next(ticks))

    monkeypatch.setattr("socialcare.app.utcnow", clock)
    monkeypatch.setattr("socialcare.store.core.utcnow", clock)
    earlier = "555000000000001_700000000000099"  # stored by an earlier poll, not in this feed
    sc.store.upsert_mentions([comment(native=earlier, created_at=NOW - timedelta(hours=3))])
    mock_feed(api)
    api.get(f"{G}/{PAGE}/conversations").respond(json={"data": []})
    reread = api.get(url__regex=rf"{G}/555000000000001_7\d+(\?|$)").respond(
        400, json=load("error_gone.json")
    )
    sc.poll(["facebook"])
    # only the comment this poll did not see again is re-read, and it is gone
    assert [c.request.url.path.rsplit("/", 1)[1] for c in reread.calls] == [earlier]
    assert sc.mention(f"facebook:{earlier}")["status"] == "closed"
    assert sc.mention(f"facebook:{SAM_REPLY}")["status"] == "open"


def test_sources_command_lists_the_tokens_permissions(
    sc: Socialcare, api: respx.MockRouter, tmp_path: Path, database: str
) -> None:
    body = load("debug_token.json")
    body["data"]["scopes"] += ["pages_messaging"]
    body["data"]["expires_at"] = 0  # a Page token from a long-lived user token: no expiry
    api.get(f"{G}/debug_token").respond(json=body)
    cfg = write_config(tmp_path, database)
    result = CliRunner().invoke(
        app, ["--config", str(cfg), "sources"], env={"COLUMNS": "250", "NO_COLOR": "1"}
    )
    assert result.exit_code == 0, result.output
    line = " ".join(result.output.split())
    assert "pages_manage_engagement" in line and "token never expires" in line
    assert "missing" not in line


def test_retry_of_an_unknown_reply_finds_the_pages_comment_and_posts_nothing(
    sc: Socialcare, api: respx.MockRouter
) -> None:
    posted = api.post(f"{G}/{JO_COMMENT}/comments").mock(
        side_effect=httpx.ReadTimeout("the answer was lost")
    )
    outcome = sc.reply(f"facebook:{JO_COMMENT}", text="Sorry Jo, DM us your order number")
    assert outcome.item is not None and outcome.item["status"] == "unknown"
    listing = api.get(f"{G}/{JO_COMMENT}/comments").respond(
        json={"data": [
            {"id": "555_OTHER", "message": "Sorry Jo, DM us your order number",
             "from": {"id": "7100000000000009", "name": "Not the Page"}},
            {"id": "555_OURS", "message": "Sorry Jo,  DM us your order number",
             "from": {"id": PAGE, "name": "Acme Help"}},
        ], "paging": {"cursors": {"after": "X"}}}
    )  # fmt: skip
    item = sc.retry(int(outcome.item["id"]))
    assert item["status"] == "sent" and item["platform_id"] == "555_OURS"
    assert item.get("found_on_platform") is True
    assert posted.call_count == 1 and listing.call_count == 1


@pytest.mark.store_free
@pytest.mark.parametrize(
    ("config", "message"),
    [
        ({"graph_version": "23.0"}, "graph_version"),
        ({"posts": 0}, "posts must be an integer 1..100"),
        ({"messenger": "yes"}, "messenger must be true or false"),
        ({"pages": 3}, "did you mean"),
    ],
)
def test_bad_config_is_refused_with_the_key(config: dict[str, Any], message: str) -> None:
    from socialcare.errors import ConfigError

    with pytest.raises(ConfigError, match=message):
        FacebookSource(config)


@pytest.mark.store_free
def test_missing_page_id_names_its_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    from socialcare.errors import MissingCredential

    monkeypatch.delenv("FACEBOOK_PAGE_ID")
    with pytest.raises(MissingCredential, match="FACEBOOK_PAGE_ID"):
        source().check_credentials()


@pytest.mark.store_free
def test_a_messenger_message_over_2000_characters_is_refused_before_sending(
    api: respx.MockRouter,
) -> None:
    mock_conversation(api, NOW - timedelta(hours=1))
    route = api.post(f"{G}/{PAGE}/messages").respond(json={"message_id": "m"})
    with pytest.raises(SourceError, match="at most 2000 characters"):
        source().reply(dm(timedelta(hours=1)), "x" * 2001)
    assert route.call_count == 0


def test_show_fetches_a_replys_missing_parent_comment(
    sc: Socialcare, api: respx.MockRouter
) -> None:
    sc.store.upsert_mentions(
        [comment("reply", SAM_REPLY, parent_id="555000000000001_700000000000050")]
    )
    api.get(f"{G}/555000000000001_700000000000050").respond(
        json={"id": "555000000000001_700000000000050", "message": "Is checkout broken?",
              "created_time": "2024-05-13T10:50:00+0000",
              "from": {"id": "7100000000000008", "name": "Ana"}}
    )  # fmt: skip
    view = sc.show(f"facebook:{SAM_REPLY}")
    assert view.thread_notes == []
    parent = sc.mention("facebook:555000000000001_700000000000050")
    assert (parent["text"], parent["kind"], parent["author_handle"]) == (
        "Is checkout broken?", "comment", "Ana"
    )  # fmt: skip


@pytest.mark.store_free
def test_meta_refusing_a_message_outside_the_window_says_so_not_permission(
    api: respx.MockRouter,
) -> None:
    mock_conversation(api, NOW - timedelta(hours=2))
    api.post(f"{G}/{PAGE}/messages").respond(400, json=load("error_outside_window.json"))
    with pytest.raises(SourceError, match="outside the messaging window") as caught:
        source().reply(dm(timedelta(hours=2)), "hi")
    assert "permission" not in str(caught.value)
