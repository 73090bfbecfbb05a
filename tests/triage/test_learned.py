"""The learned "needs an answer" model: training, refusal, storage, prediction and scoring."""

from __future__ import annotations

import json
import random
import subprocess
import sys
from typing import Any

import pytest

from socialcare.errors import UsageError
from socialcare.triage import LearnedModel, TriageSettings, score_row, train
from socialcare.triage.learned import FEATURE_SCHEME, describe_feature, features, signal_values

pytestmark = pytest.mark.store_free

SETTINGS = TriageSettings.from_config({}, ["ExampleHelp"])
_NEEDS = [
    "my {thing} was cancelled",
    "where is my {thing}",
    "the {thing} is broken",
    "still waiting for my {thing}",
    "can you fix my {thing}",
    "no {thing} since {day}",
]
_FINE = [
    "love the new {thing}",
    "thanks for the {thing}",
    "what a {thing} today",
    "the {thing} advert is funny",
    "my {thing} arrived early, great",
    "off to {day} with my {thing}",
]
_THINGS = ["order", "ticket", "parcel", "router", "booking", "bill", "card", "seat"]
_DAYS = ["Monday", "Friday", "Rome", "Leeds", "May"]  # fmt: skip


def examples(n: int, seed: int = 1) -> list[tuple[str, Any, bool]]:
    """Deterministic labelled examples from templates, with their real static signals."""
    rng = random.Random(seed)
    out = []
    for i in range(n):
        label = i % 2 == 0
        text = "@ExampleHelp " + rng.choice(_NEEDS if label else _FINE).format(
            thing=rng.choice(_THINGS), day=rng.choice(_DAYS)
        )
        out.append((text, score_row({"text": text, "language": "en"}, SETTINGS).signals, label))
    return out


@pytest.fixture(scope="module")
def model() -> LearnedModel:
    return train(examples(240))


def test_train_reports_counts_and_cross_validated_auc(model: LearnedModel) -> None:
    assert (model.positives, model.negatives, model.labels) == (120, 120, 240)
    assert model.cv_auc is not None and model.cv_auc > 0.9
    assert model.scheme == FEATURE_SCHEME and model.trained_at.endswith("Z")
    assert all(w != 0 for w in model.weights.values())
    assert "240 labels" in model.summary()


def test_predict_ranks_new_texts(model: LearnedModel) -> None:
    needs = model.predict("@ExampleHelp my seat was cancelled and nobody answers")
    fine = model.predict("@ExampleHelp love the new seat, thanks")
    assert 0.0 <= fine < 0.5 < needs <= 1.0


def test_explain_names_the_words_in_plain_text(model: LearnedModel) -> None:
    parts = model.contributions("@ExampleHelp my booking was cancelled", top=3)
    assert len(parts) == 3
    assert parts == sorted(parts, key=lambda p: -abs(p[1]))
    assert "'cancelled'" in [name for name, _ in parts] or "'was cancelled'" in [
        n for n, _ in parts
    ]
    line = model.explain("@ExampleHelp my booking was cancelled", top=2)
    assert line.count(",") == 1 and ("+" in line or "-" in line)
    assert model.explain("zzz qqq") == "no known words"


def test_round_trip_is_versioned_json_not_pickle(model: LearnedModel) -> None:
    data = model.to_bytes()
    payload = json.loads(data)
    assert payload["format"] == "socialcare-learned-triage" and payload["version"] == 1
    assert set(payload) >= {"weights", "intercept", "trained_at", "positives", "cv_auc", "scheme"}
    again = LearnedModel.from_bytes(data)
    assert again == model
    text = "@ExampleHelp where is my parcel"
    assert again.predict(text) == model.predict(text)


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"\x80\x04pickle", "not a socialcare model"),
        (b'{"format": "other"}', "not a socialcare model"),
        (b'{"format": "socialcare-learned-triage", "version": 99, "scheme": 1}', "another socialcare"),
        (b'{"format": "socialcare-learned-triage", "version": 1, "scheme": 1}', "damaged"),
    ],
)  # fmt: skip
def test_from_bytes_refuses_anything_else(data: bytes, message: str) -> None:
    with pytest.raises(UsageError, match=message) as err:
        LearnedModel.from_bytes(data)
    assert "socialcare triage train" in str(err.value)


def test_train_refuses_too_few_labels_or_one_class() -> None:
    with pytest.raises(UsageError, match="at least 200 labelled mentions.*got 199"):
        train(examples(199))
    one_class = [(t, s, True) for t, s, _ in examples(220)]
    with pytest.raises(UsageError, match="of each kind"):
        train(one_class)
    assert train(examples(60), min_labels=50).labels == 60  # the floor is a parameter


