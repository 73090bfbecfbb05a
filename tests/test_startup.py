"""Start-up: the CLI loads platform clients, numpy, the adapters, KB and report code only
when a command needs them (issue 18 item 7). Each check runs in a fresh interpreter."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

pytestmark = pytest.mark.store_free

#: module prefixes no start-up may load: platform clients, numerics, language
#: detection, the adapters, and the knowledge base and report code
HEAVY = (
    "tweepy",
    "praw",
    "prawcore",
    "numpy",
    "sklearn",
    "pandas",
    "feedparser",
    "py3langid",
    "google.auth",
    "google.oauth2",
    "jwt",
    "markdown_it",
    "socialcare.sources.",
    "socialcare.kb",
    "socialcare.reports",
)

_PROBE = """
import json, sys
{body}
print(json.dumps(sorted(sys.modules)))
"""


def last_json(code: str, home: Path) -> Any:
    """The JSON of the last line ``code`` prints in a fresh interpreter (home ``home``)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("SOCIALCARE_")}
    env["SOCIALCARE_HOME"] = str(home)
    out = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True
    ).stdout
    return json.loads(out.strip().splitlines()[-1])


def _modules(body: str, home: Path) -> list[str]:
    """Every module a fresh interpreter has loaded after running ``body``."""
    modules: list[str] = last_json(_PROBE.format(body=body), home)
    return modules


def _loaded(body: str, home: Path) -> list[str]:
    """The heavy modules among those ``body`` loads."""
    return [m for m in _modules(body, home) if m == "socialcare.sources" or m.startswith(HEAVY)]


def test_importing_the_cli_loads_nothing_heavy(tmp_path: Path) -> None:
    assert _loaded("import socialcare.cli", tmp_path) == []


#: what `queue`, `show` and `--help` must not load either: sqlite-utils (the store builds its
#: Database only to migrate) and pydantic (typer's coercion, deferred by cli.py)
NOT_ON_THE_HOT_PATH = ("sqlite_utils", "pydantic", "click")


def _demo_home(tmp_path: Path) -> Path:
    """A home with a config and the demo source's mentions (``show demo:1001``)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("SOCIALCARE_")}
    env["SOCIALCARE_HOME"] = str(tmp_path)
    for argv in (["init"], ["poll"]):
        subprocess.run(
            [sys.executable, "-m", "socialcare", *argv],
            env=env, capture_output=True, check=True,
        )  # fmt: skip
    return tmp_path


def _run_loaded(argv: list[str], home: Path) -> list[str]:
    body = (
        "import socialcare.cli\n"
        "try:\n"
        f"    socialcare.cli.app({argv!r}, prog_name='socialcare')\n"
        "except SystemExit as exc:\n"
        "    assert not exc.code, exc.code\n"
    )
    return _modules(body, home)


@pytest.mark.parametrize("argv", [["--help"], ["queue"], ["queue", "--json"], ["--version"]])
def test_light_commands_load_nothing_heavy(tmp_path: Path, argv: list[str]) -> None:
    body = (
        "import socialcare.cli\n"
        "try:\n"
        f"    socialcare.cli.app({argv!r}, prog_name='socialcare')\n"
        "except SystemExit as exc:\n"
        "    assert not exc.code, exc.code\n"
    )
    assert _loaded(body, tmp_path) == []


@pytest.fixture(scope="module")
def demo_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return _demo_home(tmp_path_factory.mktemp("demo"))


@pytest.mark.parametrize(
    ("argv", "module"),
    [
        (["--help"], None),
        (["queue"], "queue"),
        (["queue", "--limit", "5", "--min-score", "1", "--status", "open"], "queue"),
        (["show", "demo:1001"], "agent"),
        (["show", "demo:1001", "--json"], "agent"),
        (["queue", "--help"], "queue"),
    ],
)
def test_a_command_loads_its_own_module_alone_and_nothing_heavy(
    demo_home: Path, argv: list[str], module: str | None
) -> None:
    """Only the command module that runs is imported (and the shared ``common`` when a
    command runs); no platform client, numerics, sqlite-utils or pydantic."""
    loaded = _run_loaded(argv, demo_home)
    heavy = [m for m in loaded if m == "socialcare.sources" or m.startswith(HEAVY)]
    assert heavy == []  # show of a store without KB articles loads no KB search either
    assert [m for m in loaded if m.split(".")[0] in NOT_ON_THE_HOT_PATH] == []
    commands = {m.rsplit(".", 1)[1] for m in loaded if m.startswith("socialcare.commands.")}
    if argv[0] == "show":
        commands.discard("kb")  # its suggestions_text renders them
    commands -= {"plain", "terminal"}  # the shared rendering: without rich, and rich's console
    assert commands == (set() if module is None else {module, "common"})


_INT_LIMITS = {"min": 1, "max": 1_000_000}
#: (annotation, option limits, values): typer's coercion and the plain path must agree
_PLAIN_CASES = [
    (str, {}, ["demo:1001", "", " x ", "\udcff", "請求", "0", b"bytes", 5]),
    (int, {}, ["0", "5", "050", "-5", "+5", " 5", "5 ", "1_0", "5.0", "", "abc", "٣",
               "9" * 18, "9" * 19, 7, True, 2.0, None]),
    (int, _INT_LIMITS, ["0", "1", "50", "1000000", "1000001", 0, 50, -1]),
    (float, {}, ["1", "1.5", "-0.25", "0.1", "007.50", "1e3", ".5", "5.", "nan", "inf", 1, 1.5,
                 float("inf"), float("nan"), True, "x", "9" * 15 + "." + "9" * 15]),
    (float, {"min": 0.0}, [-1.0, 0.0, 2, "3"]),
    (bool, {}, [True, False, "yes"]),
]  # fmt: skip


@pytest.mark.parametrize(("annotation", "limits", "values"), _PLAIN_CASES)
def test_plain_option_values_are_what_typers_coercion_returns(
    annotation: type, limits: dict[str, float], values: list[object]
) -> None:
    """cli.py answers plain option values itself so typer builds no pydantic adapter:
    each answer is typer's own, value and type; everything else goes to typer."""
    coercion = pytest.importorskip("typer._coercion")
    from typer.models import OptionInfo

    from socialcare.cli import _UNDECIDED, _plain_value

    descriptor = coercion.resolve_type_descriptor(annotation, OptionInfo(**limits))
    adapter = coercion.build_runtime_param(descriptor).adapter
    answered = 0
    for value in values:
        plain = _plain_value(descriptor, value)
        if plain is _UNDECIDED:
            continue
        answered += 1
        real = adapter.validate_python(value)
        assert (plain, type(plain)) == (real, type(real)), value
    if annotation is not bool:
        assert answered, "the plain path answered nothing"


