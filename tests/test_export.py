"""``export``: column order, CSV-injection escaping, filters, keyset paging, formats."""

from __future__ import annotations

import csv
import io
import json
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from socialcare.errors import UsageError
from socialcare.reports.export import open_output, write_report_csv, write_rows
from socialcare.safety import csv_safe
from socialcare.store import Store
from socialcare.store.reports import EXPORT_COLUMNS, ExportQuery, iter_export
from tests.test_reports import add_event, add_mention, add_outbox, at, params

MENTION_HEADER = [
    "id",
    "source",
    "native_id",
    "kind",
    "created_at",
    "author_key",
    "author_handle",
    "author_name",
    "author_followers",
    "text",
    "url",
    "language",
    "conversation_id",
    "parent_id",
    "query",
    "status",
    "assignee",
    "snoozed_until",
    "tags",
    "intent",
    "sentiment",
    "sentiment_compound",
    "static_score",
    "sla_due_at",
    "answered_at",
    "answered_by",
    "repost_count",
    "is_own",
    "fetched_at",
]
OUTBOX_HEADER = [
    "id",
    "kind",
    "source",
    "mention_id",
    "status",
    "agent",
    "created_at",
    "due_at",
    "sent_at",
    "updated_at",
    "text",
    "platform_id",
    "url",
    "error",
    "kb_article_id",
]
LOG_HEADER = ["id", "at", "agent", "action", "mention_id", "detail"]


def export_text(store: Store, kind: str, fmt: str = "csv", **kw: Any) -> str:
    out = io.StringIO(newline="")
    write_rows(out, fmt, EXPORT_COLUMNS[kind], iter_export(store, ExportQuery(kind=kind, **kw)))
    return out.getvalue()


def export_csv(store: Store, kind: str, **kw: Any) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(export_text(store, kind, **kw), newline="")))


def test_documented_column_order() -> None:
    assert list(EXPORT_COLUMNS["mentions"]) == MENTION_HEADER
    assert list(EXPORT_COLUMNS["replies"]) == OUTBOX_HEADER
    assert list(EXPORT_COLUMNS["followups"]) == OUTBOX_HEADER
    assert list(EXPORT_COLUMNS["log"]) == LOG_HEADER


def test_csv_header_and_iso_utc_times(store: Store) -> None:
    add_mention(
        store, "1", at("2026-11-19T10:00:00Z"), compound=-0.5, intent="complaint", sla_minutes=90
    )
    text = export_text(store, "mentions")
    header, first = list(csv.reader(io.StringIO(text, newline="")))
    assert header == MENTION_HEADER
    row = dict(zip(header, first, strict=True))
    assert row["created_at"] == "2026-11-19T10:00:00Z"
    assert row["sla_due_at"] == "2026-11-19T11:30:00Z"
    assert row["sentiment"] == "negative"
    assert row["fetched_at"].endswith("Z")
    assert text.endswith("\r\n")


@pytest.mark.parametrize(
    "hostile, expected",
    [
        ('=HYPERLINK("http://x","y")', '\'=HYPERLINK("http://x","y")'),
        ("+1+1", "'+1+1"),
        ("-2+3", "'-2+3"),
        ("@SUM(A1)", "'@SUM(A1)"),
        ("\tcmd", "'\tcmd"),
        ("\rcmd", "'\rcmd"),
        ("safe = text", "safe = text"),
    ],
)
def test_formula_cells_get_an_apostrophe(store: Store, hostile: str, expected: str) -> None:
    add_mention(store, "1", at("2026-11-19T10:00:00Z"), text=hostile, author="x")
    (row,) = export_csv(store, "mentions")
    assert row["text"] == expected


def test_author_fields_are_neutralised_too(store: Store) -> None:
    add_mention(store, "1", at("2026-11-19T10:00:00Z"), author="=cmd|' /C calc'!A0")
    (row,) = export_csv(store, "mentions")
    assert row["author_handle"] == "'=cmd|' /C calc'!A0"
    assert row["author_key"] == "twitter:=cmd|' /c calc'!a0"  # does not start with a formula char


def test_multiline_quotes_and_controls_round_trip(store: Store) -> None:
    text = 'line one\nline "two", with comma\r\nthird\x1b[2J\x07 end'
    add_mention(store, "1", at("2026-11-19T10:00:00Z"), text=text)
    (row,) = export_csv(store, "mentions")
    assert row["text"] == 'line one\nline "two", with comma\r\nthird end'  # whole escape gone


