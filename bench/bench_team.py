"""Benchmark: team mode on each backend (SQLite file, PostgreSQL server).

Usage:
    python bench/bench_team.py [--mentions 1000000] [--open 20000] [--agents 8] [--seconds 60]
        [--pg postgresql://postgres@127.0.0.1:5432/bench_team] [--backends sqlite,postgresql]

Per backend, into a fresh store:
1. ingest: ``poll`` of N generated mentions through the demo source (triage in
   the same transaction, as ``socialcare poll`` does): mentions/s;
2. queue: ``queue --limit 50`` (the library call the command makes) with
   ``--open`` mentions open among N: median and p95 ms;
3. agents: ``--agents`` processes, each an agent working the queue for
   ``--seconds``: take the top unassigned mentions, ``claim`` (a Conflict means
   another agent won), ``reply`` through the outbox to a fake Mastodon
   endpoint on 127.0.0.1 that records every POST. Actions/s = claims + replies.
4. proof, from the store and the endpoint's own record: no mention has more
   than one claim or sent reply, no status was posted twice, and the endpoint
   received exactly as many posts as the outbox says were sent. Exits 1 if not.

The PostgreSQL database named in ``--pg`` is dropped and created again.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import resource
import statistics
import sys
import tempfile
import threading
import time
from collections import Counter
from datetime import datetime, timedelta, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_poll import generate  # noqa: E402

from socialcare.app import Socialcare  # noqa: E402
from socialcare.config import Config  # noqa: E402
from socialcare.errors import Conflict  # noqa: E402
from socialcare.models import Mention  # noqa: E402
from socialcare.store import QueueFilter, open_store  # noqa: E402
from socialcare.triage.run import triage_ids  # noqa: E402

TOKEN_ENV = "BENCH_MASTODON_TOKEN"


class FakeMastodon(BaseHTTPRequestHandler):
    """``POST /api/v1/statuses`` like Mastodon: a Status JSON back, every post recorded."""

    server: Any

    def do_POST(self) -> None:  # noqa: N802 - http.server's name
        body = json.loads(self.rfile.read(int(self.headers.get("Content-Length") or 0)) or b"{}")
        with self.server.lock:
            self.server.posts.append(body.get("in_reply_to_id"))
            n = len(self.server.posts)
        status = {
            "id": str(110_000_000_000_000_000 + n),
            "created_at": datetime.now(timezone.utc).isoformat().replace("+00:00", "Z"),
            "in_reply_to_id": body.get("in_reply_to_id"),
            "visibility": body.get("visibility", "unlisted"),
            "uri": f"http://127.0.0.1/users/acmehelp/statuses/{n}",
            "url": f"http://127.0.0.1/@acmehelp/{n}",
            "content": f"<p>{body.get('status', '')}</p>",
            "account": {"id": "1", "username": "acmehelp", "acct": "acmehelp"},
        }
        out = json.dumps(status).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json; charset=utf-8")
        self.send_header("Content-Length", str(len(out)))
        self.end_headers()
        self.wfile.write(out)

    def log_message(self, *args: Any) -> None:
        return


def fake_platform() -> ThreadingHTTPServer:
    server = ThreadingHTTPServer(("127.0.0.1", 0), FakeMastodon)
    server.posts = []  # type: ignore[attr-defined]
    server.lock = threading.Lock()  # type: ignore[attr-defined]
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def config(database: str, data: Path, port: int, agent: str) -> Config:
    return Config(
        database=database,
        agent=agent,
        brand_handles=("acmehelp",),
        sources={
            "demo": {"path": str(data), "page_size": 1000},
            "mastodon": {
                "instance": f"http://127.0.0.1:{port}",
                "access_token_env": TOKEN_ENV,
                "mentions": False,
            },
        },
    )


def fresh_pg(url: str) -> None:
    import psycopg

    base, name = url.rsplit("/", 1)
    with psycopg.connect(f"{base}/postgres", autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')


def agent_worker(
    database: str, data: str, port: int, agent: str, seconds: float, start: Any, out: Any
) -> None:
    """One agent: top of the queue, claim, reply; counts what it did."""
    import os

    os.environ[TOKEN_ENV] = "bench-token"
    sc = Socialcare(config(database, Path(data), port, agent))
    claims = replies = lost = 0
    start.wait()
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        rows = [r for r in sc.queue(QueueFilter(limit=20)) if not r["assignee"]]
        if not rows:
            break
        for row in rows[:3]:
            try:
                sc.claim(row["id"])
                claims += 1
                sc.reply(row["id"], text="Sorry about that, we are on it.")
                replies += 1
            except Conflict:
                lost += 1
            if time.monotonic() >= deadline:
                break
    out.put((agent, claims, replies, lost))
    sc.shutdown()


def bench_backend(name: str, database: str, args: argparse.Namespace, tmp: Path) -> dict[str, Any]:
    print(f"\n== {name}: {database.split('@')[-1]}", flush=True)
    data = tmp / "demo.jsonl"
    if not data.exists():
        generate(data, args.mentions)
    platform = fake_platform()
    port = platform.server_address[1]
    sc = Socialcare(config(database, data, port, "bench"))
    started = time.perf_counter()
    sc.poll(["demo"])
    ingest_s = time.perf_counter() - started
    store = sc.store
    total = store.mention_count()
    print(f"ingest: {total:,} mentions in {ingest_s:.1f} s = {total / ingest_s:,.0f}/s", flush=True)

    # The agents' inbox: --open Mastodon mentions stay open, every demo mention is closed.
    # (A benchmark-only bulk update; the library has no "close everything" on purpose.)
    with store.transaction():
        store.conn.execute("UPDATE mentions SET status = 'closed' WHERE status = 'open'")
    if store.dialect.is_pg:
        # What autovacuum does within a minute in production: fresh statistics and
        # a visibility map after the bulk update, so the planner uses the open-queue index.
        store.conn.execute("VACUUM ANALYZE mentions")
    when = datetime(2026, 11, 20, tzinfo=timezone.utc)
    fresh = [
        Mention(
            source="mastodon",
            native_id=str(109_000_000_000_000_000 + i),
            text="@acmehelp my order never arrived, please help",
            author_id=str(500_000 + i),
            author_handle=f"customer{i}",
            author_name="Customer",
            created_at=when + timedelta(seconds=i),
            raw={"visibility": "public", "account": {"acct": f"customer{i}"}},
        )
        for i in range(args.open)
    ]
    for start in range(0, len(fresh), 2000):
        chunk = fresh[start : start + 2000]
        with store.transaction():
            store.upsert_mentions(chunk, ("acmehelp",))
            triage_ids(store, [m.id for m in chunk], sc.triage_settings)

    timings = []
    for _ in range(args.queue_calls):
        t0 = time.perf_counter()
        rows = sc.queue(QueueFilter(limit=50))
        timings.append((time.perf_counter() - t0) * 1000)
        assert len(rows) == 50
    timings.sort()
    q_median = statistics.median(timings)
    q_p95 = timings[int(len(timings) * 0.95) - 1]
    print(f"queue --limit 50: median {q_median:.1f} ms, p95 {q_p95:.1f} ms", flush=True)
    sc.shutdown()

    ctx = mp.get_context("spawn")
    go, results = ctx.Event(), ctx.Queue()
    procs = [
        ctx.Process(
            target=agent_worker,
            args=(database, str(data), port, f"agent{i}", args.seconds, go, results),
        )
        for i in range(args.agents)
    ]
    for p in procs:
        p.start()
    time.sleep(3)  # let every worker import and connect before the clock starts
    t0 = time.perf_counter()
    go.set()
    done = [results.get(timeout=args.seconds + 600) for _ in procs]
    elapsed = time.perf_counter() - t0
    for p in procs:
        p.join()
    claims = sum(d[1] for d in done)
    replies = sum(d[2] for d in done)
    lost = sum(d[3] for d in done)

    # Proof, from the store's record and the endpoint's own.
    store = open_store(database)
    claim_events = Counter(r["mention_id"] for r in store.events(action="claim", limit=10_000_000))
    sent_replies = Counter(
        r["mention_id"] for r in store.outbox_list(("sent",), kind="reply", limit=10_000_000)
    )
    posts = Counter(platform.posts)  # type: ignore[attr-defined]
    assigned = sum(
        1
        for r in store.queue(
            QueueFilter(status="all", source="mastodon", limit=10_000_000), 1.8e9, 0, 1
        )
        if r["assignee"]
    )
    store.close()
    platform.shutdown()
    checks = {
        "no mention claimed twice": max(claim_events.values(), default=0) <= 1,
        "no mention has two sent replies": max(sent_replies.values(), default=0) <= 1,
        "no reply posted twice to the platform": max(posts.values(), default=0) <= 1,
        "platform posts == outbox sent == replies counted": (
            sum(posts.values()) == sum(sent_replies.values()) == replies
        ),
        "claims counted == claim events == assigned mentions": (
            claims == sum(claim_events.values()) == assigned
        ),
    }
    for what, ok in checks.items():
        print(f"  {'PASS' if ok else 'FAIL'}  {what}", flush=True)
    print(
        f"agents: {args.agents} processes, {elapsed:.1f} s: {(claims + replies) / elapsed:,.1f} "
        f"actions/s ({claims / elapsed:,.1f} claims/s, {replies / elapsed:,.1f} replies/s), "
        f"{lost} lost races, {sum(posts.values())} posts received",
        flush=True,
    )
    return {
        "backend": name,
        "ingest_per_s": total / ingest_s,
        "queue_median_ms": q_median,
        "queue_p95_ms": q_p95,
        "actions_per_s": (claims + replies) / elapsed,
        "claims": claims,
        "replies": replies,
        "lost": lost,
        "ok": all(checks.values()),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--mentions", type=int, default=1_000_000)
    parser.add_argument("--open", type=int, default=20_000)
    parser.add_argument("--agents", type=int, default=8)
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--queue-calls", type=int, default=50)
    parser.add_argument("--pg", default="postgresql://postgres@127.0.0.1:5432/bench_team")
    parser.add_argument("--backends", default="sqlite,postgresql")
    args = parser.parse_args()
    results = []
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        for name in args.backends.split(","):
            if name == "sqlite":
                database = str(tmp / "team.db")
            else:
                fresh_pg(args.pg)
                database = args.pg
            results.append(bench_backend(name, database, args, tmp))
    print("\nbackend     ingest/s  queue ms (median/p95)  actions/s  claims  replies  lost  proof")
    for r in results:
        print(
            f"{r['backend']:<11} {r['ingest_per_s']:>8,.0f}  {r['queue_median_ms']:>8.1f} / "
            f"{r['queue_p95_ms']:<8.1f}    {r['actions_per_s']:>9,.1f}  {r['claims']:>6}  "
            f"{r['replies']:>7}  {r['lost']:>4}  {'PASS' if r['ok'] else 'FAIL'}"
        )
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"peak RSS of the driver: {peak:.0f} MB")
    return 0 if all(r["ok"] for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())