def test_the_command_table_is_what_the_modules_define() -> None:
    """``--help`` lists commands from cli.COMMANDS: each line must match the real command."""
    from socialcare import cli

    for name, (module, short_help) in cli.COMMANDS.items():
        command = cli._build(name)
        assert command.name == name
        assert command.get_short_help_str(10**9) == short_help, name
        assert not command.hidden
        callbacks = [command.callback] if command.callback else []
        callbacks += [c.callback for c in getattr(command, "commands", {}).values() if c.callback]
        modules = {getattr(getattr(f, "__wrapped__", f), "__module__", "") for f in callbacks}
        assert f"socialcare.commands.{module}" in modules, (name, modules)
    for module in {module for module, _ in cli.COMMANDS.values()}:
        holder = cli._module_app(module)
        defined = {c.name or c.callback.__name__ for c in holder.registered_commands}  # type: ignore[union-attr]
        defined |= {g.name for g in holder.registered_groups}
        listed = {name for name, (where, _) in cli.COMMANDS.items() if where == module}
        assert defined == listed, module


def test_help_lists_the_same_commands_as_the_built_group() -> None:
    """The table's stand-ins print exactly what the built commands would."""
    from typer.main import get_command

    from socialcare.cli import app

    def help_text(build: bool) -> str:
        group = get_command(app)
        if build:
            for name in list(group.commands):
                group.commands[name]  # builds it, as the old eager registration did
        ctx = group.make_context("socialcare", [], resilient_parsing=True, terminal_width=100)
        return group.get_help(ctx)

    lazy, built = help_text(False), help_text(True)
    assert lazy == built and "queue" in lazy and "notify" in lazy


#: what piped ``queue`` and ``show`` must not load: rich's console, table and text (they
#: write rich's bytes themselves, see socialcare.commands.plain) nor platformdirs
#: (SOCIALCARE_HOME is set)
NOT_ON_THE_PIPED_QUEUE = ("rich.console", "rich.table", "rich.text", "platformdirs")


