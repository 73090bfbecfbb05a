"""Domain packs: the built-in files load, document their format, and users can add their own."""

from __future__ import annotations

from importlib import resources
from pathlib import Path

import pytest

from socialcare.errors import ConfigError
from socialcare.triage import BUILTIN_DOMAINS, DEFAULT_URGENCY_WORDS, TriageSettings, score_row
from socialcare.triage.packs import load_packs, parse_pack

pytestmark = pytest.mark.store_free


def urgency(text: str, settings: TriageSettings) -> str:
    part = next(p for p in score_row({"text": text, "language": "en"}, settings).signals
                if p.name == "urgency")  # fmt: skip
    return part.detail if part.value else ""


@pytest.mark.parametrize("name", BUILTIN_DOMAINS)
def test_builtin_packs_load_and_document_the_format(name: str) -> None:
    pack = load_packs([name])
    assert pack.names == (name,) and len(pack.urgency) >= 20
    text = resources.files("socialcare.triage").joinpath("domains", f"{name}.txt").read_text()
    header = text.split("\n[urgency]")[0]
    for must in ("# Format", "[urgency]", "[problem]", '"*"', '"~"'):
        assert must in header, must


def test_the_default_telecom_pack_is_the_old_lexicon() -> None:
    pack = load_packs(["telecom"])
    assert pack.urgency == DEFAULT_URGENCY_WORDS
    assert TriageSettings().domains == ("telecom",)


@pytest.mark.parametrize(
    ("domain", "text", "found"),
    [
        ("travel", "@X lost luggage again and I am stranded in Oslo", "lost luggage, stranded"),
        ("travel", "@X missed my connection because of you", "missed my connection"),
        ("retail", "@X the parcel never arrived and the kettle is faulty", "never arrived, faulty"),
        ("banking", "@X my card declined and there is an unauthorised payment", "card declined, unauthorised"),
        ("saas", "@X our dashboard is broken and we had data loss", "data loss"),
        ("utilities", "@X no hot water and I smell gas", "no hot water, smell gas"),
    ],
)  # fmt: skip
def test_each_domain_brings_its_urgency_words(domain: str, text: str, found: str) -> None:
    assert urgency(text, TriageSettings.from_config({"domains": [domain]}, ["x"])) == found
    if domain != "telecom":
        assert urgency(text, TriageSettings.from_config({}, ["x"])) != found


def test_domains_combine_and_a_user_pack_file_extends_them(tmp_path: Path) -> None:
    own = tmp_path / "cruise.txt"
    own.write_text("# my pack\n[urgency]\nmissed the ship\n~seasick\n[problem]\ncabin flooded\n")
    settings = TriageSettings.from_config({"domains": ["travel", str(own)]}, ["x"])
    assert urgency("@X we missed the ship and have lost luggage", settings) == (
        "missed the ship, lost luggage"
    )
    assert urgency("@X not seasick at all, lovely trip", settings) == ""  # ~: negated
    assert load_packs([str(own)]).context == frozenset({"seasick"})


def test_explicit_urgency_words_replace_the_packs() -> None:
    settings = TriageSettings.from_config(
        {"domains": ["travel"], "urgency_words": ["ferry"]}, ["x"]
    )
    assert settings.lexicon == ("ferry",)


@pytest.mark.parametrize(
    ("table", "message"),
    [
        ({"domains": ["cruise"]}, "unknown triage domain 'cruise'"),
        ({"domains": []}, "triage.domains must name at least one pack"),
        ({"domains": "travel"}, "triage.domains must be a list"),
        ({"domains": ["/nonexistent/pack.txt"]}, "cannot read domain pack"),
        ({"brand_names": [1]}, "triage.brand_names must be a list"),
    ],
)
def test_bad_domains_config_names_the_fix(table: dict[str, object], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        TriageSettings.from_config(table, ["x"])


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("refund\n", "line 1: a term before any"),
        ("[urgency]\nok\n[words]\n", r"line 3: unknown section \[words\]"),
        ("[urgency]\n~\n", "line 2: empty term"),
    ],
)
def test_pack_mistakes_name_the_line(text: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        parse_pack(text, "mine.txt")
