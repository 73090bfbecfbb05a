"""Inputs that overflow or point at the wrong thing: one clear line and the documented code.

Each once ended in "unexpected ..." (exit 1) or, worse, wrote into a database
that was not socialcare's.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
from typer.testing import CliRunner

from socialcare.cli import app
from tests.test_cli import cfg, run  # noqa: F401  (cfg is a fixture)

runner = CliRunner()


@pytest.mark.parametrize(
    "args",
    [
        ["queue", "--since", "99999999999999w"],
        ["queue", "--since", "9999-12-31T23:59:59-01:00"],
        ["report", "--since", "99999999999d"],
        ["snooze", "demo:1001", "--until", "99999999999w"],
        ["followup", "add", "demo:1001", "--in", "9999999999999d", "--text", "hi"],
        ["followup", "add", "demo:1001", "--at", "9999-12-31T23:59", "--text", "hi"],
        ["queue", "--limit", "99999999999999999999"],
        ["log", "--limit", "99999999999999999999"],
        ["post", "add", "--source", "demo", "--in", "1h", "--file", "/bin/ls"],
    ],
)
def test_overflowing_or_wrong_inputs_are_usage_errors(cfg: Path, args: list[str]) -> None:  # noqa: F811
    code, out = run(cfg, *args)
    assert code == 2, out
    assert "unexpected" not in out and "Traceback" not in out


def _invoke(config: Path, *args: str) -> tuple[int, str]:
    result = runner.invoke(app, ["--config", str(config), *args])
    return result.exit_code, result.output


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b'[sources.demo]\npage_size = "x"\n', "sources.demo.page_size must be an integer"),
        (b"[sources.demo]\npath = 5\n", "sources.demo.path must be a file path"),
        (b'[sources.demo]\npath = "/"\n', "is a directory, not a JSONL file"),
        (b'agent = "\xff"\n', "not UTF-8 text"),
    ],
)
def test_config_values_of_the_wrong_type_are_config_errors(
    tmp_path: Path, content: bytes, message: str
) -> None:
    config = tmp_path / "c.toml"
    config.write_bytes(content)
    code, out = _invoke(config, "poll")
    assert code == 2 and message in out, out
    assert len(out.strip().splitlines()) == 1


def test_a_config_with_a_bom_is_read(tmp_path: Path) -> None:
    config = tmp_path / "c.toml"
    config.write_bytes(b'\xef\xbb\xbfagent = "bom"\n[sources.demo]\n')
    code, out = _invoke(config, "poll", "--quiet")
    assert code == 0, out


@pytest.mark.sqlite_only
@pytest.mark.parametrize("kind", ["garbage", "foreign", "newer"])
def test_a_store_socialcare_must_not_write_is_refused(tmp_path: Path, kind: str) -> None:
    db = tmp_path / "store.db"
    if kind == "garbage":
        db.write_bytes(b"not a database at all\x00" * 500)
    elif kind == "foreign":
        conn = sqlite3.connect(db)
        conn.execute("CREATE TABLE invoices (id INTEGER PRIMARY KEY, total REAL)")
        conn.commit()
        conn.close()
    else:
        config = tmp_path / "ok.toml"
        config.write_text(f'database = "{db}"\n[sources.demo]\n', "utf-8")
        assert _invoke(config, "poll", "--quiet")[0] == 0
        conn = sqlite3.connect(db)
        conn.execute("INSERT INTO _socialcare_migrations VALUES ('m999_from_the_future', 'x')")
        conn.commit()
        conn.close()
    before = db.read_bytes()
    config = tmp_path / "c.toml"
    config.write_text(f'database = "{db}"\n[sources.demo]\n', "utf-8")
    code, out = _invoke(config, "poll")
    assert code == 2, out
    assert {"garbage": "is not a socialcare store", "foreign": "of another program",
            "newer": "newer than this socialcare knows"}[kind] in out  # fmt: skip
    assert "unexpected" not in out
    assert db.read_bytes() == before  # nothing written
