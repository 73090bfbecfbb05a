"""The deflection report on a hand-built dataset with known answers."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest

from socialcare.errors import NotFound
from socialcare.kb import KbSettings, deflection_report
from socialcare.kb.report import ArticleUse, urls_in
from socialcare.models import Mention
from socialcare.store import Store
from socialcare.store import kb as store_kb

HELP = "https://help.acme.example"


def _mention(native_id: str, text: str, handle: str = "cust") -> Mention:
    return Mention(
        source="twitter",
        native_id=native_id,
        text=text,
        created_at=datetime(2026, 1, int(native_id[1:]), tzinfo=timezone.utc),
        author_id=f"u{native_id}",
        author_handle=handle,
    )


def _reply(
    store: Store, text: str, status: str = "sent", kind: str = "reply", article: int | None = None
) -> int:
    item = store.outbox_add(kind=kind, source="twitter", mention_id=None, text=text, agent="al")
    if status != "pending":
        store.outbox_transition(item, ("pending",), status, sent_at="2026-01-05T00:00:00Z")
    if article is not None:
        store_kb.set_outbox_article(store, item, article)
    return item


@pytest.fixture
def data(store: Store) -> Store:
    with store.transaction():
        sid = store_kb.add_source(store, "test://kb", "folder")
        store_kb.upsert_articles(
            store,
            sid,
            [
                (f"{HELP}/roaming", "Roaming in Europe", "Use your allowance in the EU.", []),
                (f"{HELP}/password", "Reset your password", "Tap Forgot password in the app.", []),
                (f"{HELP}/router-lights", "Router lights", "Orange means no internet.", []),
            ],
            "2026-01-01T00:00:00Z",
        )
    store.upsert_mentions(
        [
            _mention("m1", "how do I reset my password for the app?"),
            _mention("m2", "do you sponsor football kits for kids teams?"),
            _mention("m3", "football kits sponsorship for schools?"),
            _mention("m4", "any football kits left?"),  # closed without an answer
            _mention("m5", "your football kits are ugly"),  # a complaint, not a question
            _mention("m6", "football kits question from us?", handle="acmecare"),  # our own post
        ],
        own_handles=["acmecare"],
    )
    triage = {"sentiment_scored": 0, "static_score": 0.0, "signals": "{}"}
    store.save_triage(
        [(f"twitter:m{i}", {**triage, "intent": "question"}) for i in (1, 2, 3, 4, 6)]
        + [("twitter:m5", {**triage, "intent": "complaint"})]
    )
    store.mark_answered("twitter:m3", "2026-01-04T00:00:00Z", "al")
    store.set_status("twitter:m4", "closed")

    _reply(store, "Hi! Here you go", article=1)  # attached with --kb
    _reply(store, f"Try this: {HELP}/password/?utm_source=tw).")  # pasted, with noise
    _reply(store, f"See {HELP}/roaming", article=1)  # both ways, same article: counted once
    _reply(store, "Sorry about that, DM us")  # no article
    _reply(store, f"See {HELP}/other-page")  # a link, but not to an article
    _reply(store, f"{HELP}/router-lights", status="failed", article=3)  # not sent
    _reply(store, f"{HELP}/router-lights", status="pending")  # not sent
    _reply(store, f"{HELP}/router-lights", kind="followup")  # not a reply
    _reply(store, "Old article", article=99)  # an article removed since
    _reply(store, f"{HELP}/router-lights and {HELP}/roaming")  # two articles in one reply
    return store


def test_deflection_counts(data: Store) -> None:
    rep = deflection_report(data, KbSettings())
    assert rep.sent_replies == 7
    assert rep.replies_with_article == 5
    assert rep.deflection_rate == pytest.approx(5 / 7)
    assert rep.by_article == [
        ArticleUse(1, "Roaming in Europe", f"{HELP}/roaming", 3),
        ArticleUse(2, "Reset your password", f"{HELP}/password", 1),
        ArticleUse(3, "Router lights", f"{HELP}/router-lights", 1),
        ArticleUse(99, "", "", 1),
    ]


def test_questions_without_an_article(data: Store) -> None:
    rep = deflection_report(data, KbSettings(), top=3)
    assert rep.questions_checked == 3  # m1, m2 (open) and m3 (answered)
    assert [q.mention_id for q in rep.unanswered] == ["twitter:m3", "twitter:m2"]
    assert rep.top_terms == [("football", 2), ("kits", 2), ("kids", 1)]


def test_since_limits_replies_and_questions(data: Store) -> None:
    rep = deflection_report(data, KbSettings(), since="2026-01-03T00:00:00Z")
    assert rep.sent_replies == 7  # all were sent on the 5th
    assert rep.questions_checked == 1  # only m3 was asked after the 3rd


def test_empty_store(store: Store) -> None:
    rep = deflection_report(store, {})
    assert (rep.sent_replies, rep.deflection_rate, rep.by_article, rep.top_terms) == (
        0,
        0.0,
        [],
        [],
    )


def test_urls_in_strips_trailing_punctuation() -> None:
    assert urls_in("see https://a.example/x?y=1). and (http://b.example/z/),") == [
        "https://a.example/x?y=1",
        "http://b.example/z/",
    ]


def test_set_outbox_article_unknown_item(store: Store) -> None:
    with pytest.raises(NotFound):
        store_kb.set_outbox_article(store, 12345, 1)
