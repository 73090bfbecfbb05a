"""Start-up of ``queue`` (issue 18 item 7): what it leaves out, and that leaving it out changes
nothing. Each check runs in a fresh interpreter (see tests/test_startup.py)."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.test_startup import _demo_home, _run_loaded

pytestmark = pytest.mark.store_free

#: what ``queue`` (and ``--help``) need not load: logging (the log handler is set up when
#: something imports it)
NOT_ON_THE_QUEUE = ("logging",)


@pytest.fixture(scope="module")
def demo_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return _demo_home(tmp_path_factory.mktemp("demo"))


@pytest.mark.parametrize(
    "argv", [["--help"], ["--version"], ["queue"], ["queue", "--json"], ["queue", "--csv"]]
)
def test_queue_loads_none_of_what_it_does_without(demo_home: Path, argv: list[str]) -> None:
    loaded = _run_loaded(argv, demo_home)
    assert [m for m in loaded if m.split(".")[0] in NOT_ON_THE_QUEUE] == []


def _stderr(body: str, **env: str) -> str:
    """What a fresh interpreter running ``body`` after the CLI's logging set-up prints on stderr."""
    code = (
        "import sys\n"
        "from socialcare.commands.common import quiet_logging, setup_logging\n"
        "setup_logging()\n"
        "assert 'logging' not in sys.modules, 'the set-up imported logging'\n" + body
    )
    full = {k: v for k, v in os.environ.items() if not k.startswith("SOCIALCARE_")}
    return subprocess.run(
        [sys.executable, "-c", code],
        env={**full, **env}, capture_output=True, text=True, check=True,
    ).stderr  # fmt: skip


def test_a_library_that_imports_logging_later_still_logs_one_clean_line() -> None:
    err = _stderr(
        "import logging\n"
        "logging.getLogger('prawcore').warning('slow down\\x1b[2J\\nplease')\n"
        "logging.getLogger('prawcore').info('not shown')\n"
        "assert logging.getLogger().level == logging.WARNING\n"
        "import logging.handlers\n"  # a submodule: the hook ran once, and is gone
        "assert not [f for f in sys.meta_path if type(f).__name__ == '_OnImport']\n"
        "assert type(logging.__loader__).__name__ == 'SourceFileLoader', logging.__loader__\n"
    )
    assert err == "warning: slow down please\n"


def test_quiet_before_logging_is_imported_still_keeps_only_errors() -> None:
    err = _stderr(
        "quiet_logging()\n"
        "import logging\n"
        "logging.getLogger('prawcore').warning('hidden')\n"
        "logging.getLogger('socialcare.poll').error('shown')\n"
    )
    assert err == "error: shown\n"


def test_debug_before_logging_is_imported_still_shows_debug() -> None:
    err = _stderr(
        "import logging\nlogging.getLogger('httpx').debug('a request')\n", SOCIALCARE_DEBUG="1"
    )
    assert err == "debug: a request\n"


def test_set_up_after_logging_is_imported_is_the_same() -> None:
    code = (
        "import logging\n"
        "from socialcare.commands.common import setup_logging\n"
        "setup_logging(); setup_logging()\n"
        "assert len(logging.getLogger().handlers) == 1\n"
        "logging.getLogger('tweepy').warning('rate limited')\n"
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("SOCIALCARE_")}
    err = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True
    ).stderr
    assert err == "warning: rate limited\n"


#: safety's patterns that ``queue`` never uses, compiled on first use: name -> the pattern
#: as it was compiled at import before
_PATTERNS = {
    "_ESCAPES": (
        r"\x1b\[[0-?]*[ -/]*[@-~]"
        r"|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)?"
        r"|\x1b[PX^_][^\x1b]*(?:\x1b\\)?"
        r"|\x1b[@-Z\\-_]"
        r"|\x9b[0-?]*[ -/]*[@-~]"
    ),
    "_CONTROLS": r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]",
    "_CSV_CONTROLS": r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]",
    "_FORMULA_AFTER_JOIN": re.escape("~~") + "[" + re.escape("=+-@\t\r") + "]",
    "_UNENCODABLE": "[\ud800-\udfff]",
    "_UNSTORABLE": "[\x00\ud800-\udfff]",
    "_NOT_A_TAG": r"<(?=[^<>]*(?:<|\Z))",
    "_SPACES": r"[ \t\r\f\v]+",
    "_BLANK_LINES": r"\n{3,}",
}


def test_safety_patterns_queue_does_not_use_are_compiled_on_first_use() -> None:
    code = (
        "import json, socialcare.safety as s\n"
        f"names = {sorted(_PATTERNS)!r}\n"
        "print(json.dumps([type(getattr(s, n)).__name__ for n in names]))\n"
        "s.clean_text('a\\x1b[2Jb\\x07');"
        " s.csv_safe('=x\\x1b[2J'); s.storable_text('a\\x00'); s.storable_data('\\ud800é')\n"
        "s.html_to_text('<p>a  b</p>\\n\\n\\n\\n<p>c < d</p>'); list(s.csv_rows([['é\\u202e']]))\n"
        "list(s.csv_rows([['=a', 'b~~=c'], ['x', 'y']]))\n"
        "print(json.dumps([type(getattr(s, n)).__name__ for n in names]))\n"
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("SOCIALCARE_")}
    before, after = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True
    ).stdout.splitlines()
    assert set(json.loads(before)) == {"_OnFirstUse"}
    assert set(json.loads(after)) == {"Pattern"}  # each now the compiled pattern itself

    from socialcare import safety

    for name, pattern in _PATTERNS.items():
        compiled = getattr(safety, name)
        assert compiled.pattern == pattern  # and compiles it, if no test did yet
        compiled = getattr(safety, name)
        assert isinstance(compiled, re.Pattern) and compiled == re.compile(pattern), name
    # the Latin-1 characters the CSV check marks as stripped: as _CSV_CONTROLS finds them
    controls = re.compile(_PATTERNS["_CSV_CONTROLS"])
    assert [safety._latin1_marks()[b] == ord("C") for b in range(256)] == [
        bool(controls.match(chr(b))) for b in range(256)
    ]
