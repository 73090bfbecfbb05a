"""Benchmark: poll throughput with ten routing rules and two notify targets, against plain poll.

Usage: python bench/bench_team_rules.py [N] [ROUNDS]   (default 20000 mentions, 3 rounds)

Both configurations poll the same generated demo file (recent mentions, so new-mention
notifications are evaluated) into fresh SQLite stores; each is timed from the poll to
the store's close. The notify targets are webhooks on a local HTTP server (127.0.0.1, in
a process of its own: its CPU is not the poll's; HTTP/1.1 keep-alive, as real webhook
servers), with filters a team would set (high-score complaints, urgent questions), set
so that about 0.3% of the generated mentions pass: a realistic few are actually sent
(with the scorer of session 9, thresholds of 9.0 and 8.0 sent none).

How it is measured, and why:

* Every poll runs in a child forked from this process after a warm-up poll of each
  configuration (imports, compiled patterns, lexicons loaded) and a full collection:
  each starts from the same clean, warm heap, as a cron ``poll`` starts clean. Run one
  after another in one process, a poll paid for the garbage and the grown heap of the
  runs before it, and the later of each pair paid more.
* Each round runs the two configurations in ABBA order (plain first in even rounds,
  team first in odd ones), so a drift of the machine's speed within a round hits both
  alike instead of always the second.
* Each round's two polls are a pair measured under the same load: the median of the
  per-round ratios is printed beside the ratio of the medians, with the smallest and
  largest per-round ratio (what "in every run" has to survive).

Prints mentions/s (median of the rounds) for each, the ratios (goal: >= 0.9), and how
many mentions were routed and notifications sent.
"""

from __future__ import annotations

import gc
import json
import multiprocessing
import os
import random
import statistics
import sys
import tempfile
import time
import traceback
from datetime import datetime, timedelta, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from socialcare.app import Socialcare  # noqa: E402
from socialcare.config import Config  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_triage import generate as realistic_mentions  # noqa: E402

RULES: list[dict[str, Any]] = [
    {"name": "refunds", "keywords": ["refund*", "charged twice", "overcharged"], "team": "billing"},
    {"name": "invoices", "pattern": r"\b(?:INV|ACC)-\d+", "team": "billing"},
    {"name": "outage", "keywords": ["outage", "down", "no signal"], "team": "network",
     "strategy": "least_loaded"},
    {"name": "vip", "customers": ["demo:u1", "demo:u2", 42], "agent": "alice"},
    {"name": "french", "languages": ["fr"], "agent": "dan"},
    {"name": "spanish", "languages": ["es"], "agent": "erin"},
    {"name": "urgent", "min_score": 8.0, "team": "network"},
    {"name": "complaints", "intents": ["complaint"], "team": "social"},
    {"name": "questions", "intents": ["question"], "team": "social", "strategy": "least_loaded"},
    {"name": "rest", "kinds": ["mention", "dm", "review"], "team": "social"},
]  # fmt: skip
TEAMS = {
    "billing": ["alice", "bob"],
    "network": ["carol", "dan"],
    "social": ["erin", "frank", "grace"],
}


def generate(path: Path, n: int) -> None:
    """n realistic care mentions written in the last few hours."""
    rnd = random.Random(42)
    now = datetime.now(timezone.utc)
    with path.open("w", encoding="utf-8") as fh:
        for i, m in enumerate(realistic_mentions(n)):
            at = now - timedelta(seconds=rnd.randint(60, 4 * 3600))
            fh.write(json.dumps({
                "id": str(i), "author_id": f"u{rnd.randint(0, n // 5)}", "author": f"user{i % 9973}",
                "name": "Generated User", "followers": m["author_followers"], "text": m["text"],
                "lang": m["language"], "created_at": at.strftime("%Y-%m-%dT%H:%M:%SZ"),
            }) + "\n")  # fmt: skip


class _Hook(BaseHTTPRequestHandler):
    # HTTP/1.1 keeps the connection open between messages, as Slack's and Teams' webhook
    # servers do (HTTP/1.0 made every notification a new TCP connection)
    protocol_version = "HTTP/1.1"
    # the answer leaves in one segment (flushed per request): headers and body sent apart
    # on a kept-alive connection wait ~40 ms for the client's delayed ACK (Nagle)
    wbufsize = 1 << 16

    def do_POST(self) -> None:  # noqa: N802
        self.rfile.read(int(self.headers.get("Content-Length", 0)))
        self.send_response(200)
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"ok")

    def log_message(self, *args: Any) -> None:
        pass


def _serve(ports: multiprocessing.Queue[int]) -> None:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Hook)
    ports.put(server.server_address[1])
    server.serve_forever()


