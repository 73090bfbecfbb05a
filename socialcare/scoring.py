"""Apply triage to stored mentions, through ``Store`` methods only (no SQL here).

:func:`page_scorer` is what ``poll`` hands the ingest: each page is scored in
memory and its new mentions inserted with their triage, inside the page's
transaction, so a page's mentions and their scores commit together and the
queue never shows an untriaged mention from a finished poll. :func:`triage_ids`
scores stored mentions (the same columns; the reference the write-once test
compares with). :func:`retriage_all` re-scores the whole store after
``[triage]`` changes, a batch at a time so memory stays flat on a store of
millions of mentions, writing only the rows whose triage changed.

The learned model's life is here too: :func:`train_model` gathers labels from
the store's history (:mod:`socialcare.store.triage`) and from a labels file
(:func:`read_labels`), fits the model, stores it as the active one in one
transaction and re-scores open mentions; :func:`load_model` reads the active
one once per run; :func:`maybe_retrain` is ``[triage] retrain_every``.
"""

from __future__ import annotations

import dataclasses
import json
import math
import operator
import os
import re
import sys
import time
from json.scanner import make_scanner as _make_scanner
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Mapping, Sequence, cast

from .config import cache_dir, memo
from .errors import UsageError

try:  # hashlib's blake2b itself, without the OpenSSL bindings hashlib loads (~2 ms of show)
    from _blake2 import blake2b
except ImportError:  # pragma: no cover - an interpreter built without it
    from hashlib import blake2b
from .models import INTENTS, deferred_dataclass, to_iso, utcnow
from .store import TRIAGE_COLUMNS
from .store import triage as store_triage
from .triage import codec as _codec
from .triage import score as _score
from .triage.codec import SIGNALS_VERSION, decode_signals
from .triage.packs import load_packs
from .triage.score import (
    StoredSignalsError,
    TriageResult,
    TriageSettings,
    parse_duration,
    rescore_stored,
    score_rows,
)

if TYPE_CHECKING:
    import logging

    from .store import Store
    from .store.ingest import Scorer
    from .triage.learned import LearnedModel

__all__ = [
    "BATCH_SIZE",
    "DEFAULT_KIND_SLA",
    "KIND_SLA_KEYS",
    "care_settings",
    "TrainReport",
    "load_model",
    "maybe_retrain",
    "page_scorer",
    "read_labels",
    "rescore_open",
    "reset_model",
    "retriage_all",
    "text_fingerprint",
    "train_model",
    "triage_ids",
]


def _log() -> logging.Logger:
    """This module's logger; ``logging`` is imported when something is logged (``show``
    never logs, and the import cost its start-up ~2.5 ms; issue 18 item 7)."""
    import logging

    return logging.getLogger(__name__)


#: mentions read, scored and written per store round trip
BATCH_SIZE = 2000
#: ``triage --all`` commits its changed rows this many at a time (at least): each
#: commit writes every index page it dirtied, and the queue indexes' keys are random,
#: so a commit per 2,000 rows wrote most of those pages again and again
WRITE_BATCH = 10_000


#: mention kinds with an SLA of their own in ``[triage.sla]``, over the intent's
KIND_SLA_KEYS = ("dm",)
#: a private message is someone waiting in a chat: an hour, whatever its intent
DEFAULT_KIND_SLA: Mapping[str, float] = {"dm": 3600.0}


def care_settings(
    triage_table: Mapping[str, Any], brand_handles: Sequence[str], *,
    model: LearnedModel | None = None,
) -> TriageSettings:  # fmt: skip
    """``[triage]`` validated, with the per-kind SLA keys taken out of ``[triage.sla]``."""
    from .errors import ConfigError

    table = dict(triage_table) if isinstance(triage_table, Mapping) else triage_table
    kind_sla = dict(DEFAULT_KIND_SLA)
    sla = table.get("sla") if isinstance(table, dict) else None
    if isinstance(sla, Mapping):
        for kind in KIND_SLA_KEYS:
            if kind not in sla:
                continue
            raw = sla[kind]
            if raw is False or (isinstance(raw, str) and raw.strip().lower() in ("none", "off")):
                kind_sla.pop(kind, None)
                continue
            try:
                kind_sla[kind] = parse_duration(raw) if isinstance(raw, str) else float("nan")
            except ValueError:
                kind_sla[kind] = float("nan")
            if not kind_sla[kind] > 0:
                raise ConfigError(
                    f'triage.sla.{kind} must be a duration like "30m", "1h" or "2d", or "none"'
                )
        table["sla"] = {k: v for k, v in sla.items() if k not in KIND_SLA_KEYS}
    settings = TriageSettings.from_config(table, brand_handles, model=model)
    object.__setattr__(settings, "kind_sla", kind_sla)  # frozen, built once per run
    return settings


def _kind_sla_due(row: Mapping[str, Any], settings: TriageSettings, due: Any) -> Any:
    """The row's SLA due time: its kind's target where ``[triage.sla]`` sets one."""
    kind = row.get("kind")
    target = settings.kind_sla.get(kind) if isinstance(kind, str) else None
    created = row.get("created_ts")
    if target is None or not isinstance(created, int | float):
        return due
    return float(created) + target


def _repeat_counts(store: Store, rows: Sequence[Mapping[str, Any]]) -> list[int]:
    """Per row: earlier mentions by the same author still waiting (the brand's own posts: none).

    One query for the whole batch: a query per mention costs a round trip
    each, which on a PostgreSQL server across the network dominated ingest.
    """
    waiting = store.unanswered_before_many(
        [str(row["id"]) for row in rows if not row.get("is_own")]
    )
    return [0 if row.get("is_own") else waiting.get(str(row["id"]), 0) for row in rows]


