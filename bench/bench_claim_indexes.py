"""Benchmark: where a lone PostgreSQL ``claim``'s time goes (issue 25 item 6), per index.

Usage: python bench/bench_claim_indexes.py [--rounds 15] [--each]

Builds one 10k store on a throwaway PostgreSQL server (``tests/pg_server.py``, or
``SOCIALCARE_TEST_PG_URL``'s) with ``bench_scale.build``, copies it into one
database per variant (``CREATE DATABASE ... TEMPLATE``), changes each copy's
indexes, and times one agent alone claiming (then releasing, untimed) the same 40
open mentions on every copy, the rounds interleaved (in a shuffled order each round) so
that load from other work hits every variant alike. A SQLite file built alike is timed in the same rounds.

Variants: ``base`` (the schema as migrated) and ``base2`` (a second copy of it:
the run's noise), ``nogin`` (``idx_mentions_search`` dropped), ``gin_fastupdate_off``,
``minimal`` (every index of ``mentions`` dropped but the two unique keys and the
one the claim reads), ``no events FK`` (the claim event's foreign key to its
mention dropped), ``fillfactor 80`` (``mentions`` rewritten with more free space on
every heap page than m023's 90), ``before m023: assignee indexed, ff 100`` (the
three indexes that named ``assignee`` back, :data:`BEFORE_M023`, and the table
rewritten at the default fill factor: no claim is HOT, what m023 saved) and
``before m023, ff 90`` (the indexes back, the fill factor kept), ``m023 without
mentions_open_assigned`` (its table and triggers dropped: what keeping it costs),
and with ``--each`` every other index dropped on its own.
On one more copy the claim's parts are timed alone in the same rounds: the
clocks alone (an empty window: reading the server's ``schedstat`` costs this
process CPU that every PostgreSQL row includes, SQLite's ``process_time`` next to
nothing), a prepared ``SELECT 1`` (the round trip), the customer's advisory lock, the bare
``UPDATE`` of ``assignee``/``claimed_at``, and the claim event's ``INSERT``.
On a last copy, the structural lever left (issue 25 item 6): a prototype of the
claim with the assignment in a narrow ``claims(mention_id, assignee, claimed_at)``
side table, so that it updates no index of ``mentions``, timed next to today's
claim on the same copy (the readers of ``assignee`` are not ported: the claim alone).

Columns: medians of wall ms, CPU ms of this process plus the connection's server
process (``bench_scale.cpu_clock``), server CPU ms alone, the server's mean (the
GIN pending list's clean-ups would show there), and ratios to ``base`` and to
SQLite's claim (CPU of this process), and how many of the database's updates of
``mentions`` were HOT (``pg_stat_user_tables``; the parts' copy releases unclaimed
rows, which change no column). Last, the GIN pending list that the run's
claims and releases left on ``base`` (each update adds one row of ~14 lexemes)
and the wall time ``gin_clean_pending_list`` takes to merge it into the index.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Callable

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "bench")]

import psycopg  # noqa: E402
from bench_scale import build, cpu_clock  # noqa: E402

from socialcare.app import Socialcare  # noqa: E402
from socialcare.config import Config  # noqa: E402
from socialcare.store import QueueFilter  # noqa: E402
from socialcare.store.migrations import postgres  # noqa: E402
from tests.pg_server import start_server  # noqa: E402

N = 10_000
#: the indexes a claim cannot do without: the unique keys, and the one it reads
KEEP = {"mentions_pkey", "mentions_rowid_key", "idx_mentions_author_open"}


#: m023 without the table of open, assigned mentions and its triggers (the cost of
#: keeping it: one row written per claim, deleted per release)
UNKEPT = (
    *(f"DROP TRIGGER mentions_open_assigned_{op} ON mentions"
      for op in ("insert", "update", "delete", "truncate")),
    "DROP TABLE mentions_open_assigned",
)  # fmt: skip


#: the schema before m023 (issue 25 item 6): the three indexes that named ``assignee``
#: (so no claim or release could be a HOT update) and the default fill factor
BEFORE_M023 = (
    *UNKEPT,
    "DROP INDEX idx_mentions_open_queue",
    "CREATE INDEX idx_mentions_open_queue ON mentions(static_score, created_ts, sla_due_ts, "
    "is_own, snoozed_until, source, intent, assignee, kind, conversation_id) INCLUDE (rowid) "
    "WHERE status = 'open'",
    "DROP INDEX idx_mentions_open_hour",
    "CREATE INDEX idx_mentions_open_hour ON mentions((CAST(trunc(created_ts / 3600) AS BIGINT)), "
    "static_score, created_ts, sla_due_ts, is_own, snoozed_until, source, intent, assignee, "
    "kind, conversation_id) INCLUDE (rowid) WHERE status = 'open'",
    "CREATE INDEX idx_mentions_open_assigned ON mentions(assignee) "
    "WHERE status = 'open' AND assignee IS NOT NULL",
)


def _rewritten(fillfactor: int) -> list[str]:
    """DDL giving ``mentions`` a fill factor, its existing pages rewritten to it."""
    return [f"ALTER TABLE mentions SET (fillfactor = {fillfactor})", "VACUUM FULL mentions"]


def _open(url: str) -> Socialcare:
    return Socialcare(Config(database=url, agent="bench", brand_handles=("acmehelp",)))


class Timed:
    """One thing timed per claim id: wall, CPU (client + server) and server CPU."""

    def __init__(
        self,
        sc: Socialcare,
        ids: list[str],
        run: Callable[[str], Any],
        release: Callable[[str], Any] | None = None,
    ) -> None:
        self.sc, self.ids, self.run = sc, ids, run
        self.release = release or sc.release
        self.slow_cpu = cpu_clock(sc.store)[0]
        if sc.store.backend == "postgresql":
            fd = os.open(f"/proc/{sc.store.conn.raw.info.backend_pid}/schedstat", os.O_RDONLY)
            # one pread of a kept descriptor: a fraction of read_text()'s open, read, close
            self.server: Callable[[], float] = lambda: int(os.pread(fd, 64, 0).split()[0]) / 1e9
        else:
            self.server = lambda: 0.0
        self.cpu = lambda: time.process_time() + self.server()
        self.times: dict[str, list[float]] = {"wall": [], "cpu": [], "srv": []}

    def round(self) -> None:
        for mention_id in self.ids:
            w0, c0, s0 = time.perf_counter(), self.cpu(), self.server()
            self.run(mention_id)
            self.times["srv"].append(self.server() - s0)
            self.times["cpu"].append(self.cpu() - c0)
            self.times["wall"].append(time.perf_counter() - w0)
            self.release(mention_id)

    def median(self, what: str) -> float:
        return statistics.median(self.times[what])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=15)
    parser.add_argument("--each", action="store_true", help="also drop each index on its own")
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="bench-claim-"))
    server = start_server(tmp)
    base, name = server.url.rsplit("/", 1)
    opened: list[Socialcare] = []
    try:
        sc = _open(server.url)
        build(sc.store, N, time.time(), 0.02)
        raw = sc.store.conn.raw
        indexes = [
            r[0]
            for r in raw.execute(
                "SELECT indexname FROM pg_indexes WHERE tablename = 'mentions' ORDER BY 1"
            )
        ]
        lexemes = raw.execute("SELECT avg(length(search)) FROM mentions").fetchone()
        sc.shutdown()
        print(f"{len(indexes)} indexes on mentions; {lexemes[0]:.1f} lexemes a row on average")
        variants: dict[str, list[str]] = {
            "base": [],
            "base2": [],
            "nogin": ["DROP INDEX idx_mentions_search"],
            "gin_fastupdate_off": ["ALTER INDEX idx_mentions_search SET (fastupdate = off)"],
            "minimal": [f"DROP INDEX {i}" for i in indexes if i not in KEEP],
            "no events FK": ["ALTER TABLE events DROP CONSTRAINT events_mention_id_fkey"],
            "fillfactor 80": _rewritten(80),
            "before m023: assignee indexed, ff 100": [*BEFORE_M023, *_rewritten(100)],
            "before m023, ff 90": [*BEFORE_M023, *_rewritten(90)],
            "m023 without mentions_open_assigned": list(UNKEPT),
        }
        if args.each:
            variants.update({f"-{i}": [f"DROP INDEX {i}"] for i in indexes if i not in KEEP})
        with psycopg.connect(f"{base}/postgres", autocommit=True) as conn:
            for n, _ in enumerate(variants):
                conn.execute(f'CREATE DATABASE "v{n}" TEMPLATE "{name}"')
            conn.execute(f'CREATE DATABASE "vparts" TEMPLATE "{name}"')
            conn.execute(f'CREATE DATABASE "vside" TEMPLATE "{name}"')
        timed: dict[str, Timed] = {}
        for n, (label, ddl) in enumerate(variants.items()):
            sc = _open(f"{base}/v{n}")
            opened.append(sc)
            for statement in ddl:
                sc.store.conn.raw.execute(statement)
            sc.store.conn.raw.execute("VACUUM (ANALYZE) mentions")
            ids = [r["id"] for r in sc.queue(QueueFilter(limit=40))]
            timed[label] = Timed(sc, ids, sc.claim)
            timed[label].round()  # warm: caches, prepared plans
            timed[label].times = {k: [] for k in timed[label].times}
        # the parts on a copy of their own: their rows and dead tuples stay out of base's
        parts_sc = _open(f"{base}/vparts")
        opened.append(parts_sc)
        parts_sc.store.conn.raw.execute("VACUUM (ANALYZE) mentions")
        parts = _parts(parts_sc, timed["base"].ids)
        side_sc = _open(f"{base}/vside")
        opened.append(side_sc)
        parts.update(_side_table(side_sc, timed["base"].ids))
        lite = _open(str(tmp / "claim.db"))
        opened.append(lite)
        build(lite.store, N, time.time(), 0.02)
        lite_ids = [r["id"] for r in lite.queue(QueueFilter(limit=40))]
        timed["sqlite claim"] = Timed(lite, lite_ids, lite.claim)
        timed["sqlite claim"].round()
        timed["sqlite claim"].times = {k: [] for k in timed["sqlite claim"].times}
        everything = {**timed, **parts}
        order = list(everything.values())
        shuffle = random.Random(25).shuffle
        for _ in range(args.rounds):
            shuffle(order)  # each row's place in a round varies: no row always follows another
            for t in order:
                t.round()
        time.sleep(1.5)  # backends flush their table statistics at most once a second
        _print(everything)
        _pending(timed["base"].sc)
    finally:
        for sc in opened:
            sc.shutdown()
        server.stop()


def _parts(sc: Socialcare, ids: list[str]) -> dict[str, Timed]:
    """The claim's statements alone, on a copy of ``base`` (each released, untimed)."""
    raw = sc.store.conn.raw
    now = "2026-01-01T00:00:00+00:00"

    def one(sql: str, params: Callable[[str], list[Any]]) -> Callable[[str], Any]:
        def run(mention_id: str) -> None:
            raw.execute(sql, params(mention_id), prepare=True).fetchall()

        return run

    lock = postgres.CLAIM_LOCK_M021.replace("$1", "%s")
    found = {
        "clock alone (empty window)": lambda i: None,
        "clock alone, bench_scale's cpu_clock": lambda i: None,
        "claim, bench_scale's cpu_clock": sc.claim,
        "part: SELECT 1": one("SELECT 1", lambda i: []),
        "part: advisory lock": one(lock, lambda i: [i, i]),
        "part: UPDATE alone": one(
            "UPDATE mentions SET assignee = %s, claimed_at = %s WHERE id = %s RETURNING id",
            lambda i: ["bench", now, i],
        ),
        "part: event INSERT": one(
            "INSERT INTO events (at, agent, action, mention_id, detail) "
            "VALUES (%s, 'bench', 'claim', %s, '{}') RETURNING id",
            lambda i: [now, i],
        ),
    }
    out = {}
    for label, run in found.items():
        out[label] = Timed(sc, ids, run)
        if "bench_scale" in label:
            out[label].cpu, out[label].server = out[label].slow_cpu, lambda: 0.0
        out[label].round()
        out[label].times = {k: [] for k in out[label].times}
    return out


