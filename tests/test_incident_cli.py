"""`socialcare incident ...` end to end on the demo source, through the real CLI."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from socialcare.cli import app

runner = CliRunner()


@pytest.fixture
def cfg(tmp_path: Path, isolated_home: Path) -> Path:
    path = tmp_path / "config.toml"
    for args in (["init"], ["poll", "--quiet"]):
        result = runner.invoke(app, ["--config", str(path), *args])
        assert result.exit_code == 0, result.output
    return path


def run(cfg: Path, *args: str) -> tuple[int, str, str]:
    result = runner.invoke(app, ["--config", str(cfg), *args])
    return result.exit_code, result.stdout, result.stderr


def _demo_sent(home: Path) -> list[dict[str, object]]:
    path = home / "demo-sent.jsonl"
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def test_the_on_call_loop(cfg: Path, isolated_home: Path) -> None:
    code, out, _ = run(cfg, "incident", "open", "billing", "--match", "charged twice or refund")
    assert code == 0 and "billing open" in out and "open mention(s) caught now" in out
    code, out, _ = run(cfg, "incident", "list", "--json")
    assert code == 0 and json.loads(out)[0]["name"] == "billing"
    code, out, _ = run(cfg, "incident", "show", "billing", "--json")
    doc = json.loads(out)
    assert code == 0 and isinstance(doc, list) and doc[0]["by_source"]["demo"] >= 2
    customers = doc[0]["customers"]

    code, out, _ = run(cfg, "queue", "--json")
    folded_ids = {r["id"] for r in json.loads(out)}
    code, out, _ = run(cfg, "queue", "--incident", "billing", "--json")
    members = {r["id"] for r in json.loads(out)}
    assert members and not members & folded_ids
    code, out, _ = run(cfg, "queue")
    assert "[incident billing]" in out

    text = "Hi {author}, we know about the double charges and are fixing them."
    code, out, _ = run(cfg, "incident", "reply", "billing", "--text", text, "--dry-run")
    assert code == 0 and "would-send" in out and _demo_sent(isolated_home) == []
    code, out, _ = run(cfg, "incident", "reply", "billing", "--text", text)
    assert code == 0 and f"{customers} sent" in out
    assert len(_demo_sent(isolated_home)) == customers
    code, out, _ = run(cfg, "incident", "reply", "billing", "--text", text, "--json")
    lines = json.loads(out)
    assert code == 0 and {line["action"] for line in lines} == {"already"}
    assert len(_demo_sent(isolated_home)) == customers

    code, out, _ = run(cfg, "incident", "post", "billing", "--text", "Double charges: on it.")
    assert code == 0 and "on demo: sent" in out
    code, _, err = run(cfg, "incident", "post", "billing", "--text", "Double charges: on it.")
    assert code == 7 and "already posted" in err

    code, out, _ = run(
        cfg,
        "incident",
        "resolve",
        "billing",
        "--followup-text",
        "Fixed now, {author}!",
        "--in",
        "1h",
    )
    assert code == 0 and f"{customers} follow-up(s) scheduled" in out
    code, out, _ = run(cfg, "followup", "list", "--json")
    assert len(json.loads(out)) == customers


def test_usage_errors(cfg: Path) -> None:
    code, _, err = run(cfg, "incident", "show", "nope")
    assert code == 3 and "no incident 'nope'" in err
    code, _, err = run(cfg, "incident", "open", "x")
    assert code == 2 and "--match" in err
    run(cfg, "incident", "open", "x", "--match", "refund")
    code, _, err = run(cfg, "incident", "reply", "x")
    assert code == 2 and "--template or --text" in err
    code, _, err = run(cfg, "incident", "list", "--status", "bogus")
    assert code == 2 and "open, resolved" in err
    code, _, err = run(cfg, "incident", "add", "x", "demo:nope")
    assert code == 3


def test_unknown_incidents_config_key_is_refused(tmp_path: Path, isolated_home: Path) -> None:
    path = tmp_path / "config.toml"
    path.write_text("[incidents]\nmin_intervall = { demo = 0 }\n", encoding="utf-8")
    result = runner.invoke(app, ["--config", str(path), "incident", "list"])
    assert result.exit_code == 2 and "did you mean `min_interval`" in result.stderr


def test_settings_keys_match_config_known_keys() -> None:
    from socialcare.config import KNOWN_KEYS
    from socialcare.incident.service import SETTINGS_KEYS

    assert set(KNOWN_KEYS["incidents"]) == SETTINGS_KEYS