def _read_counts(rows: Sequence[Mapping[str, Any]]) -> list[int]:
    """:func:`_repeat_counts` of rows read with ``iter_mentions(waiting=True)``."""
    return [0 if row.get("is_own") else int(row["_waiting"]) for row in rows]


def _triage_columns(
    rows: Sequence[Mapping[str, Any]], settings: TriageSettings, counts: Sequence[int]
) -> list[dict[str, Any]]:
    """The ``TRIAGE_COLUMNS`` of each row: its score, with the kind's SLA where one is set."""
    return _result_columns(rows, settings, score_rows(rows, settings, counts))


def _result_columns(
    rows: Sequence[Mapping[str, Any]], settings: TriageSettings, results: Sequence[TriageResult]
) -> list[dict[str, Any]]:
    """The ``TRIAGE_COLUMNS`` of scored rows (from text or from their stored signals)."""
    columns = []
    now = to_iso(utcnow())
    for row, r in zip(rows, results, strict=True):
        cols = r.columns(now)
        cols["sla_due_ts"] = _kind_sla_due(row, settings, cols.get("sla_due_ts"))
        columns.append(cols)
    return columns


def page_scorer(settings: TriageSettings) -> Scorer:
    """What ``poll`` hands the ingest to score each page before inserting it.

    The same columns :func:`triage_ids` would save after the insert, so a
    mention is written once with its triage instead of inserted, read back
    and updated (``store.ingest.ingest_mentions``), plus ``triage_fp`` as
    :func:`retriage_all` records it: the first ``triage --all`` after the poll
    rebuilds the row from its stored signals instead of scoring its text again.
    """
    fingerprint = _row_fingerprinter(text_fingerprint(settings))

    def score(rows: Sequence[Mapping[str, Any]], counts: Sequence[int]) -> list[Mapping[str, Any]]:
        columns = _triage_columns(rows, settings, counts)
        for row, cols in zip(rows, columns, strict=True):
            cols["triage_fp"] = fingerprint(row)
        return list(columns)

    return score


def _triage_batch(store: Store, rows: Sequence[Mapping[str, Any]], settings: TriageSettings) -> int:
    columns = _triage_columns(rows, settings, _repeat_counts(store, rows))
    store.save_triage([(str(row["id"]), cols) for row, cols in zip(rows, columns, strict=True)])
    return len(rows)


def triage_ids(store: Store, ids: Sequence[str], settings: TriageSettings) -> int:
    """Score the mentions with these ids and save their triage; returns how many.

    Safe inside an open ``store.transaction()`` (the poll's per-page one):
    ``save_triage`` joins it instead of committing on its own.
    """
    unique = list(dict.fromkeys(ids))
    done = 0
    for rows in store.iter_mentions(batch_size=BATCH_SIZE, ids=unique):
        done += _triage_batch(store, rows, settings)
    return done


#: what a re-score compares: a row whose columns all come out the same is not written
_COMPARED = tuple(c for c in TRIAGE_COLUMNS if c != "triaged_at")
#: the row's own inputs of the text-derived signals (sentiment, cues, direct address,
#: intent, stars, the learned line, which reads the reach): their hash is in ``triage_fp``
_TEXT_INPUTS = ("text", "language", "query", "raw", "rating", "author_followers")
#: a row's ``_TEXT_INPUTS``, in their order (KeyError where one is missing)
_text_inputs = operator.itemgetter(*_TEXT_INPUTS)
#: files whose contents the text-derived signals depend on, besides the settings
_TRIAGE_DIR = Path(__file__).resolve().parent / "triage"
_DISTRIBUTIONS = ("vaderSentiment", "py3langid")


def _code_fingerprint() -> bytes:
    """The scorer's code and data: ``socialcare/triage`` (domain packs included), the
    VADER lexicon and code, py3langid's version, and the signals codec version.

    Any upgrade that touches them changes every row's fingerprint, so the
    first ``triage --all`` after it scores every row from its text. Hashing them
    (~0.9 MB, and the versions' metadata) costs ``show`` ~3 ms of start-up, so the
    digest is memoised on disk (:func:`socialcare.config.memo`) while those files and
    the ``sys.path`` directories (an install or upgrade changes them) are unchanged.
    The memo is of the content hash itself: a team store's agents still agree on it.
    """
    files = _fingerprinted_files()
    watched: list[Path | str] = [*files, *(entry or "." for entry in sys.path)]
    return memo("code-fingerprint", watched, lambda: _hash_code(files), cache_dir())


def _fingerprinted_files() -> list[Path]:
    files = sorted(p for p in _TRIAGE_DIR.rglob("*") if p.is_file() and p.suffix != ".pyc")
    import vaderSentiment

    vader = Path(vaderSentiment.__file__).resolve().parent
    files += sorted(p for p in vader.iterdir() if p.suffix in (".py", ".txt"))
    return files


def _hash_code(files: Sequence[Path]) -> bytes:
    h = blake2b(digest_size=16)
    h.update(f"socialcare triage fingerprint 1; codec {SIGNALS_VERSION}\0".encode())
    for path in files:
        h.update(f"{path.name}\0".encode())
        h.update(path.read_bytes())
    for name in _DISTRIBUTIONS:
        h.update(f"{name}={_version(name)}\0".encode())
    return h.digest()


def _version(name: str) -> str:
    """``importlib.metadata.version(name)``, or ``?`` when it is not installed.

    A distribution installed the usual way (one ``.dist-info`` or ``.egg-info``
    directory in a ``sys.path`` directory) is read here directly: importing
    ``importlib.metadata`` (email, zipfile, csv) cost ``show`` ~20 ms of its
    start-up, for the fingerprint check of one row. Anything else goes to
    ``importlib.metadata`` itself (:func:`_listed_version` returns None).
    """
    version = _listed_version(name)
    if version is not None:
        return version
    import importlib.metadata

    try:
        return importlib.metadata.version(name)
    except importlib.metadata.PackageNotFoundError:
        return "?"


