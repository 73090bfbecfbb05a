"""Every true/false key of a source is read by one function: a TOML boolean is taken as
it is, anything else (``"yes"``, ``1``, ``"false"``) is a ConfigError naming the key and
the value, never guessed at (``bool("false")`` is true)."""

from __future__ import annotations

from typing import Any

import pytest

from socialcare.errors import ConfigError
from socialcare.sources import reddit, twitter
from socialcare.sources.registry import get_source_class

#: the least config each source needs to be built
_BASE: dict[str, dict[str, Any]] = {
    "twitter": {"user_id": "1"},
    "reddit": {"searches": [{"query": "acme"}]},
    "facebook": {},
    "instagram": {},
    "mastodon": {"instance": "https://social.example"},
    "bluesky": {"handle": "acme.bsky.social"},
}


#: (source, key, what the key turns on or off, read off the built source)
_KEYS: list[tuple[str, str, Any]] = [
    ("twitter", "own_timeline", lambda s: twitter.OWN_QUERY in s.queries()),
    ("twitter", "dms", lambda s: twitter.DM_QUERY in s.queries()),
    ("twitter", "wait_on_rate_limit", lambda s: s.wait_on_rate_limit),
    ("reddit", "inbox_mentions", lambda s: "inbox:mentions" in s.queries()),
    ("reddit", "inbox_messages", lambda s: reddit.MESSAGES_QUERY in s.queries()),
    ("reddit", "own_comments", lambda s: reddit.OWN_QUERY in s.queries()),
    ("reddit", "wait_on_rate_limit", lambda s: s.wait_on_rate_limit),
    ("facebook", "feed", lambda s: s.feed),
    ("facebook", "tagged", lambda s: s.tagged),
    ("facebook", "messenger", lambda s: s.messenger),
    ("instagram", "comments", lambda s: s.comments),
    ("instagram", "tags", lambda s: s.tags),
    ("instagram", "dms", lambda s: s.dms),
    ("mastodon", "mentions", lambda s: s.mentions),
    ("mastodon", "dms", lambda s: s.dms),
    ("bluesky", "notifications", lambda s: s.notifications),
    ("bluesky", "dms", lambda s: s.dms),
]


@pytest.mark.store_free
@pytest.mark.parametrize(("source", "key", "effect"), _KEYS, ids=[f"{s}.{k}" for s, k, _ in _KEYS])
def test_a_boolean_key_is_taken_as_given(source: str, key: str, effect: Any) -> None:
    cls = get_source_class(source)
    seen = {value: bool(effect(cls({**_BASE[source], key: value}))) for value in (True, False)}
    assert seen == {True: True, False: False}


@pytest.mark.store_free
@pytest.mark.parametrize(("source", "key", "effect"), _KEYS, ids=[f"{s}.{k}" for s, k, _ in _KEYS])
@pytest.mark.parametrize("value", ["yes", "false", 1, 0])
def test_a_non_boolean_is_refused_naming_the_key(
    source: str, key: str, effect: Any, value: Any
) -> None:
    cls = get_source_class(source)
    with pytest.raises(ConfigError) as caught:
        cls({**_BASE[source], key: value})
    assert str(caught.value) == f"sources.{source}.{key} must be true or false, got {value!r}"


@pytest.mark.store_free
def test_the_ingest_switch_of_any_source_is_read_the_same_way() -> None:
    from socialcare.poll import IngestSettings

    assert IngestSettings.from_config("rss", {"fold_reposts": False}).fold_reposts is False
    assert IngestSettings.from_config("rss", {}).fold_reposts is True
    with pytest.raises(ConfigError) as caught:
        IngestSettings.from_config("rss", {"fold_reposts": "no"})
    assert str(caught.value) == "sources.rss.fold_reposts must be true or false, got 'no'"
