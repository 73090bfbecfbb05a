"""The learned triage model in the store: labels, training, the CLI, explain, reset, poll."""

from __future__ import annotations

import json
import random
import re
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from typer.testing import CliRunner

from socialcare import scoring
from socialcare.app import Socialcare
from socialcare.cli import app
from socialcare.config import load_config
from socialcare.errors import UsageError
from socialcare.models import Mention
from socialcare.store import Store, open_store
from socialcare.store import triage as store_triage
from socialcare.store.copy import copy_store, table_counts
from socialcare.triage import LearnedModel, TriageSettings
from socialcare.triage.codec import decode_signals

runner = CliRunner()
T0 = datetime(2027, 3, 1, 9, 0, tzinfo=timezone.utc)
SETTINGS = TriageSettings.from_config({}, ["acmehelp"])

_NEED = [
    "my {thing} was cancelled and nobody told me why",
    "still no {thing} after {n} days, sort it out",
    "I was charged twice for my {thing}",
    "how do I change my {thing}?",
    "the {thing} stopped working again",
    "I need a refund for the {thing}",
]
_FINE = [
    "thanks for the lovely {thing}, great job",
    "love the new {thing} advert",
    "just got my {thing}, cheers",
    "brilliant {thing} today, thank you",
    "shout out to the team for the {thing}",
]
_THINGS = ["bill", "router", "flight", "parcel", "ticket", "contract", "card", "app"]


def _mention(n: int, text: str, **kw: object) -> Mention:
    base: dict[str, object] = {"author_handle": f"h{n}", "author_followers": 50}
    base.update(kw)
    return Mention(
        source="hist",
        native_id=str(n),
        text=text,
        created_at=T0 + timedelta(minutes=n),
        author_id=f"u{n}",
        language="en",
        query="acme",
        **base,  # type: ignore[arg-type]
    )


def labelled_texts(n: int, seed: int = 1) -> list[tuple[str, bool]]:
    rng = random.Random(seed)
    out = []
    for i in range(n):
        need = i % 2 == 0
        body = rng.choice(_NEED if need else _FINE).format(
            thing=rng.choice(_THINGS), n=rng.randint(2, 30)
        )
        out.append(("@AcmeHelp " + body, need))
    return out


def seed_history(store: Store, n: int = 240, open_n: int = 6) -> list[str]:
    """``n`` mentions the team worked (answered or closed), plus ``open_n`` still open."""
    texts = labelled_texts(n + open_n)
    mentions = [_mention(i, t) for i, (t, _) in enumerate(texts)]
    with store.transaction():
        store.upsert_mentions(mentions, own_handles=["acmehelp"])
        scoring.triage_ids(store, [m.id for m in mentions], SETTINGS)
        for i, (_, need) in enumerate(texts[:n]):
            mid = f"hist:{i}"
            if need and i % 4 == 0:
                store.mark_answered(mid, "2027-03-02T00:00:00Z", "acmehelp")  # native answer
            elif need:
                item = store.outbox_add(
                    kind="reply", source="hist", mention_id=mid, text="On it", agent="alice"
                )
                store.outbox_transition(item, ("pending",), "sent")
                store.set_status(mid, "replied")
            else:
                store.set_status(mid, "spam" if i % 10 == 1 else "closed")
    return [f"hist:{i}" for i in range(n, n + open_n)]


def _learned(store: Store, mention_id: str) -> list[object] | None:
    payload = decode_signals(store.get_mention(mention_id)["signals"])
    parts = [p for p in payload["signals"] if p[0] == "learned"]
    return parts[0] if parts else None


