"""A throwaway PostgreSQL server (or database) for the PostgreSQL-backend test runs.

:func:`start_server` returns a :class:`PgServer` whose ``url`` names an empty
database the tests may fill and truncate at will; ``stop()`` removes it again.

* ``SOCIALCARE_TEST_PG_URL`` set: that server is used; a fresh database
  ``socialcare_test_<pid>`` is created on it and dropped by ``stop()``.
* otherwise a private cluster is created with ``initdb`` in a fresh temporary
  directory and started with ``pg_ctl`` on a free 127.0.0.1 port, tuned for
  speed (no fsync); ``stop()`` kills it and removes the directory. ``initdb``
  refuses to run as root, so as root the server runs as the ``postgres`` user
  (created by Debian's ``postgresql`` package) through ``runuser``.

A small watchdog process holds a pipe from the test process and does the same
clean-up if the test process dies without calling ``stop()`` (SIGKILL, a CI
timeout), so no server or database outlives the test run.

Anything that goes wrong raises :class:`PgUnavailable` with the reason (and the
tail of the server log), so the test suite can skip instead of erroring.
"""

from __future__ import annotations

import atexit
import glob
import json
import os
import pwd
import re
import shutil
import socket
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import psycopg
from psycopg import sql
from psycopg.rows import TupleRow

__all__ = [
    "ENV_URL",
    "KEEP_TABLES",
    "PgServer",
    "PgUnavailable",
    "TEST_DATABASE",
    "find_binaries",
    "start_server",
    "truncate_tables",
]

ENV_URL = "SOCIALCARE_TEST_PG_URL"
TEST_DATABASE = "socialcare_test"
KEEP_TABLES = ("_socialcare_migrations",)  # the schema stays; only the data goes
SERVER_USER = "postgres"  # the Debian package's system user, and our superuser name
LOG_TAIL_LINES = 25
_SERVER_OPTIONS = (
    "-c listen_addresses=127.0.0.1 -p {port} -k {sockdir} "
    "-c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=100"
)


class PgUnavailable(Exception):
    """No PostgreSQL server could be provided; the message says why."""


# -- clean-up, shared by stop() and the watchdog ---------------------------------------------


def _stop_cluster(ctl: list[str], data: str, root: str) -> subprocess.CompletedProcess[str]:
    """``pg_ctl -m immediate stop`` (a no-op failure if the cluster is not running)."""
    cmd = [*ctl, "-D", data, "-m", "immediate", "-w", "-t", "30", "stop"]
    return _run(cmd, cwd=Path(root), timeout=60)


def _drop_database(admin_url: str, dbname: str) -> None:
    """Drop ``dbname`` (best effort); FORCE (PostgreSQL 13+) ends forgotten connections."""
    try:
        with _connect(admin_url) as conn:
            _drop(conn, dbname)
    except psycopg.Error:
        pass  # the server may be gone already


def _cleanup(plan: dict[str, Any]) -> None:
    if "drop" in plan:
        _drop_database(plan["drop"], plan["dbname"])
    else:
        _stop_cluster(plan["ctl"], plan["data"], plan["root"])
        shutil.rmtree(plan["root"], ignore_errors=True)


# Reads the clean-up plan (one JSON line), then waits for EOF on stdin: the test
# process closed the pipe (after its own clean-up: it sends "done" first) or died.
_WATCHDOG = """
import json, signal, sys
signal.signal(signal.SIGINT, signal.SIG_IGN)
plan = json.loads(sys.stdin.readline())
rest = sys.stdin.read()
if rest != "done":
    sys.path.insert(0, plan["tests_parent"])
    from tests.pg_server import _cleanup
    _cleanup(plan)
"""


