"""X's weighted tweet length (twitter-text v3 config), in the standard library.

Replaces the ``twitter-text-parser`` package, which imports ``pkg_resources``
without declaring setuptools (so ``pipx``/``uv tool`` installs and Python 3.12+
venvs crashed on poll) and is no longer maintained; no maintained port exists.

The rules follow twitter-text's published v3 configuration
(``config/v3.json``): the text is NFC-normalised; every code point weighs
``DEFAULT_WEIGHT`` (200) unless it falls in one of ``RANGES`` (weight 100:
Latin, Greek, Cyrillic, Hebrew, Arabic, ... and some punctuation); a URL counts
``TRANSFORMED_URL_LENGTH`` (23) whatever its length; an emoji *sequence* (ZWJ
families, skin tones, flags, keycaps, tag sequences) counts as one emoji of
weight 200; the sum is divided by ``SCALE`` (100).

URL detection is simpler than twitter-text's TLD-list regex and errs long on
purpose: a URL with ``http(s)://`` and a dotted host counts 23; a bare domain
(``acme.com/help``) counts the larger of 23 and its own weight, so whether or
not X links it, the count here is never shorter than X's. A reply refused here
might have fitted; one accepted here never bounces for length.
"""

from __future__ import annotations

import re
import unicodedata

__all__ = [
    "DEFAULT_WEIGHT",
    "MAX_WEIGHTED_LENGTH",
    "RANGES",
    "SCALE",
    "TRANSFORMED_URL_LENGTH",
    "weighted_length",
]

MAX_WEIGHTED_LENGTH = 280
SCALE = 100
DEFAULT_WEIGHT = 200
TRANSFORMED_URL_LENGTH = 23
#: ``(first, last, weight)`` code point ranges of twitter-text v3 (inclusive)
RANGES: tuple[tuple[int, int, int], ...] = (
    (0, 4351, 100),
    (8192, 8205, 100),
    (8208, 8223, 100),
    (8242, 8247, 100),
)

# A URL with a scheme, or a bare domain with a common TLD or any ccTLD; its path ends
# on the characters twitter-text lets a path end on, so trailing punctuation stays out.
_TAIL = r"(?:[/?#](?:[^\s<>\"]*[A-Za-z0-9=_#/+&\-])?)?"
_SCHEME_URL = re.compile(r"https?://[^\s<>\"/?#$`{}*|\\^]+" + _TAIL, re.IGNORECASE)
_GTLDS = (
    "com|net|org|info|biz|edu|gov|mil|int|io|co|app|dev|ai|me|tv|ly|gg|xyz|shop|store|online|"
    "site|blog|news|help|support|tech|cloud|link|page|live|world|email|pro|name|mobi|travel"
)
_BARE_URL = re.compile(
    r"(?<![A-Za-z0-9_@.\-/])(?:[a-z0-9](?:[a-z0-9\-]*[a-z0-9])?\.)+"
    r"(?:" + _GTLDS + r"|[a-z]{2})(?![A-Za-z0-9_])" + _TAIL,
    re.IGNORECASE,
)
_HOST_WITH_TLD = re.compile(r"^https?://(?:[a-z0-9\-]+\.)+[a-z]{2,}(?::\d+)?(?:[/?#]|$)", re.I)

_ZWJ = 0x200D
_VS16 = 0xFE0F
_KEYCAP = 0x20E3


def _weight(cp: int) -> int:
    for first, last, weight in RANGES:
        if first <= cp <= last:
            return weight
    return DEFAULT_WEIGHT


def _is_regional(cp: int) -> bool:
    return 0x1F1E6 <= cp <= 0x1F1FF


def _is_modifier(cp: int) -> bool:
    return 0x1F3FB <= cp <= 0x1F3FF


def _takes_modifier(cp: int) -> bool:
    """Skin tones join people and hands (Emoji_Modifier_Base), not symbols such as ©."""
    return cp >= 0x1F000 or cp in (0x261D, 0x26F9, 0x270A, 0x270B, 0x270C, 0x270D)


def _is_tag(cp: int) -> bool:
    return 0xE0020 <= cp <= 0xE007F


