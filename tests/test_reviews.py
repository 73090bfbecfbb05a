"""Reviews in the store and the queue: edits update the mention, worse edits reopen it.

The App Store adapter's real httpx client polls ``httpx.MockTransport`` answers shaped
like App Store Connect's ``customerReviews`` (see ``tests/sources/test_appstore.py``).
"""

from __future__ import annotations

from copy import deepcopy
from typing import Any

import httpx
import pytest
from cryptography.hazmat.primitives.asymmetric import ec

from socialcare import workflow
from socialcare.poll import poll_source
from socialcare.scoring import triage_ids
from socialcare.store import Store
from socialcare.store.ingest import review_change
from socialcare.triage.score import TriageSettings, explain, score_row
from tests.sources.test_appstore import API, R3, R4, Apple, key_file, load, make, ok

__all__ = ["key_file"]  # the fixture, used by name

SETTINGS = TriageSettings()


def edited(*changes: tuple[str, dict[str, Any]]) -> httpx.Response:
    """A listing page with the given reviews of page 1 edited (newest first)."""
    page = load("reviews_page1.json")
    by_id = {r["id"]: r for r in page["data"]}
    data = []
    for native, attrs in changes:
        item = deepcopy(by_id[native])
        item["attributes"].update(attrs)
        data.append(item)
    body = {"data": data, "included": page["included"], "links": {"self": f"{API}/x"}}
    return httpx.Response(200, json=body)


def first_poll(store: Store) -> None:
    [result] = poll_source(store, make(Apple(ok("reviews_page1.json"), ok("reviews_page2.json"))))
    assert result.error is None and result.new == 4


def events(store: Store, mention_id: str, action: str) -> list[dict[str, Any]]:
    import json

    rows = store.events(mention_id=mention_id, action=action)
    return [json.loads(r["detail"]) for r in rows]


@pytest.mark.parametrize(
    ("old", "new", "change"),
    [
        ((4, "ok"), (4, "ok"), None),
        ((4, "ok"), (2, "ok"), "worse"),
        ((3, "meh"), (3, "meh, and it crashes"), "edited"),
        ((2, "crashes"), (2, "still crashes in 4.3"), "worse"),
        ((1, "crashes"), (4, "fixed, thanks"), "better"),
        ((1, "crashes"), (2, "a bit better"), "better"),
    ],
)
@pytest.mark.store_free
def test_what_counts_as_worse(
    old: tuple[int, str], new: tuple[int, str], change: str | None
) -> None:
    assert review_change(old[0], old[1], new[0], new[1]) == change


def test_stored_reviews_keep_rating_update_time_and_meta(
    store: Store, key_file: ec.EllipticCurvePrivateKey
) -> None:
    first_poll(store)
    row = store.get_mention(f"appstore:{R4}")
    assert (row["kind"], row["rating"], row["updated_at"]) == ("review", 1, "2024-05-13T10:15:00Z")
    assert '"territory": "USA"' in row["meta"]


def test_a_worse_edit_reopens_an_answered_review_with_an_audit_event(
    store: Store, key_file: ec.EllipticCurvePrivateKey
) -> None:
    first_poll(store)
    rid = f"appstore:{R3}"
    assert store.get_mention(rid)["status"] == "replied"  # the developer answered natively
    worse = edited((R3, {"rating": 2, "createdDate": "2024-05-14T09:00:00Z"}))
    src = make(Apple(worse))
    [result] = poll_source(store, src)
    assert (result.edited, result.reopened) == (1, 1)
    row = store.get_mention(rid)
    assert (row["status"], row["rating"]) == ("open", 2)
    # the first answer still counts for first-response time
    assert row["answered_by"] == "@developer"
    [detail] = events(store, rid, "review_reopened")
    assert detail == {"previous": "replied", "change": "worse", "old_rating": 4, "rating": 2}
    # the same listing read again changes nothing
    poll_source(
        store,
        make(Apple(worse)),
    )
    assert len(events(store, rid, "review_edited")) == 1


def test_a_rewritten_complaint_reopens_a_closed_review(
    store: Store, key_file: ec.EllipticCurvePrivateKey
) -> None:
    first_poll(store)
    rid = f"appstore:{R4}"
    workflow.close(store, rid, "ana")
    still = edited((R4, {"body": "4.2.1 still crashes.", "createdDate": "2024-05-14T09:00:00Z"}))
    [result] = poll_source(store, make(Apple(still)))
    assert result.reopened == 1
    row = store.get_mention(rid)
    assert row["status"] == "open" and row["text"].endswith("4.2.1 still crashes.")


def test_a_better_edit_updates_the_review_but_leaves_it_closed(
    store: Store, key_file: ec.EllipticCurvePrivateKey
) -> None:
    first_poll(store)
    rid = f"appstore:{R4}"
    workflow.close(store, rid, "ana")
    better = edited(
        (R4, {"rating": 4, "body": "4.2.1 fixed it.", "createdDate": "2024-05-14T09:00:00Z"})
    )
    [result] = poll_source(store, make(Apple(better)))
    assert (result.edited, result.reopened) == (1, 0)
    row = store.get_mention(rid)
    assert (row["status"], row["rating"]) == ("closed", 4)
    assert row["text"].endswith("4.2.1 fixed it.")
    assert [d["change"] for d in events(store, rid, "review_edited")] == ["better"]
    assert events(store, rid, "review_reopened") == []