def _dist_name(name: str) -> str:
    """A project name as ``importlib.metadata`` compares them (``Prepared.normalize``)."""
    return re.sub(r"[-_.]+", "-", name).lower().replace("-", "_")


def _listed_version(name: str) -> str | None:
    """The first ``sys.path`` directory's metadata of ``name``, as ``importlib.metadata``
    searches them; None where it would look elsewhere or read something else."""
    from importlib.machinery import PathFinder

    if any(hasattr(f, "find_distributions") for f in sys.meta_path if f is not PathFinder):
        return None  # another finder lists distributions (it comes before the path's)
    wanted = _dist_name(name)
    for entry in sys.path:
        try:
            children = os.listdir(entry or ".")
        except OSError:
            if os.path.exists(entry):
                return None  # a zip file on the path: importlib.metadata reads inside it
            continue
        if os.path.basename(entry).lower().endswith(".egg"):
            return None  # an egg's own metadata: importlib.metadata reads those
        infos = []
        for child in children:
            low = child.lower()
            stem = low.rpartition(".")[0].partition("-")[0]
            if low.endswith((".dist-info", ".egg-info")) and _dist_name(stem) == wanted:
                infos.append(child)
        if len(infos) > 1:
            return None  # several: importlib.metadata takes the first it lists
        if infos:
            info = os.path.join(entry or ".", infos[0])
            return _header_version(info)
    return None


def _header_version(info: str) -> str | None:
    """The ``Version`` header of a metadata directory (``METADATA``, else ``PKG-INFO``)."""
    for file in ("METADATA", "PKG-INFO"):
        try:
            with open(os.path.join(info, file), encoding="utf-8") as f:
                text = f.read()
        except FileNotFoundError:
            continue
        except (OSError, UnicodeDecodeError):
            return None
        lines = text.split("\n")  # as the email parser splits them (newlines read as \n)
        for i, line in enumerate(lines):
            if not line:
                break  # the end of the headers
            key, colon, value = line.partition(":")
            if colon and key.lower() == "version":
                folded = i + 1 < len(lines) and lines[i + 1][:1] in (" ", "\t")
                return None if folded else value.lstrip(" \t")
        return None
    return None


def text_fingerprint(settings: TriageSettings) -> bytes:
    """Every setting the text-derived signals depend on, hashed (once per ``triage --all``).

    The brand's handles and names (removed before sentiment, and direct
    address), the urgency lexicon and the domain packs' words, the rules
    (weights too: their lines are kept as stored), the model (its bytes) and
    :func:`_code_fingerprint`. Weights, SLAs, the waiting term and the kinds'
    SLAs are not in it: those are what a re-score from stored signals applies.
    """
    pack = load_packs(settings.domains)
    rules = [
        (r.tag, r.weight.hex(), r.pattern.pattern if r.pattern else None,
         r.pattern.flags if r.pattern else 0, r.keywords)
        for r in settings.rules
    ]  # fmt: skip
    model = settings.model
    parts = (
        sorted(settings.brand),
        list(settings.brand_names),
        list(settings.lexicon),
        [list(pack.urgency), list(pack.problem), sorted(pack.context)],
        rules,
        None if model is None else blake2b(model.to_bytes()).hexdigest(),
    )
    h = blake2b(_code_fingerprint(), digest_size=16)
    h.update(repr(parts).encode("utf-8", "surrogatepass"))
    return h.digest()


def _row_fingerprint(key: bytes, row: Mapping[str, Any]) -> int:
    """``triage_fp`` of a row scored with settings of fingerprint ``key`` (a signed 64-bit int).

    ``repr`` of each input, NUL-separated: a str's repr escapes NUL, so two
    different rows never join to the same text.
    """
    digest = blake2b(_fingerprinted(row), digest_size=8, key=key)
    return int.from_bytes(digest.digest(), "big", signed=True)


def _fingerprinted(row: Mapping[str, Any]) -> bytes:
    """What :func:`_row_fingerprint` hashes of a row: its inputs' reprs, NUL-separated."""
    return "\0".join(map(repr, map(row.get, _TEXT_INPUTS))).encode("utf-8", "surrogatepass")


def _row_fingerprinter(key: bytes) -> Callable[[Mapping[str, Any]], int]:
    """:func:`_row_fingerprint` with ``key`` bound, for a page of rows: the keyed hash
    state is made once and copied per row (keying it hashes a key block each time)."""
    keyed = blake2b(digest_size=8, key=key)

    def fingerprint(row: Mapping[str, Any]) -> int:
        # _fingerprinted's text, from one C call and one f-string (~20% of the hash's cost)
        try:
            text, language, query, raw, rating, followers = _text_inputs(row)
        except KeyError:  # an input the row lacks is None, as _fingerprinted reads it
            text, language, query, raw, rating, followers = map(row.get, _TEXT_INPUTS)
        joined = f"{text!r}\0{language!r}\0{query!r}\0{raw!r}\0{rating!r}\0{followers!r}"
        h = keyed.copy()
        h.update(joined.encode("utf-8", "surrogatepass"))
        return int.from_bytes(h.digest(), "big", signed=True)

    return fingerprint


#: what a damaged stored payload raises in :func:`rescore_stored`
_UNREADABLE = (StoredSignalsError, ValueError, TypeError, IndexError, KeyError)


def _rescore_one(
    row: Mapping[str, Any], payload: Mapping[str, Any], settings: TriageSettings, count: int
) -> TriageResult | None:
    """One row from its stored signals, or None (then it is scored from its text)."""
    try:
        return rescore_stored([row], [payload], settings, [count])[0]
    except _UNREADABLE as exc:
        _log().debug(
            "scoring %s from its text: its stored signals do not read (%s)", row.get("id"), exc
        )
        return None


