"""Shared fixtures: an isolated SOCIALCARE_HOME, a migrated store, a CLI runner.

Every test runs once per store backend: ``[sqlite]`` (the embedded default)
and ``[pg]`` (PostgreSQL, ``SOCIALCARE_DATABASE=postgresql://...``). Tests
marked ``store_free`` (module ``pytestmark`` or function) never open a store
and run on SQLite only; ``sqlite_only`` tests are about SQLite itself and are
skipped in the ``[pg]`` run. ``--backend sqlite|postgresql`` deselects the
other backend's runs.

The PostgreSQL server is started once per session on first use (see
``tests/pg_server.py``: a private throwaway cluster, or a fresh database on
``$SOCIALCARE_TEST_PG_URL``); if none can be had, the ``[pg]`` runs are skipped
and the terminal summary says so loudly. Before each ``[pg]`` test every table
is emptied, so each test starts from a migrated, empty store as with SQLite.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import psycopg
import pytest

from socialcare.sources import registry
from socialcare.store import Store, open_store
from tests.pg_server import ENV_URL, PgServer, PgUnavailable, start_server, truncate_tables

SQLITE, POSTGRESQL = "sqlite", "postgresql"
BACKEND_IDS = {SQLITE: "sqlite", POSTGRESQL: "pg"}


@dataclass
class _PgState:
    external_url: str | None = None  # $SOCIALCARE_TEST_PG_URL as found at startup
    server: PgServer | None = None
    reason: str | None = None  # why the server is unavailable
    ran: int = 0  # [pg] tests that got a database
    unavailable: int = 0  # [pg] tests skipped for want of a server


PG_STATE = pytest.StashKey[_PgState]()


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--backend",
        choices=("all", SQLITE, POSTGRESQL),
        default="all",
        help="run the tests on this store backend only (default: all)",
    )


def pytest_configure(config: pytest.Config) -> None:
    # isolated_home removes SOCIALCARE_* from the environment during each test;
    # remember the server URL before any test runs.
    config.stash[PG_STATE] = _PgState(external_url=os.environ.get(ENV_URL) or None)


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """Every test that (through isolated_home) uses ``backend`` runs on each backend."""
    if "backend" not in metafunc.fixturenames:
        return
    store_free = metafunc.definition.get_closest_marker("store_free") is not None
    backends = [SQLITE] if store_free else [SQLITE, POSTGRESQL]
    metafunc.parametrize("backend", backends, ids=[BACKEND_IDS[b] for b in backends], indirect=True)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    wanted = config.getoption("backend")
    if wanted == "all":
        return
    keep: list[pytest.Item] = []
    drop: list[pytest.Item] = []
    for item in items:
        callspec = getattr(item, "callspec", None)
        backend = callspec.params.get("backend", SQLITE) if callspec else SQLITE
        (keep if backend == wanted else drop).append(item)
    if drop:
        config.hook.pytest_deselected(items=drop)
        items[:] = keep


@pytest.fixture(scope="session")
def pg_server(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[PgServer | None]:
    """The session's PostgreSQL test database (started on first use), or None if unavailable."""
    state = request.config.stash[PG_STATE]
    try:
        server = start_server(tmp_path_factory.getbasetemp(), state.external_url)
    except PgUnavailable as exc:
        state.reason = str(exc)
        yield None
        return
    state.server = server
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def backend(request: pytest.FixtureRequest) -> str:
    """The store backend of this run: ``"sqlite"`` or ``"postgresql"`` (with an empty database)."""
    name: str = getattr(request, "param", SQLITE)
    if name == POSTGRESQL:
        if request.node.get_closest_marker("sqlite_only") is not None:
            pytest.skip("SQLite-specific")
        state = request.config.stash[PG_STATE]
        server: PgServer | None = request.getfixturevalue("pg_server")
        if server is None:
            state.unavailable += 1
            pytest.skip(f"PostgreSQL unavailable: {state.reason}")
        try:
            truncate_tables(server.url)
        except psycopg.Error as exc:
            pytest.fail(
                f"cannot empty the PostgreSQL test database before the test ({exc}); "
                "did an earlier test leave a store connection open?",
                pytrace=False,
            )
        state.ran += 1
    return name


@pytest.fixture
def pg_url(backend: str, request: pytest.FixtureRequest) -> str | None:
    """The PostgreSQL test database URL in a ``[pg]`` run; None in a ``[sqlite]`` run."""
    if backend != POSTGRESQL:
        return None
    server: PgServer = request.getfixturevalue("pg_server")
    return server.url


@pytest.fixture(autouse=True)
def isolated_home(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, backend: str, pg_url: str | None
) -> Path:
    """Every test gets its own data/config dir and no stray socialcare env vars.

    In a ``[pg]`` run ``SOCIALCARE_DATABASE`` points at the (emptied) test database.
    """
    for key in list(os.environ):
        if key.startswith(("SOCIALCARE_", "TWITTER_", "REDDIT_")):
            monkeypatch.delenv(key)
    home = tmp_path / "home"
    monkeypatch.setenv("SOCIALCARE_HOME", str(home))
    monkeypatch.setenv("SOCIALCARE_AGENT", "alice")
    if pg_url is not None:
        monkeypatch.setenv("SOCIALCARE_DATABASE", pg_url)
    monkeypatch.setenv("EDITOR", "false")  # never open a real editor in a test
    monkeypatch.delenv("VISUAL", raising=False)
    monkeypatch.setattr(registry, "LOAD_ENTRY_POINTS", False)
    registry.load_plugins()
    # Tests register fakes and unregister sources; each test starts from the built-ins.
    monkeypatch.setattr(registry, "_REGISTRY", dict(registry._REGISTRY))
    return home


@pytest.fixture
def database(isolated_home: Path, pg_url: str | None) -> str:
    """The store the CLI opens by default in this test: the default file, or the PG URL."""
    return pg_url if pg_url is not None else str(isolated_home / "socialcare.db")


@pytest.fixture
def store(pg_url: str | None) -> Iterator[Store]:
    """A migrated store: in-memory SQLite, or the emptied PostgreSQL test database."""
    s = open_store(pg_url if pg_url is not None else ":memory:")
    yield s
    s.close()


@pytest.fixture
def file_store(tmp_path: Path, pg_url: str | None) -> Iterator[Store]:
    """A migrated store another connection can open too: an on-disk SQLite file (WAL), or PG."""
    s = open_store(pg_url if pg_url is not None else tmp_path / "store.db")
    yield s
    s.close()


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    state = terminalreporter.config.stash.get(PG_STATE, None)
    if state is None:
        return
    tr = terminalreporter
    if state.unavailable:
        tr.write_line("")
        tr.write_sep("!", "PostgreSQL backend NOT TESTED", red=True, bold=True)
        tr.write_line(
            f"{state.unavailable} PostgreSQL-backend test run(s) were SKIPPED because no "
            "PostgreSQL server was available:",
            red=True,
            bold=True,
        )
        for line in (state.reason or "unknown reason").splitlines():
            tr.write_line(f"    {line}", red=True)
        tr.write_line(
            "Fix: run scripts/install-postgres.sh (as root), or set "
            f"{ENV_URL}=postgresql://user@host:port/dbname",
            red=True,
            bold=True,
        )
        tr.write_sep("!", red=True, bold=True)
    elif state.server is not None and state.ran:
        tr.write_line(
            f"PostgreSQL backend tested against PostgreSQL {state.server.version} "
            f"at {state.server.address}"
        )
