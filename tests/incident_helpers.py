"""A generated outage for the incident tests (and their killed subprocess).

2,000 mentions from 1,500 customers on two platforms: the recording sources of
``tests/test_followups.py`` (``plain`` and ``fake``, which append every reply
to a log file, the "platform" a crash cannot take back). Customers 0..499
wrote twice, so a reply must go to their latest mention only.
"""

from __future__ import annotations

import json
import sys
from datetime import timedelta
from pathlib import Path
from typing import Any

from socialcare.app import Socialcare
from socialcare.config import Config
from socialcare.models import Mention, utcnow
from socialcare.store import Store
from tests.test_followups import make_config, register_fakes

SOURCES = ("plain", "fake")
ACK = "Hi {author}, we know login is failing and we're on it. Sorry!"


def outage(store: Store, *, mentions: int = 2000, customers: int = 1500) -> dict[str, str]:
    """Store the outage; returns customer author key -> their latest mention id."""
    now = utcnow()
    batch: list[Mention] = []
    latest: dict[str, str] = {}
    for n in range(mentions):
        c = n % customers
        source = SOURCES[c % 2]
        created = now - timedelta(minutes=50) + timedelta(seconds=n)
        m = Mention(
            source=source,
            native_id=f"o{n}",
            text=f"login is broken again, error 502 ({n})",
            created_at=created,
            author_id=f"c{c}",
            author_handle=f"cust{c}",
            author_name=f"Customer {c}",
            conversation_id=f"o{n}",
        )
        batch.append(m)
        latest[f"{source}:c{c}"] = m.id
    for start in range(0, len(batch), 500):
        store.upsert_mentions(batch[start : start + 500])
    return latest


def config(database: str, workdir: Path, **incidents: Any) -> Config:
    """The recording sources with no pacing (the tests measure correctness, not waits)."""
    table = {"min_interval": {"plain": 0, "fake": 0}, **incidents}
    return make_config(database, workdir)._replace(incidents=table)


def replies_logged(workdir: Path) -> list[dict[str, Any]]:
    """Every reply the recording "platform" accepted."""
    log = workdir / "sent.jsonl"
    if not log.exists():
        return []
    return [json.loads(line) for line in log.read_text(encoding="utf-8").splitlines()]


def main() -> None:
    """``python -m tests.incident_helpers DATABASE WORKDIR NAME``: run ``incident reply``."""
    database, workdir, name = sys.argv[1], Path(sys.argv[2]), sys.argv[3]
    register_fakes()
    sc = Socialcare(config(database, workdir))
    try:
        sc.incident_reply(name, text=ACK)
    finally:
        sc.shutdown()


if __name__ == "__main__":
    main()