class _Watchdog:
    """A detached process that runs :func:`_cleanup` if this process dies first."""

    def __init__(self, plan: dict[str, Any]) -> None:
        plan = {**plan, "tests_parent": str(Path(__file__).resolve().parent.parent)}
        self._proc: subprocess.Popen[str] | None = None
        try:
            self._proc = subprocess.Popen(
                [sys.executable, "-c", _WATCHDOG],
                stdin=subprocess.PIPE,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
                text=True,
                start_new_session=True,  # outlives a Ctrl-C or kill of our process group
                close_fds=True,
            )
            assert self._proc.stdin is not None
            self._proc.stdin.write(json.dumps(plan) + "\n")
            self._proc.stdin.flush()
        except OSError:
            self._proc = None  # no safety net; stop() still cleans up normally

    def dismiss(self) -> None:
        """Clean-up is done: tell the watchdog to exit without acting, and reap it."""
        proc, self._proc = self._proc, None
        if proc is None or proc.stdin is None:
            return
        try:
            proc.stdin.write("done")
            proc.stdin.close()
            proc.wait(timeout=30)
        except (OSError, subprocess.TimeoutExpired):
            proc.kill()


# -- the server ------------------------------------------------------------------------------


class PgServer:
    """A PostgreSQL database for the tests: ``url`` to use it, ``stop()`` to discard it."""

    def __init__(
        self,
        url: str,
        *,
        admin_url: str,
        version: str,
        plan: dict[str, Any],
        watchdog: _Watchdog,
        log_copy: Path | None = None,
    ) -> None:
        self.url = url
        self.admin_url = admin_url  # the maintenance database on the same server
        self.version = version
        parts = urlsplit(url)
        self.dbname = parts.path.lstrip("/")
        self.address = f"{parts.hostname or 'localhost'}:{parts.port or 5432}"
        self._plan = plan
        self._watchdog = watchdog
        self._log_copy = log_copy
        self._stopped = False
        atexit.register(self.stop)  # in case the session ends without running finalizers

    @property
    def owned(self) -> bool:
        """True when this process started the server (rather than reusing one)."""
        return "root" in self._plan

    def __repr__(self) -> str:
        return f"PgServer({_redact(self.url)!r}, version={self.version!r})"

    def stop(self) -> None:
        """Drop the test database (reused server) or kill the server and its files (ours)."""
        if self._stopped:
            return
        self._stopped = True
        plan = self._plan
        if self.owned:
            _stop_cluster(plan["ctl"], plan["data"], plan["root"])
            if self._log_copy is not None:
                _copy_log(Path(plan["root"]) / "server.log", self._log_copy)
            shutil.rmtree(plan["root"], ignore_errors=True)
        else:
            _drop_database(plan["drop"], plan["dbname"])
        self._watchdog.dismiss()


def start_server(workdir: Path, external_url: str | None = None) -> PgServer:
    """A database for the tests; see the module docstring. Raises :class:`PgUnavailable`.

    ``external_url`` (default: ``$SOCIALCARE_TEST_PG_URL``) names an existing
    server to create the test database on instead of starting one.
    ``workdir`` receives a copy of the server log when our own server stops
    (the server itself lives in a fresh, short, world-traversable temporary
    directory: Unix socket paths are limited to ~100 bytes, and as root the
    ``postgres`` user must be able to reach it).
    """
    external = external_url or os.environ.get(ENV_URL)
    if external:
        return _use_external(external)
    return _start_own(workdir)


def _use_external(admin_url: str) -> PgServer:
    if not admin_url.startswith(("postgresql://", "postgres://")):
        raise PgUnavailable(f"{ENV_URL} must be a postgresql:// URL, not {_redact(admin_url)!r}")
    dbname = f"{TEST_DATABASE}_{os.getpid()}"
    plan = {"drop": admin_url, "dbname": dbname}
    watchdog = _Watchdog(plan)
    try:
        version = _recreate_database(admin_url, dbname)
    except psycopg.Error as exc:
        _drop_database(admin_url, dbname)
        watchdog.dismiss()
        raise PgUnavailable(
            f"cannot create database {dbname} on {ENV_URL}={_redact(admin_url)}: {exc}"
        ) from None
    except BaseException:
        _drop_database(admin_url, dbname)
        watchdog.dismiss()
        raise
    url = _with_database(admin_url, dbname)
    return PgServer(url, admin_url=admin_url, version=version, plan=plan, watchdog=watchdog)


