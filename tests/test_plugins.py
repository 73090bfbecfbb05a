"""A real plugin package is discovered through the ``socialcare.sources`` entry point.

The test pip-installs ``examples/socialcare-example-source`` into the running
venv (offline: ``--no-index --no-deps --no-build-isolation``), then, in a fresh
interpreter with entry-point loading on (conftest turns it off in this one),
checks that the registry lists ``example`` and that ``poll_source`` stores its
posts once. The package is uninstalled afterwards.

setuptools builds wheels by itself only from 70.1 on; older ones need the
``wheel`` package. Without either, the test builds the wheel from the
example's ``pyproject.toml`` itself (a wheel is a zip with a dist-info) and
pip-installs that, so the entry-point declaration is still what gets tested.
"""

from __future__ import annotations

import base64
import hashlib
import importlib.metadata
import importlib.util
import json
import os
import shutil
import subprocess
import sys
import textwrap
import tomllib
import zipfile
from pathlib import Path

import pytest

# The plugin check's subprocess opens its own in-memory SQLite store, whatever the backend.
pytestmark = pytest.mark.store_free

EXAMPLE = Path(__file__).resolve().parent.parent / "examples" / "socialcare-example-source"
DIST = "socialcare-example-source"

CHECK = textwrap.dedent(
    """
    import json
    from socialcare.poll import poll_source
    from socialcare.sources import registry
    from socialcare.store import open_store

    classes = registry.source_classes()
    cls = classes["example"]
    src = cls({})
    store = open_store(":memory:")
    [first] = poll_source(store, src)
    [second] = poll_source(store, src)
    print(json.dumps({
        "names": sorted(classes),
        "file": __import__(cls.__module__).__file__,
        "first": [first.new, first.cursor, first.error],
        "second": [second.new, second.error],
        "read_only": cls.read_only,
        "stored": store.mention_count(),
    }))
    """
)


def _pip(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "pip", *args],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "PIP_DISABLE_PIP_VERSION_CHECK": "1"},
    )


def _setuptools_builds_wheels() -> bool:
    if importlib.util.find_spec("wheel") is not None:
        return True
    major, minor = (int(p) for p in importlib.metadata.version("setuptools").split(".")[:2])
    return (major, minor) >= (70, 1)


def _build_wheel(project: Path, out: Path) -> Path:
    """A pure-Python wheel of ``project`` built from its ``pyproject.toml`` (no backend needed)."""
    pyproject = tomllib.loads((project / "pyproject.toml").read_text(encoding="utf-8"))
    meta = pyproject["project"]
    dist = meta["name"].replace("-", "_")
    info = f"{dist}-{meta['version']}.dist-info"
    files: dict[str, bytes] = {}
    for package in pyproject["tool"]["setuptools"]["packages"]:
        for path in sorted((project / package).rglob("*.py")):
            files[path.relative_to(project).as_posix()] = path.read_bytes()
    files[f"{info}/METADATA"] = (
        f"Metadata-Version: 2.1\nName: {meta['name']}\nVersion: {meta['version']}\n"
    ).encode()
    files[f"{info}/WHEEL"] = (
        b"Wheel-Version: 1.0\nGenerator: socialcare-tests\nRoot-Is-Purelib: true\nTag: py3-none-any\n"
    )
    files[f"{info}/entry_points.txt"] = "".join(
        f"[{group}]\n" + "".join(f"{k} = {v}\n" for k, v in entries.items()) + "\n"
        for group, entries in meta["entry-points"].items()
    ).encode()
    record = []
    for name, data in files.items():
        digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
        record.append(f"{name},sha256={digest},{len(data)}")
    record.append(f"{info}/RECORD,,")
    files[f"{info}/RECORD"] = ("\n".join(record) + "\n").encode()
    wheel = out / f"{dist}-{meta['version']}-py3-none-any.whl"
    with zipfile.ZipFile(wheel, "w") as zf:
        for name, data in files.items():
            zf.writestr(name, data)
    return wheel


def test_installed_plugin_is_discovered_and_polls(tmp_path: Path) -> None:
    if _setuptools_builds_wheels():
        # build from a copy: setuptools leaves build/ and *.egg-info next to the sources
        copy = shutil.copytree(
            EXAMPLE, tmp_path / "src", ignore=shutil.ignore_patterns("*.egg-info", "build")
        )
        target = str(copy)
        extra = ["--no-build-isolation"]
    else:
        target = str(_build_wheel(EXAMPLE, tmp_path))
        extra = []
    installed = _pip("install", "--no-index", "--no-deps", "-q", *extra, target)
    assert installed.returncode == 0, installed.stderr
    try:
        run = subprocess.run(
            [sys.executable, "-c", CHECK],
            capture_output=True,
            text=True,
            timeout=60,
            cwd=tmp_path,
            env={**os.environ, "SOCIALCARE_HOME": str(tmp_path / "home")},
        )
        assert run.returncode == 0, run.stderr
        out = json.loads(run.stdout.strip().splitlines()[-1])
    finally:
        removed = _pip("uninstall", "-y", "-q", DIST)
    assert removed.returncode == 0, removed.stderr

    assert "example" in out["names"] and "demo" in out["names"]
    assert "site-packages" in out["file"]  # the installed copy, not a source tree
    assert out["first"] == [2, "2", None]
    assert out["second"] == [0, None]
    assert out["read_only"] is True and out["stored"] == 2
