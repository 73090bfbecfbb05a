"""Reply templates: plain text files with ``{placeholders}``, checked before anything is sent."""

from __future__ import annotations

import re
import string
from pathlib import Path
from typing import Any, Mapping
from urllib.parse import urlsplit

from .config import Config, config_dir
from .errors import NotFound, UsageError
from .safety import clean_text, one_line

__all__ = [
    "PLACEHOLDERS",
    "DEFAULT_TEMPLATES",
    "templates_dir",
    "list_templates",
    "load_template",
    "render",
    "placeholder_values",
    "safe_url",
    "write_default_templates",
]

PLACEHOLDERS: dict[str, str] = {
    "author": "the customer's handle with @ (e.g. @maria_g)",
    "handle": "the customer's handle without @",
    "first_name": "first word of the display name (falls back to the handle)",
    "name": "the customer's display name",
    "agent": "your agent name (config `agent` or SOCIALCARE_AGENT)",
    "brand": "the first of config `brand_handles`",
    "source": "the platform (twitter, reddit, ...)",
    "mention_url": "link to the mention",
    "kb_title": "title of the chosen knowledge-base article (empty if none)",
    "kb_url": "URL of the chosen knowledge-base article (empty if none)",
}

DEFAULT_TEMPLATES: dict[str, str] = {
    "apology": "Hi {first_name}, I'm sorry about this. Could you send us a DM with your account "
    "number so I can look into it right away? ^{agent}",
    "question": "Hi {first_name}, thanks for asking! {kb_title} {kb_url} ^{agent}",
    "thanks": "Thank you {first_name}, that's lovely to hear. We'll pass it on to the team! ^{agent}",
    "checkin": "Hi {first_name}, just checking in: is everything working as it should now? ^{agent}",
}


def templates_dir(config: Config) -> Path:
    """``templates_dir`` from config, else ``templates/`` in the config dir."""
    if config.templates_dir:
        return Path(config.templates_dir).expanduser()
    return config_dir() / "templates"


def list_templates(config: Config) -> dict[str, Path]:
    """Template name -> file, for every ``*.txt`` in the templates dir."""
    folder = templates_dir(config)
    if not folder.is_dir():
        return {}
    return {p.stem: p for p in sorted(folder.glob("*.txt"))}


def load_template(config: Config, name: str) -> str:
    """The text of template ``name`` or NotFound listing the available ones."""
    found = list_templates(config)
    if name not in found:
        known = ", ".join(found) or "none: run `socialcare init` to create the starter set"
        raise NotFound(f"no template '{name}' in {templates_dir(config)} (available: {known})")
    return found[name].read_text(encoding="utf-8").strip()


def write_default_templates(config: Config) -> list[Path]:
    """Create the starter templates that do not exist yet."""
    folder = templates_dir(config)
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    for name, text in DEFAULT_TEMPLATES.items():
        path = folder / f"{name}.txt"
        if not path.exists():
            path.write_text(text + "\n", encoding="utf-8")
            written.append(path)
    return written


def placeholder_values(
    row: Mapping[str, Any],
    agent: str,
    brand_handles: tuple[str, ...] = (),
    kb: tuple[str, str] | None = None,
) -> dict[str, str]:
    """Values for every placeholder, from a mention row (names cleaned of control codes)."""
    handle = one_line(str(row.get("author_handle") or "")).lstrip("@")
    name = " ".join(clean_text(str(row.get("author_name") or "")).split())
    first = name.split()[0] if name else handle
    return {
        "author": f"@{handle}" if handle else "",
        "handle": handle,
        "first_name": first,
        "name": name or handle,
        "agent": agent,
        "brand": f"@{brand_handles[0]}" if brand_handles else "",
        "source": one_line(str(row.get("source") or "")),
        "mention_url": safe_url(row.get("url")),
        "kb_title": one_line(kb[0]) if kb else "",
        "kb_url": safe_url(kb[1]) if kb else "",
    }


def safe_url(value: object) -> str:
    """A link fit to post: http(s) only, no controls or spaces inside; else "" (left out).

    Mention URLs come from the platform's JSON (or a feed's ``link``): a crafted
    one could carry escape sequences into ``$EDITOR`` and out in a reply, or a
    ``javascript:`` link. Only a plain web address survives.
    """
    text = str(value or "").strip()
    if not text or len(text) > 2048 or not text.isprintable() or any(c.isspace() for c in text):
        return ""
    scheme = urlsplit(text).scheme.lower()
    return text if scheme in ("http", "https") and "://" in text else ""


def render(template: str, values: Mapping[str, str]) -> str:
    """Fill ``{placeholders}``; an unknown or malformed one is a UsageError naming it."""
    out: list[str] = []
    try:
        parsed = list(string.Formatter().parse(template))
    except ValueError as exc:
        raise UsageError(f"template: {exc} (write a literal brace as {{{{ or }}}})") from None
    for literal, field, spec, conversion in parsed:
        out.append(literal)
        if field is None:
            continue
        if field in values and (spec or conversion):
            written = (
                "{"
                + field
                + (f"!{conversion}" if conversion else "")
                + (f":{spec}" if spec else "")
                + "}"
            )
            raise UsageError(
                f"template: {written}: conversions (!r) and format specs (:>9) are not allowed; "
                f"write {{{field}}}"
            )
        if field not in values:
            known = ", ".join("{" + k + "}" for k in PLACEHOLDERS)
            raise UsageError(f"template: unknown placeholder {{{field}}} (known: {known})")
        out.append(values[field])
    # Empty placeholders (no KB article) must not leave double spaces behind.
    return re.sub(r"[ \t]{2,}", " ", "".join(out)).strip()