# -- the store -----------------------------------------------------------------------
def test_model_round_trips_through_the_store_and_one_is_active(store: Store) -> None:
    assert store_triage.active_model(store) is None
    model = LearnedModel(
        weights={"w:cancelled": 0.9, "w:thanks": -0.4},
        intercept=-0.1,
        trained_at="2027-03-01T09:00:00Z",
        positives=120,
        negatives=100,
        cv_auc=0.91,
    )
    first = store_triage.save_model(
        store, model=model.to_bytes().decode(), created_at=model.trained_at,
        labels_answer=120, labels_no_answer=100, cv_auc=0.91, store_labels=220,
    )  # fmt: skip
    second = store_triage.save_model(
        store, model=model.to_bytes().decode(), created_at=model.trained_at,
        labels_answer=121, labels_no_answer=100, cv_auc=0.92, store_labels=221,
    )  # fmt: skip
    row = store_triage.active_model(store)
    assert row is not None and row["id"] == second != first
    assert row["labels_answer"] == 121 and row["cv_auc"] == pytest.approx(0.92)
    loaded = scoring.load_model(store)
    assert loaded == model
    assert store.rows("SELECT count(*) AS n FROM triage_models WHERE active = 1")[0]["n"] == 1
    assert store_triage.deactivate_models(store) == 1
    assert store_triage.active_model(store) is None and scoring.load_model(store) is None
    assert "m007_triage_model" in store.applied_migrations()


def test_a_damaged_stored_model_falls_back_to_zero_label(store: Store) -> None:
    store_triage.save_model(
        store, model="{not json", created_at="2027-03-01T09:00:00Z",
        labels_answer=1, labels_no_answer=1, cv_auc=None, store_labels=0,
    )  # fmt: skip
    assert scoring.load_model(store) is None


def test_db_copy_carries_the_model(store: Store, tmp_path: Path) -> None:
    seed_history(store, n=40)
    store_triage.save_model(
        store, model='{"x": 1}', created_at="2027-03-01T09:00:00Z",
        labels_answer=20, labels_no_answer=20, cv_auc=0.8, store_labels=40,
    )  # fmt: skip
    target = open_store(tmp_path / "copy.db")
    try:
        results = {r.table: r for r in copy_store(store, target)}
        assert results["triage_models"].inserted == 1
        assert table_counts(target)["triage_models"] == 1
        row = store_triage.active_model(target)
        assert row is not None and row["model"] == '{"x": 1}' and row["labels_answer"] == 20
    finally:
        target.close()


# -- labels from the store -------------------------------------------------------------
def test_labels_from_store_history(store: Store) -> None:
    mentions = [_mention(i, f"text {i}") for i in range(8)]
    mentions.append(_mention(8, "our own post", author_handle="AcmeHelp"))
    with store.transaction():
        store.upsert_mentions(mentions, own_handles=["acmehelp"])
    item = store.outbox_add(kind="reply", source="hist", mention_id="hist:0", text="hi", agent="a")
    store.outbox_transition(item, ("pending",), "sent")
    store.mark_answered("hist:1", "2027-03-02T00:00:00Z", "acmehelp")  # native answer
    store.set_status("hist:2", "closed")
    store.set_status("hist:3", "spam")
    store.set_status("hist:4", "open", snoozed_until="2099-01-01T00:00:00Z")  # snoozed
    failed = store.outbox_add(kind="reply", source="hist", mention_id="hist:5", text="x", agent="a")
    store.outbox_transition(failed, ("pending",), "failed")  # a failed reply is no answer yet
    store.set_status("hist:8", "closed")  # the brand's own post: never a label
    labels = {r["id"]: r["label"] for r in store_triage.labelled_mentions(store)}
    assert labels == {"hist:0": 1, "hist:1": 1, "hist:2": 0, "hist:3": 0}
    assert store_triage.store_label_count(store) == 4