def _rescore_batch(
    rows: Sequence[Mapping[str, Any]],
    settings: TriageSettings,
    counts: Sequence[int],
    fps: Sequence[int] | None,
) -> list[dict[str, Any]]:
    """The batch's triage columns: from stored signals where the row's fingerprint still
    matches, from the text for the rest (the same columns either way)."""
    results: list[TriageResult | None] = [None] * len(rows)
    if fps is not None:
        same = [i for i, row in enumerate(rows) if row.get("triage_fp") == fps[i]]
        if same:
            payloads = [decode_signals(rows[i].get("signals")) for i in same]
            try:
                stored = rescore_stored(
                    [rows[i] for i in same], payloads, settings, [counts[i] for i in same]
                )
            except _UNREADABLE:  # one odd row: rebuild the others one by one
                for i, payload in zip(same, payloads, strict=True):
                    results[i] = _rescore_one(rows[i], payload, settings, counts[i])
            else:
                for i, result in zip(same, stored, strict=True):
                    results[i] = result
    todo = [i for i, r in enumerate(results) if r is None]
    if todo:
        fresh = score_rows([rows[i] for i in todo], settings, [counts[i] for i in todo])
        for i, result in zip(todo, fresh, strict=True):
            results[i] = result
    return _result_columns(rows, settings, cast("list[TriageResult]", results))


#: ``json.loads`` without its wrappers (the C scanner where there is one): (value, end)
_scan: Callable[[str, int], tuple[Any, int]] = _make_scanner(json.JSONDecoder())  # type: ignore[arg-type]
#: a str as the codec's encoder writes it (``ensure_ascii=False``: the same function)
_json_str: Callable[[str], str] = json.encoder.encode_basestring
#: a JSON int that ``_number(float(v))`` gives back as it is (floats are exact below 2**53)
_EXACT_INT = 2**53
#: the types of a JSON number
_NUMBER = (int, float)
#: what a stored line is to the restamp: kept (today's weight), the intent, reach, repeat
_KEPT, _INTENT, _REACH, _REPEAT = range(4)
#: a stored line read: (kind, its text as written today, its contribution, its rule tag
#: or the intent, whether it is the learned line, the (language, source) it was read in
#: when its template reads them, else None); reach and repeat are rebuilt per row
_Line = tuple[int, str, float, str | None, bool, tuple[str, str] | None]
#: a row's lines before its reach line, read: (their texts as written today, joined; their
#: contributions; rule tags; whether one is the learned line; the intent; the (language,
#: source) they were read in when one's template reads them, else None)
_Run = tuple[str, tuple[float, ...], tuple[str, ...], bool, str, tuple[str, str] | None]
_REACH_LINE: _Line = (_REACH, "", 0.0, None, False, None)
_REPEAT_LINE: _Line = (_REPEAT, "", 0.0, None, False, None)
#: entries a restamp memo holds before it starts again (bounded memory on any store)
_MEMO_SIZE = 50_000


def _json_number(value: float) -> str:
    """A number as the JSON encoder writes it: its repr (NaN and infinities as JSON spells them)."""
    return repr(value) if type(value) is int or math.isfinite(value) else _codec._ENCODE(value)