@pytest.mark.parametrize(
    "argv",
    [
        ["queue"],
        ["queue", "--status", "all"],
        ["queue", "--json"],
        ["show", "demo:1001"],
        ["show", "demo:2005", "--offline"],
    ],
)
def test_piped_queue_and_show_load_no_rich_console(demo_home: Path, argv: list[str]) -> None:
    loaded = _run_loaded(argv, demo_home)  # stdout is a pipe here, as in `queue | grep`
    assert f"socialcare.commands.{'queue' if argv[0] == 'queue' else 'agent'}" in loaded
    assert [m for m in loaded if m.startswith(NOT_ON_THE_PIPED_QUEUE)] == []


def test_the_triage_package_loads_its_modules_on_first_use(tmp_path: Path) -> None:
    """``import socialcare.triage`` (and one of its light modules) runs no sentiment or cue
    matcher code; every public name still resolves, to its module's own object."""
    loaded = _modules("import socialcare.triage", tmp_path)
    assert [m for m in loaded if m.startswith("socialcare.triage.")] == []
    assert "vaderSentiment" not in loaded
    loaded = _modules("import socialcare.triage.packs", tmp_path)
    assert [m for m in loaded if m.startswith("socialcare.triage.")] == ["socialcare.triage.packs"]

    import importlib

    import socialcare.triage as triage

    for name in triage.__all__:
        module = importlib.import_module(f"socialcare.triage.{triage._WHERE[name]}")
        assert getattr(triage, name) is getattr(module, name), name
    assert set(triage.__all__) == set(triage._WHERE) and set(triage.__all__) <= set(dir(triage))
    with pytest.raises(AttributeError, match="no attribute 'nope'"):
        triage.nope  # noqa: B018


#: what ``queue`` does without: it reads no HTML, shows no clock time (ages only) and
#: writes no CSV (without ``--csv``)
NOT_ON_THE_QUEUE = ("html", "_markupbase", "zoneinfo", "tzlocal", "sysconfig", "csv", "_csv")


@pytest.mark.parametrize("argv", [["queue"], ["queue", "--json"], ["queue", "--status", "all"]])
def test_queue_loads_no_html_parser_nor_time_zones(demo_home: Path, argv: list[str]) -> None:
    loaded = _run_loaded(argv, demo_home)
    assert "socialcare.commands.queue" in loaded
    assert [m for m in loaded if m.split(".")[0] in NOT_ON_THE_QUEUE] == []


@pytest.fixture(scope="module")
def triaged_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A demo home after ``triage --all``: every row's signals carry a current fingerprint."""
    home = _demo_home(tmp_path_factory.mktemp("triaged"))
    env = {k: v for k, v in os.environ.items() if not k.startswith("SOCIALCARE_")}
    env["SOCIALCARE_HOME"] = str(home)
    subprocess.run(
        [sys.executable, "-m", "socialcare", "triage", "--all"],
        env=env, capture_output=True, check=True,
    )  # fmt: skip
    return home


#: demo mentions whose language the scorer detected (no platform language): explaining
#: them from their text runs the language detector, numpy and its model (~0.5 s)
DETECTED = ["demo:1007", "demo:1009", "demo:1025"]


@pytest.mark.parametrize("mention", DETECTED)
def test_show_explains_a_current_row_without_the_language_detector(
    triaged_home: Path, mention: str
) -> None:
    """A row whose fingerprint is current is explained from its stored signals: no
    language detection (py3langid, numpy), whatever its language."""
    for argv in (["show", mention], ["explain", mention], ["show", mention, "--json"]):
        loaded = _run_loaded(argv, triaged_home)
        heavy = [m for m in loaded if m == "socialcare.sources" or m.startswith(HEAVY)]
        assert [m for m in heavy if not m.startswith("socialcare.kb")] == [], argv


#: what ``show``/``explain`` of a current row (explained from its stored signals) does
#: without: the learned model's code, the package metadata reader (the fingerprint reads
#: the versions itself) and hashlib's OpenSSL bindings
NOT_IN_A_CURRENT_SHOW = ("socialcare.triage.learned", "importlib.metadata", "_hashlib")

_PROBE_BUILT = """
import json, sys
import socialcare.cli
try:
    socialcare.cli.app({argv!r}, prog_name='socialcare')
except SystemExit as exc:
    assert not exc.code, exc.code
sentiment = sys.modules.get("socialcare.triage.sentiment")
built = {{
    "analyzer": bool(sentiment and sentiment._analyzer.cache_info().currsize),
    "negative": bool(sentiment and sentiment._negative.cache_info().currsize),
}}
print(json.dumps([sorted(sys.modules), built]))
"""


