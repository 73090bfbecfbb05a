"""The ``signals`` column's encoding: compact (version 2), and the old JSON still read.

Version 1 was a JSON object of about 420 bytes per mention: every part as
``[name, value, weight, contribution, detail]`` with its keys spelled out, the
contribution (always ``value * weight``) and long floats written in full. A
poll writes it for every mention, so version 2 keeps the same information in
a compact JSON array::

    [2, repeat_count, language, language_source, [tags], part, part, ...]
    part: [code, value, weight, token]   (or [code, value, weight]: the usual token)

``code`` is a one-letter name of a known signal (``i`` intent, ``s`` sentiment,
...) whose detail is rebuilt from ``token`` and a template ("compound {} (en,
detected)", "{} followers", "{} earlier"); any other part, or one whose detail
does not fit its template, keeps its full name and detail. Whole floats are
written as integers; the contribution is recomputed as ``value * weight``, the
product the scorer took. :func:`decode_signals` gives back the version-1 shape
(``{"signals": [[name, value, weight, contribution, detail], ...], "tags": ...,
"repeat_count": ...}``) for both versions, so stores written before keep
explaining, and :func:`encode_signals` followed by it is lossless (a test
checks the round trip on random parts).
"""

from __future__ import annotations

import json
import math
from typing import Any, Mapping, NamedTuple, Sequence

__all__ = [
    "PASSING",
    "SIGNALS_VERSION",
    "Sentiment",
    "decode_signals",
    "encode_signals",
    "reach",
    "repeat_contact",
]

#: version of what :func:`encode_signals` writes to the ``signals`` column
SIGNALS_VERSION = 2
#: the reason ``signals.direct_address`` gives for a mention that does not address the
#: brand: defined here, where it is the ``direct`` part's usual token, so that reading
#: stored signals does not import the scorer's cue tables (signals imports it from here)
PASSING = "passing mention"


# What a re-score from stored signals (``score.rescore_stored``, ``show``'s explanation)
# rebuilds besides the decoded parts: defined here for the same reason as PASSING, so
# that it imports neither VADER nor the cue tables (issue 18 item 7: start-up);
# ``sentiment`` and ``signals`` re-export them.
class Sentiment(NamedTuple):
    """VADER's scores for an English text, or ``None`` scores when unscored.

    ``language_source`` says how the language was decided: ``platform``,
    ``detected``, or English by default because the text was ``short``, had
    English ``stopwords``, or the detector was ``unsure``.
    """

    compound: float | None
    pos: float | None
    neu: float | None
    neg: float | None
    language: str
    language_source: str

    @property
    def scored(self) -> bool:
        """Whether VADER scored it (English); otherwise compound is None."""
        return self.compound is not None


def reach(followers: int | float | None) -> float:
    """0..1: log10(1 + followers) / 6, so 1M followers (or more) is 1.0, 1k is 0.5."""
    if followers is None or followers <= 0 or math.isnan(followers):
        return 0.0
    return min(math.log10(1.0 + float(followers)) / 6.0, 1.0)


def repeat_contact(earlier_unanswered: int) -> float:
    """0..1: earlier unanswered mentions by the same author, saturating at 3."""
    return min(max(earlier_unanswered, 0), 3) / 3.0


#: known signal names and their one-letter codes (rule and other parts keep their name)
_CODES = {
    "intent": "i",
    "sentiment": "s",
    "urgency": "u",
    "direct": "d",
    "reach": "r",
    "repeat": "p",
    "rating": "t",
    "learned": "l",
}
_NAMES = {code: name for name, code in _CODES.items()}
#: the token most mentions have, left out of the part (``[code, value, weight]``)
_USUAL = {"u": "none", "d": PASSING, "p": ""}
_HEADER = 5  # version, repeat count, language, language source, tags


#: made once: ``json.dumps`` with separators builds an encoder per call (a poll's hot path)
_ENCODE = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode


def _template(code: str, repeat: int, language: str, source: str) -> tuple[str, str]:
    """The (prefix, suffix) a part's detail is rebuilt around its token."""
    if code == "s":
        return "compound ", f" ({language}, {source})"
    if code == "r":
        return "", " followers"
    if code == "p":
        return f"{repeat} earlier", ""
    return "", ""