#: the prototype's claim: m021's statement with the assignment in ``claims`` instead of
#: ``mentions`` (an upsert of a 3-column row with one index, not a new version of a
#: ~650-byte row in ~15 indexes); the lock statement is m021's
SIDE_TABLE_QUERY = (
    "WITH m AS MATERIALIZED (SELECT mm.id, mm.author_key, c.assignee, c.claimed_at "
    "FROM mentions mm LEFT JOIN claims c ON c.mention_id = mm.id WHERE mm.id = $1 "
    "FOR UPDATE OF mm), "
    "other AS MATERIALIZED (SELECT o.id, c.assignee FROM mentions o "
    "JOIN claims c ON c.mention_id = o.id "
    "WHERE o.author_key = ANY (ARRAY(SELECT a2.id FROM authors a1 JOIN authors a2 "
    "ON a2.customer_id = a1.customer_id WHERE a1.id = (SELECT author_key FROM m) "
    "UNION SELECT author_key FROM m)) "
    "AND o.status = 'open' AND o.is_own = 0 AND o.author_key <> '' "
    "AND o.id <> (SELECT id FROM m) AND c.assignee NOT IN ('', $2) "
    "ORDER BY o.author_key, o.created_ts, o.id LIMIT 1), "
    "won AS (INSERT INTO claims (mention_id, assignee, claimed_at) SELECT m.id, $2, $3 FROM m "
    "WHERE NOT EXISTS (SELECT 1 FROM other) ON CONFLICT (mention_id) DO UPDATE "
    "SET claimed_at = EXCLUDED.claimed_at WHERE claims.assignee = $2 RETURNING mention_id), "
    "logged AS (INSERT INTO events (at, agent, action, mention_id, detail) "
    "SELECT $3, $2, 'claim', m.id, CASE WHEN m.assignee IS NULL THEN $4 ELSE $5 END "
    "FROM m WHERE EXISTS (SELECT 1 FROM won)) "
    "SELECT m.assignee, m.claimed_at, (SELECT id FROM other), (SELECT assignee FROM other), "
    "(SELECT count(*) FROM won) FROM m"
)


