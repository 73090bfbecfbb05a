"""Benchmark `incident reply`: acknowledgements per second, and proof of no double post.

    .venv/bin/python bench/bench_incident.py [--customers 2000] [--pg URL] [--kill-after 500]

An outage of ``--customers`` customers (a quarter of them wrote twice) is stored
as Mastodon mentions; the real Mastodon adapter (httpx) replies to a fake
Mastodon instance on 127.0.0.1 (``bench/fake_platform.py``), which records
every status it publishes. No pacing (``min_interval = 0``): the figure is
socialcare's own cost per acknowledgement (render, outbox transitions, HTTP).

Two runs, each on a fresh store:

1. one uninterrupted ``incident reply``: items/s;
2. ``incident reply`` in a subprocess killed (SIGKILL) after ``--kill-after``
   posts, then a rerun in this process: items/s of the rerun.

The proof, from the platform's own record: every customer's latest mention got
exactly one status, none got two, and no other mention got any; a third run
publishes nothing. Any failed check exits 1.
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter
from datetime import timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from fake_platform import FakeMastodon  # noqa: E402

from socialcare.app import Socialcare  # noqa: E402
from socialcare.config import Config  # noqa: E402
from socialcare.models import Mention, utcnow  # noqa: E402
from socialcare.store import Store, open_store  # noqa: E402

TOKEN_ENV = "BENCH_MASTODON_TOKEN"
TOKEN = "bench-secret"
ACK = "Hi {author}, we know sign-in is failing and we're on it. Sorry!"


def config(database: str, instance: str) -> Config:
    cfg = Config(
        database=database,
        agent="oncall",
        brand_handles=("acmehelp",),
        sources={
            "mastodon": {"instance": instance, "access_token_env": TOKEN_ENV, "mentions": False}
        },  # fmt: skip
    )
    return cfg._replace(incidents={"min_interval": {"mastodon": 0}})


def seed(store: Store, customers: int) -> dict[str, str]:
    """The outage; returns author key -> latest mention id."""
    now = utcnow()
    mentions: list[Mention] = []
    latest: dict[str, str] = {}
    total = customers + customers // 4
    for n in range(total):
        c = n % customers
        m = Mention(
            source="mastodon", native_id=str(110_000_000_000_000_000 + n),
            text=f"cannot sign in, login broken since 9am ({n})",
            created_at=now - timedelta(minutes=55) + timedelta(seconds=n), author_id=f"a{c}",
            author_handle=f"user{c}@example.social", author_name=f"User {c}",
        )  # fmt: skip
        mentions.append(m)
        latest[f"mastodon:a{c}"] = m.id
    for start in range(0, len(mentions), 1000):
        store.upsert_mentions(mentions[start : start + 1000])
    return latest


def fresh_store(args: argparse.Namespace, tmp: Path, tag: str) -> str:
    if args.pg:
        store = open_store(args.pg)
        for table in ("incident_sends", "incident_mentions", "incidents", "outbox", "events",
                      "mentions", "authors"):  # fmt: skip
            store.conn.execute(f"DELETE FROM {table}")
        store.close()
        return str(args.pg)
    return str(tmp / f"{tag}.db")


def check(
    fake: FakeMastodon, latest: dict[str, str], first: int, label: str
) -> tuple[bool, Counter[str]]:
    posts = fake.posts[first:]
    per = Counter(str(p.in_reply_to_id) for p in posts)
    wanted = {mid.split(":", 1)[1] for mid in latest.values()}
    ok = set(per) == wanted and max(per.values(), default=0) == 1
    print(
        f"  {label}: {len(posts)} statuses for {len(wanted)} customers; "
        f"most to one mention {max(per.values(), default=0)}; replayed keys {fake.replayed}; "
        f"{'OK' if ok else 'FAILED'}",
        flush=True,
    )
    return ok, per


def _time_http() -> list[float]:
    """Count the seconds spent in the adapter's HTTP send (the fake platform's share)."""
    from socialcare.sources.mastodon import MastodonSource

    spent = [0.0]
    real = MastodonSource._publish

    def timed(self: Any, what: str, payload: dict[str, Any]) -> Any:
        t0 = time.perf_counter()
        try:
            return real(self, what, payload)
        finally:
            spent[0] += time.perf_counter() - t0

    MastodonSource._publish = timed  # type: ignore[method-assign]
    return spent


def worker(database: str, instance: str, name: str) -> None:
    sc = Socialcare(config(database, instance))
    sc.incident_reply(name, text=ACK)
    sc.shutdown()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--customers", type=int, default=2000)
    parser.add_argument("--kill-after", type=int, default=500)
    parser.add_argument("--pg", default="", help="a PostgreSQL URL (its tables are emptied)")
    parser.add_argument("--worker", nargs=3, metavar=("DB", "INSTANCE", "NAME"))
    args = parser.parse_args()
    os.environ[TOKEN_ENV] = TOKEN
    if args.worker:
        worker(*args.worker)
        return 0
    fake = FakeMastodon(TOKEN).start()
    ok = True
    tmp = Path(tempfile.mkdtemp(prefix="bench-incident-"))
    backend = "postgresql" if args.pg else "sqlite"
    print(f"incident reply, {args.customers} customers, {backend}, fake Mastodon at {fake.url}")
    try:
        # 1. one uninterrupted run
        database = fresh_store(args, tmp, "run")
        sc = Socialcare(config(database, fake.url))
        latest = seed(sc.store, args.customers)
        sc.incident_open("signin", match="sign in or login broken")
        first = len(fake.posts)
        http = _time_http()
        t0 = time.perf_counter()
        report = sc.incident_reply("signin", text=ACK)
        seconds = time.perf_counter() - t0
        sent = report.count("sent")
        own = seconds - http[0]
        print(
            f"  one run: {sent} sent in {seconds:.1f} s = {sent / seconds:.0f} items/s; "
            f"{http[0]:.1f} s of it waiting on the fake platform (HTTP), socialcare's own "
            f"{1000 * own / max(sent, 1):.1f} ms per item"
        )
        good, _ = check(fake, latest, first, "one run")
        ok &= good and sent == args.customers
        before = len(fake.posts)
        again = sc.incident_reply("signin", text=ACK)
        ok &= again.count("sent") == 0 and len(fake.posts) == before
        print(f"  rerun: {again.count('already')} already sent, {len(fake.posts) - before} new")
        sc.shutdown()

        # 2. killed midway, then rerun
        database = fresh_store(args, tmp, "crash")
        sc = Socialcare(config(database, fake.url))
        latest = seed(sc.store, args.customers)
        sc.incident_open("signin-2", match="sign in or login broken")
        first = len(fake.posts)
        proc = subprocess.Popen(
            [sys.executable, __file__, "--worker", database, fake.url, "signin-2"],
            env={**os.environ, TOKEN_ENV: TOKEN},
        )
        deadline = time.monotonic() + 600
        while len(fake.posts) - first < args.kill_after and proc.poll() is None:
            if time.monotonic() > deadline:
                break
            time.sleep(0.01)
        if proc.poll() is None:
            os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
        at_kill = len(fake.posts) - first
        t0 = time.perf_counter()
        report = sc.incident_reply("signin-2", text=ACK)
        seconds = time.perf_counter() - t0
        sent = report.count("sent")
        left: dict[str, Any] = {k: v for k, v in report.totals.items() if k != "sent"}
        print(
            f"  killed after {at_kill} posts; rerun sent {sent} in {seconds:.1f} s "
            f"({sent / max(seconds, 1e-9):.0f} items/s); other outcomes {left}"
        )
        for line in report.lines:
            if line.action == "unknown" and line.outbox_id is not None:
                # caught between the platform and the commit: the platform is asked first
                print(f"  outbox #{line.outbox_id} was in flight: {line.detail}")
        good, per = check(fake, latest, first, "killed + rerun")
        unknown = report.count("unknown")
        missing = args.customers - len(per)
        ok &= max(per.values(), default=0) == 1 and missing <= unknown
        if missing:
            print(f"  {missing} customer(s) wait for `outbox retry` (in flight at the kill)")
        sc.shutdown()
    finally:
        fake.stop()
    print("no double post: " + ("OK" if ok else "FAILED"))
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
