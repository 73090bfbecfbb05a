"""Query building, BM25 ranking, score normalisation, thresholds, hostile input."""

from __future__ import annotations

from collections.abc import Sequence

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from socialcare.errors import ConfigError, UsageError
from socialcare.kb import (
    MARK_END,
    MARK_START,
    KbSettings,
    build_match_query,
    pick_suggestion,
    plain_snippet,
    query_terms,
    search,
    suggest,
)
from socialcare.store import Store
from socialcare.store import kb as store_kb

FILLER = (
    "Our advisers are happy to help with anything on your account. "
    "Opening hours, delivery times and more are listed in the app. "
)


def _add(store: Store, articles: Sequence[tuple[str, str, str, Sequence[str]]]) -> None:
    with store.transaction():
        sid = store_kb.add_source(store, "test://kb", "folder")
        store_kb.upsert_articles(store, sid, articles, "2026-01-01T00:00:00Z")


@pytest.fixture
def kb(store: Store) -> Store:
    _add(
        store,
        [
            ("https://h/roaming", "Roaming charges abroad", FILLER * 3, ["travel"]),
            ("https://h/bill", "Understanding your bill", "Your bill mentions roaming once.", []),
            ("https://h/router", "Router lights", "An orange light means no internet.", ["hub"]),
            ("https://h/esim", "Set up an eSIM", "Scan the QR code to install the eSIM.", ["sim"]),
            ("https://h/porting", "Keep your number", "Text PAC to 65075 for a code.", ["porting"]),
            ("https://h/stores", "Store opening hours", "Stores open 9am to 6pm.", []),
        ]
        + [(f"https://h/filler{i}", f"Filler {i}", FILLER, []) for i in range(6)],
    )
    return store


def test_query_terms_drop_chatter_urls_handles_numbers_and_repeats() -> None:
    text = "Hi @AcmeCare!! my ROAMING isn't working, roaming again https://t.co/x 2024 pls 5G"
    assert query_terms(text) == ["roaming", "working", "5g"]


def test_match_query_quotes_every_term() -> None:
    assert build_match_query('eSIM "NEAR" (help) OR*') == '"esim" OR "near" OR "help"'
    assert build_match_query("hi thanks lol") is None


def test_title_match_outranks_body_only_match(kb: Store) -> None:
    # The body-only article is much shorter, so with equal column weights it would win.
    ranked = search(kb, "roaming", KbSettings())
    assert [s.url for s in ranked[:2]] == ["https://h/roaming", "https://h/bill"]
    flat = search(kb, "roaming", KbSettings(title_weight=1, body_weight=1, tags_weight=1))
    assert flat[0].url == "https://h/bill"


def test_scores_are_normalised_and_keep_bm25_order(kb: Store) -> None:
    found = search(kb, "orange light router", KbSettings())
    assert found[0].url == "https://h/router"
    assert all(0 <= s.score < 1 for s in found)
    assert [s.score for s in found] == sorted((s.score for s in found), reverse=True)
    assert [s.bm25 for s in found] == sorted((s.bm25 for s in found), reverse=True)
    # every term in the title: close to the ceiling, whatever the query's length
    assert search(kb, "router", KbSettings())[0].score > 0.8
    assert search(kb, "router lights", KbSettings())[0].score > 0.8


def test_words_no_article_has_lower_the_score(kb: Store) -> None:
    alone = search(kb, "esim", KbSettings())[0]
    padded = search(kb, "esim zebra quokka", KbSettings())[0]
    assert padded.url == alone.url and padded.score < alone.score
    lenient = search(kb, "esim zebra quokka", KbSettings(unmatched_weight=0.0))[0]
    assert lenient.score == pytest.approx(alone.score)


def test_snippet_highlights_matched_words(kb: Store) -> None:
    (hit,) = search(kb, "QR code", KbSettings(), limit=1)
    assert f"{MARK_START}QR{MARK_END}" in hit.snippet
    assert plain_snippet(hit.snippet) == "Scan the QR code to install the eSIM."


def test_suggest_applies_threshold_and_max(kb: Store) -> None:
    text = "my esim QR code won't scan, the porting PAC code, and the store opening hours"
    everything = search(kb, text, KbSettings(), limit=10)
    assert len(everything) >= 3
    some = suggest(kb, text, KbSettings(threshold=0.0, max_suggestions=2))
    assert [s.article_id for s in some] == [s.article_id for s in everything[:2]]
    cut = (everything[0].score + everything[1].score) / 2
    only_best = suggest(kb, text, KbSettings(threshold=cut))
    assert [s.article_id for s in only_best] == [everything[0].article_id]
    assert suggest(kb, text, KbSettings(threshold=0.99)) == []


def test_weak_match_is_not_suggested(kb: Store) -> None:
    text = "love the new advert with the dog and the music, who sings it? roaming"
    assert search(kb, text, KbSettings())  # something matches a word...
    assert suggest(kb, text, KbSettings()) == []  # ...but not well enough to suggest


def test_pick_suggestion(kb: Store) -> None:
    cfg = KbSettings(threshold=0.0)
    assert pick_suggestion(kb, "esim qr code", 1, cfg).url == "https://h/esim"
    with pytest.raises(UsageError, match="only"):
        pick_suggestion(kb, "esim qr code", 9, cfg)
    with pytest.raises(UsageError, match="no article matches well enough"):
        pick_suggestion(kb, "zebra", 1, cfg)


@pytest.mark.parametrize(
    "text",
    [
        '"',
        '"unbalanced quote',
        "NEAR(roaming bill, 2)",
        "roaming AND NOT bill OR",
        "((((",
        ")",
        "*",
        "rout*",
        "title:roaming",
        "{title body}: roaming",
        "^roaming",
        "- roaming",
        "'; DROP TABLE kb_articles; --",
        "\x00\x1b[2J",
        "😡😡 router!!! 🔥",
        "",
    ],
)
def test_hostile_text_never_breaks_search(kb: Store, text: str) -> None:
    search(kb, text, KbSettings())
    suggest(kb, text, KbSettings())
    assert store_kb.article_count(kb) == 12


@settings(max_examples=150, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.text(max_size=80))
def test_any_text_is_a_valid_query(kb: Store, text: str) -> None:
    for s in search(kb, text, KbSettings()):
        assert 0 <= s.score <= 1


def test_empty_knowledge_base(store: Store) -> None:
    assert search(store, "roaming", KbSettings()) == []
    assert suggest(store, "roaming", {}) == []


@pytest.mark.parametrize(
    ("table", "message"),
    [
        ({"treshold": 0.3}, "unknown key treshold"),
        ({"threshold": "high"}, "threshold must be a number"),
        ({"threshold": 1.5}, "between 0 and 1"),
        ({"max_suggestions": 0}, "at least 1"),
        ({"max_suggestions": 2.5}, "must be an integer"),
        ({"title_weight": 0}, "greater than 0"),
        ({"max_pages": True}, "must be an integer"),
    ],
)
def test_settings_validation(table: dict[str, object], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        KbSettings.from_mapping(table)


def test_settings_from_mapping() -> None:
    cfg = KbSettings.from_mapping({"threshold": 0.4, "max_suggestions": 5, "title_weight": 8})
    assert (cfg.threshold, cfg.max_suggestions, cfg.weights[0]) == (0.4, 5, 8.0)
    assert KbSettings.from_mapping(None) == KbSettings()