def _number(value: float) -> float | int:
    """A whole float as an int (``1`` not ``1.0``); ``-0.0`` and the rest unchanged."""
    if value == 0.0:  # the usual value; 0.0 and -0.0 differ in sign only
        return 0 if math.copysign(1.0, value) > 0 else value
    if value == 1.0:
        return 1
    if isinstance(value, float) and value.is_integer() and abs(value) < 2**53:
        return int(value)
    return value


def encode_signals(
    parts: Sequence[Sequence[Any]],
    *,
    tags: Sequence[str],
    language: str,
    language_source: str,
    repeat_count: int,
) -> str:
    """The ``signals`` column text of one triage (version 2, see the module docstring).

    A poll encodes every mention, and going through ``json`` (a list per part,
    ``_number`` a dozen times, the encoder) cost ~14 µs each, so the usual case is
    written as text directly (:func:`_fast_text`); tags, odd types and non-finite
    numbers go to :func:`_encode_json`, whose output it matches byte for byte.
    """
    text = None
    if (
        not tags
        and type(repeat_count) is int
        and type(language) is str
        and type(language_source) is str
    ):
        text = _fast_text(parts, (repeat_count, language, language_source))
    if text is None:
        text = _encode_json(
            parts,
            tags=tags,
            language=language,
            language_source=language_source,
            repeat_count=repeat_count,
        )
    return text


#: (repeat count, language, language source) -> the text before the first part
_HEADS: dict[tuple[int, str, str], str] = {}
#: id(part) -> (part, what else its text depends on, its text with a leading comma): None,
#: the (language, source) pair of a sentiment line, or the repeat count of a repeat line;
#: the part is kept so that its id cannot be reused while the entry lives
_PART_TEXTS: dict[int, tuple[Any, tuple[str, str] | int | None, str]] = {}
_MEMO_SIZE = 4096
#: JSON string escaping as the encoder does it (``ensure_ascii=False``): the same C function
_STRING = json.encoder.encode_basestring


def _fast_text(parts: Sequence[Sequence[Any]], context: tuple[int, str, str]) -> str | None:
    """The column text of parts without tags, or None when a part needs ``json``.

    Most parts are the very same objects mention after mention (the scorer's fixed
    lines and remembered sentiment lines), so a part's text is remembered by its
    identity (an immutable tuple of str and numbers always encodes the same); the
    ``sentiment`` line's text also depends on the language pair, the ``repeat`` line's
    on the repeat count (a pair never equals a count, so one test checks either).
    """
    head = _HEADS.get(context)
    if head is None:
        if len(_HEADS) >= _MEMO_SIZE:
            _HEADS.clear()
        repeat, language, source = context
        head = _HEADS[context] = _ENCODE([SIGNALS_VERSION, repeat, language, source, []])[:-1]
    out = [head]
    known = _PART_TEXTS
    repeat, languages = context[0], context[1:]
    for part in parts:
        hit = known.get(id(part))
        if hit is not None and hit[0] is part:
            depends = hit[1]
            if depends is None or depends == languages or depends == repeat:
                out.append(hit[2])
                continue
        text = _part_text(part, context)
        if text is None:
            return None
        out.append(text)
    out.append("]")
    return "".join(out)


def _part_text(part: Sequence[Any], context: tuple[int, str, str]) -> str | None:
    """One part's text (with its leading comma), remembered when it is a tuple; or None."""
    name, value, weight, detail = part[0], part[1], part[2], part[4]
    if type(name) is not str:
        return None
    v, w = _number_text(value), _number_text(weight)
    if v is None or w is None:
        return None
    code = _CODES.get(name)
    depends: tuple[str, str] | int | None = None
    if code is None or not isinstance(detail, str):
        if type(detail) is not str:
            return None  # _encode_json writes str(detail)
        text = f",[{_STRING(name)},{v},{w},{_STRING(detail)}]"
    else:
        token: str | None = detail
        if code == "s" or code == "r" or code == "p":
            if code != "r":
                depends = context[1:] if code == "s" else context[0]
            prefix, suffix = _template(code, *context)
            end = len(detail) - len(suffix)
            if detail.startswith(prefix) and detail.endswith(suffix) and end >= len(prefix):
                token = detail[len(prefix) : end]
            else:
                token = None
        if token is None:
            text = f",[{_STRING(name)},{v},{w},{_STRING(detail)}]"
        elif _USUAL.get(code) == token:
            text = f',["{code}",{v},{w}]'
        else:
            text = f',["{code}",{v},{w},{_STRING(token)}]'
    if isinstance(part, tuple):
        if len(_PART_TEXTS) >= _MEMO_SIZE:
            _PART_TEXTS.clear()
        _PART_TEXTS[id(part)] = (part, depends, text)
    return text