def _side_table(sc: Socialcare, ids: list[str]) -> dict[str, Timed]:
    """The structural lever, as a prototype on a copy of ``base``: who holds a mention
    in a narrow ``claims(mention_id, assignee, claimed_at)`` table, so that a claim
    updates no index of ``mentions`` (the readers of ``assignee`` are not ported:
    this times the claim alone). Called through ``call_row`` like today's claim."""
    raw = sc.store.conn.raw
    raw.execute(
        'CREATE TABLE claims (mention_id TEXT COLLATE "C" PRIMARY KEY REFERENCES mentions(id) '
        'ON DELETE CASCADE, assignee TEXT COLLATE "C" NOT NULL, claimed_at TEXT COLLATE "C" '
        "NOT NULL)"
    )
    raw.execute("CREATE INDEX idx_claims_assignee ON claims(assignee)")
    raw.execute(
        "CREATE FUNCTION side_claim(text, text, text, text, text) RETURNS TABLE (h text, "
        "s text, oi text, oa text, w bigint) LANGUAGE plpgsql VOLATILE AS $fn$\nBEGIN\n"
        f"  PERFORM {postgres.CLAIM_LOCK_M021.removeprefix('SELECT ')};\n"
        f"  RETURN QUERY {SIDE_TABLE_QUERY};\nEND\n$fn$"
    )
    raw.execute("VACUUM (ANALYZE) mentions")
    conn = sc.store.conn
    free, mine = (json.dumps({"previous": p, "forced": False}) for p in (None, "bench"))

    def claim(mention_id: str) -> None:
        now = "2026-01-01T00:00:00+00:00"
        row = conn.call_row("SELECT * FROM side_claim(?, ?, ?, ?, ?)",
                            [mention_id, "bench", now, free, mine])  # fmt: skip
        assert row is not None and row[4] == "1", row

    def release(mention_id: str) -> None:
        raw.execute("DELETE FROM claims WHERE mention_id = %s", [mention_id], prepare=True)

    today = Timed(sc, ids, sc.claim)
    side = Timed(sc, ids, claim, release)
    out = {"claim on the side-table copy": today, "prototype: claims side table": side}
    for t in out.values():
        t.round()
        t.times = {k: [] for k in t.times}
    return out