# -- labels from a file ----------------------------------------------------------------
@pytest.mark.store_free
def test_labels_file_csv_with_and_without_header_and_jsonl(tmp_path: Path) -> None:
    csv_file = tmp_path / "labels.csv"
    csv_file.write_text("label,id\nanswer,demo:1\nno_answer,demo:2\n1,demo:3\n0,demo:4\n")
    assert scoring.read_labels(csv_file) == {
        "demo:1": True, "demo:2": False, "demo:3": True, "demo:4": False,
    }  # fmt: skip
    bare = tmp_path / "bare.csv"
    bare.write_text("demo:1,ANSWER\n\ndemo:2, 0\n")
    assert scoring.read_labels(bare) == {"demo:1": True, "demo:2": False}
    jsonl = tmp_path / "labels.jsonl"
    jsonl.write_text('{"id": "demo:1", "label": "answer"}\n{"id": "demo:2", "label": 0}\n')
    assert scoring.read_labels(jsonl) == {"demo:1": True, "demo:2": False}


@pytest.mark.store_free
@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("bad.csv", "id,label\ndemo:1,maybe\n", "bad.csv:2: label must be answer, no_answer, 1 or 0"),
        ("short.csv", "hist:1\n", "short.csv:1: expected id,label"),
        ("bad.jsonl", '{"id": "hist:1", "label": "answer"}\nnot json\n', "bad.jsonl:2: not a JSON"),
        ("nolabel.jsonl", '{"id": "hist:1"}\n', "nolabel.jsonl:1: not a JSON object with id and label"),
        ("empty.csv", "id,label\n", "holds no labels"),
    ],
)  # fmt: skip
def test_a_malformed_labels_file_is_one_clear_error(
    tmp_path: Path, name: str, content: str, message: str
) -> None:
    path = tmp_path / name
    path.write_text(content)
    with pytest.raises(UsageError, match=message.replace("?", r"\?")):
        scoring.read_labels(path)


# -- the CLI -------------------------------------------------------------------------
@pytest.fixture
def cfg(tmp_path: Path, isolated_home: Path) -> Path:
    path = tmp_path / "config.toml"
    path.write_text('brand_handles = ["AcmeHelp"]\n\n[sources.demo]\n')
    return path


def run(cfg: Path, *args: str) -> tuple[int, str]:
    """Exit code and output with rich's line wrapping undone (lines kept for tables)."""
    result = runner.invoke(app, ["--config", str(cfg), *args])
    return result.exit_code, re.sub(r"(?<=\S) ?\n(?=[^\n│┃])", " ", result.output)


def _open(cfg: Path) -> Store:
    return open_store(load_config(cfg).database)


def test_train_from_store_history_stores_the_model_and_rescores_open(cfg: Path) -> None:
    store = _open(cfg)
    try:
        open_ids = seed_history(store)
        assert _learned(store, open_ids[0]) is None
    finally:
        store.close()
    code, out = run(cfg, "triage", "train")
    assert code == 0, out
    assert "Labels: 120 needed an answer, 120 did not (240 from the store's history)" in out
    assert re.search(r"cross-validated ROC AUC [01]\.\d{3}", out)
    assert "re-scored 6 open mentions" in out
    store = _open(cfg)
    try:
        row = store_triage.active_model(store)
        assert row is not None and row["labels_answer"] == 120 and row["labels_no_answer"] == 120
        assert row["cv_auc"] > 0.9
        learned = _learned(store, open_ids[0])
        assert learned is not None and learned[2] == SETTINGS.weights.learned
        closed = _learned(store, "hist:1")  # only open mentions are re-scored
        assert closed is None
    finally:
        store.close()

    code, out = run(cfg, "triage", "model", "--top", "3")
    assert code == 0, out
    assert "trained" in out and "240 labels" in out and re.search(r"ROC AUC [01]\.\d{3}", out)
    assert "towards 'needs an answer'" in out and "'" in out

    # explain shows the learned contribution and the words that pushed it
    need = next(i for i in open_ids if int(i.split(":")[1]) % 2 == 0)
    code, out = run(cfg, "explain", need)
    assert code == 0, out
    line = next(li for li in out.splitlines() if li.strip("│ ").startswith("learned"))
    assert "p=0." in line and "'" in line and "+" in line
    assert "stale" not in out

    # triage --all scores with the model too
    code, out = run(cfg, "triage", "--all")
    assert code == 0, out
    store = _open(cfg)
    try:
        assert _learned(store, "hist:1") is not None
    finally:
        store.close()

    # --reset goes back to the zero-label score
    code, out = run(cfg, "triage", "train", "--reset")
    assert code == 0 and "Stopped using the learned model" in out
    code, out = run(cfg, "triage", "model")
    assert code == 0 and "No learned model" in out
    store = _open(cfg)
    try:
        assert store_triage.active_model(store) is None
        assert _learned(store, open_ids[0]) is None
    finally:
        store.close()


