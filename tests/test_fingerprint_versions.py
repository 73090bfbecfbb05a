"""The fingerprint's package versions are read without importlib.metadata where that is
safe (issue 18 item 7), and are always what importlib.metadata says."""

from __future__ import annotations

import importlib.metadata
import sys
from pathlib import Path

import pytest

from socialcare import scoring

pytestmark = pytest.mark.store_free


def _real(name: str) -> str:
    try:
        return importlib.metadata.version(name)
    except importlib.metadata.PackageNotFoundError:
        return "?"


@pytest.mark.parametrize(
    "name",
    ["vaderSentiment", "vadersentiment", "py3langid", "Py3Langid", "typer", "rich",
     "socialcare", "sqlite-utils", "sqlite_utils", "pydantic_core", "not-installed-x"],
)  # fmt: skip
def test_installed_versions_are_importlib_metadatas(name: str) -> None:
    assert scoring._version(name) == _real(name)


def test_the_installed_fingerprint_packages_are_read_directly() -> None:
    """The point of it: vaderSentiment and py3langid (pip installs) need no importlib.metadata."""
    for name in scoring._DISTRIBUTIONS:
        assert scoring._listed_version(name) == _real(name) != "?"


def _dist(where: Path, dirname: str, metadata: str, file: str = "METADATA") -> None:
    info = where / dirname
    info.mkdir(parents=True)
    (info / file).write_text(metadata, encoding="utf-8")


@pytest.mark.parametrize(
    ("dists", "direct"),
    [
        # (directory names and METADATA texts in the first path entry, read directly?)
        ([("Foo_Bar-1.2.dist-info", "Metadata-Version: 2.1\nName: foo-bar\nVersion: 1.2\n")],
         True),
        ([("foo.bar-2.0.egg-info", "Name: foo.bar\nversion:\t2.0rc1 \n\nVersion: 9\n")], True),
        ([("foo_bar-1.0.dist-info", "Name: foo-bar\nSummary: x\n\nVersion: 3\n")], False),
        ([("foo_bar-1.0.dist-info", "Name: foo-bar\nVersion: 1.0\n  folded\n")], False),
        ([("foo_bar-1.0.dist-info", "Name: foo-bar\nVersion: 1.0\n"),
          ("Foo.Bar-2.0.dist-info", "Name: foo-bar\nVersion: 2.0\n")], False),
    ],
)  # fmt: skip
def test_a_path_entry_is_read_as_importlib_metadata_reads_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, dists: list[tuple[str, str]], direct: bool
) -> None:
    first, second = tmp_path / "first", tmp_path / "second"
    for dirname, text in dists:
        _dist(first, dirname, text)
    _dist(second, "foo_bar-7.0.dist-info", "Name: foo-bar\nVersion: 7.0\n")
    monkeypatch.setattr(sys, "path", [str(tmp_path / "missing.zip"), str(first), str(second)])
    assert (scoring._listed_version("foo-bar") is not None) == direct
    assert scoring._version("foo-bar") == _real("foo-bar")


def test_pkg_info_and_later_entries(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _dist(tmp_path / "a", "other-1.0.dist-info", "Name: other\nVersion: 1.0\n")
    _dist(tmp_path / "b", "foo_bar-0.3.egg-info", "Name: foo-bar\nVersion: 0.3\n", "PKG-INFO")
    monkeypatch.setattr(sys, "path", [str(tmp_path / "a"), str(tmp_path / "b")])
    assert scoring._listed_version("foo-bar") == "0.3" == _real("foo-bar")


def test_a_zip_or_egg_on_the_path_is_left_to_importlib_metadata(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "lib.zip").write_bytes(b"not really a zip")
    monkeypatch.setattr(sys, "path", [str(tmp_path / "lib.zip"), *sys.path])
    assert scoring._listed_version("typer") is None
    assert scoring._version("typer") == _real("typer")
    egg = tmp_path / "foo_bar-1.0.egg"
    _dist(egg, "EGG-INFO", "Name: foo-bar\nVersion: 1.0\n", "PKG-INFO")
    monkeypatch.setattr(sys, "path", [str(egg)])
    assert scoring._listed_version("foo-bar") is None


def test_a_finder_that_lists_distributions_is_left_to_importlib_metadata(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    class Lister:
        @staticmethod
        def find_distributions(context: object) -> list[object]:
            return []

    monkeypatch.setattr(sys, "meta_path", [Lister(), *sys.meta_path])
    assert scoring._listed_version("typer") is None
    assert scoring._version("typer") == _real("typer")


def test_the_code_fingerprint_is_the_one_importlib_metadata_gives(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Stored ``triage_fp`` values stay current: the same bytes as when every version
    came from importlib.metadata."""
    direct = scoring._code_fingerprint()
    monkeypatch.setattr(scoring, "_listed_version", lambda name: None)
    assert scoring._code_fingerprint() == direct