def test_numbers_stay_numbers() -> None:
    assert csv_safe(-0.5) == -0.5
    assert csv_safe(None) is None
    assert csv_safe("-0.5") == "'-0.5"


def test_since_until_filter_mentions(store: Store) -> None:
    for i, when in enumerate(
        [
            "2026-11-18T23:59:59Z",
            "2026-11-19T00:00:00Z",
            "2026-11-19T23:59:59Z",
            "2026-11-20T00:00:00Z",
        ]
    ):
        add_mention(store, str(i), at(when))
    rows = export_csv(
        store, "mentions", since=at("2026-11-19T00:00:00Z"), until=at("2026-11-20T00:00:00Z")
    )
    assert [r["id"] for r in rows] == ["twitter:1", "twitter:2"]  # since inclusive, until not


def test_since_in_another_zone_is_the_same_instant(store: Store) -> None:
    add_mention(store, "a", at("2026-11-19T04:59:00Z"))
    add_mention(store, "b", at("2026-11-19T05:00:00Z"))
    since = datetime.fromisoformat("2026-11-19T00:00:00-05:00")
    assert [r["id"] for r in export_csv(store, "mentions", since=since)] == ["twitter:b"]


def test_source_and_status_filters(store: Store) -> None:
    add_mention(store, "1", at("2026-11-19T10:00:00Z"))
    add_mention(store, "2", at("2026-11-19T11:00:00Z"), source="reddit")
    add_mention(store, "3", at("2026-11-19T12:00:00Z"), status="closed")
    assert [r["id"] for r in export_csv(store, "mentions", source="reddit")] == ["reddit:2"]
    assert [r["id"] for r in export_csv(store, "mentions", status="closed")] == ["twitter:3"]


def test_replies_followups_and_log_are_separate(store: Store) -> None:
    m = add_mention(store, "1", at("2026-11-19T10:00:00Z"))
    r = add_mention(store, "2", at("2026-11-19T10:00:00Z"), source="reddit")
    add_outbox(store, m, at("2026-11-19T10:30:00Z"), "alice")
    add_outbox(store, m, at("2026-11-19T10:40:00Z"), "bob", status="failed", text="@bad")
    add_outbox(store, m, at("2026-11-20T10:00:00Z"), "alice", kind="followup")
    add_outbox(store, None, at("2026-11-20T11:00:00Z"), "alice", kind="post")
    add_event(store, m, at("2026-11-19T10:31:00Z"), "alice", "sent")
    add_event(store, r, at("2026-11-19T10:32:00Z"), "bob", "close")
    replies = export_csv(store, "replies")
    assert [(x["agent"], x["status"]) for x in replies] == [("alice", "sent"), ("bob", "failed")]
    assert replies[1]["text"] == "'@bad"
    assert replies[0]["sent_at"] == "2026-11-19T10:30:00Z"
    assert [x["status"] for x in export_csv(store, "replies", status="sent")] == ["sent"]
    assert [x["kind"] for x in export_csv(store, "followups")] == ["followup", "post"]
    assert [x["action"] for x in export_csv(store, "log")] == ["sent", "close"]
    assert [x["action"] for x in export_csv(store, "log", source="reddit")] == ["close"]
    later = export_csv(store, "replies", since=at("2026-11-19T10:35:00Z"))
    assert [x["agent"] for x in later] == ["bob"]


def test_keyset_paging_visits_every_row_once_with_ties(store: Store) -> None:
    same = at("2026-11-19T10:00:00Z")
    for i in range(7):
        add_mention(store, f"t{i}", same)
    add_mention(store, "early", at("2026-11-19T09:00:00Z"))
    rows = list(iter_export(store, ExportQuery(kind="mentions"), page_size=2))
    ids = [r[0] for r in rows]
    assert ids == ["twitter:early", *[f"twitter:t{i}" for i in range(7)]]
    for i in range(5):
        add_event(store, "twitter:t0", same, "a", f"e{i}")
    events = list(iter_export(store, ExportQuery(kind="log"), page_size=2))
    assert [e[3] for e in events] == [f"e{i}" for i in range(5)]


