"""What every CLI module shares: the consoles and the one Socialcare per invocation.

Each command gets its :class:`~socialcare.app.Socialcare` from here, so a
command opens the store once and closes it when it ends.
"""

from __future__ import annotations

import json
import logging
import os
import sys
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any, Callable, Iterable, Mapping, Sequence

import typer
from rich.console import Console
from rich.segment import Segment
from rich.text import Text

from ..models import NEGATIVE_MAX, POSITIVE_MIN, to_iso
from ..safety import clean_text, one_line

if TYPE_CHECKING:
    from ..app import Socialcare

__all__ = [
    "MAX_COUNT",
    "CommandSet",
    "JSON_OPTION",
    "JSONL_OPTION",
    "contribution_json",
    "event_json",
    "exclusive",
    "mention_json",
    "outbox_json",
    "print_json",
    "print_jsonl",
    "complete_agent",
    "complete_mention_id",
    "complete_source",
    "complete_template",
    "TerminalConsole",
    "console",
    "err_console",
    "interactive",
    "quiet_logging",
    "setup_logging",
    "sc_of",
    "socialcare_for",
]


class TerminalConsole(Console):
    """rich's Console, cleaning every text it writes and quiet when the reader went away.

    rich exits 1 on a broken pipe; the CLI's error handler turns
    ``BrokenPipeError`` into a quiet exit 0, so every console hands it there.
    """

    def on_broken_pipe(self) -> None:
        raise BrokenPipeError

    def _render_buffer(self, buffer: Iterable[Segment]) -> str:
        """The last step before the terminal: every piece of text passes ``clean_text``.

        Commands clean what they print, but ids, keys, URLs and error bodies reach
        tables and f-strings in many places; here no escape sequence, control
        character or bidi override from any of them can get through, whatever
        path it took. Rich's own styling is added after this, from the styles.
        """
        return super()._render_buffer(
            Segment(clean_text(text), style, control)
            if control is None and text and not text.isprintable() and text != "\n"
            else Segment(text, style, control)
            for text, style, control in buffer
        )


#: the largest count any --limit/--top option takes (SQLite integers are 64-bit)
MAX_COUNT = 1_000_000

# markup=False: socialcare styles through Text and style arguments only, so no string
# (an id, a handle, an error body) is ever read as rich markup ("[link=file:///...]").
console = TerminalConsole(highlight=False, soft_wrap=False, markup=False)
err_console = TerminalConsole(stderr=True, highlight=False, markup=False)


class _WarningLine(logging.Handler):
    """Every library's log record as one cleaned ``warning: ...`` line on stderr."""

    def emit(self, record: logging.LogRecord) -> None:
        try:
            message = one_line(record.getMessage())
        except Exception:  # a malformed record from some library: never a traceback
            message = one_line(str(record.msg))
        label = record.levelname.lower()
        err_console.print(Text(f"{label}: {message}"), soft_wrap=True)


_HANDLER = _WarningLine()


def setup_logging() -> None:
    """The one log handler: warnings and errors from socialcare and its libraries (tweepy,
    praw, httpx) reach stderr as one clean line each; ``SOCIALCARE_DEBUG=1`` shows debug."""
    root = logging.getLogger()
    if _HANDLER not in root.handlers:
        root.addHandler(_HANDLER)
    debug = bool(os.environ.get("SOCIALCARE_DEBUG"))
    _HANDLER.setLevel(logging.DEBUG if debug else logging.WARNING)
    root.setLevel(logging.DEBUG if debug else logging.WARNING)


def quiet_logging() -> None:
    """``--quiet``: only errors reach stderr (warnings are in ``status`` and the events log)."""
    _HANDLER.setLevel(logging.ERROR)