class _Restamper:
    """:func:`rescore_stored` then ``encode_signals``, on the stored compact signals directly.

    A row whose fingerprint is current is rebuilt from its ``signals`` text
    (codec version 2) without the version-1 shape in between: the text lines
    get today's weights, reach and repeat are built again (as
    :func:`rescore_stored` builds them, with its helpers), and the new column
    text is the codec's own encoder's output for the same parts. The columns
    are the same, bit for bit, as the reference path's (a property test
    compares them); anything this does not know (version 1 JSON, an unknown
    line, odd types, JSON not written by the codec's encoder) returns None and
    takes the reference path, which then decides as before.

    Why it is fast (issue 25: the first ``triage --all`` after a poll rebuilds every
    row): most stored lines recur (the intent, "no urgency", the usual sentiment
    lines), so each line's text is read, re-weighted and encoded once per run and
    memoised by its stored text; a row is then split at its lines' ends and its new
    text joined from the memo's, without decoding or encoding the whole payload.
    A memo hit is exact: a key is a whole JSON value, so text that starts with it
    scans to the same value (and ends where it does) whatever follows. The lines
    before the reach line (the intent, sentiment, urgency, direct address) also
    recur together: their text is memoised as one run too, so a row whose run an
    earlier row had is one look-up, then its reach and repeat lines (100k polled
    demo rows hold 1,253 runs; 20k of them: -6.4% instructions of the first run).
    After a run, a reach line as today writes it and then the repeat line, the last,
    are checked as two texts (:meth:`_tail`) instead of read line by line (-2.3%).
    """

    def __init__(self, settings: TriageSettings) -> None:
        w = settings.weights
        self.settings = settings
        #: the text-derived lines, kept with today's weight: code -> (name, weight)
        self.kept = {
            "s": ("sentiment", w.sentiment),
            "u": ("urgency", w.urgency),
            "d": ("direct", w.direct),
            "t": ("rating", w.rating),
            "l": ("learned", w.learned),
        }
        self.kept_weight = {code: _codec._number(weight) for code, (_, weight) in self.kept.items()}
        self.by_name = {name: code for code, (name, _) in self.kept.items()}
        #: code -> (weight, the weight as encoded, the usual token: left out when it is that)
        self.lines = {
            code: (weight, self.kept_weight[code], _codec._USUAL.get(code))
            for code, (_, weight) in self.kept.items()
        }
        self.model = settings.model is not None
        self.w_reach = w.reach
        self.reach_weight = _codec._number(w.reach)
        self._reach_weight_text = _codec._ENCODE(self.reach_weight)
        #: a stored line's text -> what it is today (:meth:`_line`)
        self._lines: dict[str, _Line] = {}
        #: a header's text (through the tags) -> (language, source, both as JSON)
        self._heads: dict[str, tuple[str, str, str]] = {}
        self._intent: dict[str, tuple[str, float]] = {}
        self._repeat: dict[tuple[int, str], tuple[str, float]] = {}
        #: the text of a row's lines before its reach line -> what they are today (_Run)
        self._runs: dict[str, _Run] = {}

    @staticmethod
    def _encoded(part: Any, language: str, source: str, count: int) -> list[Any]:
        """One part as ``encode_signals`` writes it (its own output, read back)."""
        text = _codec.encode_signals(
            [part], tags=(), language=language, language_source=source, repeat_count=count
        )
        return cast("list[Any]", json.loads(text)[_codec._HEADER])

    def columns(self, row: Mapping[str, Any], count: int) -> dict[str, Any] | None:
        """The row's ``TRIAGE_COLUMNS`` but ``triaged_at``, or None (the reference decides)."""
        text = row.get("signals")
        if type(text) is not str or not text.startswith("[2,") or type(count) is not int:
            return None
        head = self._head(text)
        if head is None:
            return None
        rebuilt = self._lines_of(text, row, count, *head)
        if rebuilt is None:
            return None
        signals, static_score, intent = rebuilt
        compound = row.get("sentiment_compound")
        settings = self.settings
        target = settings.sla_seconds.get(intent)
        created = _score._created_ts(row) if target is not None else None
        due = None if created is None or target is None else created + target
        return {
            "sentiment_compound": compound,
            "sentiment_pos": row.get("sentiment_pos"),
            "sentiment_neu": row.get("sentiment_neu"),
            "sentiment_neg": row.get("sentiment_neg"),
            "sentiment_scored": 0 if compound is None else 1,
            "intent": intent,
            "static_score": static_score,
            "signals": signals,
            "sla_due_ts": _kind_sla_due(row, settings, due),
        }

    def _head(self, text: str) -> tuple[int, str, str, str] | None:
        """Where the first line starts, the language and source, or None: not the codec's."""
        k = text.find(',["', 3)  # right after the tags when they are [] (memoised then)
        got = self._heads.get(text[:k]) if k > 0 else None
        if got is not None:
            return (k + 1, *got)
        values = []
        try:
            _, i = _scan(text, 3)  # the stored repeat count: today's replaces it
            for _ in range(3):  # language, source, tags
                if text[i] != ",":
                    return None
                value, i = _scan(text, i + 1)
                values.append(value)
            if text[i] != ",":
                return None
        except (StopIteration, ValueError, IndexError):
            return None
        language, source, tags = values
        if type(language) is not str or type(source) is not str or type(tags) is not list:
            return None
        if len(self._heads) >= _MEMO_SIZE:
            self._heads.clear()
        got = self._heads[text[:i]] = (
            language,
            source,
            f"{_json_str(language)},{_json_str(source)}",
        )
        return (i + 1, *got)

    def _lines_of(
        self,
        text: str,
        row: Mapping[str, Any],
        count: int,
        start: int,
        language: str,
        source: str,
        both: str,
    ) -> tuple[str, float, str] | None:
        """The new signals text, static score and intent from the stored lines from
        ``start`` on (the first is the intent's), or None."""
        memo = self._lines
        context = (language, source)
        followers = row.get("author_followers")
        # the lines before the reach line recur together (intent, sentiment, urgency,
        # direct): one look-up for all of them where an earlier row had the same text
        cut = text.find(',["r",', start)
        run = self._runs.get(text[start:cut]) if cut > 0 else None
        texts: list[str]
        contributions: list[float]
        rules: list[str]
        n = len(text)
        if run is not None and (run[5] is None or run[5] == context):
            joined, kept, tagged, learned, intent, _ = run
            texts, contributions, rules = [joined], list(kept), list(tagged)
            first, start, cut = start, cut + 1, -1
            tail = self._tail(text, start, followers, context, count, intent)
            if tail is not None:  # the usual end: today's reach line, then the repeat line
                texts += tail[0]
                contributions += tail[1]
        else:
            tail = None
            texts, contributions, rules = [], [], []
            learned, intent, first = False, "", start
        plain = True  # no line so far depends on the row (reach, repeat)
        read_in: tuple[str, str] | None = None  # the context a line so far was read in
        reach: tuple[str, float] | None = None  # the row's reach line today, once made
        while tail is None:
            end = text.find("]", start) + 1
            key = text[start:end] if end else ""
            line = memo.get(key)
            if line is None or (line[5] is not None and line[5] != context):
                if key.startswith('["r",'):
                    reach = self._reach_line(followers, *context, count)
                if reach is not None and key == reach[0]:
                    line = _REACH_LINE  # today's reach line, as written: no need to read it
                else:
                    got = self._read_line(text, start, context)
                    if got is None:
                        return None
                    line, end = got
            kind, line_text, contribution, tag, is_learned, line_context = line
            if (kind == _INTENT) != (not texts):
                return None  # the intent's line first, and only there
            if kind == _KEPT:
                if tag is not None:
                    rules.append(tag)
                learned = learned or is_learned
                if line_context is not None:
                    read_in = context
            elif kind == _REACH:
                if reach is None:
                    reach = self._reach_line(followers, *context, count)
                line_text, contribution = reach
                plain = False
            elif kind == _REPEAT:
                line_text, contribution = self._repeat_line(count, intent)
                plain = False
            else:
                intent = cast(str, tag)
            texts.append(line_text)
            contributions.append(contribution)
            if end >= n:
                return None
            if text[end] != ",":
                if text[end] != "]" or end + 1 != n:
                    return None
                break
            if end == cut and plain:
                self._remember_run(
                    text[first:cut], texts, contributions, rules, learned, intent, read_in
                )
            start = end + 1
        if learned != self.model:
            return None
        tags = _codec._ENCODE(list(dict.fromkeys(rules))) if rules else "[]"
        signals = f"[{SIGNALS_VERSION},{count},{both},{tags},{','.join(texts)}]"
        return signals, sum(contributions), intent

    def _tail(
        self,
        text: str,
        start: int,
        followers: Any,
        context: tuple[str, str],
        count: int,
        intent: str,
    ) -> tuple[tuple[str, str], tuple[float, float]] | None:
        """The lines from ``start`` on when they are the row's reach line as today writes it
        and then a repeat line, the last: both lines' texts and contributions today, as the
        line-by-line loop makes them; else None (the loop reads them)."""
        end = text.find("]", start) + 1
        reach = self._reach_line(followers, *context, count)
        if text[start:end] != reach[0] or text[end : end + 1] != "," or text[-1] != "]":
            return None
        if self._lines.get(text[end + 1 : -1]) is not _REPEAT_LINE:  # a whole line, then
            return None
        repeat = self._repeat_line(count, intent)
        return (reach[0], repeat[0]), (reach[1], repeat[1])

    def _remember_run(
        self,
        key: str,
        texts: list[str],
        contributions: list[float],
        rules: list[str],
        learned: bool,
        intent: str,
        read_in: tuple[str, str] | None,
    ) -> None:
        """Memoise the lines of ``key``, whole lines that end where a reach line starts.

        Exact for any row whose text holds ``key`` at its first line: each line in it is a
        whole JSON value, read the same whatever follows, and its contributions are kept
        one by one, so the row's score sums the same numbers in the same order."""
        if len(self._runs) >= _MEMO_SIZE:
            self._runs.clear()
        run = (",".join(texts), tuple(contributions), tuple(rules), learned, intent, read_in)
        self._runs[key] = run

    def _read_line(
        self, text: str, start: int, context: tuple[str, str]
    ) -> tuple[_Line, int] | None:
        """The line at ``start`` read and memoised by its text (reach lines excepted: one per
        follower count, few recur), with where it ends; None where it is not one we know."""
        try:
            part, end = _scan(text, start)
        except (StopIteration, ValueError):
            return None
        line = self._line(part, *context)
        if line is None:
            return None
        if line[0] != _REACH:
            if len(self._lines) >= _MEMO_SIZE:
                self._lines.clear()
            self._lines[text[start:end]] = line
        return line, end

    def _line(self, part: Any, language: str, source: str) -> _Line | None:
        """One stored line as today's settings write it (reach and repeat: per row), or None."""
        if (
            type(part) is not list
            or len(part) < 3
            or type(part[1]) not in _NUMBER
            or type(part[2]) not in _NUMBER
        ):  # decode reads bools as numbers too: the reference decides those
            return None
        code, v = part[0], part[1]
        if type(code) is not str:
            return None
        number = _codec._number
        # _number(float(v)), which the reference writes, without the call where it is v
        if type(v) is float:
            value = v if not v.is_integer() else number(v)
        else:
            value = v if -_EXACT_INT < v < _EXACT_INT else number(float(v))
        known = self.lines.get(code)
        if known is not None:  # a text line in its compact form: today's weight
            weight, encoded, usual = known
            if len(part) > 3:
                token = part[3]
                if type(token) is not str:
                    return None
                line = [code, value, encoded] if token == usual else [code, value, encoded, token]
            elif usual is None:  # decoded as the token "", which has no usual
                line = [code, value, encoded, ""]
            else:
                line = [code, value, encoded]
            return (_KEPT, _codec._ENCODE(line), float(v) * weight, None, code == "l", None)
        if code in self.by_name:  # one kept in full (its detail fits no template)
            detail = part[3] if len(part) > 3 else ""
            if type(detail) is not str:
                return None
            short = self.by_name[code]
            weight, encoded, usual = self.lines[short]
            # encode_signals' template check, as it makes it for this line (these codes'
            # templates read the language and source, never the repeat count)
            prefix, suffix = _codec._template(short, 0, language, source)
            end = len(detail) - len(suffix)
            if detail.startswith(prefix) and detail.endswith(suffix) and end >= len(prefix):
                token = detail[len(prefix) : end]
                line = [short, value, encoded] if token == usual else [short, value, encoded, token]
            else:
                line = [code, value, encoded, detail]
            text = _codec._ENCODE(line)
            return (_KEPT, text, float(v) * weight, None, code == "learned", (language, source))
        if code == "r" or code == "reach":
            return _REACH_LINE
        if code == "p" or code == "repeat":
            return _REPEAT_LINE
        if code.startswith("rule:") and code not in _codec._NAMES:
            detail = part[3] if len(part) > 3 else ""
            if type(detail) is not str:
                return None
            weight = float(part[2])
            text = _codec._ENCODE([code, value, number(weight), detail])
            return (_KEPT, text, float(v) * weight, code[5:], False, None)
        if _codec._NAMES.get(code, code) == "intent" and len(part) > 3:
            intent = part[3]
            if type(intent) is not str or intent not in self.settings.fixed_parts:
                return None
            if intent not in INTENTS:
                return None
            text, contribution = self._intent_line(intent)
            return (_INTENT, text, contribution, intent, False, None)
        return None

    def _intent_line(self, intent: str) -> tuple[str, float]:
        got = self._intent.get(intent)
        if got is None:
            part = self.settings.fixed_parts[intent]
            text = _codec._ENCODE(self._encoded(part, "", "", 0))
            got = self._intent[intent] = (text, part.contribution)
        return got

    def _repeat_line(self, count: int, intent: str) -> tuple[str, float]:
        key = (count, intent)
        got = self._repeat.get(key)
        if got is None:
            answered = intent in _score.ANSWERED_INTENTS
            part = _score._repeat_part(count, self.settings, answered, intent)
            if len(self._repeat) >= _MEMO_SIZE:
                self._repeat.clear()
            text = _codec._ENCODE(self._encoded(part, "", "", count))
            got = self._repeat[key] = (text, part.contribution)
        return got

    def _reach_line(
        self, followers: Any, language: str, source: str, count: int
    ) -> tuple[str, float]:
        """The row's reach line today: its text and contribution."""
        if type(followers) is int:
            # the usual: _reach_part's line through the codec's reach template, without the
            # line in between (few follower counts recur, so a memo of them seldom paid)
            value = _codec.reach(followers)
            text = f'["r",{_json_number(_codec._number(value))},{self._reach_weight_text},'
            return f'{text}"{followers or 0}"]', value * self.w_reach
        line = _score._reach_part(followers, self.w_reach)
        detail = line.detail
        if detail.endswith(" followers"):  # the codec's reach template
            number = _json_number(_codec._number(line.value))
            token = _json_str(detail[:-10])
            return f'["r",{number},{self._reach_weight_text},{token}]', line.contribution
        return _codec._ENCODE(self._encoded(line, language, source, count)), line.contribution