def _start_own(workdir: Path) -> PgServer:
    binaries = find_binaries()
    if binaries is None:
        raise PgUnavailable(
            "no PostgreSQL server binaries (initdb) found; run scripts/install-postgres.sh"
        )
    initdb, pg_ctl = binaries

    as_user: list[str] = []
    owner: pwd.struct_passwd | None = None
    if os.geteuid() == 0:
        try:
            owner = pwd.getpwnam(SERVER_USER)
        except KeyError:
            raise PgUnavailable(
                f"running as root, and initdb refuses to run as root, but there is no "
                f"'{SERVER_USER}' user to run it as (the Debian postgresql package creates "
                f"one; or set {ENV_URL} to an existing server)"
            ) from None
        runuser = shutil.which("runuser")
        if runuser is None:
            raise PgUnavailable(
                f"running as root, and initdb refuses to run as root, but runuser is missing "
                f"to run it as '{SERVER_USER}' (or set {ENV_URL} to an existing server)"
            )
        as_user = [runuser, "-u", SERVER_USER, "--"]

    root = Path(tempfile.mkdtemp(prefix="socialcare-pg-"))
    plan = {"ctl": [*as_user, str(pg_ctl)], "data": str(root / "data"), "root": str(root)}
    watchdog = _Watchdog(plan)
    try:
        return _init_and_start(initdb, as_user, owner, plan, watchdog, workdir)
    except BaseException:  # Ctrl-C included: never leave a server or its files behind
        _cleanup(plan)
        watchdog.dismiss()
        raise


def _init_and_start(
    initdb: Path,
    as_user: list[str],
    owner: pwd.struct_passwd | None,
    plan: dict[str, Any],
    watchdog: _Watchdog,
    workdir: Path,
) -> PgServer:
    root = Path(plan["root"])
    os.chmod(root, 0o755)  # mkdtemp makes it 0700; the postgres user must traverse it
    data, sockdir, log = root / "data", root / "sock", root / "server.log"

    def make_dirs() -> None:
        for d in (data, sockdir):
            shutil.rmtree(d, ignore_errors=True)
            d.mkdir(mode=0o700)
        if owner is not None:
            for p in (root, data, sockdir):  # root too: pg_ctl writes the log there
                os.chown(p, owner.pw_uid, owner.pw_gid)

    base = [str(initdb), "-D", str(data), "-A", "trust", "-U", SERVER_USER, "-E", "UTF8"]
    base.append("--no-sync")  # a throwaway cluster: skip initdb's final fsync
    failures = []
    for locale in ("C.UTF-8", "C"):
        make_dirs()
        result = _run([*as_user, *base, f"--locale={locale}"], cwd=root)
        if result.returncode == 0:
            break
        failures.append(f"initdb --locale={locale}: {_describe(result)}")
    else:
        raise PgUnavailable("initdb failed:\n" + "\n".join(failures))

    port, last = 0, ""
    for _attempt in range(3):  # the free port may be taken between probing and binding
        port = _free_port()
        options = _SERVER_OPTIONS.format(port=port, sockdir=sockdir)
        cmd = [*plan["ctl"], "-w", "-t", "60", "-D", str(data), "-l", str(log), "-o", options]
        result = _run([*cmd, "start"], cwd=root, timeout=90)
        if result.returncode == 0:
            last = ""
            break
        last = _describe(result, log)
        _stop_cluster(plan["ctl"], str(data), str(root))  # a half-started one must not linger
        if "could not bind" not in last and "already in use" not in last:
            break
    if last:
        raise PgUnavailable(f"pg_ctl start failed: {last}")

    admin_url = f"postgresql://{SERVER_USER}@127.0.0.1:{port}/postgres"
    try:
        version = _recreate_database(admin_url, TEST_DATABASE)
    except psycopg.Error as exc:
        tail = _log_tail(log)
        raise PgUnavailable(
            f"server started but cannot create database {TEST_DATABASE}: {exc}"
            + (f"\n--- last lines of {log} ---\n{tail}" if tail else "")
        ) from None
    return PgServer(
        _with_database(admin_url, TEST_DATABASE),
        admin_url=admin_url,
        version=version,
        plan=plan,
        watchdog=watchdog,
        log_copy=workdir / "postgresql-server.log",
    )