def socialcare_for(ctx: typer.Context) -> Socialcare:
    """The Socialcare for this invocation, built once from the root's ``--config``."""
    root = ctx.find_root()
    obj: dict[str, Any] = root.obj if isinstance(root.obj, dict) else {}
    root.obj = obj
    if "sc" not in obj:
        from ..app import Socialcare

        obj["sc"] = Socialcare.from_config_file(obj.get("config"))
        root.call_on_close(obj["sc"].shutdown)
    sc: Socialcare = obj["sc"]
    return sc


#: the short name commands use
sc_of = socialcare_for


def _completing(
    ctx: typer.Context, incomplete: str, names: Callable[[Socialcare], list[str]]
) -> list[str]:
    """Shell completion from config or store: the names starting with ``incomplete``.

    A completion must never print an error into the user's prompt, so any
    failure (no config, no store yet) completes nothing.
    """
    try:
        root = ctx.find_root()
        params = root.params if isinstance(root.params, dict) else {}
        from ..app import Socialcare

        sc = Socialcare.from_config_file(params.get("config"))
        try:
            return [n for n in names(sc) if n.startswith(incomplete)]
        finally:
            sc.shutdown()
    except Exception:
        return []


def _stored(sc: Socialcare, read: Callable[[Socialcare], list[str]]) -> list[str]:
    """``read(sc)``, unless the store is a SQLite file not created yet (completing a word
    must not create the database)."""
    from pathlib import Path

    database = sc.config.database
    if "://" not in database and not Path(database).exists():
        return []
    return read(sc)


def complete_mention_id(ctx: typer.Context, incomplete: str) -> list[str]:
    """Mention ids from the store (open ones first) for ``show``, ``reply`` and the rest."""
    return _completing(
        ctx, incomplete, lambda sc: _stored(sc, lambda s: s.mention_ids(incomplete, 50))
    )


def complete_source(ctx: typer.Context, incomplete: str) -> list[str]:
    """Source names from the config's ``[sources.*]`` tables."""
    return _completing(ctx, incomplete, lambda sc: sorted(sc.config.sources))


def complete_agent(ctx: typer.Context, incomplete: str) -> list[str]:
    """Agent names: this agent, assignees and whoever wrote outbox items."""
    return _completing(ctx, incomplete, lambda sc: _stored(sc, lambda s: s.agent_names()))


def complete_template(ctx: typer.Context, incomplete: str) -> list[str]:
    """Reply template names from the templates dir."""
    return _completing(ctx, incomplete, lambda sc: sorted(sc.templates()))


def interactive() -> bool:
    """True when stdout is a terminal (progress bars and prompts only then)."""
    return sys.stdout.isatty()


class CommandSet:
    """Top-level commands a module defines, registered on the root app by ``cli.py``.

    A module decorates its functions with ``commands.command()`` (as it would
    with ``app.command()``) and adds sub-groups with ``commands.group(...)``;
    ``register(app)`` then adds them in the order they were defined, so
    ``--help`` lists them in that order.
    """

    def __init__(self) -> None:
        self._entries: list[Callable[[typer.Typer], None]] = []

    def command(self, name: str | None = None, **kwargs: Any) -> Callable[[Any], Any]:
        """Decorator: register ``fn`` as a top-level command."""

        def decorate(fn: Any) -> Any:
            self._entries.append(lambda app: app.command(name, **kwargs)(fn) and None)
            return fn

        return decorate

    def group(self, sub: typer.Typer, *, name: str, **kwargs: Any) -> None:
        """Register a sub-app as the command group ``name``."""
        self._entries.append(lambda app: app.add_typer(sub, name=name, **kwargs))

    def register(self, app: typer.Typer) -> None:
        """Add every command and group to ``app``."""
        for entry in self._entries:
            entry(app)


# -- machine-readable output: the one JSON shape of every command --------------------
#: ``--json``: one JSON document: an array on every listing (``[]`` when empty), an
#: object on commands that describe one thing
JSON_OPTION: Any = typer.Option(False, "--json", help="One JSON array for scripts.")
#: ``--jsonl`` (``--nl``, as sqlite-utils calls it): one JSON object per line, for streaming
JSONL_OPTION: Any = typer.Option(
    False, "--jsonl", "--nl", help="One JSON object per line (streams)."
)


