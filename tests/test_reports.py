"""Report metrics on small hand-computed datasets, term extraction and spike detection."""

from __future__ import annotations

import json
import random
import re
from datetime import datetime, timedelta, timezone
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from socialcare.errors import UsageError
from socialcare.models import Mention, to_iso
from socialcare.reports.collect import ReportParams, collect_report, collect_spikes
from socialcare.reports.html import axis_ticks, render_html
from socialcare.reports.metrics import (
    ResponseFacts,
    SpikeRule,
    bucket_dates,
    detect_spike,
    driving_terms,
    format_cell,
    headline_changes,
    percentile,
    poisson_sf,
    sparkline,
    summarise_responses,
    tokenize,
    top_terms,
)
from socialcare.store import Store

UTC = timezone.utc
NOW = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)


def at(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


# -- test-data helpers (also used by test_report_cli.py) ------------------------------
def add_mention(
    store: Store,
    native_id: str,
    created: datetime,
    *,
    text: str = "hello",
    source: str = "twitter",
    author: str | None = None,
    compound: float | None = None,
    intent: str | None = None,
    sla_minutes: float | None = None,
    status: str = "open",
    own_handles: tuple[str, ...] = (),
) -> str:
    """Store a mention, then set its triage columns the way triage would."""
    handle = author or f"user{native_id}"
    m = Mention(
        source=source,
        native_id=native_id,
        text=text,
        created_at=created,
        author_id=handle.lower(),
        author_handle=handle,
    )
    store.upsert_mentions([m], own_handles=own_handles)
    store.conn.execute(
        "UPDATE mentions SET sentiment_compound = ?, sentiment_scored = ?, intent = ?, "
        "sla_due_ts = ?, status = ? WHERE id = ?",
        [
            compound,
            0 if compound is None else 1,
            intent,
            None if sla_minutes is None else created.timestamp() + sla_minutes * 60,
            status,
            m.id,
        ],
    )
    return m.id


def add_outbox(
    store: Store,
    mention_id: str | None,
    when: datetime,
    agent: str,
    *,
    kind: str = "reply",
    status: str = "sent",
    text: str = "We're on it",
    source: str = "twitter",
) -> None:
    """An outbox item; a sent reply also marks the mention answered (as outbox.send_item does)."""
    iso = to_iso(when)
    store.conn.execute(
        "INSERT INTO outbox (kind, source, mention_id, text, status, agent, created_at, "
        "updated_at, sent_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
        [
            kind,
            source,
            mention_id,
            text,
            status,
            agent,
            iso,
            iso,
            iso if status == "sent" else None,
        ],
    )
    if status == "sent" and kind == "reply" and mention_id:
        store.mark_answered(mention_id, iso, agent)


def add_event(store: Store, mention_id: str, when: datetime, agent: str, action: str) -> None:
    store.conn.execute(
        "INSERT INTO events (at, agent, action, mention_id, detail) VALUES (?, ?, ?, ?, '{}')",
        [to_iso(when), agent, action, mention_id],
    )


def seed_metrics(store: Store) -> dict[str, str]:
    """The hand-computed dataset; the expected numbers are written in the tests below."""
    ids: dict[str, str] = {}
    ids["m1"] = add_mention(
        store,
        "1",
        at("2026-11-19T10:00:00Z"),
        text="Refund still missing, #fail billing",
        author="angry",
        compound=-0.6,
        intent="complaint",
        sla_minutes=60,
    )
    ids["m2"] = add_mention(
        store,
        "2",
        at("2026-11-19T11:00:00Z"),
        text="Refund refused again, billing is broken",
        author="angry",
        compound=-0.7,
        intent="complaint",
        sla_minutes=60,
    )
    ids["m3"] = add_mention(
        store,
        "3",
        at("2026-11-19T12:00:00Z"),
        text="How do I change my plan?",
        compound=0.0,
        intent="question",
        sla_minutes=60,
    )
    ids["m4"] = add_mention(
        store,
        "4",
        at("2026-11-19T13:00:00Z"),
        text="App outage again #fail",
        author="angry",
        compound=-0.5,
        intent="complaint",
        sla_minutes=60,
    )
    ids["m5"] = add_mention(
        store,
        "5",
        at("2026-11-20T11:30:00Z"),
        text="¿Dónde está mi pedido?",
        source="reddit",
        intent="question",
        sla_minutes=60,
    )
    ids["m6"] = add_mention(
        store,
        "6",
        at("2026-11-19T09:00:00Z"),
        text="Love the new app",
        author="fan",
        compound=0.8,
        intent="praise",
    )
    ids["m7"] = add_mention(
        store,
        "7",
        at("2026-11-19T15:00:00Z"),
        text="Great help, thanks",
        author="fan",
        compound=0.6,
        intent="praise",
    )
    ids["m8"] = add_mention(
        store, "8", at("2026-11-19T16:00:00Z"), text="cheap followers", compound=0.0, intent="spam"
    )
    ids["own"] = add_mention(
        store,
        "9",
        at("2026-11-19T17:00:00Z"),
        text="Our service is back, sorry for the outage",
        author="AcmeHelp",
        compound=-0.4,
        own_handles=("acmehelp",),
    )
    ids["m10"] = add_mention(
        store,
        "10",
        at("2026-11-17T10:00:00Z"),
        text="Still waiting for the refund",
        compound=-0.3,
        intent="complaint",
        sla_minutes=60,
    )
    add_outbox(store, ids["m1"], at("2026-11-19T10:30:00Z"), "alice")
    add_outbox(store, ids["m2"], at("2026-11-19T13:00:00Z"), "bob")
    add_outbox(store, ids["m4"], at("2026-11-19T13:10:00Z"), "bob", status="failed")
    add_outbox(store, ids["m6"], at("2026-11-19T09:20:00Z"), "alice")
    add_outbox(store, ids["m1"], at("2026-11-20T09:00:00Z"), "alice", kind="followup")
    store.mark_answered(ids["m3"], "2026-11-19T12:10:00Z", "carol")  # answered natively
    add_event(store, ids["m1"], at("2026-11-19T12:00:00Z"), "alice", "close")
    store.set_status(ids["m1"], "closed")
    add_event(store, ids["m2"], at("2026-11-19T13:30:00Z"), "alice", "close")
    add_event(store, ids["m2"], at("2026-11-19T14:00:00Z"), "alice", "reopen")
    store.set_status(ids["m2"], "open")
    add_event(store, ids["m7"], at("2026-11-19T16:00:00Z"), "bob", "close")
    store.set_status(ids["m7"], "closed")
    store.set_status(ids["m4"], "open", snoozed_until="2026-11-21T00:00:00Z")
    return ids


def params(**kw: Any) -> ReportParams:
    base: dict[str, Any] = {
        "since": at("2026-11-18T00:00:00Z"),
        "until": NOW,
        "now": NOW,
        "tz": UTC,
        "tz_name": "UTC",
    }
    base.update(kw)
    return ReportParams(**base)


def records(store: Store, name: str, **kw: Any) -> list[dict[str, Any]]:
    return collect_report(store, params(**kw)).table(name).records()


def by_first(rows: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {str(next(iter(r.values()))): r for r in rows}


# -- pure arithmetic -----------------------------------------------------------------
def test_percentile_interpolates_between_closest_ranks() -> None:
    assert percentile([600, 1200, 1800, 7200], 50) == 1500
    assert percentile([600, 1200, 1800, 7200], 90) == pytest.approx(5580)
    assert percentile([5], 90) == 5
    assert percentile([], 50) is None
    with pytest.raises(ValueError):
        percentile([1.0], 101)


def test_format_cell_units() -> None:
    assert format_cell("median_seconds", 5580) == "1h33m"
    assert format_cell("breach_rate", 0.5) == "50.0%"
    assert format_cell("share", 0.125) == "12.5%"
    assert format_cell("open", 4) == "4"
    assert format_cell("median_seconds", None) == "-"


def test_sparkline_scales_to_the_maximum() -> None:
    assert sparkline([0, 4, 8]) == "▁▅█"
    assert sparkline([0, 0]) == "▁▁"
    assert sparkline([]) == ""


def test_closed_without_answer_is_handled_at_close_for_sla() -> None:
    facts = [
        # closed (no reply) 30 min after creation, SLA 60 min: met
        ResponseFacts("question", 0.0, None, 3600.0, 1800.0, 1800.0),
        # closed (no reply) after 2 h, SLA 60 min: breached
        ResponseFacts("question", 0.0, None, 3600.0, 7200.0, 7200.0),
        # unanswered, not closed, due in the future: pending
        ResponseFacts("question", 0.0, None, 99999.0, None, None),
    ]
    summary = summarise_responses(facts, now_ts=10000.0)
    row = by_first(summary.sla_table().records())["question"]
    assert (row["met"], row["breached"], row["pending"], row["breach_rate"]) == (1, 1, 1, 0.5)
    assert summary.first_response["all"] == []


def test_tokenize_keeps_hashtags_and_drops_noise() -> None:
    text = "@AcmeHelp Refund STILL missing!!! #Fail https://t.co/x 2 times... it's the app's fault"
    assert tokenize(text) == ["refund", "missing", "#fail", "times", "app", "fault"]


def test_top_terms_count_each_mention_once() -> None:
    texts = ["outage outage outage", "outage again", "refund please", "refund now"]
    assert top_terms(texts, limit=2) == [("outage", 2), ("refund", 2)]


# -- the report on the hand-computed dataset ---------------------------------------------
def test_first_response_median_and_p90(store: Store) -> None:
    seed_metrics(store)
    rows = by_first(records(store, "first_response"))
    # answered in the period: m6 1200 s, m1 1800 s, m3 600 s (native), m2 7200 s
    assert rows["all"]["answered"] == 4
    assert rows["all"]["median_seconds"] == pytest.approx(1500)
    assert rows["all"]["p90_seconds"] == pytest.approx(5580)
    assert rows["complaint"]["median_seconds"] == pytest.approx(4500)
    assert rows["complaint"]["p90_seconds"] == pytest.approx(6660)
    assert rows["question"]["median_seconds"] == pytest.approx(600)
    assert "spam" not in rows


def test_sla_breach_rate_per_intent(store: Store) -> None:
    seed_metrics(store)
    rows = by_first(records(store, "sla"))
    # m1 met, m2 answered late, m4 unanswered past due, m3 met natively, m5 still pending
    assert rows["all"] == {
        "intent": "all",
        "with_sla": 5,
        "met": 2,
        "breached": 2,
        "pending": 1,
        "breach_rate": 0.5,
    }
    assert rows["complaint"]["breach_rate"] == pytest.approx(2 / 3)
    assert rows["question"]["breach_rate"] == 0.0
    assert rows["question"]["pending"] == 1


def test_resolution_counts_closed_mentions_only(store: Store) -> None:
    seed_metrics(store)
    rows = by_first(records(store, "resolution"))
    # m1 closed after 2 h, m7 after 1 h; m2 was closed then reopened: not resolved
    assert rows["all"]["resolved"] == 2
    assert rows["all"]["median_seconds"] == pytest.approx(5400)
    assert rows["all"]["p90_seconds"] == pytest.approx(6840)


def test_backlog_open_snoozed_past_sla_and_oldest(store: Store) -> None:
    seed_metrics(store)
    rows = by_first(records(store, "backlog"))
    # open: m2 (reopened), m4 (snoozed), m10 on twitter; m5 on reddit; spam and own left out
    assert rows["all"] == {
        "source": "all",
        "open": 4,
        "snoozed": 1,
        "past_sla": 3,
        "oldest_id": "twitter:10",
        "oldest_waiting_seconds": pytest.approx(3 * 86400 + 2 * 3600),
    }
    assert rows["reddit"]["open"] == 1
    assert rows["reddit"]["oldest_waiting_seconds"] == pytest.approx(1800)
    assert rows["twitter"]["open"] == 3


def test_replies_per_agent(store: Store) -> None:
    seed_metrics(store)
    rows = records(store, "agents")
    assert rows == [
        {"agent": "alice", "replies": 2, "followups": 1, "native_answers": 0, "closes": 2},
        {"agent": "bob", "replies": 1, "followups": 0, "native_answers": 0, "closes": 1},
        {"agent": "carol", "replies": 0, "followups": 0, "native_answers": 1, "closes": 0},
    ]


def test_sentiment_and_intent_mix(store: Store) -> None:
    seed_metrics(store)
    sentiment = {r["sentiment"]: r["mentions"] for r in records(store, "sentiment")}
    assert sentiment == {"negative": 3, "neutral": 2, "positive": 2, "unscored": 1}
    intents = {r["intent"]: r["mentions"] for r in records(store, "intent")}
    assert intents == {"complaint": 3, "question": 2, "praise": 2, "spam": 1}


def test_top_negative_terms(store: Store) -> None:
    seed_metrics(store)
    rows = records(store, "negative_terms")
    # m10 is before the period and the brand's own post is left out
    assert [(r["term"], r["mentions"]) for r in rows] == [
        ("#fail", 2),
        ("billing", 2),
        ("refund", 2),
        ("app", 1),
        ("broken", 1),
        ("missing", 1),
        ("outage", 1),
        ("refused", 1),
    ]


def test_repeat_contacts_and_advocates(store: Store) -> None:
    seed_metrics(store)
    repeat = records(store, "repeat_contacts")
    assert [(r["author"], r["mentions"], r["negative"], r["positive"]) for r in repeat] == [
        ("twitter:angry", 3, 3, 0),
        ("twitter:fan", 2, 0, 2),
    ]
    assert repeat[0]["handles"] == "twitter:@angry"
    advocates = records(store, "advocates")
    assert [(r["author"], r["positive"]) for r in advocates] == [("twitter:fan", 2)]


def test_linked_identities_count_as_one_customer(store: Store) -> None:
    add_mention(store, "a", at("2026-11-19T10:00:00Z"), author="jo", compound=0.5)
    add_mention(store, "b", at("2026-11-19T11:00:00Z"), author="jo_r", source="reddit")
    customer = store.link_authors("twitter:jo", "reddit:jo_r")
    rows = records(store, "repeat_contacts")
    assert rows[0]["author"] == f"customer:{customer}"
    assert rows[0]["handles"] == "reddit:@jo_r, twitter:@jo"
    assert rows[0]["mentions"] == 2


def test_source_filter_narrows_every_table(store: Store) -> None:
    seed_metrics(store)
    report = collect_report(store, params(source="reddit"))
    assert report.table("volume").columns == ["day", "total", "reddit"]
    assert {r["sentiment"]: r["mentions"] for r in report.table("sentiment").records()} == {
        "negative": 0,
        "neutral": 0,
        "positive": 0,
        "unscored": 1,
    }
    assert [r["source"] for r in report.table("backlog").records()] == ["all", "reddit"]


def test_volume_zero_fills_days(store: Store) -> None:
    seed_metrics(store)
    rows = records(store, "volume")
    assert rows == [
        {"day": "2026-11-18", "total": 0, "reddit": 0, "twitter": 0},
        {"day": "2026-11-19", "total": 7, "reddit": 0, "twitter": 7},
        {"day": "2026-11-20", "total": 1, "reddit": 1, "twitter": 0},
    ]


def test_day_buckets_follow_the_configured_zone(store: Store) -> None:
    # 03:00Z is still the 18th in New York (UTC-5); 06:00Z is the 19th there too
    add_mention(store, "ny1", at("2026-11-19T03:00:00Z"))
    add_mention(store, "ny2", at("2026-11-19T06:00:00Z"))
    # India is UTC+5:30: 18:29Z is 23:59 on the 18th, 18:31Z is 00:01 on the 19th
    add_mention(store, "in1", at("2026-11-18T18:29:00Z"), source="reddit")
    add_mention(store, "in2", at("2026-11-18T18:31:00Z"), source="reddit")
    ny = ZoneInfo("America/New_York")
    rows = records(store, "volume", tz=ny, tz_name="America/New_York", source="twitter")
    assert {r["day"]: r["total"] for r in rows if r["total"]} == {"2026-11-18": 1, "2026-11-19": 1}
    utc_rows = records(store, "volume", source="twitter")
    assert {r["day"]: r["total"] for r in utc_rows if r["total"]} == {"2026-11-19": 2}
    kolkata = ZoneInfo("Asia/Kolkata")
    rows = records(store, "volume", tz=kolkata, tz_name="Asia/Kolkata", source="reddit")
    assert {r["day"]: r["total"] for r in rows if r["total"]} == {"2026-11-18": 1, "2026-11-19": 1}


def test_week_buckets_start_on_local_monday(store: Store) -> None:
    add_mention(store, "w1", at("2026-11-15T12:00:00Z"))  # Sunday
    add_mention(store, "w2", at("2026-11-16T12:00:00Z"))  # Monday
    rows = records(store, "volume", since=at("2026-11-10T00:00:00Z"), by="week")
    assert rows == [
        {"week": "2026-11-09", "total": 1, "twitter": 1},
        {"week": "2026-11-16", "total": 1, "twitter": 1},
    ]
    assert bucket_dates(at("2026-11-10T00:00:00Z"), NOW, UTC, "week")[0].isoformat() == (
        "2026-11-09"
    )


def test_report_rejects_bad_options(store: Store) -> None:
    with pytest.raises(UsageError, match="--by"):
        collect_report(store, params(by="hour"))
    with pytest.raises(UsageError, match="before"):
        collect_report(store, params(since=NOW, until=NOW - timedelta(days=1)))


def test_report_json_document_is_serialisable(store: Store) -> None:
    seed_metrics(store)
    doc = json.loads(json.dumps(collect_report(store, params()).to_json()))
    assert doc["since"] == "2026-11-18T00:00:00Z"
    assert doc["tables"]["sla"]["rows"][0]["breach_rate"] == 0.5
    assert set(doc["tables"]) == {
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
    }


# -- HTML ---------------------------------------------------------------------------------
HOSTILE = '<img src="https://evil.example/x.png" onerror=alert(1)>'


def test_html_is_self_contained_and_escapes_hostile_text(store: Store) -> None:
    seed_metrics(store)
    for n in ("h1", "h2"):
        add_mention(store, n, at("2026-11-19T18:00:00Z"), author=HOSTILE, text="<script>x</script>")
    page = render_html(collect_report(store, params()), UTC)
    lowered = page.lower()
    assert "<script" not in lowered
    assert "<img" not in lowered
    assert "&lt;img src=&quot;https://evil.example/x.png&quot;" in page
    assert "src=" not in lowered.replace("&lt;img src=", "")
    assert "href=" not in lowered.replace('href="#', "")  # only the contents' own anchors
    assert "url(" not in lowered and "@import" not in lowered
    assert "http://" not in lowered and "<link" not in lowered
    assert lowered.count("<svg") >= 8
    assert "Content-Security-Policy" in page


def test_html_has_contents_folded_tables_and_human_labels(store: Store) -> None:
    seed_metrics(store)
    report = collect_report(store, params())
    page = render_html(report, UTC)
    nav = page[page.index('<nav class="toc"') : page.index("</nav>")]
    for table in report.tables:  # every section listed, each link lands on its section
        assert f'href="#{table.name}"' in nav
        assert f'<section id="{table.name}">' in page
    volume = page[
        page.index('<section id="volume">') : page.index(
            "</section>", page.index('<section id="volume">')
        )
    ]
    assert volume.index("<svg") < volume.index("<details>") < volume.index("<table>")
    first = page[page.index('<section id="first_response">') :]
    first = first[: first.index("</section>")]
    assert "<th>median</th>" in first and "<th>90th percentile</th>" in first
    assert "median_seconds" not in first


def test_html_bars_of_one_kind_share_one_colour(store: Store) -> None:
    seed_metrics(store)
    page = render_html(collect_report(store, params()), UTC)

    def fills(section: str) -> set[str]:
        start = page.index(f'<section id="{section}">')
        chunk = page[start : page.index("</section>", start)]
        return set(re.findall(r'<rect [^>]*fill="(#[0-9a-f]{6})"', chunk))

    assert len(fills("first_response")) == 1
    assert len(fills("backlog")) == 1
    sentiment = fills("sentiment")  # here the colours mean something: red is negative
    assert "#d64541" in sentiment and "#3c9d5d" in sentiment


@pytest.mark.parametrize(
    ("highest", "counts", "top", "step"),
    [
        (7, True, 8, 2),
        (11, True, 12, 2),
        (105, True, 120, 20),
        (3, True, 3, 1),
        (0.3, False, 0.3, 0.05),
    ],
)
def test_axis_fills_the_plot(highest: float, counts: bool, top: float, step: float) -> None:
    got_top, got_step = axis_ticks(highest, counts=counts)
    assert (got_top, got_step) == pytest.approx((top, step))
    assert 3 <= round(got_top / got_step) <= 6 or highest <= 6
    assert got_top >= highest and got_top - highest < got_step  # no empty step above the top
    if counts:
        assert got_step == int(got_step)


def test_headline_cards_compare_with_the_previous_period(store: Store) -> None:
    seed_metrics(store)
    now = collect_report(store, params())
    before = collect_report(store, params().previous_period())
    assert params().previous_period().until == params().since
    cards = {c.label: c for c in headline_changes(now, before)}
    mentions_now = sum(int(v or 0) for v in now.table("volume").column("total"))
    mentions_before = sum(int(v or 0) for v in before.table("volume").column("total"))
    assert mentions_before > 0  # seed_metrics puts one mention before the period
    expected = f"{(mentions_now - mentions_before) / mentions_before:+.0%} vs previous period"
    assert cards["mentions"].change == expected
    assert cards["open backlog"].change == ""  # a current state: the same in both reports
    assert all(c.change == "" for c in headline_changes(now, None))
    page = render_html(now, UTC, previous=before)
    assert expected in page


def test_negative_terms_group_word_forms_and_leave_out_the_brand(store: Store) -> None:
    for n, text in enumerate(
        [
            "Acme refunds are broken, acme please",
            "still no refund from @AcmeHelp #acme",
            "refunded twice? que los dos cargos",
            "Acme's outage again",
        ]
    ):
        add_mention(
            store,
            f"t{n}",
            at("2026-11-19T10:00:00Z") + timedelta(minutes=n),
            text=text,
            compound=-0.5,
            intent="complaint",
        )
    rows = records(store, "negative_terms", exclude_terms=("acmehelp", "acme"))
    terms = {r["term"]: r["mentions"] for r in rows}
    assert terms["refund"] == 3  # refunds, refund, refunded: one term, once per mention
    assert "refunds" not in terms and "refunded" not in terms
    assert not {"acme", "#acme", "acmes", "que", "los"} & set(terms)
    assert terms["outage"] == 1
    assert top_terms(["Refund refunds"]) == [("refund", 1)]


# -- spikes -------------------------------------------------------------------------------
def _poisson(rnd: random.Random, lam: float) -> int:
    """Knuth's sampler: enough for test series."""
    limit, k, p = pow(2.718281828459045, -lam), 0, 1.0
    while True:
        p *= rnd.random()
        if p <= limit:
            return k
        k += 1


def test_poisson_tail() -> None:
    assert poisson_sf(1, 1.0) == pytest.approx(0.6321206)
    assert poisson_sf(3, 2.0) == pytest.approx(0.3233236)
    assert poisson_sf(0, 5.0) == 1.0
    assert poisson_sf(200, 10.0) < 1e-100


def test_spike_found_on_a_jump() -> None:
    result = detect_spike(40, [10] * 24)
    assert result.spike and result.reason == "spike"
    assert result.mean == 10 and result.std == 0


def test_no_false_alarm_on_flat_series_plus_one() -> None:
    result = detect_spike(11, [10] * 24)
    assert not result.spike
    assert "Poisson" in result.reason


def test_no_false_alarm_on_noisy_poisson_series() -> None:
    rnd = random.Random(7)
    alarms = 0
    for _ in range(500):
        series = [_poisson(rnd, 10.0) for _ in range(25)]
        alarms += detect_spike(series[-1], series[:-1]).spike
    assert alarms == 0
    # ... while a real jump on the same kind of series is caught
    series = [_poisson(rnd, 10.0) for _ in range(24)]
    assert detect_spike(45, series).spike


def test_spike_needs_min_count_and_baseline() -> None:
    assert detect_spike(5, [0] * 24).spike  # 5 complaints in an hour that is usually silent
    assert not detect_spike(4, [0] * 24).spike
    short = detect_spike(50, [1, 1])
    assert not short.spike and "baseline too short" in short.reason
    assert not detect_spike(8, [0] * 24, SpikeRule(min_count=10)).spike


def test_driving_terms_rank_by_excess() -> None:
    window = {"outage": 9, "refund": 3, "app": 2}
    baseline = {"refund": 30, "app": 1}
    drivers = driving_terms(window, 10, baseline, 100)
    assert [d.term for d in drivers] == ["outage", "app"]  # refund is as common as usual
    assert drivers[0].expected == 0 and drivers[1].expected == pytest.approx(0.1)


def _seed_hourly(store: Store, now: datetime, counts: list[int], text: str, start: int = 0) -> int:
    """counts[i] complaint mentions in window i (0 = the last hour), mid-window."""
    n = start
    for i, c in enumerate(counts):
        for j in range(c):
            n += 1
            created = now - timedelta(hours=i, minutes=30, seconds=j)
            add_mention(store, f"s{n}", created, text=text, compound=-0.6, intent="complaint")
    return n


def test_collect_spikes_finds_a_spike_and_its_terms(store: Store) -> None:
    n = _seed_hourly(store, NOW, [0] + [2] * 24, "the app is slow today")
    _seed_hourly(store, NOW, [12], "total outage, app down", start=n)
    findings = {f.scope: f for f in collect_spikes(store, now=NOW, window_s=3600, windows=24)}
    spike = findings["all"]
    assert spike.result.spike and spike.result.count == 12
    assert spike.result.baseline_windows == 23  # the window holding the first mention is dropped
    assert [d.term for d in spike.drivers] == ["down", "outage", "total"]
    assert "app" not in [d.term for d in spike.drivers]
    assert findings["twitter"].result.spike
    assert spike.window_start == "2026-11-20T11:00:00Z"


def test_collect_spikes_quiet_when_flat(store: Store) -> None:
    _seed_hourly(store, NOW, [3] * 30, "the app is slow today")
    findings = collect_spikes(store, now=NOW, window_s=3600, windows=24)
    assert [f.result.spike for f in findings] == [False, False]
    assert findings[0].drivers == []


def test_collect_spikes_ignores_positive_non_complaints(store: Store) -> None:
    _seed_hourly(store, NOW, [0] + [1] * 24, "meh")
    for j in range(20):
        add_mention(store, f"p{j}", NOW - timedelta(minutes=10, seconds=j), compound=0.9)
    findings = collect_spikes(store, now=NOW, window_s=3600, windows=24)
    assert findings[0].result.count == 0 and not findings[0].result.spike


def test_fresh_store_has_no_baseline(store: Store) -> None:
    _seed_hourly(store, NOW, [20, 1], "outage")
    finding = collect_spikes(store, now=NOW, window_s=3600, windows=24)[0]
    assert not finding.result.spike
    assert "baseline too short" in finding.result.reason


def test_collect_spikes_rejects_bad_windows(store: Store) -> None:
    with pytest.raises(UsageError):
        collect_spikes(store, now=NOW, window_s=0, windows=24)
    with pytest.raises(UsageError):
        collect_spikes(store, now=NOW, window_s=3600, windows=0)
