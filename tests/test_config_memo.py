"""The start-up memo on disk (socialcare.config.memo): reused only while its files are unchanged."""

from __future__ import annotations

import os
from datetime import datetime, timezone
from pathlib import Path

import pytest

from socialcare import config, scoring
from socialcare.config import cache_dir, load_config


def _reader(path: Path, calls: list[str]):  # type: ignore[no-untyped-def]
    def compute() -> str:
        calls.append("computed")
        return path.read_text(encoding="utf-8")

    return compute


@pytest.fixture
def trusting(monkeypatch: pytest.MonkeyPatch) -> None:
    """Files written a moment ago count as settled (the tests cannot wait for them)."""
    monkeypatch.setattr(config, "RACY_SECONDS", 0.0)


@pytest.mark.usefixtures("trusting")
def test_an_unchanged_file_is_not_read_again(tmp_path: Path) -> None:
    source, calls = tmp_path / "a.txt", []
    source.write_text("one", encoding="utf-8")
    compute = _reader(source, calls)
    assert config.memo("t", [source], compute, tmp_path / "cache") == "one"
    assert config.memo("t", [source], compute, tmp_path / "cache") == "one"
    assert calls == ["computed"]
    assert (tmp_path / "cache" / "t.marshal").stat().st_mode & 0o777 == 0o600


@pytest.mark.usefixtures("trusting")
def test_an_edit_of_the_same_size_with_its_mtime_put_back_is_seen(tmp_path: Path) -> None:
    source, calls = tmp_path / "a.txt", []
    source.write_text("one", encoding="utf-8")
    before = source.stat()
    compute = _reader(source, calls)
    config.memo("t", [source], compute, tmp_path / "cache")
    source.write_text("two", encoding="utf-8")
    os.utime(source, ns=(before.st_atime_ns, before.st_mtime_ns))  # as `touch -d` would
    assert config.memo("t", [source], compute, tmp_path / "cache") == "two"
    assert calls == ["computed", "computed"]


def test_a_file_written_just_now_is_never_cached(tmp_path: Path) -> None:
    source, calls = tmp_path / "a.txt", []
    source.write_text("one", encoding="utf-8")
    compute = _reader(source, calls)
    config.memo("t", [source], compute, tmp_path / "cache")
    config.memo("t", [source], compute, tmp_path / "cache")
    assert calls == ["computed", "computed"]
    assert not (tmp_path / "cache" / "t.marshal").exists()


@pytest.mark.usefixtures("trusting")
def test_a_damaged_cache_file_is_computed_again_and_rewritten(tmp_path: Path) -> None:
    source, calls = tmp_path / "a.txt", []
    source.write_text("one", encoding="utf-8")
    compute = _reader(source, calls)
    config.memo("t", [source], compute, tmp_path / "cache")
    cached = tmp_path / "cache" / "t.marshal"
    cached.write_bytes(cached.read_bytes()[:-5])
    assert config.memo("t", [source], compute, tmp_path / "cache") == "one"
    assert config.memo("t", [source], compute, tmp_path / "cache") == "one"
    assert calls == ["computed", "computed"]


@pytest.mark.usefixtures("trusting")
def test_values_marshal_cannot_write_and_unwritable_directories_only_skip_the_cache(
    tmp_path: Path,
) -> None:
    source = tmp_path / "a.txt"
    source.write_text("one", encoding="utf-8")
    when = datetime(2026, 1, 1, tzinfo=timezone.utc)
    assert config.memo("t", [source], lambda: {"at": when}, tmp_path / "cache") == {"at": when}
    assert not (tmp_path / "cache" / "t.marshal").exists()
    blocker = tmp_path / "blocker"
    blocker.write_text("a file where the directory should be", encoding="utf-8")
    assert config.memo("t", [source], lambda: "ok", blocker / "cache") == "ok"


@pytest.mark.usefixtures("trusting")
def test_the_config_is_read_from_its_cache_and_an_edit_is_seen(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("SOCIALCARE_TIMEZONE", raising=False)
    path = tmp_path / "c.toml"
    path.write_text('timezone = "Europe/Oslo"\n', encoding="utf-8")
    assert load_config(path).timezone == "Europe/Oslo"
    assert (cache_dir() / "config.marshal").exists()
    assert load_config(path).timezone == "Europe/Oslo"
    path.write_text('timezone = "Europe/Rome"\n', encoding="utf-8")
    assert load_config(path).timezone == "Europe/Rome"


@pytest.mark.usefixtures("trusting")
def test_the_cached_code_fingerprint_is_the_content_hash(monkeypatch: pytest.MonkeyPatch) -> None:
    fresh = scoring._hash_code(scoring._fingerprinted_files())
    assert scoring._code_fingerprint() == fresh
    assert (cache_dir() / "code-fingerprint.marshal").exists()

    def must_not_hash(files: object) -> bytes:
        raise AssertionError("hashed again although nothing changed")

    monkeypatch.setattr(scoring, "_hash_code", must_not_hash)
    assert scoring._code_fingerprint() == fresh
