"""``encode_signals``' direct text path writes exactly what the ``json`` reference writes."""

from __future__ import annotations

from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from socialcare.triage import codec
from socialcare.triage.codec import encode_signals
from socialcare.triage.score import Contribution, TriageSettings, score_rows

_floats = st.floats(allow_nan=False, allow_infinity=False, width=64) | st.sampled_from(
    [0.0, -0.0, 1.0, -1.0, 1e16, -1e16, 2.0**53, 2.0**53 - 1, 1e-320, 5e-324, 0.1, 1e22]
)
_numbers = _floats | st.integers(-(2**60), 2**60) | st.sampled_from([0, 1, -1, 2**53])
#: what json writes differently or not at all (the fast path hands them to json)
_odd = st.sampled_from([float("nan"), float("inf"), float("-inf"), True, False, None, "1"])
_text = st.text(max_size=12) | st.sampled_from(['"', "\\", "\x00\x1f\x7f", "é\u2028😀", "none"])
_languages = st.sampled_from(["en", "detected"]) | _text
_names = st.sampled_from(list(codec._CODES)) | st.text(max_size=8).map(lambda t: f"rule:{t}")


def _rare(
    draw: st.DrawFn, usual: st.SearchStrategy[Any], odd: st.SearchStrategy[Any], rate: int
) -> Any:
    """``usual``, or 1 time in ``rate`` ``odd`` (never with rate 0): one odd field in a
    part sends the whole call to json, so most calls have none."""
    return draw(odd if rate and draw(st.integers(1, rate)) == 1 else usual)


@st.composite
def _detail(draw: st.DrawFn, name: str, repeat: int, language: str, source: str, rate: int) -> Any:
    """A detail that fits its template (so the token branches run), or any text, or none."""
    code = codec._CODES.get(name, "")
    prefix, suffix = codec._template(code, repeat, language, source)
    token = draw(_text | st.sampled_from(list(codec._USUAL.values())))
    fits = f"{prefix}{token}{suffix}"
    usual = st.sampled_from([fits, fits, token, prefix + suffix])
    return _rare(draw, usual, _odd | st.just(7), rate)


@st.composite
def _call(draw: st.DrawFn) -> tuple[list[Any], dict[str, Any]]:
    rate = draw(st.sampled_from([0, 0, 0, 4]))
    repeat = _rare(draw, st.integers(0, 5), st.sampled_from([True, 10**20]), rate)
    # few languages, so that reused parts meet the same pair with another repeat count
    language, source = draw(_languages), draw(_languages)
    parts: list[Any] = []
    for _ in range(draw(st.integers(0, 8))):
        name = _rare(draw, _names, st.sampled_from([1, None]), rate)
        detail = draw(_detail(str(name), int(repeat), language, source, rate))
        value, weight = _rare(draw, _numbers, _odd, rate), _rare(draw, _numbers, _odd, rate)
        fields = (name, value, weight, 0.0, detail)
        shape = draw(st.sampled_from(["named", "tuple", "list"]))
        if shape == "named":
            parts.append(tuple.__new__(Contribution, fields))
        else:
            parts.append(tuple(fields) if shape == "tuple" else list(fields))
    tags = _rare(draw, st.just(()), st.sampled_from([("vip",), ["a", "é"]]), rate)
    return parts, {
        "tags": tags,
        "language": language,
        "language_source": source,
        "repeat_count": repeat,
    }


def _outcome(encode: Any, parts: list[Any], kw: dict[str, Any]) -> str:
    """The text, or the error's type: an input json cannot write fails the same way."""
    try:
        return str(encode(parts, **kw))
    except (TypeError, ValueError) as exc:
        return f"error {type(exc).__name__}"


@settings(max_examples=600, deadline=None)
@given(calls=st.lists(_call(), min_size=1, max_size=4), reuse=st.booleans())
def test_fast_text_is_the_json_reference_byte_for_byte(
    calls: list[tuple[list[Any], dict[str, Any]]], reuse: bool
) -> None:
    if reuse:  # the same part objects again in another context: remembered texts
        shared = [p for parts, _ in calls for p in parts]
        calls = [(shared, kw) for _, kw in calls]
    for parts, kw in calls:
        for _ in range(2):  # first written, then remembered
            assert _outcome(encode_signals, parts, kw) == _outcome(codec._encode_json, parts, kw)


def test_scored_mentions_encode_as_the_reference() -> None:
    """Real parts (fixed, remembered and fresh lines) over several contexts."""
    rows = [
        {"text": t, "language": lang, "author_followers": f, "created_ts": 1.7e9}
        for t in ("@acmehelp charged twice, refund now!!", "love it", "wie geht das?", "")
        for lang in ("en", "de", None)
        for f in (0, 1234, None)
    ]
    s = TriageSettings(brand_handles=("acmehelp",))
    for repeat in (0, 1, 7):
        for r in score_rows(rows, s, [repeat] * len(rows)):
            kw = {
                "tags": r.tags,
                "language": r.sentiment.language,
                "language_source": r.sentiment.language_source,
                "repeat_count": r.repeat_count,
            }
            assert encode_signals(r.signals, **kw) == codec._encode_json(r.signals, **kw)


def test_remembered_texts_follow_their_context() -> None:
    """A sentiment line's text depends on the language pair, a repeat line's on the count."""
    parts = [
        tuple.__new__(
            Contribution, ("sentiment", 0.25, 1.5, 0.375, "compound -0.25 (en, detected)")
        ),
        tuple.__new__(Contribution, ("repeat", 0.5, 1.5, 0.75, "2 earlier")),
        tuple.__new__(Contribution, ("reach", 0.5, 0.5, 0.25, "1000 followers")),
    ]
    pairs = [("en", "detected"), ("de", "detected"), ("en", "platform")]
    # each change alone: the count with the pair kept, the pair with the count kept
    for (language, source), repeat in [(p, r) for p in pairs for r in (2, 3)] + [
        (p, 2) for p in pairs
    ]:
        kw = {"tags": (), "language": language, "language_source": source}
        kw["repeat_count"] = repeat
        assert encode_signals(parts, **kw) == codec._encode_json(parts, **kw)
