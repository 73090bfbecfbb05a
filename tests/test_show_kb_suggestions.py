"""``show``'s KB suggestions: a store without articles answers none without loading the
KB search (issue 18 item 7); with articles, and with a ``[kb]`` table, as before."""

from __future__ import annotations

from pathlib import Path

import pytest

from socialcare.app import Socialcare
from socialcare.errors import ConfigError
from socialcare.kb.search import suggest

DOCS = Path(__file__).parent / "fixtures" / "kb" / "docs"
ROW = {"text": "my data roaming isn't working abroad, how do I turn it on?"}


def _sc(tmp_path: Path, database: str, extra: str = "") -> Socialcare:
    cfg = tmp_path / "config.toml"
    cfg.write_text(f'database = "{database}"\n{extra}')  # a SQLite file, or the PostgreSQL URL
    return Socialcare.from_config_file(cfg)


def test_without_articles_there_are_no_suggestions(tmp_path: Path, database: str) -> None:
    sc = _sc(tmp_path, database)
    try:
        assert sc.suggestions(ROW) == [] == suggest(sc.store, ROW["text"], sc.kb_settings)
    finally:
        sc.shutdown()


def test_with_articles_the_suggestions_are_the_searchs(tmp_path: Path, database: str) -> None:
    sc = _sc(tmp_path, database)
    try:
        sc.kb_add([str(DOCS)])
        found = sc.suggestions(ROW)
        assert found and found == suggest(sc.store, ROW["text"], sc.kb_settings)
        assert found[0].title == "Using your phone abroad"
    finally:
        sc.shutdown()


def test_a_bad_kb_table_still_fails_show_on_an_empty_kb(tmp_path: Path, database: str) -> None:
    sc = _sc(tmp_path, database, "[kb]\nthreshold = 7\n")
    try:
        with pytest.raises(ConfigError):
            sc.suggestions(ROW)
    finally:
        sc.shutdown()