@pytest.mark.sqlite_only  # counts the rows SQLite hands out through its trace hook
def test_export_never_reads_the_whole_table_at_once(store: Store) -> None:
    for i in range(10):
        add_mention(store, str(i), at("2026-11-19T10:00:00Z"))
    calls: list[str] = []
    store.conn.set_trace_callback(calls.append)
    rows = iter_export(store, ExportQuery(kind="mentions"), page_size=3)
    next(rows)
    assert sum("LIMIT" in c for c in calls) == 1  # one page fetched for the first row
    assert len(list(rows)) == 9
    assert sum("LIMIT" in c for c in calls) == 4
    store.conn.set_trace_callback(None)


def test_json_formats(store: Store) -> None:
    m = add_mention(store, "1", at("2026-11-19T10:00:00Z"), text="=1+1 café\nnew line")
    store.set_tags(m, ["billing", "vip"])
    add_event(store, m, at("2026-11-19T10:00:00Z"), "alice", "tag")
    lines = export_text(store, "mentions", "jsonl").splitlines()
    assert len(lines) == 1
    record = json.loads(lines[0])
    assert list(record) == MENTION_HEADER
    assert record["text"] == "=1+1 café\nnew line"  # JSON needs no formula escaping
    assert record["tags"] == ["billing", "vip"]
    doc = json.loads(export_text(store, "log", "json"))
    assert doc[0]["detail"] == {} and doc[0]["action"] == "tag"
    assert json.loads(export_text(store, "replies", "json")) == []
    assert "café" in export_text(store, "mentions", "json")  # UTF-8, not \\u escapes


def test_bad_options_are_usage_errors(store: Store) -> None:
    with pytest.raises(UsageError, match="mentions, replies"):
        list(iter_export(store, ExportQuery(kind="authors")))
    with pytest.raises(UsageError, match="open, replied"):
        list(iter_export(store, ExportQuery(kind="mentions", status="done")))
    with pytest.raises(UsageError, match="log"):
        list(iter_export(store, ExportQuery(kind="log", status="sent")))
    with pytest.raises(UsageError, match="--format"):
        write_rows(io.StringIO(), "xml", ["a"], [])
    with pytest.raises(UsageError, match="--excel"):
        write_rows(io.StringIO(), "json", ["a"], [], excel=True)


def test_excel_bom_and_atomic_file(tmp_path: Path, store: Store) -> None:
    add_mention(store, "1", at("2026-11-19T10:00:00Z"), text="naïve")
    target = tmp_path / "out.csv"
    with open_output(target) as out:
        write_rows(
            out,
            "csv",
            EXPORT_COLUMNS["mentions"],
            iter_export(store, ExportQuery(kind="mentions")),
            excel=True,
        )
    raw = target.read_bytes()
    assert raw.startswith(b"\xef\xbb\xbfid,source,")
    assert "naïve".encode() in raw
    assert not (tmp_path / ".out.csv.part").exists()


def test_interrupted_export_leaves_no_file(tmp_path: Path) -> None:
    target = tmp_path / "out.csv"

    def rows() -> Any:
        yield ("a",)
        raise RuntimeError("disk on fire")

    with pytest.raises(RuntimeError):
        with open_output(target) as out:
            write_rows(out, "csv", ["x"], rows())
    assert list(tmp_path.iterdir()) == []


def test_report_csv_dir_one_file_per_table(tmp_path: Path, store: Store) -> None:
    from socialcare.reports.collect import collect_report

    m = add_mention(store, "1", at("2026-11-19T10:00:00Z"))
    add_outbox(store, m, at("2026-11-19T10:30:00Z"), "=cmd|' /C calc'!A0")
    files = write_report_csv(collect_report(store, params()), tmp_path / "r")
    assert {f.name for f in files} == {
        f"{name}.csv"
        for name in (
            "volume",
            "sentiment",
            "intent",
            "first_response",
            "sla",
            "resolution",
            "backlog",
            "agents",
            "repeat_contacts",
            "advocates",
            "ratings",
            "rating_trend",
            "negative_terms",
        )
    }
    rows = list(csv.reader((tmp_path / "r" / "agents.csv").open(newline="", encoding="utf-8")))
    assert rows[0] == ["agent", "replies", "followups", "native_answers", "closes"]
    assert rows[1] == ["'=cmd|' /C calc'!A0", "1", "0", "0", "0"]
    first_response = list(csv.DictReader((tmp_path / "r" / "first_response.csv").open()))
    assert first_response[0]["median_seconds"] == "1800.0"