def exclusive(**options: bool) -> None:
    """Refuse options that contradict each other (a usage error, exit 2).

    Keyword names are the options without dashes (``json=..., csv=...``).
    """
    given = ["--" + name.rstrip("_").replace("_", "-") for name, on in options.items() if on]
    if len(given) > 1:
        # typer's own usage error (it runs its own copy of click): exit 2 with the usage line
        raise typer.BadParameter(
            f"{' and '.join(given)} cannot be used together", param_hint=given[0]
        )


def _printable(value: Any) -> Any:
    """JSON reaches terminals too: strings lose the escapes JSON would pass (C1, bidi)."""
    if isinstance(value, str):
        return clean_text(value)
    if isinstance(value, Mapping):
        return {clean_text(str(k)): _printable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_printable(v) for v in value]
    return value


def _dumps(value: Any, *, indent: int | None) -> str:
    return json.dumps(_printable(value), ensure_ascii=False, indent=indent, default=str)


def print_json(data: Sequence[Any] | Mapping[str, Any]) -> None:
    """``--json``: print one document (an array, or an object for one thing), cleaned."""
    sys.stdout.write(_dumps(list(data) if not isinstance(data, Mapping) else data, indent=2))
    sys.stdout.write("\n")


def print_jsonl(items: Iterable[Mapping[str, Any]]) -> None:
    """``--jsonl``: print one compact object per line as each arrives, cleaned."""
    for item in items:
        sys.stdout.write(_dumps(item, indent=None) + "\n")


def _columns(kind: str) -> tuple[str, ...]:
    from ..app import EXPORT_COLUMNS

    columns: tuple[str, ...] = EXPORT_COLUMNS[kind]
    return columns


def _sentiment_label(row: Mapping[str, Any]) -> str:
    value = row.get("sentiment_compound")
    if not row.get("sentiment_scored", value is not None) or value is None:
        return "unscored"
    value = float(value)
    return (
        "negative" if value <= NEGATIVE_MAX else "positive" if value >= POSITIVE_MIN else "neutral"
    )


def mention_json(row: Mapping[str, Any], extra: Sequence[str] = ()) -> dict[str, Any]:
    """A mention with ``export mentions``' field names (and values), plus ``extra`` keys."""
    out: dict[str, Any] = {}
    for column in _columns("mentions"):
        if column == "sentiment":
            out[column] = _sentiment_label(row)
        elif column == "sentiment_compound":
            scored = row.get("sentiment_scored", True)
            out[column] = row.get(column) if scored else None
        elif column == "sla_due_at" and column not in row:
            ts = row.get("sla_due_ts")
            out[column] = to_iso(datetime.fromtimestamp(float(ts), tz=timezone.utc)) if ts else None
        else:
            out[column] = row.get(column)
    for key in extra:
        out[key] = row.get(key)
    return out


def outbox_json(row: Mapping[str, Any], extra: Sequence[str] = ()) -> dict[str, Any]:
    """An outbox item (reply, follow-up, post) with ``export replies``' field names."""
    out = {column: row.get(column) for column in _columns("replies")}
    out.update({key: row.get(key) for key in extra})
    return out


def event_json(row: Mapping[str, Any]) -> dict[str, Any]:
    """An audit event with ``export log``'s field names (``detail`` as its JSON object)."""
    out = {column: row.get(column) for column in _columns("log")}
    detail = out.get("detail")
    if isinstance(detail, str):
        try:
            out["detail"] = json.loads(detail)
        except ValueError:
            pass
    return out


def contribution_json(part: Any) -> dict[str, Any]:
    """One signal of a score (``explain``, ``show``): its value, weight and contribution."""
    return {
        "signal": part.name,
        "value": part.value,
        "weight": part.weight,
        "contribution": part.contribution,
        "why": part.detail,
    }
