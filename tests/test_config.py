"""Config loading: precedence, malformed files, credentials from env vars."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from socialcare.config import credential, load_config
from socialcare.errors import ConfigError, MissingCredential

# Loading a config never opens a store (and the defaults assume SOCIALCARE_DATABASE unset).
pytestmark = pytest.mark.store_free


def test_defaults_without_file(isolated_home: Path) -> None:
    cfg = load_config()
    assert cfg.database == str(isolated_home / "socialcare.db")
    assert cfg.agent == "alice"
    assert cfg.path is None


def test_file_then_env_override(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "c.toml"
    path.write_text('database = "x.db"\nagent = "bob"\nbrand_handles = ["@AcmeHelp"]\n')
    monkeypatch.delenv("SOCIALCARE_AGENT")
    cfg = load_config(path)
    assert (cfg.database, cfg.agent, cfg.brand_handles) == ("x.db", "bob", ("acmehelp",))
    monkeypatch.setenv("SOCIALCARE_DATABASE", "y.db")
    monkeypatch.setenv("SOCIALCARE_AGENT", "carol")
    cfg = load_config(path)
    assert (cfg.database, cfg.agent) == ("y.db", "carol")


def test_config_found_via_env_var(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "c.toml"
    path.write_text('agent = "dora"\n')
    monkeypatch.delenv("SOCIALCARE_AGENT")
    monkeypatch.setenv("SOCIALCARE_CONFIG", str(path))
    assert load_config().agent == "dora"


def test_malformed_toml_is_one_clear_error(tmp_path: Path) -> None:
    path = tmp_path / "c.toml"
    path.write_text("database = \n")
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_config(path)


def test_wrong_type_names_the_key(tmp_path: Path) -> None:
    path = tmp_path / "c.toml"
    path.write_text("[sources.demo]\nenabled = 'yes'\n")
    with pytest.raises(ConfigError, match="sources.demo.enabled"):
        load_config(path)


def test_missing_explicit_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="does not exist"):
        load_config(tmp_path / "missing.toml")


def test_credential_reads_named_env_var(monkeypatch: pytest.MonkeyPatch) -> None:
    section = {"bearer_token_env": "MY_TOKEN"}
    with pytest.raises(MissingCredential, match="MY_TOKEN"):
        credential(section, "bearer_token", "TWITTER_BEARER_TOKEN", "twitter")
    monkeypatch.setenv("MY_TOKEN", "s3cret")
    assert credential(section, "bearer_token", "TWITTER_BEARER_TOKEN", "twitter") == "s3cret"


def test_the_agent_name_falls_back_to_the_login_name_when_user_is_empty(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import pwd

    monkeypatch.delenv("SOCIALCARE_AGENT", raising=False)
    monkeypatch.setenv("USER", "")
    monkeypatch.setenv("LOGNAME", "")
    fields = list(pwd.getpwuid(os.getuid()))
    fields[0] = "maria"  # pw_name
    monkeypatch.setattr(pwd, "getpwuid", lambda uid: pwd.struct_passwd(fields))
    path = tmp_path / "c.toml"
    path.write_text("", encoding="utf-8")
    assert load_config(path).agent == "maria"


def test_an_agent_missing_from_the_password_database_is_called_agent(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import pwd

    def missing(uid: int) -> None:
        raise KeyError(f"getpwuid(): uid not found: {uid}")

    for name in ("SOCIALCARE_AGENT", "USER", "LOGNAME", "USERNAME"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setattr(pwd, "getpwuid", missing)
    path = tmp_path / "c.toml"
    path.write_text("", encoding="utf-8")
    assert load_config(path).agent == "agent"
