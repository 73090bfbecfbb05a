"""X's weighted length (twitter-text v3 config) without the twitter-text-parser package.

Expected values follow the published v3 rules: weight 100 for the ranges
0-4351, 8192-8205, 8208-8223, 8242-8247 and 200 for everything else, scale
100, every URL 23, every emoji sequence one emoji of weight 200, NFC first.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest

from socialcare.sources.tweet_length import MAX_WEIGHTED_LENGTH, weighted_length
from socialcare.sources.twitter import TwitterSource

pytestmark = pytest.mark.store_free


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("hello", 5),
        ("a" * 280, 280),
        ("Привет", 6),  # Cyrillic is in 0-4351: weight 100
        ("مرحبا", 5),
        ("日本語", 6),  # CJK: default weight 200
        ("한국어", 6),
        ("–—‘’“”", 6),  # 8208-8223
        ("\u2032\u2033", 2),  # 8242-8247
        ("\u2025", 2),  # just outside the ranges
        ("𝐀", 2),  # an astral letter is one code point of weight 200
        ("👍", 2),
        ("👍🏽", 2),  # skin tone: one emoji
        ("👨\u200d👩\u200d👧\u200d👦", 2),  # a ZWJ family: one emoji
        ("🇩🇪🇫🇷", 4),  # two flags
        ("❤️", 2),  # emoji selector is part of a text-default emoji
        ("1️⃣", 2),  # keycap
        ("🏳️\u200d🌈", 2),
        ("©", 2),
        ("e\u0301", 1),  # NFC makes it one é
        ("line1\r\nline2", 11),  # CRLF counts as one newline
        ("Track it: https://acme.example.com/orders/12345?ref=care", 10 + 23),
        ("see https://a.co/x.", 4 + 23 + 1),  # trailing punctuation is not in the URL
        ("https://acme.com/" + "x" * 200, 23),
        ("help at acme.com/support", 8 + 23),  # a bare domain counts like a URL
        ("mixed https://a.co/x 日本 😀", 6 + 23 + 1 + 4 + 1 + 2),
    ],
)
def test_weighted_length_follows_the_v3_config(text: str, expected: int) -> None:
    assert weighted_length(text) == expected


def test_the_limit_is_280_weighted() -> None:
    assert MAX_WEIGHTED_LENGTH == TwitterSource.max_length == 280
    assert weighted_length("日" * 140) == 280
    assert weighted_length("日" * 141) == 282


def test_bare_domains_never_count_shorter_than_x_might() -> None:
    """Whether X links a bare domain or not, the count here is the larger one."""
    short = "acme.io"
    assert weighted_length(short) == 23
    long_host = "support." * 5 + "acme.com"
    assert weighted_length(long_host) == len(long_host)


def test_twitter_source_uses_it() -> None:
    src = TwitterSource({"queries": ["acme"]})
    assert src.text_length("😀 https://acme.com/a/very/long/path/indeed") == 2 + 1 + 23


def test_registry_and_demo_poll_load_no_platform_library(tmp_path: object) -> None:
    """Building and polling the demo source must not import tweepy, praw or feedparser."""
    code = textwrap.dedent(
        """
        import sys
        from socialcare.config import Config
        from socialcare.poll import build_source
        from socialcare.sources import registry
        registry.load_plugins()
        src = build_source(Config(database=":memory:", agent="a", sources={"demo": {}}), "demo")
        pages = list(src.poll("file", None))
        assert pages and pages[0].mentions
        src.text_length("hello")
        loaded = [m for m in ("tweepy", "praw", "prawcore", "feedparser", "twitter_text")
                  if m in sys.modules]
        print(",".join(loaded))
        """
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True
    )
    assert out.stdout.strip() == ""


def test_the_twitter_source_loads_tweepy_only_when_it_talks_to_x() -> None:
    code = textwrap.dedent(
        """
        import os, sys
        os.environ["TWITTER_BEARER_TOKEN"] = "AAAA-SECRET"
        from socialcare.sources.twitter import TwitterSource
        src = TwitterSource({"queries": ["acme"]})
        src.text_length("hi")
        before = "tweepy" in sys.modules
        src._read_client()
        print(before, "tweepy" in sys.modules, "twitter_text" in sys.modules)
        """
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True
    )
    assert out.stdout.split() == ["False", "True", "False"]
