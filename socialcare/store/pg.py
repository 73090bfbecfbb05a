"""A PostgreSQL connection that speaks the store layer's SQLite-flavoured DB-API.

The store modules write one SQL text with ``?`` and ``:name`` placeholders and
call ``execute``/``executemany`` on a connection. :class:`PgConnection` gives
them the same surface over psycopg 3, translating placeholders to psycopg's
``%s``/``%(name)s`` (once per distinct statement, cached), so a query is
written once and only the genuinely different fragments (scalar ``min`` vs
``LEAST``, FTS5 vs tsvector, ...) come from :mod:`socialcare.store.dialect`.

The connection runs in autocommit mode like the SQLite one
(``isolation_level=None``): a statement outside :meth:`Store.transaction`
commits by itself, and ``BEGIN``/``COMMIT`` are explicit.
"""

from __future__ import annotations

import itertools
import re
from contextlib import contextmanager
from functools import lru_cache
from typing import Any, Iterator, Sequence

import psycopg

try:  # psycopg's own libpq driving; not public API, so call_row falls back without it
    from psycopg import generators
    from psycopg.errors import error_from_result
except ImportError:  # pragma: no cover - a psycopg that moved them
    generators = None  # type: ignore[assignment]
from psycopg.pq import ExecStatus, PipelineStatus, TransactionStatus
from psycopg.types.numeric import FloatLoader

from ..errors import ConfigError, StoreUnavailable

__all__ = ["PgConnection", "translate", "redact_url", "connect"]


@lru_cache(maxsize=1024)
def translate(sql: str) -> str:
    """SQLite placeholders to psycopg ones; ``%`` escaped; quoted text left alone.

    ``?`` becomes ``%s`` and ``:name`` becomes ``%(name)s``; ``::`` casts,
    string literals and quoted identifiers pass through unchanged.
    """
    out: list[str] = []
    i, n = 0, len(sql)
    while i < n:
        ch = sql[i]
        if ch in ("'", '"'):
            end = i + 1
            while end < n:
                if sql[end] == ch:
                    if end + 1 < n and sql[end + 1] == ch:  # doubled quote inside
                        end += 2
                        continue
                    break
                end += 1
            out.append(sql[i : end + 1].replace("%", "%%"))
            i = end + 1
        elif ch == "?":
            out.append("%s")
            i += 1
        elif ch == "%":
            out.append("%%")
            i += 1
        elif ch == ":" and i + 1 < n and sql[i + 1] == ":":
            out.append("::")
            i += 2
        elif ch == ":" and i + 1 < n and (sql[i + 1].isalpha() or sql[i + 1] == "_"):
            end = i + 1
            while end < n and (sql[end].isalnum() or sql[end] == "_"):
                end += 1
            out.append(f"%({sql[i + 1 : end]})s")
            i = end
        else:
            out.append(ch)
            i += 1
    return "".join(out)


@lru_cache(maxsize=64)
def numbered(sql: str) -> bytes:
    """``?`` placeholders as libpq's ``$1``, ``$2``, ... (quoted text left alone), encoded."""
    out: list[str] = []
    n = 0
    for i, part in enumerate(re.split(r"('(?:[^']|'')*'|\"(?:[^\"]|\"\")*\")", sql)):
        if i % 2:  # a quoted literal or identifier
            out.append(part)
            continue
        pieces = part.split("?")
        out.append(pieces[0])
        for piece in pieces[1:]:
            n += 1
            out.append(f"${n}{piece}")
    return "".join(out).encode()


#: SQLSTATE of "prepared statement does not exist" (someone ran DEALLOCATE or DISCARD)
_NO_SUCH_STATEMENT = b"26000"


class _NumericAsFloat(FloatLoader):
    """``numeric`` (what ``sum``/``avg`` of integers return) as float, not Decimal.

    The callers were written for SQLite, whose aggregates are int or float;
    Decimal would not mix with their float arithmetic.
    """


def _reason(exc: BaseException) -> str:
    """psycopg's message in one line (it never contains the password)."""
    lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
    return "; ".join(lines[:2]) if lines else type(exc).__name__


def redact_url(url: str) -> str:
    """The URL without its password, for messages and ``db status``."""
    try:
        info = psycopg.conninfo.conninfo_to_dict(url)
    except psycopg.ProgrammingError:
        return "postgresql://…"
    host = info.get("host") or "localhost"
    port = info.get("port") or "5432"
    user = info.get("user")
    db = info.get("dbname") or ""
    who = f"{user}@" if user else ""
    return f"postgresql://{who}{host}:{port}/{db}"


def connect(url: str) -> psycopg.Connection[Any]:
    """An autocommit psycopg connection, or ConfigError naming the server (never the password)."""
    try:
        conn = psycopg.connect(url, autocommit=True, connect_timeout=10)
    except psycopg.OperationalError as exc:
        raise StoreUnavailable(
            f"database: cannot connect to {redact_url(url)} ({_reason(exc)})"
        ) from None
    except psycopg.ProgrammingError as exc:
        raise ConfigError(f"database: malformed PostgreSQL URL ({exc})") from None
    conn.adapters.register_loader("numeric", _NumericAsFloat)
    return conn