def _number_text(value: Any) -> str | None:
    """What ``_ENCODE`` writes for ``_number(value)`` of a float or an int; else None.

    Float texts are remembered: ``repr`` of a float (what json writes) costs ~0.4 µs,
    and the weights and most values recur. Zeros are answered before the memo, whose
    keys cannot tell ``-0.0`` from ``0.0``; no other two equal floats write differently.
    """
    kind = type(value)
    if kind is float:
        if value:  # nonzero, or nan
            text = _FLOATS.get(value)
            if text is None:
                text = _float_text(value)
            return text
        return "0" if math.copysign(1.0, value) > 0 else "-0.0"
    if kind is int:
        return str(value)
    return None


#: nonzero finite float -> its text as json writes it (after ``_number``)
_FLOATS: dict[float, str] = {}


def _float_text(value: float) -> str | None:
    """The text of a nonzero float (remembered), or None for NaN and the infinities."""
    if value - value != 0.0:
        return None  # NaN, Infinity: as json spells them
    if value.is_integer() and abs(value) < 2**53:
        text = str(int(value))
    else:
        text = repr(value)  # json writes float.__repr__
    if len(_FLOATS) >= _MEMO_SIZE:
        _FLOATS.clear()
    _FLOATS[value] = text
    return text


def _encode_json(
    parts: Sequence[Sequence[Any]],
    *,
    tags: Sequence[str],
    language: str,
    language_source: str,
    repeat_count: int,
) -> str:
    """:func:`encode_signals` through ``json``: the reference the fast path is tested
    against byte for byte, and the path for anything it does not take."""
    out: list[Any] = [SIGNALS_VERSION, repeat_count, language, language_source, list(tags)]
    number = _number
    for part in parts:
        name, value, weight, detail = part[0], part[1], part[2], part[4]
        code = _CODES.get(name)
        if code is None or not isinstance(detail, str):
            out.append([str(name), number(value), number(weight), str(detail)])
            continue
        if code == "u" or code == "d" or code == "i" or code == "t" or code == "l":
            token = detail  # templates without prefix or suffix
        else:
            prefix, suffix = _template(code, repeat_count, language, language_source)
            end = len(detail) - len(suffix)
            if not (detail.startswith(prefix) and detail.endswith(suffix) and end >= len(prefix)):
                out.append([name, number(value), number(weight), detail])
                continue
            token = detail[len(prefix) : end]
        if _USUAL.get(code) == token:
            out.append([code, number(value), number(weight)])
        else:
            out.append([code, number(value), number(weight), token])
    return _ENCODE(out)


def decode_signals(text: Any) -> Mapping[str, Any]:
    """The stored signals (version 2 or the old version-1 JSON) in the version-1 shape.

    Anything unreadable (empty, ``{}`` of an untriaged mention, damaged) is ``{}``;
    an already decoded mapping is returned as it is.
    """
    if type(text) is not str:  # the usual case first: an ABC isinstance check is slow
        return text if isinstance(text, Mapping) else {}
    if not text:
        return {}
    try:
        raw = json.loads(text)
    except ValueError:
        return {}
    if isinstance(raw, Mapping):
        return raw  # version 1
    if not isinstance(raw, list) or len(raw) < _HEADER or raw[0] != SIGNALS_VERSION:
        return {}
    version, repeat, language, source, tags = raw[:_HEADER]
    signals = []
    for part in raw[_HEADER:]:
        code, value, weight = part[:3]
        name = _NAMES.get(code)
        token = part[3] if len(part) > 3 else _USUAL.get(code, "")
        if name is None:
            name, detail = code, token
        else:
            prefix, suffix = _template(code, repeat, language, source)
            detail = f"{prefix}{token}{suffix}"
        value, weight = float(value), float(weight)
        signals.append([name, value, weight, value * weight, detail])
    return {
        "version": version,
        "signals": signals,
        "tags": list(tags),
        "language": language,
        "language_source": source,
        "repeat_count": repeat,
    }