def run(
    data: Path, tmp: Path, n: int, team: bool, url: str, label: str
) -> tuple[float, float, int, int]:
    """Poll the file into a fresh store: (mentions/s wall, per CPU second, routed, sent)."""
    extra: dict[str, Any] = {}
    if team:
        extra = {
            "routing": {"teams": TEAMS, "cap": 100_000, "rules": RULES},
            "notify": (
                {
                    "name": "slack",
                    "type": "slack",
                    "url": f"{url}/slack",
                    "events": ["mention"],
                    "intents": ["complaint"],
                    "score_above": 8.0,
                },
                {
                    "name": "hook",
                    "type": "webhook",
                    "url": f"{url}/hook",
                    "events": ["mention"],
                    "intents": ["question"],
                    "score_above": 6.5,
                },
            ),  # fmt: skip
        }
    cfg = Config(
        database=str(tmp / f"{label}.db"),
        agent="bench",
        brand_handles=("acmehelp",),
        sources={"demo": {"path": str(data), "page_size": 1000}},
        **extra,
    )
    sc = Socialcare(cfg)
    # Timed: the poll and closing the store, as a cron `poll` ends. The close checkpoints
    # the WAL the poll wrote; a run that commits again after the poll (notify enqueues)
    # checkpoints it there instead, so timing the poll alone charged only that run for it.
    started, cpu = time.perf_counter(), time.process_time()
    summary = sc.poll(["demo"])
    sc.shutdown()
    elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu
    assert summary.new == n, summary
    sc = Socialcare(cfg)
    routed = len(sc.store.rows("SELECT mention_id FROM team_routes"))
    sent = len(sc.store.outbox_list(("sent",), kind="notify", limit=1_000_000))
    sc.shutdown()
    return n / elapsed, n / cpu, routed, sent


def _forked(*args: Any) -> tuple[float, float, int, int]:
    """:func:`run` in a child forked from this process: it starts from this process's
    heap, clean and warm, and leaves its own garbage behind when it exits."""
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: run, hand back the figures, exit without cleanup
        code = 1
        try:
            os.close(read)
            with os.fdopen(write, "w") as out:
                out.write(json.dumps(run(*args)))
            code = 0
        except BaseException:
            traceback.print_exc()
        finally:
            os._exit(code)
    os.close(write)
    with os.fdopen(read) as fh:
        answer = fh.read()
    _, status = os.waitpid(pid, 0)
    if status != 0 or not answer:
        raise SystemExit(f"a benchmark poll failed (wait status {status})")
    rate, cpu, routed, sent = json.loads(answer)
    return float(rate), float(cpu), int(routed), int(sent)


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 20_000
    rounds = int(sys.argv[2]) if len(sys.argv) > 2 else 3
    # The receiver runs in its own process: its CPU is Slack's, not the poll's.
    ports: multiprocessing.Queue[int] = multiprocessing.Queue()
    server = multiprocessing.Process(target=_serve, args=(ports,), daemon=True)
    server.start()
    url = f"http://127.0.0.1:{ports.get(timeout=30)}"
    # per configuration (False: plain, True: team), each round's (wall rate, CPU rate)
    rates: dict[bool, list[tuple[float, float]]] = {False: [], True: []}
    routed = sent = 0
    with tempfile.TemporaryDirectory() as name:
        tmp = Path(name)
        data = tmp / "demo.jsonl"
        generate(data, n)
        for team in (False, True):  # imports and caches, not measured
            run(data, tmp, n, team, url, f"warm{int(team)}")
        gc.collect()
        gc.freeze()  # the children's collections leave the warm heap alone
        for r in range(rounds):
            for team in (False, True) if r % 2 == 0 else (True, False):
                rate, cpu, got, told = _forked(data, tmp, n, team, url, f"{int(team)}r{r}")
                rates[team].append((rate, cpu))
                if team:
                    routed, sent = got, told
    server.terminate()
    server.join()
    plain, team = rates[False], rates[True]
    p, t = (statistics.median(x for x, _ in rs) for rs in (plain, team))
    pc, tc = (statistics.median(c for _, c in rs) for rs in (plain, team))
    paired = [(tw / pw, tcpu / pcpu) for (pw, pcpu), (tw, tcpu) in zip(plain, team, strict=True)]
    wall, cpu = [w for w, _ in paired], [c for _, c in paired]
    print(f"poll demo, {n:,} mentions, median of {rounds} ABBA rounds (each poll a fresh fork):")
    print(f"  without team rules: {p:,.0f} mentions/s ({pc:,.0f} per CPU second)")
    print(f"  10 routing rules + 2 notify targets: {t:,.0f} mentions/s ({tc:,.0f} per CPU second;"
          f" {routed:,} routed, {sent:,} notifications sent per run)")  # fmt: skip
    print(f"  ratio {t / p:.2f} wall clock, {tc / pc:.2f} CPU (goal >= 0.90)")
    print(f"  per-round ratios: CPU median {statistics.median(cpu):.2f} (min {min(cpu):.2f}, "
          f"max {max(cpu):.2f}); wall median {statistics.median(wall):.2f} "
          f"(min {min(wall):.2f}, max {max(wall):.2f})")  # fmt: skip


if __name__ == "__main__":
    main()
