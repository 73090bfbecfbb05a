"""The conventions CLI users expect (issue 18 items 2 and 3): --version, completion,
contradictory options and bad values refused with exit 2, unknown config keys named
with the closest known one."""

from __future__ import annotations

import dataclasses
import tomllib
from pathlib import Path

import pytest
from typer.testing import CliRunner

from socialcare import __version__
from socialcare.cli import app
from socialcare.config import KNOWN_KEYS, SOURCE_BASE_KEYS, load_config
from socialcare.errors import ConfigError
from socialcare.models import INTENTS, MENTION_STATUSES
from socialcare.sources.registry import source_classes

ROOT = Path(__file__).resolve().parents[1]
runner = CliRunner()


def _run(*args: str):
    return runner.invoke(app, list(args), prog_name="socialcare")


# -- item 2 -----------------------------------------------------------------------
@pytest.mark.store_free
def test_version() -> None:
    result = _run("--version")
    assert result.exit_code == 0
    assert result.output.strip() == f"socialcare {__version__}"


@pytest.mark.store_free
def test_completion_is_offered() -> None:
    out = _run("--help").output
    assert "--install-completion" in out and "--show-completion" in out


def test_completion_never_creates_the_database(
    isolated_home: Path, database: str, monkeypatch
) -> None:
    monkeypatch.setenv("_SOCIALCARE_COMPLETE", "complete_bash")
    monkeypatch.setenv("COMP_WORDS", "socialcare show demo:")
    monkeypatch.setenv("COMP_CWORD", "2")
    result = runner.invoke(app, [], prog_name="socialcare")
    assert result.exit_code == 0 and result.output.split() == []
    if "://" not in database:
        assert not Path(database).exists()


def test_completion_of_mention_ids_and_sources(tmp_path: Path, monkeypatch) -> None:
    assert _run("init").exit_code == 0
    assert _run("poll").exit_code == 0
    monkeypatch.setenv("_SOCIALCARE_COMPLETE", "complete_bash")
    monkeypatch.setenv("COMP_WORDS", "socialcare show demo:10")
    monkeypatch.setenv("COMP_CWORD", "2")
    result = runner.invoke(app, [], prog_name="socialcare")
    ids = result.output.split()
    assert ids and all(i.startswith("demo:10") for i in ids)
    monkeypatch.setenv("COMP_WORDS", "socialcare queue --source de")
    monkeypatch.setenv("COMP_CWORD", "3")
    assert runner.invoke(app, [], prog_name="socialcare").output.split() == ["demo"]
    monkeypatch.delenv("_SOCIALCARE_COMPLETE")
    assert _run("assign", "demo:1002", "--to", "bob").exit_code == 0
    monkeypatch.setenv("_SOCIALCARE_COMPLETE", "complete_bash")
    monkeypatch.setenv("COMP_WORDS", "socialcare queue --assignee b")
    assert runner.invoke(app, [], prog_name="socialcare").output.split() == ["bob"]


@pytest.mark.parametrize(
    "argv",
    [
        ["queue", "--json", "--csv"],
        ["queue", "--json", "--jsonl"],
        ["queue", "--nl", "--csv"],
        ["log", "--json", "--jsonl"],
        ["export", "mentions", "--json", "--jsonl"],
        ["export", "mentions", "--json", "--format", "csv"],
    ],
)
def test_contradictory_options_are_a_usage_error(argv: list[str]) -> None:
    result = _run(*argv)
    assert result.exit_code == 2, result.output
    assert "cannot be used together" in result.output


# -- item 3: values ----------------------------------------------------------------
@pytest.mark.parametrize(
    "argv, allowed",
    [
        (["queue", "--status", "bogus"], "open, snoozed, replied, closed, spam, all"),
        (["queue", "--intent", "bogus"], ", ".join(INTENTS)),
        (["queue", "--sort", "bogus"], "score or sla"),
        (["export", "mentions", "--status", "complaint"], ", ".join(MENTION_STATUSES)),
        (["export", "mentions", "--format", "xml"], "csv, jsonl, json"),
        (["export", "bogus"], "mentions, replies, followups, log"),
        (["followup", "list", "--status", "bogus"], "pending"),
        (["queue", "--source", "dmeo"], "did you mean 'demo'? configured: demo"),
        (["export", "mentions", "--source", "twiter"], "configured: demo"),
        (["report", "--source", "nope"], "configured: demo"),
        (["gaps", "--source", "nope"], "configured: demo"),
    ],
)
def test_bad_values_are_refused_with_the_allowed_ones(
    argv: list[str], allowed: str, tmp_path: Path
) -> None:
    assert _run("init").exit_code == 0
    result = _run(*argv)
    assert result.exit_code == 2, result.output
    assert allowed in " ".join(result.output.split())


@pytest.mark.store_free
def test_model_constants_match_their_owners() -> None:
    from socialcare.store.reports import MENTION_STATUSES as STORED
    from socialcare.triage.signals import INTENTS as TRIAGED

    assert INTENTS == TRIAGED
    assert MENTION_STATUSES == STORED


