"""Benchmark: team mode on each backend (SQLite file, PostgreSQL server).

Usage:
    python bench/bench_team.py [--mentions 1000000] [--open 20000] [--agents 8] [--seconds 60]
        [--slots 2]
        [--pg postgresql://postgres@127.0.0.1:5432/bench_team] [--backends sqlite,postgresql]
        [--queue-calls 50] [--claim-probes 10] [--workdir DIR] [--progress-every 30]
        [--sqlite-analyze]

Per backend, into a fresh store (the PostgreSQL database named in ``--pg`` is
dropped and created again; the SQLite file goes in ``--workdir``, a temporary
directory by default):

1. ingest: ``Socialcare.poll(["demo"])`` of ``--mentions`` generated mentions
   (bench_poll's generator) with triage in each page's transaction, exactly
   as ``socialcare poll`` runs it: mentions/s, with progress lines meanwhile.
   PostgreSQL then gets an ``ANALYZE`` (what autovacuum does within a minute),
   through ``Store.refresh_statistics`` so the store's own refresh knows of it;
   SQLite only with ``--sqlite-analyze``, since socialcare never runs one;
2. queue: ``Socialcare.queue(QueueFilter(limit=50))``, the call ``socialcare
   queue --limit 50`` makes, timed ``--queue-calls`` times in two states: the
   store as polled (every mention open), and the team state the agents work
   in, where the polled mentions have been handled (one bulk UPDATE to
   ``closed``, a benchmark shortcut) and ``--open`` Mastodon mentions wait,
   stored as a poll stores them (``upsert_mentions`` and triage in one
   transaction; then ``VACUUM`` and that ``ANALYZE`` on PostgreSQL, as autovacuum would).
   In both states one agent alone also claims and releases ``--claim-probes``
   polled mentions: the claim's collision check reads the customer's open
   mentions, so its cost shows how the store plans that lookup;
3. agents: ``--agents`` processes (multiprocessing, spawn), each its own agent,
   work the queue for ``--seconds``, split into ``--slots`` that alternate between
   the backends (SQLite, PostgreSQL, SQLite, ...; fresh processes each slot) so that
   load from other work on the machine hits both alike: read the top 20 (``Socialcare.queue``),
   ``claim`` the first unassigned one (a ``Conflict`` is a race lost to
   another agent: count it and try the next), then ``reply``, which queues
   the reply in the outbox and sends it through the Mastodon source to a fake
   Mastodon instance on 127.0.0.1 (bench/fake_platform.py) that records every
   post. Actions = successful claims + sent replies. Database errors (a busy
   SQLite file, a PostgreSQL deadlock) are counted, never fatal;
4. proof, from the store and from the platform's own record: no mention has
   more than one sent reply in the outbox; the platform got at most one post
   per ``in_reply_to_id`` and exactly the posts the outbox says were sent
   (same statuses, same ids); every claimed mention's ``claim`` events name
   one agent, who is its assignee and the author of its reply. Any failed
   check prints FAIL and the script exits 1.

The summary table gives each backend's figures side by side, with the peak
RSS of one agent process and of the driver (which polls, hosts the fake
platform and checks the proof).
"""

from __future__ import annotations

import argparse
import math
import multiprocessing as mp
import os
import resource
import statistics
import sys
import tempfile
import threading
import time
import traceback
from collections import Counter
from datetime import timedelta
from pathlib import Path
from typing import Any, Callable

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_poll import generate  # noqa: E402
from bench_triage import generate as realistic_mentions  # noqa: E402
from fake_platform import FakeMastodon  # noqa: E402

from socialcare.app import Socialcare  # noqa: E402
from socialcare.config import Config  # noqa: E402
from socialcare.errors import Conflict  # noqa: E402
from socialcare.models import Mention, utcnow  # noqa: E402
from socialcare.poll import build_source  # noqa: E402
from socialcare.scoring import triage_ids  # noqa: E402
from socialcare.store import QueueFilter, Store, is_postgres_url  # noqa: E402

TOKEN_ENV = "BENCH_MASTODON_TOKEN"
REPLY = "Sorry about that! We are looking into it now and will update you here."
#: how many queue rows an agent reads to pick from (the ``work`` loop reads ~25)
PICK = 20