def _restamp(stamper: _Restamper, row: Mapping[str, Any], count: int) -> dict[str, Any] | None:
    """``stamper.columns(row, count)``, or None where the reference path must decide
    (including a stored value it cannot use, which that path scores from the text)."""
    try:
        return stamper.columns(row, count)
    except _UNREADABLE:
        return None


def retriage_all(
    store: Store,
    settings: TriageSettings,
    progress: Callable[[int], None] | None = None,
    *,
    reuse: bool = True,
) -> int:
    """Re-score every stored mention in batches; ``progress(n)`` after each batch of n.

    Reads only what scoring needs (not ``raw`` JSON and the rest of each row)
    and writes, in batched UPDATEs, only the columns that changed: re-scoring
    after a small ``[triage]`` edit rewrites the mentions it moved, not the
    whole store. Each row records ``triage_fp`` (:func:`_row_fingerprint`), so
    the next run, after a weight, SLA or age edit, rebuilds a row whose text
    inputs are unchanged from its stored signals (:func:`rescore_stored`)
    instead of running sentiment and the cue matcher again; ``reuse=False``
    scores every row from its text (the reference the property test compares
    with). Returns how many were scored.
    """
    with store.dialect.bulk_writes(store.conn):  # checkpoints seldom (SQLite)
        return _retriage_all(store, settings, progress, reuse)