def test_signals_from_dict_contributions_or_stored_row() -> None:
    text = "@ExampleHelp my router is broken"
    result = score_row({"text": text, "language": "en"}, SETTINGS)
    from_parts = signal_values(result.signals)
    stored = {**result.columns(), "text": text}
    assert from_parts["intent"] == "complaint" and signal_values(stored) == from_parts
    assert features(text, from_parts) == features(text, {**from_parts})
    assert "s:intent=complaint" in features(text, result.signals)
    assert "s:repeat" not in features(text, {"repeat": 1.0})  # repeat contact is no feature
    assert describe_feature("b:was cancelled") == "'was cancelled'"
    assert describe_feature("s:intent=question") == "intent question"


def test_scoring_with_a_model_adds_the_learned_signal(model: LearnedModel) -> None:
    row = {"text": "@ExampleHelp my ticket was cancelled", "language": "en"}
    plain = score_row(row, SETTINGS)
    with_model = TriageSettings.from_config({}, ["ExampleHelp"], model=model)
    result = score_row(row, with_model)
    learned = result.signals[-1]
    assert learned.name == "learned" and learned.weight == 2.0
    assert learned.value == pytest.approx(model.predict(row["text"], plain.signals))
    assert result.static_score == pytest.approx(plain.static_score + learned.contribution)
    assert learned.detail.startswith(f"p={learned.value:.2f}: ") and "'" in learned.detail
    assert "learned" not in [p.name for p in plain.signals]  # no model: scores unchanged


PREDICT_WITHOUT_NUMPY = """
import importlib.abc, sys
class Block(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in ("numpy", "scipy", "sklearn"):
            raise ImportError("blocked: " + name)
sys.meta_path.insert(0, Block())
from socialcare.triage import TriageSettings, score_row
from socialcare.triage.learned import LearnedModel
model = LearnedModel.from_bytes(sys.stdin.buffer.read())
p = model.predict("@ExampleHelp my ticket was cancelled")
s = TriageSettings.from_config({}, ["ExampleHelp"], model=model)
r = score_row({"text": "@ExampleHelp my ticket was cancelled", "language": "en"}, s)
assert r.signals[-1].name == "learned"
assert not [m for m in sys.modules if m.split(".")[0] in ("numpy", "scipy", "sklearn")]
print(round(p, 6))
"""


def test_predict_needs_neither_numpy_nor_sklearn(model: LearnedModel) -> None:
    out = subprocess.run(
        [sys.executable, "-c", PREDICT_WITHOUT_NUMPY],
        input=model.to_bytes(),
        capture_output=True,
        check=True,
    )
    assert float(out.stdout) == round(model.predict("@ExampleHelp my ticket was cancelled"), 6)


def test_fast_predict_equals_the_feature_dot_product(model: LearnedModel) -> None:
    """The scoring path (set intersections) sums exactly what the trained features say."""
    import math
    from pathlib import Path

    rows = [
        json.loads(line)
        for line in (Path(__file__).parents[1] / "data" / "labelled_travel.jsonl")
        .read_text("utf-8")
        .splitlines()
    ]
    texts = [r["text"] for r in rows] + [
        "@ExampleHelp WWW.Example.com/x?y my order’s late?? 12 days https://t.co/abc",
        "order order order",
        "",
    ]
    for text in texts:
        signals = score_row({"text": text}, SETTINGS).signals
        expected = 1 / (1 + math.exp(-model.margin(features(text, signals))))
        assert model.predict(text, signals) == pytest.approx(expected, abs=1e-12), text
        p, line = model.predict_explain(text, signals, top=3)
        assert p == pytest.approx(expected, abs=1e-12)
        assert line == model.explain(text, signals, top=3)


@pytest.mark.parametrize(
    "text",
    [
        "@ExampleHelp I've been charged twice!! order 39260, 81G?",
        "Ça ne marche pas: ٣٤٥ jours, don’t ask — rock'n'roll <b>bold</b> <link> x<y>z",
        "WWW.EXAMPLE.com/a?b and https://t.co/x9 then ‘quoted’ 'tis fine''",
        "emoji 🙂 naïve café 12ab34 a1b2 ＡＢＣ１２",
        "",
    ],
)
def test_fast_tokeniser_matches_the_regex(text: str) -> None:
    from socialcare.triage import learned

    low = learned._LINK.sub(" <link> ", learned._HANDLE.sub(" ", text)).lower()
    expected = learned._WORD.findall(learned._DIGITS.sub("0", low).replace("’", "'"))
    assert learned._words(text) == expected


@pytest.mark.parametrize("text", ["a@b @c @@d x@y.com @e_f!", "@start mid@dle (@paren) é@x", "@"])
def test_handle_patterns_match_the_lookbehind_form(text: str) -> None:
    import re

    from socialcare.triage import learned, sentiment

    slow = re.compile(r"(?<![\w@])@\w+")
    assert learned._HANDLE.sub(" ", text) == slow.sub(" ", text)
    assert sentiment._HANDLE.sub(" ", text) == slow.sub(" ", text)
