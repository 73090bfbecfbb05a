"""Domain packs: urgency and problem words per industry, as text files a user can extend.

The built-in packs live in ``socialcare/triage/domains/<name>.txt`` (telecom,
travel, retail, banking, saas, utilities); the file format is described in the
header comment of each. ``[triage] domains`` picks packs by name, or by the
path of a file in the same format, so a team can add its own industry words
without code. Packs are read once when the settings are built, like VADER's
lexicon, never while scoring.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Iterable, NamedTuple

from ..errors import ConfigError

__all__ = ["BUILTIN_DOMAINS", "DEFAULT_DOMAINS", "DomainPack", "load_packs", "parse_pack"]

#: the packs shipped with socialcare
BUILTIN_DOMAINS = ("telecom", "travel", "retail", "banking", "saas", "utilities")
#: what ``[triage] domains`` is when not set: today's telecom behaviour
DEFAULT_DOMAINS: tuple[str, ...] = ("telecom",)
_SECTIONS = ("urgency", "problem")
#: where the built-in packs are on disk: beside this module, as installs place package data
_DOMAINS_DIR = Path(__file__).parent / "domains"


class DomainPack(NamedTuple):
    """The terms of one or more packs; ``context`` holds the ``~`` (context-checked) terms."""

    names: tuple[str, ...]
    urgency: tuple[str, ...]
    problem: tuple[str, ...]
    context: frozenset[str]


def parse_pack(text: str, name: str) -> DomainPack:
    """Parse one pack file's text; ConfigError names the file and line of a mistake."""
    terms: dict[str, list[str]] = {s: [] for s in _SECTIONS}
    context: set[str] = set()
    section: str | None = None
    for n, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if line.startswith("[") and line.endswith("]"):
            section = line[1:-1].strip().lower()
            if section not in terms:
                raise ConfigError(
                    f"domain pack {name}, line {n}: unknown section [{section}] "
                    f"(use {', '.join(f'[{s}]' for s in _SECTIONS)})"
                )
            continue
        if section is None:
            raise ConfigError(f"domain pack {name}, line {n}: a term before any [urgency] section")
        term = " ".join(line.lstrip("~").split()).lower()
        if not term or term == "*":
            raise ConfigError(f"domain pack {name}, line {n}: empty term {raw.strip()!r}")
        if line.startswith("~"):
            context.add(term)
        terms[section].append(term)
    return DomainPack((name,), tuple(terms["urgency"]), tuple(terms["problem"]), frozenset(context))


@lru_cache(maxsize=32)
def _builtin(name: str) -> DomainPack:
    try:
        text = (_DOMAINS_DIR / f"{name}.txt").read_text("utf-8")
    except OSError:
        # not a plain file (a zipped package): importlib.resources reads it. Only then,
        # since importing it and its readers cost `show` ~8 ms of start-up (issue 18 item 7)
        from importlib import resources

        pack = resources.files("socialcare.triage").joinpath("domains", f"{name}.txt")
        text = pack.read_text("utf-8")
    return parse_pack(text, name)


def _load(name: str) -> DomainPack:
    key = name.strip()
    if key.lower() in BUILTIN_DOMAINS:
        return _builtin(key.lower())
    if "/" in key or "\\" in key or key.endswith(".txt"):
        path = Path(key).expanduser()
        try:
            return parse_pack(path.read_text("utf-8"), str(path))
        except OSError as exc:
            raise ConfigError(f"cannot read domain pack {path} ({exc.strerror or exc})") from None
    raise ConfigError(
        f"unknown triage domain {name!r}: use one of {', '.join(BUILTIN_DOMAINS)}, "
        "or the path of a pack file"
    )


def load_packs(names: Iterable[str]) -> DomainPack:
    """The packs ``names`` merged (terms in order, each once)."""
    packs = [_load(n) for n in names]
    return DomainPack(
        tuple(n for p in packs for n in p.names),
        tuple(dict.fromkeys(t for p in packs for t in p.urgency)),
        tuple(dict.fromkeys(t for p in packs for t in p.problem)),
        frozenset().union(*(p.context for p in packs)),
    )
