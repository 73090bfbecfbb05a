"""Exactly one acknowledgement per customer across a crash: ``incident reply`` on the
generated outage runs in a subprocess that is killed (SIGKILL) mid-run, then runs again.

The recording sources append every accepted reply to a log file, the platform's own
record, which a killed process cannot take back. The rerun must send what the
killed run had not sent, and nothing twice; an item the kill caught between the
platform and the commit stays ``sending`` (never resent automatically), and an
agent's ``outbox resolve`` settles it.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Iterator

import pytest

from socialcare.app import Socialcare
from socialcare.sources import registry
from socialcare.store import Store
from tests.incident_helpers import ACK, config, outage, replies_logged
from tests.outbox_helpers import abandon
from tests.test_followups import register_fakes

REPO = Path(__file__).resolve().parent.parent


@pytest.fixture(autouse=True)
def fakes() -> Iterator[None]:
    register_fakes()
    yield
    registry.unregister("fake")
    registry.unregister("plain")


def _kill_after(proc: subprocess.Popen[bytes], workdir: Path, replies: int) -> int:
    """SIGKILL the run once the platform has ``replies`` replies; how many it had then."""
    log = workdir / "sent.jsonl"
    deadline = time.monotonic() + 240
    while time.monotonic() < deadline and proc.poll() is None:
        if log.exists() and log.read_bytes().count(b"\n") >= replies:
            break
        time.sleep(0.02)
    assert proc.poll() is None, "the run finished before it could be killed: raise the outage"
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(timeout=60)
    return len(replies_logged(workdir))


def test_killed_midway_then_rerun_sends_each_customer_exactly_once(
    file_store: Store, tmp_path: Path
) -> None:
    latest = outage(file_store)
    sc = Socialcare(config(file_store.path, tmp_path), file_store)
    sc.incident_open("login", match="login broken")
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "tests.incident_helpers",
            str(file_store.path),
            str(tmp_path),
            "login",
        ],
        cwd=REPO,
        env={**os.environ, "PYTHONPATH": str(REPO)},
        stderr=subprocess.PIPE,
    )
    at_kill = _kill_after(proc, tmp_path, 300)
    assert 300 <= at_kill < 1500
    assert proc.returncode == -signal.SIGKILL

    report = sc.incident_reply("login", text=ACK)
    logged = replies_logged(tmp_path)
    per_mention = Counter(f"{e['source']}:{e['to']}" for e in logged)
    assert per_mention and max(per_mention.values()) == 1, "a customer was answered twice"
    assert set(per_mention) <= set(latest.values())
    # every customer has exactly one acknowledgement item; all but a caught-in-flight one sent
    items = file_store.rows(
        "SELECT o.id, o.status, o.mention_id FROM incident_sends s JOIN outbox o "
        "ON o.id = s.outbox_id WHERE s.kind = 'ack'"
    )
    assert len(items) == 1500
    assert len({i["mention_id"] for i in items}) == 1500
    status = Counter(i["status"] for i in items)
    assert status["sent"] + status["sending"] == 1500 and status["sending"] <= 1
    sent_ids = {i["mention_id"] for i in items if i["status"] == "sent"}
    assert sent_ids <= set(per_mention)
    totals = report.totals
    assert totals.get("sent", 0) + totals.get("already", 0) + totals.get("unknown", 0) == 1500
    assert totals.get("sent", 0) >= 1500 - at_kill - 1  # the rest, not a reply more
    # a third run sends nothing; the in-flight item (if any) waits for an agent's word
    again = sc.incident_reply("login", text=ACK)
    assert again.count("sent") == 0 and len(replies_logged(tmp_path)) == len(logged)
    for item in (i for i in items if i["status"] == "sending"):
        assert again.count("unknown") == 1
        on_platform = item["mention_id"] in per_mention
        abandon(file_store, item["id"])
        sc.resolve(item["id"], sent=on_platform)
        if not on_platform:
            sc.retry(item["id"])
    final = Counter(f"{e['source']}:{e['to']}" for e in replies_logged(tmp_path))
    assert len(final) == 1500 and max(final.values()) == 1
    assert set(final) == set(latest.values())
    sc.adapters.close()
