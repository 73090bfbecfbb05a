"""Triage applied to a real (in-memory) store: queue order, explain, repeat contact, retriage."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from socialcare import scoring
from socialcare.models import Mention
from socialcare.poll import poll_source
from socialcare.scoring import retriage_all, triage_ids
from socialcare.sources.demo import DemoSource
from socialcare.store import QueueFilter, Store
from socialcare.triage import TriageSettings, explain
from socialcare.triage.codec import decode_signals

T0 = datetime(2027, 1, 15, 8, 0, tzinfo=timezone.utc)
SETTINGS = TriageSettings.from_config({}, ["acmehelp"])


def mention(n: int, text: str, *, at: datetime = T0, author: str = "u1", **kw: object) -> Mention:
    base: dict[str, object] = {"author_followers": 100, "language": "en", "query": "acme"}
    base.update(kw)
    return Mention(
        source="demo", native_id=str(n), text=text, created_at=at, author_id=author,
        author_handle=f"h_{author}", **base,  # type: ignore[arg-type]
    )  # fmt: skip


def store_and_triage(
    store: Store, mentions: list[Mention], settings: TriageSettings = SETTINGS
) -> None:
    with store.transaction():
        store.upsert_mentions(mentions, own_handles=["acmehelp"])
        triage_ids(store, [m.id for m in mentions], settings)


def queue(
    store: Store, now: datetime, settings: TriageSettings = SETTINGS
) -> list[dict[str, object]]:
    return store.queue(
        QueueFilter(limit=100), now.timestamp(), settings.age_weight, settings.age_cap_hours
    )


def test_triage_ids_stores_every_column(store: Store) -> None:
    store_and_triage(store, [mention(1, "@AcmeHelp charged twice, I want a refund today")])
    row = store.get_mention("demo:1")
    assert row["intent"] == "complaint"
    assert row["sentiment_scored"] == 1 and row["sentiment_compound"] is not None
    assert row["sla_due_ts"] == pytest.approx(T0.timestamp() + 3600)
    assert row["triaged_at"] is not None
    payload = decode_signals(row["signals"])
    assert sum(p[3] for p in payload["signals"]) == pytest.approx(row["static_score"])


def test_an_older_mention_overtakes_a_slightly_higher_static_score(store: Store) -> None:
    old = mention(1, "@AcmeHelp which plan includes Netflix?", author="a", author_followers=100)
    new = mention(
        2, "@AcmeHelp which plan includes Disney+?", author="b", author_followers=1000,
        at=T0 + timedelta(hours=8),
    )  # fmt: skip
    store_and_triage(store, [old, new])
    s_old = store.get_mention("demo:1")["static_score"]
    s_new = store.get_mention("demo:2")["static_score"]
    assert 0 < s_new - s_old < 0.2  # only reach differs
    assert [r["id"] for r in queue(store, T0)] == ["demo:2", "demo:1"]
    later = T0 + timedelta(hours=8)
    assert [r["id"] for r in queue(store, later)] == ["demo:1", "demo:2"]
    no_age = TriageSettings.from_config({"age_weight": 0}, ["acmehelp"])
    assert [r["id"] for r in queue(store, later, no_age)] == ["demo:2", "demo:1"]


@pytest.mark.parametrize("hours", [0, 3.5, 24, 100])
def test_explain_total_equals_the_queue_score(store: Store, hours: float) -> None:
    store_and_triage(
        store,
        [
            mention(1, "@AcmeHelp no signal in Leeds since Friday, sort it out!!"),
            mention(2, "Acme's new ad is funny", author="u2", at=T0 - timedelta(hours=30)),
            mention(3, "claim your FREE iPhone http://x.example", author="u3"),
            mention(4, "@AcmeHelp llevo tres días sin internet", author="u4", language=None),
        ],
    )
    now = T0 + timedelta(hours=hours)
    for row in queue(store, now):
        parts = explain(store.get_mention(str(row["id"])), SETTINGS, now.timestamp())
        assert sum(p.contribution for p in parts) == pytest.approx(row["score"], abs=1e-9)
        assert parts[-1].name == "waiting"
        assert not any(p.name == "stale" for p in parts)


def test_spam_is_last_in_the_queue(store: Store) -> None:
    store_and_triage(
        store,
        [
            mention(
                1, "Earn $5000 a week!!! DM me http://bit.ly/x", author="s", author_followers=10**6
            ),
            mention(2, "@AcmeHelp thanks, all sorted!", author="p", at=T0 + timedelta(hours=5)),
            mention(3, "Acme's new ad is funny", author="o", at=T0 + timedelta(hours=5)),
        ],
    )
    rows = queue(store, T0 + timedelta(hours=5))
    assert rows[-1]["id"] == "demo:1" and rows[-1]["intent"] == "spam"


def test_repeat_contact_counts_earlier_unanswered_mentions(store: Store) -> None:
    first = [
        mention(n, f"@AcmeHelp still no reply #{n}", at=T0 + timedelta(hours=n)) for n in (1, 2)
    ]
    store_and_triage(store, first)
    store_and_triage(store, [mention(3, "@AcmeHelp third time asking", at=T0 + timedelta(hours=3))])
    repeat = _signal(store, "demo:3", "repeat")
    assert repeat[1] == pytest.approx(2 / 3) and repeat[4] == "2 earlier"
    assert _signal(store, "demo:1", "repeat")[1] == 0.0
    store.mark_answered("demo:1", at="2027-01-15T10:00:00Z", by="alice")
    retriage_all(store, SETTINGS)
    assert _signal(store, "demo:3", "repeat")[1] == pytest.approx(1 / 3)


def _signal(store: Store, mention_id: str, name: str) -> list[object]:
    payload = decode_signals(store.get_mention(mention_id)["signals"])
    return next(p for p in payload["signals"] if p[0] == name)


def test_triage_rolls_back_with_the_poll_transaction(store: Store) -> None:
    with pytest.raises(RuntimeError), store.transaction():
        store.upsert_mentions([mention(1, "@AcmeHelp broken")])
        triage_ids(store, ["demo:1"], SETTINGS)
        raise RuntimeError("page failed")
    assert store.mention_count() == 0


def test_poll_hook_triages_every_stored_mention(store: Store) -> None:
    source = DemoSource({}, brand_handles=("acmehelp",))

    def on_stored(st: Store, ids: list[str]) -> None:
        triage_ids(st, ids, SETTINGS)

    results = poll_source(store, source, own_handles=["acmehelp"], on_stored=on_stored)
    assert results[0].error is None
    rows = [r for batch in store.iter_mentions() for r in batch]
    assert rows and all(r["triaged_at"] for r in rows)
    intents = {r["native_id"]: r["intent"] for r in rows}
    assert intents["1001"] == "complaint" and intents["1004"] == "spam"
    assert intents["1003"] == "praise" and intents["1013"] == "question"
    unscored = {r["native_id"] for r in rows if not r["sentiment_scored"]}
    assert {"1007", "1008", "1017", "1018"} <= unscored  # es (detected), de, pt, ja


def test_retriage_all_works_in_batches_and_applies_new_settings(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    store_and_triage(
        store, [mention(n, f"@AcmeHelp plan question {n}?", author=f"u{n}") for n in range(5)]
    )
    monkeypatch.setattr(scoring, "BATCH_SIZE", 2)
    seen: list[int] = []
    heavier = TriageSettings.from_config({"weights": {"question": 7.0}}, ["acmehelp"])
    assert retriage_all(store, heavier, seen.append) == 5
    assert seen == [2, 2, 1]
    row = store.get_mention("demo:0")
    assert decode_signals(row["signals"])["signals"][0][:4] == ["intent", 1.0, 7.0, 7.0]


@pytest.mark.parametrize(
    ("after", "sla_left"),
    [
        (timedelta(0), 3600.0),  # just posted: the full hour left
        (timedelta(minutes=59), 60.0),
        (timedelta(hours=1), 0.0),  # exactly at target: due now, not yet breached
        (timedelta(hours=1, seconds=1), -1.0),  # breached
        (timedelta(days=2), -(2 * 86400 - 3600.0)),
    ],
)
def test_sla_left_in_the_queue(store: Store, after: timedelta, sla_left: float) -> None:
    store_and_triage(store, [mention(1, "@AcmeHelp no signal since Friday, sort it out")])
    (row,) = queue(store, T0 + after)
    assert row["intent"] == "complaint"
    assert row["sla_left"] == pytest.approx(sla_left)


def test_praise_has_no_sla_and_sorts_last_by_sla(store: Store) -> None:
    store_and_triage(
        store,
        [
            mention(1, "@AcmeHelp thank you, brilliant service!", author="p"),
            mention(2, "@AcmeHelp which plan includes Netflix?", author="q"),
        ],
    )
    rows = store.queue(QueueFilter(sort="sla"), T0.timestamp(), 2.0, 24.0)
    assert [(r["intent"], r["sla_left"]) for r in rows] == [("question", 14400.0), ("praise", None)]


def test_counts_read_with_the_rows_are_unanswered_before_many(store: Store) -> None:
    """``triage --all`` reads each row's repeat count with the row
    (``iter_mentions(waiting=True)``): the counts ``unanswered_before_many`` gives, for
    authors with open, answered and closed mentions stored out of order, the brand's own
    posts, and mentions with no author."""
    hours = [5, 1, 3, 2, 4, 0, 6, 2, 3, 1]
    mentions = [
        mention(n, f"@AcmeHelp help #{n}", at=T0 + timedelta(hours=h), author=f"u{n % 3}")
        for n, h in enumerate(hours)
    ]
    with store.transaction():
        store.upsert_mentions(mentions, own_handles=["acmehelp"])
        store.conn.execute("UPDATE mentions SET status = 'closed' WHERE id = 'demo:4'")
        store.conn.execute("UPDATE mentions SET is_own = 1 WHERE id IN ('demo:3', 'demo:7')")
        store.conn.execute("UPDATE mentions SET author_key = NULL WHERE id = 'demo:8'")
    store.mark_answered("demo:1", at="2027-01-15T10:00:00Z", by="alice")
    seen = []
    for rows in store.iter_mentions(batch_size=3, columns=["id", "is_own"], waiting=True):
        assert scoring._read_counts(rows) == scoring._repeat_counts(store, rows)
        seen += scoring._read_counts(rows)
    assert len(seen) == len(hours) and max(seen) >= 2