class PgConnection:
    """The subset of ``sqlite3.Connection`` the store layer uses, over psycopg."""

    def __init__(self, raw: psycopg.Connection[Any]) -> None:
        self.raw = raw
        #: the statements :meth:`call_row` has prepared on this connection, by SQL text
        self._named: dict[str, bytes] = {}
        self._names = itertools.count(1)

    def execute(
        self,
        sql: str,
        params: Sequence[Any] | dict[str, Any] | None = None,
        *,
        prepare: bool | None = None,
    ) -> psycopg.Cursor[Any]:
        """Run one statement; the cursor has ``fetchone``/``fetchall``/``rowcount``.

        ``prepare=True`` makes it a server-side prepared statement from its first
        run (psycopg's default is the sixth), so a hot statement is planned once.
        """
        cur = self.raw.cursor()
        try:
            if params:
                cur.execute(translate(sql), params, prepare=prepare)
            else:  # psycopg reads no placeholders (and no %% escapes) without parameters
                cur.execute(sql)
        except psycopg.OperationalError as exc:
            raise self._lost(exc) from None
        return cur

    def call_row(self, sql: str, params: Sequence[str | None]) -> tuple[str | None, ...] | None:
        """The first row of a hot one-row statement, every value as text (None for NULL).

        ``sql`` takes ``?`` placeholders and text parameters (None for NULL). It is prepared on the
        server the first time and then run through libpq's prepared-statement calls
        directly, without a psycopg cursor: its adapters, prepared-statement cache and
        row making cost a lone claim two thirds of its client CPU (0.05 of 0.07 ms on
        the same statement). psycopg's ``wait`` still runs it, so Ctrl-C cancels a
        call that waits on a lock, and errors are psycopg's exception classes. In
        pipeline mode, or with a psycopg whose internal ``generators``/``wait`` are gone,
        it goes through :meth:`execute` instead.
        """
        pgconn = self.raw.pgconn
        if (
            pgconn.pipeline_status != PipelineStatus.OFF
            or generators is None
            or not hasattr(self.raw, "wait")
        ):
            row = self.execute(sql, list(params), prepare=True).fetchone()
            return None if row is None else tuple(None if v is None else str(v) for v in row)
        encoding = self.raw.info.encoding
        values = [None if p is None else p.encode(encoding) for p in params]
        try:
            with self.raw.lock:
                name = self._named.get(sql)
                if name is None:
                    name = self._prepare(sql)
                res = self._run(name, values)
                if res.status == ExecStatus.FATAL_ERROR and (
                    res.error_field(psycopg.pq.DiagnosticField.SQLSTATE) == _NO_SUCH_STATEMENT
                ):
                    res = self._run(self._prepare(sql), values)
        except psycopg.OperationalError as exc:
            raise self._lost(exc) from None
        if res.status != ExecStatus.TUPLES_OK:
            error = error_from_result(res, encoding=encoding)
            raise self._lost(error) if isinstance(error, psycopg.OperationalError) else error
        if not res.ntuples:
            return None
        return tuple(
            None if v is None else v.decode(encoding)
            for v in (res.get_value(0, i) for i in range(res.nfields))
        )

    def _prepare(self, sql: str) -> bytes:
        """Prepare ``sql`` under a name of its own (the caller holds the connection's lock)."""
        name = f"socialcare_{next(self._names)}".encode()
        self.raw.pgconn.send_prepare(name, numbered(sql))
        (res,) = self.raw.wait(generators.execute(self.raw.pgconn))
        if res.status != ExecStatus.COMMAND_OK:
            raise error_from_result(res, encoding=self.raw.info.encoding)
        self._named[sql] = name
        return name

    def _run(self, name: bytes, values: list[bytes | None]) -> Any:
        """One run of a prepared statement; its result (errors included)."""
        self.raw.pgconn.send_query_prepared(name, values)
        results = self.raw.wait(generators.execute(self.raw.pgconn))
        return results[-1]

    def executemany(
        self, sql: str, seq: Sequence[Sequence[Any]] | Iterator[Sequence[Any]]
    ) -> psycopg.Cursor[Any]:
        """Run one statement for many parameter rows (pipelined by psycopg)."""
        rows = list(seq)
        cur = self.raw.cursor()
        if rows:
            try:
                cur.executemany(translate(sql), rows)
            except psycopg.OperationalError as exc:
                raise self._lost(exc) from None
        return cur

    @contextmanager
    def pipeline(self) -> Iterator[None]:
        """Send the statements executed inside together, in one round trip (psycopg's
        pipeline mode); their cursors have their results once the block ends.

        On a busy machine each round trip costs a wake-up of the server and then of
        this process, milliseconds each, however cheap the statement; an error in
        one statement skips the rest up to the end of the block.
        """
        try:
            with self.raw.pipeline():
                yield
        except psycopg.OperationalError as exc:
            raise self._lost(exc) from None

    def _lost(self, exc: psycopg.OperationalError) -> Exception:
        """A dropped connection is StoreUnavailable; other operational errors stay as they are."""
        if self.raw.closed or self.raw.broken:
            return StoreUnavailable(f"database: lost the connection to the server ({_reason(exc)})")
        return exc

    @property
    def in_transaction(self) -> bool:
        """Whether a BEGIN is open (the store's nested transactions rely on this)."""
        return self.raw.info.transaction_status != TransactionStatus.IDLE

    def commit(self) -> None:
        """Nothing to do outside a transaction: the connection autocommits."""
        if self.in_transaction:
            self.raw.execute("COMMIT")

    def close(self) -> None:
        """Close the connection (an open transaction is rolled back by the server)."""
        self.raw.close()