def _is_pictographic(cp: int) -> bool:
    """Emoji bases: the emoji blocks plus the older symbols that have emoji presentation."""
    return (
        0x1F000 <= cp <= 0x1FAFF
        or 0x2600 <= cp <= 0x27BF
        or 0x2300 <= cp <= 0x23FF
        or 0x2B00 <= cp <= 0x2BFF
        or 0x2190 <= cp <= 0x21FF
        or 0x25A0 <= cp <= 0x25FF
        or cp in (0x00A9, 0x00AE, 0x203C, 0x2049, 0x2122, 0x2139, 0x24C2, 0x3030, 0x303D)
        or cp in (0x3297, 0x3299)
    )


#: emoji whose default presentation is text (Unicode emoji-data: Emoji_Presentation=No):
#: only these take the emoji selector U+FE0F as part of the emoji ("❤️", "🏳️‍🌈");
#: after any other emoji a stray U+FE0F counts on its own, as in twitter-text
_TEXT_DEFAULT: tuple[tuple[int, int], ...] = (
    (0xA9, 0xA9), (0xAE, 0xAE), (0x203C, 0x203C), (0x2049, 0x2049), (0x2122, 0x2122),
    (0x2139, 0x2139), (0x2194, 0x2199), (0x21A9, 0x21AA), (0x2328, 0x2328), (0x23CF, 0x23CF),
    (0x23ED, 0x23EF), (0x23F1, 0x23F2), (0x23F8, 0x23FA), (0x24C2, 0x24C2), (0x25AA, 0x25AB),
    (0x25B6, 0x25B6), (0x25C0, 0x25C0), (0x25FB, 0x25FC), (0x2600, 0x2604), (0x260E, 0x260E),
    (0x2611, 0x2611), (0x2618, 0x2618), (0x261D, 0x261D), (0x2620, 0x2620), (0x2622, 0x2623),
    (0x2626, 0x2626), (0x262A, 0x262A), (0x262E, 0x262F), (0x2638, 0x263A), (0x2640, 0x2640),
    (0x2642, 0x2642), (0x265F, 0x2660), (0x2663, 0x2663), (0x2665, 0x2666), (0x2668, 0x2668),
    (0x267B, 0x267B), (0x267E, 0x267E), (0x2692, 0x2692), (0x2694, 0x2697), (0x2699, 0x2699),
    (0x269B, 0x269C), (0x26A0, 0x26A0), (0x26B0, 0x26B1), (0x26C8, 0x26C8), (0x26CF, 0x26CF),
    (0x26D1, 0x26D1), (0x26D3, 0x26D3), (0x26E9, 0x26E9), (0x26F0, 0x26F1), (0x26F4, 0x26F4),
    (0x26F7, 0x26F9), (0x2702, 0x2702), (0x2708, 0x2709), (0x270C, 0x270D), (0x270F, 0x270F),
    (0x2712, 0x2712), (0x2714, 0x2714), (0x2716, 0x2716), (0x271D, 0x271D), (0x2721, 0x2721),
    (0x2733, 0x2734), (0x2744, 0x2744), (0x2747, 0x2747), (0x2763, 0x2764), (0x27A1, 0x27A1),
    (0x2934, 0x2935), (0x2B05, 0x2B07), (0x3030, 0x3030), (0x303D, 0x303D), (0x3297, 0x3297),
    (0x3299, 0x3299), (0x1F170, 0x1F171), (0x1F17E, 0x1F17F), (0x1F202, 0x1F202),
    (0x1F237, 0x1F237), (0x1F321, 0x1F321), (0x1F324, 0x1F32C), (0x1F336, 0x1F336),
    (0x1F37D, 0x1F37D), (0x1F396, 0x1F397), (0x1F399, 0x1F39B), (0x1F39E, 0x1F39F),
    (0x1F3CB, 0x1F3CE), (0x1F3D4, 0x1F3DF), (0x1F3F3, 0x1F3F3), (0x1F3F5, 0x1F3F5),
    (0x1F3F7, 0x1F3F7), (0x1F43F, 0x1F43F), (0x1F441, 0x1F441), (0x1F4FD, 0x1F4FD),
    (0x1F549, 0x1F54A), (0x1F56F, 0x1F570), (0x1F573, 0x1F579), (0x1F587, 0x1F587),
    (0x1F58A, 0x1F58D), (0x1F590, 0x1F590), (0x1F5A5, 0x1F5A5), (0x1F5A8, 0x1F5A8),
    (0x1F5B1, 0x1F5B2), (0x1F5BC, 0x1F5BC), (0x1F5C2, 0x1F5C4), (0x1F5D1, 0x1F5D3),
    (0x1F5DC, 0x1F5DE), (0x1F5E1, 0x1F5E1), (0x1F5E3, 0x1F5E3), (0x1F5E8, 0x1F5E8),
    (0x1F5EF, 0x1F5EF), (0x1F5F3, 0x1F5F3), (0x1F5FA, 0x1F5FA), (0x1F6CB, 0x1F6CB),
    (0x1F6CD, 0x1F6CF), (0x1F6E0, 0x1F6E5), (0x1F6E9, 0x1F6E9), (0x1F6F0, 0x1F6F0),
    (0x1F6F3, 0x1F6F3),
)  # fmt: skip
_TEXT_DEFAULT_SET = frozenset(cp for first, last in _TEXT_DEFAULT for cp in range(first, last + 1))


