"""The compact ``signals`` encoding: lossless, small, and the old JSON still explains."""

from __future__ import annotations

import json

from hypothesis import given, settings
from hypothesis import strategies as st

from socialcare.team.routing import _tags
from socialcare.triage.codec import SIGNALS_VERSION, decode_signals, encode_signals
from socialcare.triage.score import (
    Rule,
    TriageSettings,
    _stored_payload,
    explain,
    score_row,
)

SETTINGS = TriageSettings(
    brand_handles=("acmehelp",), rules=(Rule("billing", 1.0, keywords=("invoice",)),)
)
TEXTS = [
    "@acmehelp my refund was charged twice, this is urgent!!",
    "love the new app",
    "how do I reset my router?",
    "my invoice is wrong again, great job acme",
]


def _v1(result: object) -> str:
    """The version-1 JSON exactly as ``TriageResult.columns`` wrote it before version 2."""
    s = result.sentiment  # type: ignore[attr-defined]
    return json.dumps(
        {
            "version": 1,
            "signals": [list(p) for p in result.signals],  # type: ignore[attr-defined]
            "tags": list(result.tags),  # type: ignore[attr-defined]
            "language": s.language,
            "language_source": s.language_source,
            "repeat_count": result.repeat_count,  # type: ignore[attr-defined]
        },
        ensure_ascii=False,
    )


def _row(text: str, **extra: object) -> dict[str, object]:
    return {"text": text, "language": "en", "author_followers": 1234, "created_ts": 1.7e9, **extra}


def test_columns_write_version_2_that_decodes_to_the_parts() -> None:
    for text in TEXTS:
        for repeat in (0, 1, 4):
            result = score_row(_row(text), SETTINGS, repeat)
            stored = result.columns()["signals"]
            assert json.loads(stored)[0] == SIGNALS_VERSION
            payload = decode_signals(stored)
            assert payload["signals"] == [list(p) for p in result.signals]
            assert payload["tags"] == list(result.tags)
            assert payload["repeat_count"] == repeat
            assert payload["language"] == result.sentiment.language


def test_version_2_is_under_half_the_old_json() -> None:
    results = [score_row(_row(text), SETTINGS, n) for text in TEXTS for n in (0, 2)]
    new = sum(len(r.columns()["signals"].encode()) for r in results)
    assert new * 2 < sum(len(_v1(r).encode()) for r in results)


def test_old_json_still_decodes_and_explains() -> None:
    result = score_row(_row(TEXTS[0]), SETTINGS, 3)
    old = {**_row(TEXTS[0]), "signals": _v1(result), "static_score": result.static_score}
    new = {**old, "signals": result.columns()["signals"]}
    assert _stored_payload(old)["repeat_count"] == 3
    assert explain(old, SETTINGS, 1.7e9 + 60) == explain(new, SETTINGS, 1.7e9 + 60)
    repeat = next(p for p in explain(new, SETTINGS, 1.7e9) if p.name == "repeat")
    assert repeat.detail == "3 earlier"  # the count came from the compact column
    assert not any(p.name == "stale" for p in explain(new, SETTINGS, 1.7e9))


def test_routing_reads_rule_tags_from_either_version() -> None:
    result = score_row(_row(TEXTS[3]), SETTINGS)
    assert result.tags == ("billing",)
    assert _tags({"signals": result.columns()["signals"], "tags": '["vip"]'}) == {"billing", "vip"}
    assert _tags({"signals": _v1(result)}) == {"billing"}


def test_unreadable_columns_decode_empty() -> None:
    for bad in (None, "", "{}", "not json", "[3,0]", "[]", 7):
        assert decode_signals(bad) == {}


_floats = st.floats(allow_nan=False, allow_infinity=False, width=64)
_text = st.text(max_size=30)
_names = st.sampled_from(
    ["intent", "sentiment", "urgency", "direct", "reach", "repeat", "rating", "learned"]
) | st.text(min_size=1, max_size=12).map(lambda t: f"rule:{t}")


@settings(max_examples=300, deadline=None)
@given(
    parts=st.lists(st.tuples(_names, _floats, _floats, _text), max_size=9),
    tags=st.lists(_text, max_size=3),
    language=_text,
    source=_text,
    repeat=st.integers(0, 10**6),
)
def test_encoding_round_trips_any_parts(
    parts: list[tuple[str, float, float, str]],
    tags: list[str],
    language: str,
    source: str,
    repeat: int,
) -> None:
    full = [[n, v, w, v * w, d] for n, v, w, d in parts]
    stored = encode_signals(
        full, tags=tags, language=language, language_source=source, repeat_count=repeat
    )
    payload = decode_signals(stored)
    assert payload["signals"] == full
    assert [repr(p[1]) for p in payload["signals"]] == [repr(p[1]) for p in full]  # -0.0 kept
    assert (payload["tags"], payload["language"], payload["language_source"]) == (
        tags,
        language,
        source,
    )
    assert payload["repeat_count"] == repeat