def test_too_few_labels_keeps_the_zero_label_score(cfg: Path) -> None:
    store = _open(cfg)
    try:
        seed_history(store, n=40)
    finally:
        store.close()
    code, out = run(cfg, "triage", "train")
    assert code == 0, out
    assert "Labels: 20 needed an answer, 20 did not" in out
    assert "Not trained: need at least 200 labelled mentions" in out
    assert "Keeping the zero-label score" in out
    code, out = run(cfg, "triage", "train", "--min-labels", "30")
    assert code == 0 and "cross-validated ROC AUC" in out, out


def test_one_class_only_is_refused(cfg: Path, tmp_path: Path) -> None:
    store = _open(cfg)
    try:
        seed_history(store, n=0, open_n=30)
    finally:
        store.close()
    labels = tmp_path / "labels.csv"
    labels.write_text("".join(f"hist:{i},answer\n" for i in range(30)))
    code, out = run(cfg, "triage", "train", "--labels", str(labels), "--min-labels", "10")
    assert code == 0, out
    assert "Labels: 30 needed an answer, 0 did not" in out
    assert "of each kind" in out and "Keeping the zero-label score" in out


def test_train_from_a_labels_file_counts_unknown_ids(cfg: Path, tmp_path: Path) -> None:
    texts = labelled_texts(220)
    store = _open(cfg)
    try:
        seed_history(store, n=0, open_n=220)
    finally:
        store.close()
    labels = tmp_path / "history.jsonl"
    lines = [
        json.dumps({"id": f"hist:{i}", "label": int(need)}) for i, (_, need) in enumerate(texts)
    ]
    lines += ['{"id": "twitter:404", "label": "answer"}', '{"id": "hist:nope", "label": 0}']
    labels.write_text("\n".join(lines) + "\n")
    code, out = run(cfg, "triage", "train", "--labels", str(labels))
    assert code == 0, out
    assert (
        "Labels: 110 needed an answer, 110 did not "
        "(0 from the store's history, 220 from history.jsonl)"
    ) in out
    assert "2 ids in the labels file are not in the store" in out
    assert "re-scored 220 open mentions" in out


def test_a_malformed_labels_file_exits_2_with_one_line(cfg: Path, tmp_path: Path) -> None:
    bad = tmp_path / "bad.csv"
    bad.write_text("id,label\ndemo:1,perhaps\n")
    result = runner.invoke(app, ["--config", str(cfg), "triage", "train", "--labels", str(bad)])
    assert result.exit_code == 2
    errors = [li for li in result.output.splitlines() if li.startswith("Error:")]
    assert len(errors) == 1 and "bad.csv:2" in errors[0] and "perhaps" in errors[0]
    missing = runner.invoke(
        app, ["--config", str(cfg), "triage", "train", "--labels", str(tmp_path / "none.csv")]
    )
    assert missing.exit_code == 2 and "cannot read labels file" in missing.output


def test_triage_without_all_still_asks_for_it(cfg: Path) -> None:
    code, out = run(cfg, "triage")
    assert code == 2 and "--all" in out