def _pending(sc: Socialcare) -> None:
    """The GIN pending list the run's claims and releases left on ``base``, and the cost
    of merging it into the index (which autovacuum does, or an insert once the list
    passes ``gin_pending_list_limit``)."""
    raw = sc.store.conn.raw
    raw.execute("CREATE EXTENSION IF NOT EXISTS pgstattuple")
    pages, tuples = raw.execute(
        "SELECT pending_pages, pending_tuples FROM pgstatginindex('idx_mentions_search')"
    ).fetchone()
    limit = raw.execute("SHOW gin_pending_list_limit").fetchone()[0]
    t0 = time.perf_counter()
    raw.execute("SELECT gin_clean_pending_list('idx_mentions_search')")
    merge = time.perf_counter() - t0
    print(
        f"GIN pending list on base: {tuples} rows in {pages} pages (limit {limit}); "
        f"merged in {merge * 1e3:.1f} ms wall = {merge / max(tuples, 1) * 1e6:.1f} us a row"
    )


def _print(timed: dict[str, Timed]) -> None:
    b = timed["base"]
    lite = timed["sqlite claim"].median("cpu")
    print(
        f"{'variant':36s} {'wall ms':>8s} {'cpu ms':>8s} {'srv ms':>8s} {'srv mean':>8s}"
        "  /base wall cpu srv   /sqlite cpu   HOT updates"
    )
    for label, t in timed.items():
        m = {k: t.median(k) for k in t.times}
        srv_mean = statistics.mean(t.times["srv"])
        print(
            f"{label:36s} {m['wall'] * 1e3:8.3f} {m['cpu'] * 1e3:8.3f} {m['srv'] * 1e3:8.3f} "
            f"{srv_mean * 1e3:8.3f}  {m['wall'] / b.median('wall'):9.2f} "
            f"{m['cpu'] / b.median('cpu'):4.2f} {m['srv'] / max(b.median('srv'), 1e-9):4.2f}"
            f"   {m['cpu'] / lite:6.2f}   {_hot_share(t.sc)}"
        )


def _hot_share(sc: Socialcare) -> str:
    """HOT updates of ``mentions`` in the variant's database, of all its updates."""
    if sc.store.backend != "postgresql":
        return ""
    raw = sc.store.conn.raw
    raw.execute("SELECT pg_stat_clear_snapshot()")
    updated, hot = raw.execute(
        "SELECT n_tup_upd, n_tup_hot_upd FROM pg_stat_user_tables WHERE relname = 'mentions'"
    ).fetchone()
    return f"{hot:,} of {updated:,}"


if __name__ == "__main__":
    main()