def config(database: str, agent: str, *, demo: Path | None = None, instance: str = "") -> Config:
    sources: dict[str, dict[str, Any]] = {}
    if demo is not None:
        sources["demo"] = {"path": str(demo), "page_size": 1000}
    if instance:
        # replies only: "mentions = false" so nothing would poll the fake instance
        sources["mastodon"] = {
            "instance": instance,
            "access_token_env": TOKEN_ENV,
            "mentions": False,
        }
    return Config(database=database, agent=agent, brand_handles=("acmehelp",), sources=sources)


def fresh_pg(url: str) -> None:
    import psycopg

    base, name = url.rsplit("/", 1)
    with psycopg.connect(f"{base}/postgres", autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')


def ms_stats(values: list[float]) -> tuple[float, float]:
    """(median, p95 by nearest rank) of a list of milliseconds."""
    if not values:
        return math.nan, math.nan
    ordered = sorted(values)
    return statistics.median(ordered), ordered[max(0, math.ceil(0.95 * len(ordered)) - 1)]


def peak_rss_mb() -> float:
    """This process's peak resident set (VmHWM) in MB.

    Not ``getrusage``'s ``ru_maxrss``: Linux carries that across ``exec``, so a
    spawned child would report its parent's peak.
    """
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def cpu_busy() -> tuple[int, int]:
    """(busy, total) jiffies of the whole machine, from /proc/stat."""
    fields = [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = fields[3] + fields[4]
    return sum(fields) - idle, sum(fields)


# -- 1. ingest -----------------------------------------------------------------------------


class Progress(threading.Thread):
    """Prints how many mentions are stored every few seconds, from its own connection."""

    def __init__(self, database: str, total: int, every: float) -> None:
        super().__init__(daemon=True)
        self.database, self.total, self.every = database, total, every
        self.done = threading.Event()

    def run(self) -> None:
        if is_postgres_url(self.database):
            import psycopg

            conn: Any = psycopg.connect(self.database, autocommit=True)
        else:
            import sqlite3

            conn = sqlite3.connect(f"file:{self.database}?mode=ro", uri=True, timeout=30)
        started = time.perf_counter()
        try:
            while not self.done.wait(self.every):
                n = conn.execute("SELECT count(*) FROM mentions").fetchone()[0]
                elapsed = time.perf_counter() - started
                rate = n / elapsed
                eta = (self.total - n) / rate if rate else math.inf
                print(
                    f"  ... {n:,} of {self.total:,} stored after {elapsed:,.0f} s "
                    f"({rate:,.0f}/s, about {eta:,.0f} s to go)",
                    flush=True,
                )
        except Exception as exc:  # progress is a nicety: never let it stop the benchmark
            print(f"  (progress reporting stopped: {exc})", flush=True)
        finally:
            conn.close()


def ingest(sc: Socialcare, total: int, every: float) -> dict[str, Any]:
    sc.store  # noqa: B018 - create and migrate the store before the clock and the progress thread
    progress = Progress(sc.config.database, total, every)
    progress.start()
    started = time.perf_counter()
    try:
        summary = sc.poll(["demo"])
    finally:
        progress.done.set()
    elapsed = time.perf_counter() - started
    progress.join()
    stored = sc.store.mention_count()
    statuses = {
        r["status"]: r["n"]
        for r in sc.store.rows("SELECT status, count(*) AS n FROM mentions GROUP BY status")
    }
    errors = [r.error for r in summary.results if r.error]
    folded = sum(r.folded for r in summary.results)
    print(
        f"ingest: poll stored {stored:,} mentions ({summary.new:,} new, {folded:,} folded as "
        f"duplicates) in {elapsed:,.1f} s = "
        f"{stored / elapsed:,.0f} mentions/s; status: {statuses}; peak RSS so far "
        f"{peak_rss_mb():,.0f} MB" + (f"; poll errors: {errors}" if errors else ""),
        flush=True,
    )
    return {"stored": stored, "seconds": elapsed, "rate": stored / elapsed, "statuses": statuses}


# -- 2. queue ------------------------------------------------------------------------------


def time_queue(sc: Socialcare, calls: int, budget_s: float = 120.0) -> dict[str, Any]:
    """``queue --limit 50``: ``calls`` timed calls (at least 10; fewer if over ``budget_s``)."""
    sc.queue(QueueFilter(limit=50))  # warm the cache, as a second run of the command would be
    times, rows = [], []
    stop = time.perf_counter() + budget_s
    for i in range(calls):
        t0 = time.perf_counter()
        rows = sc.queue(QueueFilter(limit=50))
        times.append((time.perf_counter() - t0) * 1000)
        if i >= 9 and time.perf_counter() > stop:
            break
    median, p95 = ms_stats(times)
    return {"median": median, "p95": p95, "calls": len(times), "rows": len(rows)}


def time_claims(sc: Socialcare, ids: list[str]) -> tuple[float, float]:
    """``claim`` then ``release`` of each mention, one agent alone: (median, p95) ms of the claims.

    The probe uses polled (demo) mentions, which the agents never touch: the
    collision check a claim makes reads the customer's open mentions, so its
    cost depends on the store, not on the mention claimed.
    """
    times = []
    for mention_id in ids:
        t0 = time.perf_counter()
        sc.claim(mention_id)
        times.append((time.perf_counter() - t0) * 1000)
        sc.release(mention_id)
    return ms_stats(times)


def team_state(sc: Socialcare, n_open: int, *, analyze: bool = False) -> int:
    """Close every polled mention (bulk, a benchmark shortcut) and store ``n_open`` Mastodon ones."""
    store = sc.store
    with store.transaction():
        closed = store.conn.execute(
            "UPDATE mentions SET status = 'closed' WHERE status = 'open'"
        ).rowcount
    base = utcnow() - timedelta(hours=36)
    texts = realistic_mentions(n_open, seed=11)
    fresh = []
    for i, t in enumerate(texts):
        native = str(112_000_000_000_000_000 + i)
        acct = f"customer{i}@example.social"
        fresh.append(
            Mention(
                source="mastodon",
                native_id=native,
                text=f"@acmehelp {t['text']}",
                created_at=base + timedelta(seconds=i * 36 * 3600 / max(n_open, 1)),
                author_id=str(900_000 + i),
                author_handle=acct,
                author_name=f"Customer {i}",
                author_followers=t["author_followers"],
                url=f"https://example.social/@customer{i}/{native}",
                language=t["language"],
                conversation_id=native,
                query="mentions",
                raw={
                    "id": native,
                    "visibility": "public",
                    "account": {"id": str(900_000 + i), "acct": acct},
                },
            )
        )
    for start in range(0, len(fresh), 2000):
        chunk = fresh[start : start + 2000]
        with store.transaction():
            store.upsert_mentions(chunk, sc.config.brand_handles)
            triage_ids(store, [m.id for m in chunk], sc.triage_settings)
    if store.backend == "postgresql":
        store.conn.execute("VACUUM mentions")
        store.refresh_statistics()  # the ANALYZE, known to the store (see bench_backend)
    elif analyze:
        store.conn.execute("ANALYZE mentions")
    return int(closed)


# -- 3. agents -----------------------------------------------------------------------------


def agent_worker(spec: dict[str, Any], ready: Any, go: Any, out: Any) -> None:
    """One agent process: top of the queue, claim, reply; counts and times what it did."""
    os.environ[TOKEN_ENV] = spec["token"]
    agent = spec["agent"]
    stats: dict[str, Any] = {
        "agent": agent, "claims": 0, "replies": 0, "lost": 0, "failed_sends": 0,
        "reply_conflicts": 0, "all_taken": 0, "queue_empty": False, "errors": 0,
        "error_samples": [], "queue_ms": [], "claim_ms": [], "reply_ms": [],
    }  # fmt: skip

    def error(where: str, exc: BaseException) -> None:
        stats["errors"] += 1
        if len(stats["error_samples"]) < 5:
            stats["error_samples"].append(f"{where}: {type(exc).__name__}: {exc}")

    try:
        sc = Socialcare(config(spec["database"], agent, instance=spec["instance"]))
        # Connect (and check the schema) and import the source adapters before the clock starts.
        sc.queue(QueueFilter(limit=1))
        build_source(sc.config, "mastodon")
    except BaseException:
        ready.put((agent, traceback.format_exc()))
        return
    ready.put((agent, None))
    go.wait()
    cpu0 = time.process_time()
    started = time.perf_counter()
    deadline = started + spec["seconds"]
    while time.perf_counter() < deadline:
        try:
            t0 = time.perf_counter()
            rows = sc.queue(QueueFilter(limit=PICK))
            stats["queue_ms"].append((time.perf_counter() - t0) * 1000)
        except Exception as exc:  # e.g. a busy SQLite file: note it and go on, as an agent would
            error("queue", exc)
            continue
        if not rows:
            stats["queue_empty"] = True
            break
        free = [r for r in rows if not r["assignee"]]
        if not free:
            stats["all_taken"] += 1
            continue
        for row in free:
            try:
                t0 = time.perf_counter()
                sc.claim(row["id"])
                stats["claim_ms"].append((time.perf_counter() - t0) * 1000)
            except Conflict:
                stats["lost"] += 1
                continue
            except Exception as exc:
                error("claim", exc)
                continue
            stats["claims"] += 1
            try:
                t0 = time.perf_counter()
                outcome = sc.reply(row["id"], text=REPLY)
                stats["reply_ms"].append((time.perf_counter() - t0) * 1000)
            except Conflict as exc:  # it is ours: nobody should be able to get in between
                stats["reply_conflicts"] += 1
                error("reply", exc)
                break
            except Exception as exc:
                error("reply", exc)
                break
            item = outcome.item or {}
            if item.get("status") == "sent":
                stats["replies"] += 1
            else:
                stats["failed_sends"] += 1
                error(
                    "send",
                    RuntimeError(
                        f"outbox #{item.get('id')} {item.get('status')}: {item.get('error')}"
                    ),
                )
            break
    stats["seconds"] = time.perf_counter() - started
    stats["cpu_s"] = time.process_time() - cpu0
    stats["maxrss_mb"] = peak_rss_mb()
    sc.shutdown()
    out.put(stats)


def run_agents(
    database: str, fake: FakeMastodon, token: str, args: argparse.Namespace
) -> dict[str, Any]:
    ctx = mp.get_context("spawn")
    ready, go, out = ctx.Queue(), ctx.Event(), ctx.Queue()
    procs = []
    for i in range(args.agents):
        spec = {"database": database, "instance": fake.url, "token": token,
                "agent": f"agent{i + 1}", "seconds": args.seconds}  # fmt: skip
        procs.append(ctx.Process(target=agent_worker, args=(spec, ready, go, out), daemon=True))
    for p in procs:
        p.start()
    for _ in procs:
        agent, problem = ready.get(timeout=300)
        if problem:
            for p in procs:
                p.terminate()
            raise SystemExit(f"{agent} could not start:\n{problem}")
    busy0, total0 = cpu_busy()
    t0 = time.perf_counter()
    go.set()
    results = []
    for _ in procs:
        try:
            results.append(out.get(timeout=args.seconds + 600))
        except Exception:
            break
    elapsed = time.perf_counter() - t0
    busy1, total1 = cpu_busy()
    for p in procs:
        p.join(timeout=60)
    crashed = [p.name for p in procs if p.exitcode != 0] + ["(no result)"] * (
        len(procs) - len(results)
    )
    total = {k: sum(r[k] for r in results) for k in (
        "claims", "replies", "lost", "failed_sends", "reply_conflicts", "all_taken", "errors", "cpu_s")}  # fmt: skip
    lat = {
        k: ms_stats([v for r in results for v in r[k]])
        for k in ("queue_ms", "claim_ms", "reply_ms")
    }
    print(
        f"agents: {len(results)} of {args.agents} processes reported after {elapsed:.1f} s",
        flush=True,
    )
    for r in sorted(results, key=lambda r: r["agent"]):
        print(
            f"  {r['agent']:<8} queue reads {len(r['queue_ms']):>5}  claims {r['claims']:>5}  "
            f"replies {r['replies']:>5}  lost races "
            f"{r['lost']:>5}  top-{PICK} all taken {r['all_taken']:>4}  errors {r['errors']:>3}  "
            f"cpu {r['cpu_s']:5.1f} s  rss {r['maxrss_mb']:.0f} MB"
            + ("  (queue ran empty)" if r["queue_empty"] else ""),
            flush=True,
        )
        for sample in r["error_samples"]:
            print(f"           {sample}", flush=True)
    return {
        **total,
        "elapsed": elapsed,
        "crashed": crashed,
        "latency": lat,
        "latency_ms": {
            k: [v for r in results for v in r[k]] for k in ("queue_ms", "claim_ms", "reply_ms")
        },
        "busy": (busy1 - busy0, total1 - total0),
        "cpu_busy": (busy1 - busy0) / max(total1 - total0, 1),
        "agent_rss_mb": max((r["maxrss_mb"] for r in results), default=0.0),
        "queue_empty": any(r["queue_empty"] for r in results),
    }


# -- 4. proof ------------------------------------------------------------------------------


def proof(
    store: Store, fake: FakeMastodon, agents: dict[str, Any]
) -> tuple[list[tuple[bool, str]], int]:
    """The checks, as (ok, line); and how many duplicates (claims or sends) were found.

    Only the agents' (Mastodon) mentions count: the claim probes touched polled ones.
    """
    sent = store.rows(
        "SELECT o.id, o.mention_id, o.platform_id, o.agent, m.native_id, m.assignee, m.answered_by "
        "FROM outbox o JOIN mentions m ON m.id = o.mention_id "
        "WHERE o.kind = 'reply' AND o.status = 'sent' AND m.source = 'mastodon'"
    )
    states = {
        r["status"]: r["n"]
        for r in store.rows("SELECT status, count(*) AS n FROM outbox GROUP BY status")
    }
    claims = store.rows(
        "SELECT e.mention_id, count(*) AS n, count(DISTINCT e.agent) AS agents, "
        "min(e.agent) AS agent FROM events e JOIN mentions m ON m.id = e.mention_id "
        "WHERE e.action = 'claim' AND m.source = 'mastodon' GROUP BY e.mention_id"
    )
    assignee = {
        r["id"]: r["assignee"]
        for r in store.rows(
            "SELECT id, assignee FROM mentions WHERE assignee IS NOT NULL AND source = 'mastodon'"
        )
    }
    posts = list(fake.posts)

    per_mention = Counter(r["mention_id"] for r in sent)
    sent_twice = [m for m, n in per_mention.items() if n > 1]
    per_parent = Counter(p.in_reply_to_id for p in posts)
    posted_twice = [m for m, n in per_parent.items() if n > 1]
    by_outbox = {str(r["native_id"]): str(r["platform_id"]) for r in sent}
    by_platform = {str(p.in_reply_to_id): p.id for p in posts}
    two_agents = [r["mention_id"] for r in claims if r["agents"] > 1]
    claimed_again = [r["mention_id"] for r in claims if r["n"] > 1]
    claim_agent = {r["mention_id"]: r["agent"] for r in claims}
    wrong_assignee = [m for m, a in claim_agent.items() if assignee.get(m) != a]
    unclaimed = [m for m in assignee if m not in claim_agent]
    wrong_replier = [
        r["mention_id"] for r in sent if claim_agent.get(r["mention_id"]) != r["agent"]
    ]
    unsent = {s: n for s, n in states.items() if s != "sent"}
    n_claim_events = sum(r["n"] for r in claims)

    def line(ok: bool, text: str) -> tuple[bool, str]:
        return ok, f"  {'PASS' if ok else 'FAIL'}  {text}"

    checks = [
        line(not sent_twice, f"(a) no mention has two sent replies in the outbox: {len(sent):,} sent "
             f"replies over {len(per_mention):,} mentions, {len(sent_twice)} mentions with more"),
        line(not posted_twice, f"(b) the platform got at most one post per in_reply_to_id: "
             f"{len(posts):,} posts to {len(per_parent):,} statuses, {len(posted_twice)} posted to twice"),
        line(len(posts) == len(sent) and by_outbox == by_platform,
             f"(b) platform posts == outbox sent replies, status for status and id for id: "
             f"{len(posts):,} == {len(sent):,}; ids agree: {by_outbox == by_platform}; "
             f"idempotent replays {fake.replayed}"),
        line(not two_agents and not claimed_again,
             f"(c) every claimed mention's claim events name one agent: {len(claims):,} mentions "
             f"claimed, {len(two_agents)} by two or more agents, {len(claimed_again)} claimed twice"),
        line(not wrong_assignee and not wrong_replier and not unclaimed,
             f"(c) the claim's winner is the assignee and the replier: {len(wrong_assignee)} "
             f"assignees and {len(wrong_replier)} repliers differ; {len(unclaimed)} assigned "
             "without a claim event"),
        line(agents["claims"] == n_claim_events and agents["replies"] == len(sent),
             f"the agents' own counts match the store: claims {agents['claims']:,} == claim events "
             f"{n_claim_events:,}; replies {agents['replies']:,} == sent {len(sent):,}"),
        line(not unsent, f"no reply left pending, sending or failed: {unsent or 'none'}"),
        line(not agents["crashed"], f"no agent process crashed: {agents['crashed'] or 'none'}"),
    ]  # fmt: skip
    duplicates = len(sent_twice) + len(posted_twice) + len(two_agents) + len(claimed_again)
    return checks, duplicates


# -- driver --------------------------------------------------------------------------------


def store_size(store: Store) -> str:
    if store.backend == "postgresql":
        size = store.conn.execute("SELECT pg_database_size(current_database())").fetchone()[0]
    else:
        size = sum(
            Path(store.path + s).stat().st_size
            for s in ("", "-wal")
            if Path(store.path + s).exists()
        )
    return f"{size / 2**30:.2f} GB"


def bench_backend(name: str, database: str, data: Path, args: argparse.Namespace) -> dict[str, Any]:
    print(f"\n== {name}: {database}", flush=True)
    sc = Socialcare(config(database, "bench", demo=data))
    res: dict[str, Any] = {"backend": name}
    res["ingest"] = ingest(sc, args.mentions, args.progress_every)
    if sc.store.backend == "postgresql":
        # What autovacuum does within a minute of a load, through the store so that
        # its own refresh (an ANALYZE once mentions grew by half since the last one)
        # knows: otherwise the driver's first claim after the poll runs that ANALYZE
        # inside its timing (seconds at 100k, under load: one 4.4 s claim probe).
        sc.store.refresh_statistics()
    elif args.sqlite_analyze:
        # SQLite never gathers statistics by itself (socialcare runs no ANALYZE).
        sc.store.conn.execute("ANALYZE mentions")
    res["queue_all"] = time_queue(sc, args.queue_calls)
    open_now = res["ingest"]["statuses"].get("open", 0)
    print(f"queue --limit 50, as polled ({open_now:,} open): median {res['queue_all']['median']:.1f} ms, "
          f"p95 {res['queue_all']['p95']:.1f} ms over {res['queue_all']['calls']} calls", flush=True)  # fmt: skip

    probe = [r["id"] for r in sc.queue(QueueFilter(limit=args.claim_probes))]
    res["claim_all"] = time_claims(sc, probe)
    print(f"claim, one agent alone, as polled: median {res['claim_all'][0]:.1f} ms, "
          f"p95 {res['claim_all'][1]:.1f} ms over {len(probe)} claims", flush=True)  # fmt: skip

    t0 = time.perf_counter()
    closed = team_state(sc, args.open, analyze=args.sqlite_analyze)
    print(f"team state: {closed:,} polled mentions closed, {args.open:,} Mastodon mentions open "
          f"({time.perf_counter() - t0:.1f} s); store {store_size(sc.store)}", flush=True)  # fmt: skip
    res["queue_team"] = time_queue(sc, args.queue_calls)
    print(f"queue --limit 50, team state ({args.open:,} open of {sc.store.mention_count():,}): "
          f"median {res['queue_team']['median']:.1f} ms, p95 {res['queue_team']['p95']:.1f} ms "
          f"over {res['queue_team']['calls']} calls", flush=True)  # fmt: skip
    res["claim_team"] = time_claims(sc, probe)
    print(f"claim, one agent alone, team state: median {res['claim_team'][0]:.1f} ms, "
          f"p95 {res['claim_team'][1]:.1f} ms over {len(probe)} claims", flush=True)  # fmt: skip
    sc.shutdown()
    return res


def merge_slots(slots: list[dict[str, Any]]) -> dict[str, Any]:
    """One backend's agent figures over all its slots: sums, pooled latencies, max RSS."""
    keys = ("claims", "replies", "lost", "failed_sends", "reply_conflicts", "all_taken",
            "errors", "cpu_s", "elapsed")  # fmt: skip
    merged: dict[str, Any] = {k: sum(s[k] for s in slots) for k in keys}
    pooled = {k: [v for s in slots for v in s["latency_ms"][k]] for k in slots[0]["latency_ms"]}
    merged["latency"] = {k: ms_stats(v) for k, v in pooled.items()}
    busy = sum(s["busy"][0] for s in slots)
    merged["cpu_busy"] = busy / max(sum(s["busy"][1] for s in slots), 1)
    merged["crashed"] = [c for s in slots for c in s["crashed"]]
    merged["agent_rss_mb"] = max(s["agent_rss_mb"] for s in slots)
    merged["queue_empty"] = any(s["queue_empty"] for s in slots)
    return merged


def agents_report(
    name: str, agents: dict[str, Any], fake: FakeMastodon, args: argparse.Namespace
) -> None:
    el = agents["elapsed"]
    print(
        f"agents [{name}]: {args.agents} processes, {el:.1f} s in {args.slots} slot(s): "
        f"{(agents['claims'] + agents['replies']) / el:,.1f} "
        f"actions/s ({agents['claims'] / el:,.1f} claims/s, {agents['replies'] / el:,.1f} replies/s), "
        f"{agents['lost']:,} lost races, {agents['errors']} errors, {len(fake.posts):,} posts received "
        f"({fake.requests:,} requests); machine CPU busy {agents['cpu_busy']:.0%}, agents' own CPU "
        f"{agents['cpu_s']:.0f} s of {el * os.cpu_count():.0f} core-s",  # type: ignore[operator]
        flush=True,
    )
    lat = agents["latency"]
    print("  latency under load, median / p95 ms: " + ", ".join(
        f"{k[:-3]} {v[0]:.1f} / {v[1]:.1f}" for k, v in lat.items()), flush=True)  # fmt: skip
    if agents["queue_empty"]:
        print(f"  note: the queue ran empty: raise --open above {args.open:,}", flush=True)


def prove(res: dict[str, Any], database: str, fake: FakeMastodon) -> None:
    sc = Socialcare(config(database, "bench"))
    checks, res["duplicates"] = proof(sc.store, fake, res["agents"])
    sc.shutdown()
    print(f"proof [{res['backend']}]:")
    for _, text in checks:
        print(text, flush=True)
    res["ok"] = all(ok for ok, _ in checks)


def run_all_agents(prepared: list[tuple[dict[str, Any], str]], args: argparse.Namespace) -> None:
    """The agents' phase of every backend in alternating slots of ``--seconds / --slots``
    (SQLite, PostgreSQL, SQLite, ...), so that load from other work on the machine
    hits both alike; then each backend's proof, against its own fake platform."""
    token = os.urandom(8).hex()
    fakes = [FakeMastodon(token).start() for _ in prepared]
    slot_args = argparse.Namespace(**{**vars(args), "seconds": args.seconds / args.slots})
    slots: list[list[dict[str, Any]]] = [[] for _ in prepared]
    try:
        for n in range(args.slots):
            for i, ((res, database), fake) in enumerate(zip(prepared, fakes, strict=True)):
                print(f"\n== agents, {res['backend']}, slot {n + 1} of {args.slots}", flush=True)
                slots[i].append(run_agents(database, fake, token, slot_args))
        for (res, database), fake, done in zip(prepared, fakes, slots, strict=True):
            res["agents"] = merge_slots(done)
            agents_report(res["backend"], res["agents"], fake, args)
            prove(res, database, fake)
    finally:
        for fake in fakes:
            fake.stop()


def table(results: list[dict[str, Any]], args: argparse.Namespace) -> None:
    def agents(key: str) -> Callable[[dict[str, Any]], str]:
        return lambda r: f"{r['agents'][key] / r['agents']['elapsed']:,.1f}"

    def q(which: str) -> Callable[[dict[str, Any]], str]:
        return lambda r: f"{r[which]['median']:.1f} / {r[which]['p95']:.1f}"

    rows: list[tuple[str, Callable[[dict[str, Any]], str]]] = [
        ("mentions polled", lambda r: f"{r['ingest']['stored']:,}"),
        ("ingest (poll + triage), mentions/s", lambda r: f"{r['ingest']['rate']:,.0f}"),
        ("queue --limit 50, all open: median / p95 ms", q("queue_all")),
        (f"queue --limit 50, {args.open:,} open: median / p95 ms", q("queue_team")),
        ("claim alone, all open: median / p95 ms", lambda r: "{:.1f} / {:.1f}".format(*r["claim_all"])),
        (f"claim alone, {args.open:,} open: median / p95 ms", lambda r: "{:.1f} / {:.1f}".format(*r["claim_team"])),
        (f"{args.agents} agents, {args.seconds:g} s: actions/s", lambda r: f"{(r['agents']['claims'] + r['agents']['replies']) / r['agents']['elapsed']:,.1f}"),
        ("  claims/s", agents("claims")),
        ("  replies/s", agents("replies")),
        ("  lost races (Conflict on claim)", lambda r: f"{r['agents']['lost']:,}"),
        ("  errors (busy, deadlock, ...)", lambda r: f"{r['agents']['errors']:,}"),
        ("  claim ms under load, median / p95", lambda r: "{:.1f} / {:.1f}".format(*r["agents"]["latency"]["claim_ms"])),
        ("  reply ms under load, median / p95", lambda r: "{:.1f} / {:.1f}".format(*r["agents"]["latency"]["reply_ms"])),
        ("  machine CPU busy", lambda r: f"{r['agents']['cpu_busy']:.0%}"),
        ("duplicates found", lambda r: f"{r['duplicates']}"),
        ("proof", lambda r: "PASS" if r["ok"] else "FAIL"),
        ("peak RSS of one agent process, MB", lambda r: f"{r['agents']['agent_rss_mb']:.0f}"),
    ]  # fmt: skip
    width = max(len(label) for label, _ in rows) + 2
    print("\n" + "".ljust(width) + "".join(f"{r['backend']:>16}" for r in results))
    for label, cell in rows:
        print(label.ljust(width) + "".join(f"{cell(r):>16}" for r in results))
    peak = peak_rss_mb()
    print(f"peak RSS of the driver (polls, queue, fake platform, proof): {peak:.0f} MB; "
          f"{os.cpu_count()} CPUs")  # fmt: skip


def main() -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    parser.add_argument("--mentions", type=int, default=1_000_000, help="mentions to poll")
    parser.add_argument(
        "--open", type=int, default=20_000, help="open Mastodon mentions for the agents"
    )
    parser.add_argument("--agents", type=int, default=8, help="agent processes")
    parser.add_argument("--seconds", type=float, default=60.0, help="how long the agents work")
    parser.add_argument("--slots", type=int, default=2,
                        help="alternating slots the agents' time is split into, per backend")  # fmt: skip
    parser.add_argument("--queue-calls", type=int, default=50, help="timed queue calls per state")
    parser.add_argument(
        "--claim-probes", type=int, default=10, help="timed single-agent claims per state"
    )
    parser.add_argument("--pg", default="postgresql://postgres@127.0.0.1:5432/bench_team",
                        help="PostgreSQL database to DROP and recreate")  # fmt: skip
    parser.add_argument("--backends", default="sqlite,postgresql")
    parser.add_argument(
        "--sqlite-analyze",
        action="store_true",
        help="run ANALYZE on the SQLite store too (socialcare itself never does)",
    )
    parser.add_argument(
        "--workdir", help="for the generated JSONL and the SQLite file (default: temporary)"
    )
    parser.add_argument(
        "--progress-every", type=float, default=30.0, help="seconds between ingest progress lines"
    )
    args = parser.parse_args()
    backends = [b.strip() for b in args.backends.split(",") if b.strip()]
    unknown = set(backends) - {"sqlite", "postgresql"}
    if unknown:
        parser.error(f"unknown backend(s): {', '.join(sorted(unknown))}")
    print(f"bench_team: {args.mentions:,} mentions, {args.open:,} open, {args.agents} agents, "
          f"{args.seconds:g} s, backends {', '.join(backends)}; {os.cpu_count()} CPUs"
          + ("; ANALYZE on SQLite too" if args.sqlite_analyze else ""), flush=True)  # fmt: skip
    results = []
    with tempfile.TemporaryDirectory(dir=args.workdir) as tmp_name:
        tmp = Path(tmp_name)
        data = tmp / "demo.jsonl"
        t0 = time.perf_counter()
        # In a child process so the generator's lists do not count in the driver's peak RSS.
        gen = mp.get_context("spawn").Process(target=generate, args=(data, args.mentions))
        gen.start()
        gen.join()
        if gen.exitcode != 0:
            raise SystemExit("generating the demo file failed")
        print(f"generated {args.mentions:,} demo mentions in {time.perf_counter() - t0:.1f} s "
              f"({data.stat().st_size / 2**20:,.0f} MB)", flush=True)  # fmt: skip
        prepared = []
        for name in backends:
            if name == "sqlite":
                database = str(tmp / "team.db")
            else:
                fresh_pg(args.pg)
                database = args.pg
            prepared.append((bench_backend(name, database, data, args), database))
        run_all_agents(prepared, args)
        results = [res for res, _ in prepared]
    table(results, args)
    return 0 if all(r["ok"] for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())