def find_binaries() -> tuple[Path, Path] | None:
    """``(initdb, pg_ctl)`` from PATH, else from the newest /usr/lib/postgresql/*/bin."""
    candidates: list[Path] = []
    on_path = shutil.which("initdb")
    if on_path:
        candidates.append(Path(on_path))
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=_version_key, reverse=True)
    candidates.extend(Path(p) for p in found)
    for initdb in candidates:
        # pg_ctl must come from the same installation as initdb (and postgres next to it);
        # resolve symlinks such as /usr/local/bin/initdb -> /usr/lib/postgresql/15/bin/initdb.
        real = initdb.resolve()
        pg_ctl = real.parent / "pg_ctl"
        if os.access(real, os.X_OK) and os.access(pg_ctl, os.X_OK):
            return real, pg_ctl
    return None


def truncate_tables(url: str, keep: tuple[str, ...] = KEEP_TABLES) -> list[str]:
    """Empty every table in ``public`` except ``keep``, in one TRUNCATE; returns their names.

    Raises ``psycopg.Error`` (a lock timeout, typically) if a connection left
    open by an earlier test still holds a lock on one of the tables.
    """
    with _connect(url) as conn:
        names = [
            str(row[0])
            for row in conn.execute(
                "SELECT tablename FROM pg_tables WHERE schemaname = 'public' "
                "AND NOT (tablename = ANY(%s)) ORDER BY tablename",
                [list(keep)],
            )
        ]
        if names:
            conn.execute("SET lock_timeout = '10s'")
            tables = sql.SQL(", ").join(sql.Identifier("public", n) for n in names)
            conn.execute(sql.SQL("TRUNCATE {} RESTART IDENTITY CASCADE").format(tables))
    return names


# -- helpers ---------------------------------------------------------------------------------


def _with_database(url: str, dbname: str) -> str:
    """``url`` pointing at database ``dbname`` instead (query string kept)."""
    return urlunsplit(urlsplit(url)._replace(path="/" + dbname))


def _redact(url: str) -> str:
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = parts.netloc.replace(f":{parts.password}@", ":***@", 1)
    return urlunsplit(parts._replace(netloc=netloc))


def _connect(url: str) -> psycopg.Connection[TupleRow]:
    return psycopg.connect(url, autocommit=True, connect_timeout=10)


def _drop(conn: psycopg.Connection[TupleRow], dbname: str) -> None:
    name = sql.Identifier(dbname)
    try:  # FORCE (PostgreSQL 13+) also ends connections a test forgot to close
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(name))
    except psycopg.errors.SyntaxError:
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {}").format(name))


def _recreate_database(admin_url: str, dbname: str) -> str:
    """Drop (if left over) and create ``dbname``; returns the server version."""
    with _connect(admin_url) as conn:
        _drop(conn, dbname)
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(dbname)))
        row = conn.execute("SHOW server_version").fetchone()
    return str(row[0]) if row else "?"


def _copy_log(log: Path, copy: Path) -> None:
    """Keep the server log out of the temporary directory (for post-mortems)."""
    try:
        copy.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(log, copy)
    except OSError:
        pass


def _version_key(path: str) -> tuple[int, ...]:
    match = re.search(r"/postgresql/([\d.]+)/bin/", path)
    return tuple(int(p) for p in match.group(1).split(".") if p) if match else ()


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _run(cmd: list[str], cwd: Path, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    try:
        return subprocess.run(
            cmd,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            cwd=cwd,
            timeout=timeout,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        return subprocess.CompletedProcess(cmd, 127, "", f"{cmd[0]}: {exc}")


def _log_tail(log: Path, lines: int = LOG_TAIL_LINES) -> str:
    try:
        text = log.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return ""
    return "\n".join(text.splitlines()[-lines:])


def _describe(result: subprocess.CompletedProcess[str], log: Path | None = None) -> str:
    out = (result.stdout + result.stderr).strip().splitlines()[-LOG_TAIL_LINES:]
    text = f"exit status {result.returncode}"
    if out:
        text += "\n" + "\n".join(out)
    tail = _log_tail(log) if log else ""
    if tail:
        text += f"\n--- last lines of {log} ---\n{tail}"
    return text