def test_a_stale_copy_never_undoes_an_edit(
    store: Store, key_file: ec.EllipticCurvePrivateKey
) -> None:
    first_poll(store)
    rid = f"appstore:{R4}"
    poll_source(
        store, make(Apple(edited((R4, {"rating": 3, "createdDate": "2024-05-14T09:00:00Z"}))))
    )
    # a backfill re-reads the review as it was before the edit
    from socialcare.models import Mention
    from socialcare.store import ingest

    old = Mention.from_row(store.get_mention(rid))
    old.rating, old.text = 1, "old text"
    old.updated_at = old.created_at
    outcome = ingest.ingest_mentions(store, [old])
    assert outcome.reopened == 0
    row = store.get_mention(rid)
    assert (row["rating"], row["updated_at"]) == (3, "2024-05-14T09:00:00Z")


def test_stars_are_a_triage_signal_explained_like_any_other(
    store: Store, key_file: ec.EllipticCurvePrivateKey
) -> None:
    first_poll(store)
    triage_ids(store, [f"appstore:{R4}", f"appstore:{R3}"], SETTINGS)
    crash = store.get_mention(f"appstore:{R4}")
    assert crash["intent"] == "complaint"
    lines = {c.name: c for c in explain(crash, SETTINGS, crash["created_ts"])}
    assert lines["rating"].contribution == pytest.approx(2.0)
    assert "1 star" in lines["rating"].detail and "complaint" in lines["rating"].detail
    sync = store.get_mention(f"appstore:{R3}")
    assert {c.name: c for c in explain(sync, SETTINGS, sync["created_ts"])}[
        "rating"
    ].contribution == 0
    # an edit to one star re-triages it higher on the next poll's triage
    poll_source(
        store, make(Apple(edited((R3, {"rating": 1, "createdDate": "2024-05-14T09:00:00Z"}))))
    )
    before = sync["static_score"]
    triage_ids(store, [f"appstore:{R3}"], SETTINGS)
    assert store.get_mention(f"appstore:{R3}")["static_score"] > before


@pytest.mark.store_free
def test_one_or_two_stars_make_a_complaint_whatever_the_words() -> None:
    row = {"text": "How do I export my lists to PDF?", "created_ts": 0.0}
    assert score_row(row, SETTINGS).intent == "question"
    one = score_row({**row, "rating": 1}, SETTINGS)
    two = score_row({**row, "rating": 2}, SETTINGS)
    three = score_row({**row, "rating": 3}, SETTINGS)
    assert (one.intent, two.intent, three.intent) == ("complaint", "complaint", "question")
    parts = {p.name: p for p in one.signals}
    # the intent line stays the bare intent (the learned model reads it); the rating says why
    assert parts["intent"].detail == "complaint"
    assert parts["rating"].detail == "1 star (1-2 stars: a complaint, whatever the words say)"
    assert parts["rating"].value == 1.0
    assert {p.name: p for p in two.signals}["rating"].value == 0.5
    assert one.static_score > two.static_score > three.static_score
    # no rating line for mentions that are not reviews
    assert "rating" not in {p.name for p in score_row(row, SETTINGS).signals}


@pytest.mark.store_free
def test_the_rating_weight_comes_from_config_and_spam_stays_spam() -> None:
    settings = TriageSettings.from_config({"weights": {"rating": 5.0}}, [])
    row = {"text": "Great app", "rating": 1, "created_ts": 0.0}
    assert {p.name: p for p in score_row(row, settings).signals}["rating"].contribution == 5.0
    spam = {"text": "Buy followers cheap, DM me http://bit.ly/x free crypto giveaway", "rating": 1}
    result = score_row(spam, settings)
    assert result.intent == "spam"
    assert {p.name: p for p in result.signals}["rating"].contribution == 0
    assert result.static_score < 0


def test_a_response_rewritten_on_the_platform_answers_a_reopened_review_again(
    store: Store, key_file: ec.EllipticCurvePrivateKey
) -> None:
    first_poll(store)
    rid = f"appstore:{R3}"
    worse = (R3, {"rating": 2, "createdDate": "2024-05-14T09:00:00Z"})
    poll_source(store, make(Apple(edited(worse))))
    assert store.get_mention(rid)["status"] == "open"
    # the same response polled again changes nothing
    poll_source(store, make(Apple(edited(worse))))
    assert store.get_mention(rid)["status"] == "open"
    answered = edited(worse)
    body = answered.json()
    body["included"][0]["attributes"].update(
        responseBody="Sorry! 4.3.1 fixes sync for good.", lastModifiedDate="2024-05-14T10:00:00Z"
    )
    [result] = poll_source(store, make(Apple(httpx.Response(200, json=body))))
    assert result.answered == 1
    assert store.get_mention(rid)["status"] == "replied"
    [event] = store.events(mention_id=rid, action="answered_natively", limit=1)
    assert '"rewritten": true' in event["detail"]