# -- item 3: config keys -----------------------------------------------------------
def _config(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "config.toml"
    path.write_text(text, encoding="utf-8")
    return path


@pytest.mark.store_free
@pytest.mark.parametrize(
    "text, message",
    [
        ('brand_handle = ["acme"]', "`brand_handle` is not a key; did you mean `brand_handles`?"),
        ("[triage]\nage_weigth = 1", "`triage.age_weigth` is not a key; did you mean `age_weight`?"),
        ("[triage.weights]\nurgncy = 1", "`triage.weights.urgncy` is not a key; did you mean `urgency`?"),
        ('[triage.sla]\ncomplain = "1h"', "did you mean `complaint`?"),
        ('[[triage.rules]]\ntag = "x"\nkeyword = ["a"]', "`triage.rules[0].keyword`"),
        ('[followups]\ndm_subjet = "x"', "did you mean `dm_subject`?"),
        ('[[followups.rules]]\nnam = "x"', "`followups.rules[0].nam` is not a key; did you mean `name`?"),
        ("[kb]\nthreshhold = 0.3", "`kb.threshhold` is not a key; did you mean `threshold`?"),
        ("[kb]\nzzz = 1", "known keys: body_weight"),
    ],
)  # fmt: skip
def test_unknown_config_keys_name_the_closest(tmp_path: Path, text: str, message: str) -> None:
    with pytest.raises(ConfigError) as exc:
        load_config(_config(tmp_path, text))
    assert message in str(exc.value)


@pytest.mark.store_free
def test_an_unknown_key_is_exit_2_on_any_command(tmp_path: Path) -> None:
    path = _config(tmp_path, 'brand_handle = ["acme"]')
    result = _run("--config", str(path), "queue")
    assert result.exit_code == 2
    assert "did you mean `brand_handles`?" in result.output


@pytest.mark.store_free
def test_unknown_source_keys_are_refused_by_the_adapter(tmp_path: Path) -> None:
    path = _config(tmp_path, '[sources.twitter]\nqueries = ["acme"]\nmax_result = 10\n')
    from socialcare.app import Socialcare

    with pytest.raises(ConfigError) as exc:
        Socialcare(load_config(path)).adapters.get("twitter")
    assert "`sources.twitter.max_result` is not a key; did you mean `max_results`?" in str(
        exc.value
    )
    result = _run("--config", str(path), "sources")  # the table names the problem too
    assert "max_result" in result.output
    cls = source_classes()["demo"]
    with pytest.raises(ConfigError, match="did you mean `page_size`"):
        cls({"pagesize": 10})


@pytest.mark.store_free
def test_every_builtin_adapter_declares_its_keys_and_the_example_uses_only_them() -> None:
    example = tomllib.loads((ROOT / "config.example.toml").read_text(encoding="utf-8"))
    classes = source_classes()
    for name, section in example["sources"].items():
        cls = classes[name]
        assert cls.config_keys is not None, name
        cls.check_config(section)
    for name, cls in classes.items():
        if cls.__module__.startswith("socialcare.sources."):
            assert cls.config_keys is not None, name
            assert not (cls.config_keys & SOURCE_BASE_KEYS), name


@pytest.mark.store_free
def test_the_example_documents_every_key_each_adapter_declares() -> None:
    text = (ROOT / "config.example.toml").read_text(encoding="utf-8")
    for name, cls in source_classes().items():
        if not cls.__module__.startswith("socialcare.sources."):
            continue
        block = text.split(f"[sources.{name}]", 1)[1].split("\n[", 1)[0]
        documented = {
            line.lstrip("# ").split("=")[0].strip() for line in block.splitlines() if "=" in line
        }
        http_keys = {"max_wait_seconds", "timeout_seconds"}
        missing = set(cls.config_keys or ()) - documented - http_keys
        missing -= {"own_timeline", "own_comments", "wait_on_rate_limit", "max_wait_seconds"}
        assert not missing, (name, missing)
    for key in SOURCE_BASE_KEYS - {"enabled"}:
        assert f"# {key} =" in text, key


@pytest.mark.store_free
def test_known_keys_match_the_sections_own_checks() -> None:
    from socialcare import followups
    from socialcare.kb.search import KbSettings
    from socialcare.triage import score

    assert set(KNOWN_KEYS["triage"]) == set(score._TOP_KEYS)
    assert set(KNOWN_KEYS["triage.rules[]"]) == set(score._RULE_KEYS)
    assert set(KNOWN_KEYS["triage.weights"]) == set(score.Weights._fields)
    from socialcare.scoring import KIND_SLA_KEYS

    assert set(KNOWN_KEYS["triage.sla"]) == set(INTENTS) | set(KIND_SLA_KEYS)
    assert set(KNOWN_KEYS["followups"]) == followups._TABLE_KEYS
    assert set(KNOWN_KEYS["followups.rules[]"]) == followups._RULE_KEYS
    assert set(KNOWN_KEYS["kb"]) == {f.name for f in dataclasses.fields(KbSettings)}
    load_config(ROOT / "config.example.toml")