def _retriage_all(
    store: Store,
    settings: TriageSettings,
    progress: Callable[[int], None] | None,
    reuse: bool,
) -> int:
    fingerprint = _row_fingerprinter(text_fingerprint(settings))
    stamper = _Restamper(settings) if reuse else None
    done = 0
    pending: list[tuple[int, dict[str, Any]]] = []
    batches = store.iter_mentions(batch_size=BATCH_SIZE, columns=store.TRIAGE_READ, waiting=True)
    for rows in batches:
        fps = list(map(fingerprint, rows))
        counts = _read_counts(rows)
        columns: list[dict[str, Any] | None] = [None] * len(rows)
        if stamper is not None:
            for i, row in enumerate(rows):
                if row.get("triage_fp") == fps[i]:
                    columns[i] = _restamp(stamper, row, counts[i])
        todo = [i for i, cols in enumerate(columns) if cols is None]
        if todo:
            rest = _rescore_batch(
                [rows[i] for i in todo],
                settings,
                [counts[i] for i in todo],
                [fps[i] for i in todo] if reuse else None,
            )
            for i, cols in zip(todo, rest, strict=True):
                columns[i] = cols
        now = to_iso(utcnow())
        for row, cols, fp in zip(rows, cast("list[dict[str, Any]]", columns), fps, strict=True):
            changed = {c: cols[c] for c in _COMPARED if row.get(c) != cols.get(c)}
            if changed:
                changed["triaged_at"] = cols.get("triaged_at", now)
            if row.get("triage_fp") != fp:
                changed["triage_fp"] = fp
            if changed:
                pending.append((row["_rowid"], changed))
        if len(pending) >= WRITE_BATCH:
            store_triage.save_rescored(store, pending)
            pending = []
        done += len(rows)
        if progress is not None:
            progress(len(rows))
    store_triage.save_rescored(store, pending)
    return done


# -- the learned model ---------------------------------------------------------------
_LABEL_VALUES = {"answer": True, "1": True, "no_answer": False, "0": False}


def _label(value: Any, where: str) -> bool:
    text = str(value).strip().lower() if not isinstance(value, bool) else str(int(value))
    if text not in _LABEL_VALUES:
        raise UsageError(f"{where}: label must be answer, no_answer, 1 or 0, got {value!r}")
    return _LABEL_VALUES[text]


def _jsonl_labels(lines: list[str], name: str) -> dict[str, bool]:
    out: dict[str, bool] = {}
    for n, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            item = json.loads(line)
        except ValueError:
            raise UsageError(f"{name}:{n}: not a JSON object with id and label") from None
        if not isinstance(item, dict) or "id" not in item or "label" not in item:
            raise UsageError(f"{name}:{n}: not a JSON object with id and label")
        out[str(item["id"]).strip()] = _label(item["label"], f"{name}:{n}")
    return out


def _csv_labels(lines: list[str], name: str) -> dict[str, bool]:
    out: dict[str, bool] = {}
    id_col, label_col = 0, 1
    import csv

    for n, cells in enumerate(csv.reader(lines), start=1):
        if not cells or not any(c.strip() for c in cells):
            continue
        low = [c.strip().lower() for c in cells]
        if n == 1 and "id" in low and "label" in low:
            id_col, label_col = low.index("id"), low.index("label")
            continue
        if len(cells) <= max(id_col, label_col) or not cells[id_col].strip():
            raise UsageError(f"{name}:{n}: expected id,label, got {','.join(cells)!r}")
        out[cells[id_col].strip()] = _label(cells[label_col], f"{name}:{n}")
    return out