# -- poll scores with the model, and retrain_every ---------------------------------------
def test_poll_scores_new_mentions_with_the_stored_model(cfg: Path) -> None:
    store = _open(cfg)
    try:
        seed_history(store, n=240, open_n=0)
    finally:
        store.close()
    assert run(cfg, "triage", "train")[0] == 0
    code, out = run(cfg, "poll", "--quiet")
    assert code == 0, out
    store = _open(cfg)
    try:
        polled = store.rows("SELECT id FROM mentions WHERE source = 'demo' AND is_own = 0")
        assert polled
        assert all(_learned(store, str(r["id"])) is not None for r in polled)
    finally:
        store.close()


def test_the_model_is_loaded_once_per_run(cfg: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    store = _open(cfg)
    try:
        seed_history(store)
        scoring.train_model(store, SETTINGS)
    finally:
        store.close()
    calls: list[int] = []
    real = LearnedModel.from_bytes.__func__  # type: ignore[attr-defined]

    def counting(cls: type[LearnedModel], data: bytes) -> LearnedModel:
        calls.append(1)
        return real(cls, data)  # type: ignore[no-any-return]

    monkeypatch.setattr(LearnedModel, "from_bytes", classmethod(counting))
    sc = Socialcare(load_config(cfg))
    try:
        assert sc.retriage() == 246
        sc.poll()
    finally:
        sc.shutdown()
    assert len(calls) == 1


def test_retrain_every_retrains_after_enough_new_labels(cfg: Path) -> None:
    cfg.write_text(
        cfg.read_text().replace("[sources.demo]", "[triage]\nretrain_every = 20\n\n[sources.demo]")
    )
    store = _open(cfg)
    try:
        seed_history(store, n=220, open_n=30)
        assert run(cfg, "triage", "train")[0] == 0
        first = store_triage.active_model(store)
        assert first is not None
        # not enough new labels yet: the same model after a poll
        for i in range(220, 230):
            store.set_status(f"hist:{i}", "closed")
    finally:
        store.close()
    code, out = run(cfg, "poll")
    assert code == 0 and "Retrained" not in out
    store = _open(cfg)
    try:
        assert store_triage.active_model(store)["id"] == first["id"]  # type: ignore[index]
        for i in range(230, 250):
            store.set_status(f"hist:{i}", "closed")
    finally:
        store.close()
    code, out = run(cfg, "poll")
    store = _open(cfg)
    try:
        labels = store_triage.store_label_count(store)  # the history plus the demo's decisions
        assert labels >= 250
        assert code == 0 and f"Retrained the triage model on {labels} labels" in out, out
        row = store_triage.active_model(store)
        assert row is not None and row["id"] != first["id"] and row["store_labels"] == labels
        assert store.rows("SELECT count(*) AS n FROM triage_models WHERE active = 1")[0]["n"] == 1
    finally:
        store.close()


@pytest.mark.store_free
def test_retrain_every_is_a_known_and_checked_key() -> None:
    assert TriageSettings.from_config({"retrain_every": 500}, []).retrain_every == 500
    assert TriageSettings.from_config({"min_labels": 50}, []).min_labels == 50
    from socialcare.errors import ConfigError

    with pytest.raises(ConfigError, match="triage.retrain_every"):
        TriageSettings.from_config({"retrain_every": "often"}, [])


@pytest.mark.store_free
def test_every_commented_triage_key_of_the_example_config_is_accepted() -> None:
    import tomllib

    text = (Path(__file__).resolve().parents[1] / "config.example.toml").read_text()
    section = text.split("\n[triage]\n", 1)[1].split("\n[", 1)[0]
    keys = re.findall(r"^# (\w+ = .+)$", section, flags=re.M)
    table = tomllib.loads("\n".join(keys))
    assert {"domains", "brand_names", "retrain_every", "min_labels"} <= set(table)
    settings = TriageSettings.from_config(table, ["skywayhelp"])
    assert settings.retrain_every == 500 and settings.domains == ("travel", "retail")