@pytest.mark.parametrize(
    "argv", [["show", "demo:1001"], ["show", "demo:1001", "--json"], ["explain", "demo:1007"]]
)
def test_show_of_a_current_row_builds_no_sentiment_analyser(
    triaged_home: Path, argv: list[str]
) -> None:
    """A row explained from its stored signals reads no VADER lexicon, builds no cue
    matcher and loads none of NOT_IN_A_CURRENT_SHOW (the same lines, see
    tests/test_explain_stored.py)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("SOCIALCARE_")}
    env["SOCIALCARE_HOME"] = str(triaged_home)
    out = subprocess.run(
        [sys.executable, "-c", _PROBE_BUILT.format(argv=argv)],
        env=env, capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    loaded, built = json.loads(out.strip().splitlines()[-1])
    assert [m for m in loaded if m.startswith(NOT_IN_A_CURRENT_SHOW)] == []
    assert built == {"analyzer": False, "negative": False}


def test_show_of_a_row_scored_from_its_text_builds_them(tmp_path: Path) -> None:
    """The guard above can fail: without a fingerprint (``poll`` alone writes one, so
    clear it) ``show`` scores the text, which builds the analyser."""
    import sqlite3

    home = _demo_home(tmp_path)
    with sqlite3.connect(home / "socialcare.db") as db:
        db.execute("UPDATE mentions SET triage_fp = NULL")
    env = {k: v for k, v in os.environ.items() if not k.startswith("SOCIALCARE_")}
    env["SOCIALCARE_HOME"] = str(home)
    out = subprocess.run(
        [sys.executable, "-c", _PROBE_BUILT.format(argv=["show", "demo:1001"])],
        env=env, capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    _, built = json.loads(out.strip().splitlines()[-1])
    assert built == {"analyzer": True, "negative": True}


def test_scores_min_labels_is_the_learned_models() -> None:
    from socialcare.triage import learned, score

    assert score.MIN_LABELS == learned.MIN_LABELS == score.TriageSettings().min_labels


def test_the_fingerprint_hash_is_hashlibs_blake2b() -> None:
    import hashlib

    from socialcare import scoring

    assert scoring.blake2b is hashlib.blake2b


def test_signals_values_built_on_first_use_are_the_eager_ones(tmp_path: Path) -> None:
    """Each of signals' first-use values names its own global, and its first use leaves
    the global the built value (a compiled pattern, the built-in matcher) itself."""
    probe = (
        "import re, sys\n"
        "from socialcare import models\nfrom socialcare.triage import signals\n"
        "lazy = {n: v for n, v in vars(signals).items() if isinstance(v, models._OnFirstUse)}\n"
        "assert 'BUILTIN_MATCHER' in lazy and '_LINK' in lazy, sorted(lazy)\n"
        "for name, value in lazy.items():\n"
        "    assert value._name == name, (name, value._name)\n"
        "    getattr(value, 'find' if name == 'BUILTIN_MATCHER' else 'pattern')\n"
        "    built = vars(signals)[name]\n"
        "    assert isinstance(built, (re.Pattern, signals.TermMatcher)), name\n"
        "    if isinstance(built, re.Pattern):\n"
        "        assert built == re.compile(*value._args[:1], *value._args[1:]), name\n"
        "print('ok')\n"
    )
    assert _modules(probe, tmp_path)  # runs it (asserting) in a fresh interpreter


def test_the_entry_point_freezes_what_start_up_made_and_no_more(tmp_path: Path) -> None:
    """``main()`` freezes the objects import made (typer, rich, the CLI's tables), so the
    collections a command sets off do not walk them again; importing the CLI as a library
    (tests, scripts) freezes nothing."""
    code = (
        "import gc, json, sys\n"
        "import socialcare.cli\n"
        "imported = gc.get_freeze_count()\n"
        "sys.argv = ['socialcare', '--version']\n"
        "try:\n"
        "    socialcare.cli.main()\n"
        "except SystemExit:\n"
        "    pass\n"
        "print(json.dumps([imported, gc.get_freeze_count(), gc.isenabled()]))\n"
    )
    imported, frozen, enabled = last_json(code, tmp_path)
    assert imported == 0
    assert frozen > 10_000
    assert enabled