def read_labels(path: str | Path) -> dict[str, bool]:
    """A labels file (CSV or JSONL of ``id,label``) as ``{mention id: needs an answer}``.

    CSV may start with an ``id,label`` header; JSONL lines are ``{"id": ..., "label": ...}``.
    Labels are ``answer``/``no_answer`` or ``1``/``0``; a later line for an id wins.
    Anything malformed is one UsageError naming the file and line.
    """
    p = Path(path).expanduser()
    try:
        text = p.read_text(encoding="utf-8-sig")
    except OSError as exc:
        raise UsageError(f"cannot read labels file {p}: {exc.strerror}") from None
    except UnicodeDecodeError:
        raise UsageError(f"labels file {p} is not UTF-8 text") from None
    lines = text.splitlines()
    first = next((line.lstrip() for line in lines if line.strip()), "")
    if p.suffix.lower() in (".jsonl", ".ndjson") or first.startswith("{"):
        labels = _jsonl_labels(lines, p.name)
    else:
        labels = _csv_labels(lines, p.name)
    if not labels:
        raise UsageError(f"labels file {p} holds no labels (expected lines of id,label)")
    return labels


@deferred_dataclass  # made by `triage train` only
class TrainReport:
    """What ``triage train`` did: the labels it used, the model (if any), what it re-scored."""

    answer: int = 0
    no_answer: int = 0
    from_store: int = 0
    from_file: int = 0
    unknown_ids: int = 0
    model: LearnedModel | None = None
    model_id: int | None = None
    #: why no model was trained (too few labels, one class only); "" when trained
    refused: str = ""
    seconds: float = 0.0
    rescored: int = 0

    @property
    def trained(self) -> bool:
        """A new model is stored and in use."""
        return self.model is not None


def load_model(store: Store) -> LearnedModel | None:
    """The active model, parsed once (callers keep it for the whole run); None if none.

    A model this socialcare cannot read is logged and skipped: scoring then
    falls back to the zero-label score instead of stopping every poll.
    """
    row = store_triage.active_model(store)
    if row is None:
        return None
    from .triage.learned import LearnedModel

    try:
        return LearnedModel.from_bytes(str(row["model"]).encode("utf-8"))
    except UsageError as exc:
        _log().warning("%s; scoring without it", exc)
        return None


def _examples(
    rows: Sequence[Mapping[str, Any]], labels: Sequence[bool], settings: TriageSettings
) -> list[tuple[str, Any, bool]]:
    """Training examples scored afresh with the zero-label settings (as scoring will see them)."""
    results = score_rows(rows, settings)
    return [
        (str(row.get("text") or ""), res.signals, label)
        for row, res, label in zip(rows, results, labels, strict=True)
    ]


def train_model(
    store: Store,
    settings: TriageSettings,
    *,
    file_labels: Mapping[str, bool] | None = None,
    min_labels: int | None = None,
) -> TrainReport:
    """Train on the store's history plus ``file_labels``, store the model, re-score open mentions.

    A file's label wins over the store's for the same mention. With too few
    labels (or one class only) nothing changes and ``refused`` says why.
    """
    started = time.perf_counter()
    zero = dataclasses.replace(settings, model=None)
    labelled = {str(r["id"]): r for r in store_triage.labelled_mentions(store)}
    labels = {mid: bool(r["label"]) for mid, r in labelled.items()}
    report = TrainReport(from_store=len(labels))
    if file_labels:
        known = {
            str(r["id"]): r for r in store_triage.mentions_for_labels(store, list(file_labels))
        }
        report.unknown_ids = len(set(file_labels) - set(known))
        report.from_file = len(known)
        labelled.update(known)
        labels.update({mid: v for mid, v in file_labels.items() if mid in known})
    ids = sorted(labels)
    report.answer = sum(labels[i] for i in ids)
    report.no_answer = len(ids) - report.answer
    examples = _examples([labelled[i] for i in ids], [labels[i] for i in ids], zero)
    from .triage.learned import train

    try:
        model = train(examples, min_labels=min_labels or settings.min_labels)
    except UsageError as exc:
        report.refused = str(exc)
        report.seconds = time.perf_counter() - started
        return report
    report.model = model
    report.model_id = store_triage.save_model(
        store,
        model=model.to_bytes().decode("utf-8"),
        created_at=model.trained_at,
        labels_answer=model.positives,
        labels_no_answer=model.negatives,
        cv_auc=model.cv_auc,
        store_labels=report.from_store,
    )
    report.rescored = rescore_open(store, dataclasses.replace(settings, model=model))
    report.seconds = time.perf_counter() - started
    return report


def reset_model(store: Store, settings: TriageSettings) -> tuple[int, int]:
    """Back to the zero-label score: (models switched off, open mentions re-scored)."""
    off = store_triage.deactivate_models(store)
    return off, rescore_open(store, dataclasses.replace(settings, model=None))


def rescore_open(store: Store, settings: TriageSettings) -> int:
    """Re-score every open mention with ``settings`` (after the model changed)."""
    return triage_ids(store, store_triage.open_mention_ids(store), settings)


def maybe_retrain(store: Store, settings: TriageSettings) -> TrainReport | None:
    """``[triage] retrain_every``: retrain once that many new labels are in the store.

    Only while a model is active (``--reset`` is never undone by itself).
    Training runs outside any transaction; the new model is stored in one
    (:func:`store_triage.save_model`), so a crash leaves the old model whole.
    """
    if settings.retrain_every <= 0:
        return None
    row = store_triage.active_model(store)
    if row is None:
        return None
    new = store_triage.store_label_count(store) - int(row["store_labels"] or 0)
    if new < settings.retrain_every:
        return None
    report = train_model(store, settings)
    if report.trained:
        _log().info("retrained the triage model on %s new labels", new)
    return report