def _emoji_end(cps: list[int], i: int) -> int:
    """The index after the emoji sequence starting at ``i``, or ``i`` if none starts there."""
    cp = cps[i]
    n = len(cps)
    if _is_regional(cp):
        return i + 2 if i + 1 < n and _is_regional(cps[i + 1]) else i + 1
    if 0x30 <= cp <= 0x39 or cp in (0x23, 0x2A):  # keycaps: 1️⃣ #️⃣ *️⃣
        j = i + 1
        if j < n and cps[j] == _VS16:
            j += 1
        return j + 1 if j < n and cps[j] == _KEYCAP else i
    if not (_is_pictographic(cp) or cp in _TEXT_DEFAULT_SET):
        return i
    j = i + 1
    while True:
        if cps[j - 1] in _TEXT_DEFAULT_SET and j < n and cps[j] == _VS16:
            j += 1
        if j < n and _is_modifier(cps[j]) and _takes_modifier(cps[j - 1]):
            j += 1
        while j < n and _is_tag(cps[j]):
            j += 1
        if j + 1 < n and cps[j] == _ZWJ and _is_pictographic(cps[j + 1]):
            j += 2
            continue
        return j


def _chars_weight(text: str) -> int:
    """The scaled weight of ``text`` with emoji sequences counted as one emoji each."""
    cps = [ord(c) for c in text]
    total = 0
    i = 0
    while i < len(cps):
        end = _emoji_end(cps, i)
        if end > i:
            total += DEFAULT_WEIGHT
            i = end
            continue
        total += _weight(cps[i])
        i += 1
    return total


def _urls(text: str) -> list[tuple[int, int, bool]]:
    """``(start, end, sure)`` of each URL; ``sure`` when it has a scheme and a real host."""
    found: list[tuple[int, int, bool]] = []
    for match in _SCHEME_URL.finditer(text):
        url = match.group()
        found.append(
            (match.start(), match.end(), url.isascii() and bool(_HOST_WITH_TLD.match(url)))
        )
    taken = [(s, e) for s, e, _ in found]
    for match in _BARE_URL.finditer(text):
        start, end = match.span()
        if any(s <= start < e for s, e in taken):
            continue
        found.append((start, end, False))
    return sorted(found)


def weighted_length(text: str) -> int:
    """The length X counts against its 280 limit (twitter-text v3 ``weightedLength``)."""
    text = unicodedata.normalize("NFC", text).replace("\r\n", "\n").replace("\r", "\n")
    total = 0
    pos = 0
    url_weight = TRANSFORMED_URL_LENGTH * SCALE
    for start, end, sure in _urls(text):
        total += _chars_weight(text[pos:start])
        url = text[start:end]
        if sure:
            total += url_weight
        elif url.isascii():  # X may or may not link it: count whichever is longer
            total += max(url_weight, _chars_weight(url))
        else:  # X may link only the part before the first non-ASCII character
            first = next(k for k, c in enumerate(url) if not c.isascii())
            total += url_weight + _chars_weight(url[first:])
        pos = end
    total += _chars_weight(text[pos:])
    return total // SCALE
