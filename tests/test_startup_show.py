"""Start-up of ``show``/``explain`` of a row whose fingerprint is current (issue 18 item 7):
explained from its stored signals, it reads the domain packs without importlib.resources
and compiles none of the sentiment module's regexes, builds no cue matcher and loads no
language detector. Each check runs in a fresh interpreter."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from tests.test_startup import _demo_home, _modules, last_json

pytestmark = pytest.mark.store_free

#: what such a ``show`` does without: the learned model's code and the language detector
#: with numpy, and logging (nothing is logged). (importlib.resources is not in the list: on
#: a machine whose zone is found through tzdata, zoneinfo imports it; the packs do not, see
#: below.)
NOT_IN_A_CURRENT_SHOW = ("socialcare.triage.learned", "py3langid", "numpy", "logging")

_PROBE = """
import gc, json, sys
import socialcare.cli
try:
    socialcare.cli.app({argv!r}, prog_name='socialcare')
except SystemExit as exc:
    assert not exc.code, exc.code
from socialcare.triage import sentiment, signals
from socialcare.models import _OnFirstUse
print(json.dumps({{
    "modules": sorted(sys.modules),
    "sentiment_built": sorted(
        n for n in ("_NOISE", "_WORD", "_HANDLE", "_URL", "_SLANG_PHRASES", "_WORD_RUN",
                    "_SLANG_WORD", "_SLANG_PHRASE_STEM", "_SLANG_SUBSTRING", "_CAPITALISED")
        if not isinstance(vars(sentiment)[n], _OnFirstUse)
    ),
    "analyzer": sentiment._analyzer.cache_info().currsize,
    "matchers": sum(isinstance(o, signals.TermMatcher) for o in gc.get_objects()),
}}))
"""


def _probe(argv: list[str], home: Path) -> dict[str, object]:
    result: dict[str, object] = last_json(_PROBE.format(argv=argv), home)
    return result


@pytest.fixture(scope="module")
def demo_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A demo home after ``poll``, which writes every row's current fingerprint."""
    return _demo_home(tmp_path_factory.mktemp("demo"))


@pytest.mark.parametrize(
    "argv",
    [
        ["show", "demo:1001"],
        ["show", "demo:1001", "--json"],
        ["show", "demo:1007"],  # its language was detected by the scorer
        ["explain", "demo:1007"],
    ],
)
def test_show_of_a_current_row_loads_and_builds_none_of_the_scorers_text_tools(
    demo_home: Path, argv: list[str]
) -> None:
    probe = _probe(argv, demo_home)
    modules = probe["modules"]
    assert isinstance(modules, list)
    assert [m for m in modules if m.startswith(NOT_IN_A_CURRENT_SHOW)] == []
    assert "socialcare.triage.score" in modules  # it did explain the row
    assert probe["sentiment_built"] == []
    assert probe["analyzer"] == 0 and probe["matchers"] == 0


def test_show_of_a_row_scored_from_its_text_builds_them(tmp_path: Path) -> None:
    """The guard above can fail: without a fingerprint ``show`` scores the text, which
    compiles the sentiment regexes and builds the analyser and the cue matcher."""
    home = _demo_home(tmp_path)
    with sqlite3.connect(home / "socialcare.db") as db:
        db.execute("UPDATE mentions SET triage_fp = NULL")
    probe = _probe(["show", "demo:1001"], home)
    assert probe["sentiment_built"] and probe["analyzer"] == 1 and probe["matchers"] >= 1


def test_sentiment_values_built_on_first_use_are_the_eager_ones(tmp_path: Path) -> None:
    """Each of sentiment's first-use regexes names its own global, and its first use leaves
    the global the pattern itself, equal to compiling its arguments."""
    probe = (
        "import re\n"
        "from socialcare.triage import sentiment\n"
        "from socialcare.models import _OnFirstUse\n"
        "lazy = {n: v for n, v in vars(sentiment).items() if isinstance(v, _OnFirstUse)}\n"
        "assert len(lazy) == 10 and '_URL' in lazy, sorted(lazy)\n"
        "for name, value in lazy.items():\n"
        "    assert value._name == name and value._namespace is vars(sentiment), name\n"
        "    value.pattern\n"
        "    built = vars(sentiment)[name]\n"
        "    assert isinstance(built, re.Pattern), name\n"
        "    assert built == re.compile(*value._args), name\n"
        "    assert getattr(value, 'pattern') == built.pattern\n"
        "print('ok')\n"
    )
    assert _modules(probe, tmp_path)  # runs it (asserting) in a fresh interpreter


def test_text_for_sentiment_is_the_same_before_and_after_its_regexes_are_built(
    tmp_path: Path,
) -> None:
    """The first call (through the first-use values) and later calls (the patterns
    themselves) give the same text, in a fresh interpreter."""
    probe = (
        "from socialcare.triage import sentiment as s\n"
        "texts = ['@AcmeHelp bloody brilliant https://x.co/a killed it', 'Bloody Mary ok',\n"
        "         'www.x.com #wicked service', 'het is in orde', 'why is my bill so high']\n"
        "first = [s.text_for_sentiment(t) for t in texts] + [s.decide_language(t) for t in texts]\n"
        "again = [s.text_for_sentiment(t) for t in texts] + [s.decide_language(t) for t in texts]\n"
        "assert first == again, (first, again)\n"
        "print('ok')\n"
    )
    assert _modules(probe, tmp_path)


def test_builtin_packs_read_as_files_are_what_importlib_resources_reads(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """The packs are read beside their module; where that is no directory (a zipped
    package) importlib.resources reads them, to the same pack."""
    from importlib import resources

    from socialcare.triage import packs

    for name in packs.BUILTIN_DOMAINS:
        text = resources.files("socialcare.triage").joinpath("domains", f"{name}.txt")
        assert packs._builtin(name) == packs.parse_pack(text.read_text("utf-8"), name)
    direct = [packs._builtin(n) for n in packs.BUILTIN_DOMAINS]
    packs._builtin.cache_clear()
    monkeypatch.setattr(packs, "_DOMAINS_DIR", tmp_path / "not-a-dir" / "domains")
    try:
        assert [packs._builtin(n) for n in packs.BUILTIN_DOMAINS] == direct
    finally:
        packs._builtin.cache_clear()


def test_the_builtin_packs_load_without_importlib_resources(tmp_path: Path) -> None:
    probe = (
        "import sys\n"
        "from socialcare.triage import packs\n"
        "packs.load_packs(packs.BUILTIN_DOMAINS)\n"
        "from socialcare.triage.score import TriageSettings\n"
        "TriageSettings()\n"
    )
    loaded = _modules(probe, tmp_path)
    assert [m for m in loaded if m.startswith(("importlib.resources", "importlib.readers"))] == []


def test_reading_stored_signals_needs_no_scorer(tmp_path: Path) -> None:
    """The codec (routing reads signals with it) imports no other triage module, and
    ``PASSING`` has one definition."""
    loaded = _modules("import socialcare.triage.codec", tmp_path)
    assert [m for m in loaded if m.startswith("socialcare.triage.")] == ["socialcare.triage.codec"]
    from socialcare.triage import codec, signals

    assert signals.PASSING is codec.PASSING
    assert signals.direct_address("nothing here", None, frozenset()) == (0.0, codec.PASSING)
