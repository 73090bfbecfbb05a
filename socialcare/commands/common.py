"""What every CLI module shares: the consoles and the one Socialcare per invocation.

Each command gets its :class:`~socialcare.app.Socialcare` from here, so a
command opens the store once and closes it when it ends. The rendering rules
every command follows live here too, so a new command picks them up:

* **Pipes.** On a terminal, tables fit its width; when stdout is a pipe or a
  file (and ``COLUMNS`` is not set), nothing is cut to 80 columns: tables keep
  the full row (trailing padding stripped) and :func:`fit` leaves cells whole.
* **Prose** (messages, errors, warnings) is printed soft-wrapped: the terminal
  wraps it, rich never breaks a line inside a phrase or a path, and each error
  or warning on stderr stays one line for ``grep``.
* **Time.** :func:`read_since` and :func:`read_future` read every typed time
  through ``timeutil`` in the agent's zone; :func:`time_text` shows every stored
  time in that zone in one short format (an age where a table is narrow).
* **Progress.** :func:`progress_bar` draws the library's ``progress`` steps as a
  rich bar on stderr when stderr is a terminal, and nothing on a pipe or with
  ``--quiet``.
"""

from __future__ import annotations

import json
import os
import sys
from contextlib import contextmanager
from datetime import datetime, timezone, tzinfo
from typing import TYPE_CHECKING, Any, Callable, Iterable, Iterator, Mapping, Sequence, cast

import typer

from ..models import NEGATIVE_MAX, POSITIVE_MIN, ProgressHook, Step, parse_iso, to_iso, utcnow
from ..safety import clean_text, one_line

if TYPE_CHECKING:
    import logging
    from importlib.machinery import ModuleSpec
    from types import ModuleType

    from rich.text import Text

    from ..app import Socialcare
    from .terminal import TerminalConsole

__all__ = [
    "MAX_COUNT",
    "CommandSet",
    "JSON_OPTION",
    "JSONL_OPTION",
    "contribution_json",
    "event_json",
    "exclusive",
    "event_sentence",
    "fit",
    "progress_bar",
    "progress_console",
    "read_future",
    "read_since",
    "relative_times",
    "time_text",
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


#: the width of a console that writes to a pipe or a file: no terminal to fit, so none
#: of the row is cut (``COLUMNS`` still wins when set)
PIPE_WIDTH = 100_000


class _Deferred:
    """A :class:`TerminalConsole` built on first use: importing this module imports no rich.

    Every attribute (and ``with console:``) goes to the real console, so commands
    use it as they would the console itself; a command that prints nothing
    through it (piped ``queue``, ``--json``) never loads rich's console.
    """

    def __init__(self, **options: Any) -> None:
        object.__setattr__(self, "_options", options)
        object.__setattr__(self, "_real", None)

    def _console(self) -> TerminalConsole:
        real: TerminalConsole | None = object.__getattribute__(self, "_real")
        if real is None:
            from .terminal import TerminalConsole

            real = TerminalConsole(**object.__getattribute__(self, "_options"))
            object.__setattr__(self, "_real", real)
        return real

    def __getattr__(self, name: str) -> Any:
        return getattr(self._console(), name)

    def __setattr__(self, name: str, value: Any) -> None:
        setattr(self._console(), name, value)

    def __enter__(self) -> Any:
        return self._console().__enter__()

    def __exit__(self, *exc: Any) -> None:
        self._console().__exit__(*exc)


def __getattr__(name: str) -> Any:
    """``TerminalConsole``, imported (with rich) only by the modules that name it."""
    if name == "TerminalConsole":
        from .terminal import TerminalConsole

        return TerminalConsole
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


#: the largest count any --limit/--top option takes (SQLite integers are 64-bit)
MAX_COUNT = 1_000_000

# markup=False: socialcare styles through Text and style arguments only, so no string
# (an id, a handle, an error body) is ever read as rich markup ("[link=file:///...]").
# soft_wrap=True: a message is one line that the terminal wraps, never rich (which would
# break `socialcare poll` or a path across lines); tables still fit the width, because
# each column sets its own wrapping.
console: TerminalConsole = cast(
    "TerminalConsole", _Deferred(highlight=False, soft_wrap=True, markup=False)
)
err_console: TerminalConsole = cast(
    "TerminalConsole", _Deferred(stderr=True, highlight=False, soft_wrap=True, markup=False)
)
#: where live displays draw (progress bars, poll's rate-limit countdown), on stderr: one
#: console, so a countdown nests under the bars instead of fighting them for the lines
progress_console: TerminalConsole = cast(
    "TerminalConsole", _Deferred(stderr=True, highlight=False, markup=False)
)


#: the levels :func:`setup_logging` and :func:`quiet_logging` ask for, as logging numbers them
#: (asking needs no ``import logging``): the handler's, and the root logger's once set up
_DEBUG, _WARNING, _ERROR = 10, 30, 40
_LEVELS: dict[str, int] = {}
_HANDLER: logging.Handler | None = None


def _warning_line() -> logging.Handler:
    """The one handler: every library's log record as one cleaned ``warning: ...`` line on
    stderr (built on first use: ``queue`` and ``show`` never import logging)."""
    global _HANDLER
    if _HANDLER is None:
        import logging

        class _WarningLine(logging.Handler):
            def emit(self, record: logging.LogRecord) -> None:
                try:
                    message = one_line(record.getMessage())
                except Exception:  # a malformed record from some library: never a traceback
                    message = one_line(str(record.msg))
                label = record.levelname.lower()
                from rich.text import Text

                err_console.print(Text(f"{label}: {message}"), soft_wrap=True)

        _HANDLER = _WarningLine()
    return _HANDLER


def _apply_logging() -> None:
    """Give logging the levels asked for (and the handler, once :func:`setup_logging` ran)."""
    import logging

    handler = _warning_line()
    if "root" in _LEVELS:
        root = logging.getLogger()
        if handler not in root.handlers:
            root.addHandler(handler)
        root.setLevel(_LEVELS["root"])
    handler.setLevel(_LEVELS.get("handler", _WARNING))


class _ThenLoader:
    """A module's own loader, then ``then()`` once the module has run (see :class:`_OnImport`)."""

    def __init__(self, loader: Any, then: Callable[[], None]) -> None:
        self._loader = loader
        self._then = then

    def create_module(self, spec: ModuleSpec) -> ModuleType | None:
        created: ModuleType | None = self._loader.create_module(spec)
        return created

    def exec_module(self, module: ModuleType) -> None:
        self._loader.exec_module(module)
        module.__loader__ = self._loader  # from now on the module is as it always is
        if module.__spec__ is not None:
            module.__spec__.loader = self._loader
        self._then()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._loader, name)


class _OnImport:
    """On ``sys.meta_path`` until some code imports ``name``: then ``then()`` runs, as soon as
    the module has run and before anything can use it. So the log handler is in place before
    the first record of any library (tweepy, praw, httpx), and a command that logs nothing
    never pays for ``import logging``."""

    def __init__(self, name: str, then: Callable[[], None]) -> None:
        self._name = name
        self._then = then

    def find_spec(self, name: str, path: Any = None, target: Any = None) -> ModuleSpec | None:
        if name != self._name:
            return None
        if self in sys.meta_path:
            sys.meta_path.remove(self)
        from importlib.util import find_spec

        spec = find_spec(name)
        if spec is not None and spec.loader is not None:
            spec.loader = _ThenLoader(spec.loader, self._then)  # type: ignore[assignment]
        return spec


def _when_logging_loads() -> None:
    """Apply the levels now if logging is loaded, else as soon as something imports it."""
    if "logging" in sys.modules:
        _apply_logging()
    elif not any(isinstance(f, _OnImport) for f in sys.meta_path):
        sys.meta_path.insert(0, _OnImport("logging", _apply_logging))


def setup_logging() -> None:
    """The one log handler: warnings and errors from socialcare and its libraries (tweepy,
    praw, httpx) reach stderr as one clean line each; ``SOCIALCARE_DEBUG=1`` shows debug."""
    level = _DEBUG if os.environ.get("SOCIALCARE_DEBUG") else _WARNING
    _LEVELS.update(handler=level, root=level)
    _when_logging_loads()


def quiet_logging() -> None:
    """``--quiet``: only errors reach stderr (warnings are in ``status`` and the events log)."""
    _LEVELS["handler"] = _ERROR
    _when_logging_loads()


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


# -- cells that fit a terminal and stay whole in a pipe -------------------------------
def fit(text: Any, width: int, *, style: str = "") -> Text:
    """A table cell: cleaned, one line, cut to ``width`` on a terminal, whole in a pipe.

    Cut by terminal cells, not characters: ``請求`` takes four columns, not two.
    """
    from rich.text import Text

    cell = Text(one_line("" if text is None else str(text)), style=style)
    if not console.unbounded:
        cell.truncate(width, overflow="ellipsis")
    return cell


# -- time: read in the agent's zone, shown in it --------------------------------------
#: below this terminal width, tables show times as ages (``3h05m ago``)
WIDE_TABLE = 120


def read_since(
    sc: Socialcare, text: str | None, option: str = "--since", *, now: datetime | None = None
) -> datetime | None:
    """A typed bound (``7d`` ago, ``2026-12-01T09:00`` in the agent's zone), UTC; None if unset.

    Every command's ``--since``/``--until`` goes through here (``now`` shared by
    both bounds of one command), so a clock-change time is refused by each with
    the same message.
    """
    from ..timeutil import parse_since

    if text is None:
        return None
    return parse_since(text, now, tz=sc.config.timezone, what=option)


def read_future(sc: Socialcare, text: str, option: str = "--at") -> datetime:
    """A typed future time (``4h``, ``2026-12-01T09:00`` in the agent's zone), UTC."""
    from ..timeutil import parse_future

    return parse_future(text, tz=sc.config.timezone, what=option)


def relative_times() -> bool:
    """Whether tables show ages instead of clock times: on a terminal narrower than 120."""
    return console.is_terminal and console.width < WIDE_TABLE


def time_text(
    value: str | datetime | None,
    tz: str | tzinfo | None,
    *,
    relative: bool = False,
    now: datetime | None = None,
) -> str:
    """A stored time for people: ``2026-11-23 10:15 GMT`` in the agent's zone, or its age.

    ``value`` is a stored UTC ISO string or an aware datetime; None (or empty) is
    ``-``. JSON and CSV never come here: they keep UTC ISO-8601.
    """
    from ..timeutil import format_local, format_relative

    if not value:
        return "-"
    try:
        when = parse_iso(value) if isinstance(value, str) else value
    except ValueError:  # not a stored time after all: show it as it is, cleaned
        return one_line(str(value))
    return format_relative(when, now or utcnow()) if relative else format_local(when, tz)


def event_sentence(action: str, detail: Any, tz: str | None) -> str:
    """An audit event's detail as people say it: ``note: checked with billing``.

    ``detail`` is the event's JSON text (or its object). Known keys read as words
    (``to bob``, ``until 2026-12-01 09:00 GMT``, ``tags billing, refund``); any
    other key as ``key value``, so a new kind of event still reads sensibly.
    """
    if isinstance(detail, str):
        try:
            detail = json.loads(detail) if detail.strip() else {}
        except ValueError:
            return one_line(detail)
    if not isinstance(detail, Mapping):
        return one_line(str(detail))
    if action == "note":
        return f"note: {one_line(str(detail.get('text', '')))}"
    parts = []
    for key, value in detail.items():
        if value in (None, "", [], {}, False):
            continue
        parts.append(_detail_words(str(key), value, tz))
    return "; ".join(parts)


#: how a detail key reads in a sentence ("{}" is its value)
_DETAIL_WORDS = {
    "to": "to {}",
    "previous": "was {}",
    "outbox_id": "outbox #{}",
    "kind": "{}",
    "platform_id": "posted as {}",
    "due_at": "due {}",
    "previous_due_at": "was due {}",
    "rule": "rule {}",
    "url": "{}",
    "item": "outbox #{}",
    "customer": "customer {}",
    "new": "{} new",
    "folded": "{} folded",
    "labels": "{} labels",
    "text": "{}",
    "error": "error: {}",
}


#: how a detail key that is simply true reads
_FLAG_WORDS = {"forced": "forced", "dm": "as a private message"}


def _detail_words(key: str, value: Any, tz: str | None) -> str:
    if value is True:
        return _FLAG_WORDS.get(key, key.replace("_", " "))
    if isinstance(value, (list, tuple)):
        shown = ", ".join(one_line(str(v)) for v in value)
    elif isinstance(value, str) and (key in ("at", "until") or key.endswith("_at")):
        try:
            shown = time_text(value, tz)
        except ValueError:
            shown = one_line(value)
    elif isinstance(value, Mapping):
        shown = one_line(json.dumps(value, ensure_ascii=False, default=str))
    else:
        shown = one_line(str(value))
    words = _DETAIL_WORDS.get(key)
    if words is None:
        return f"{key.replace('_', ' ')} {shown}"
    return words.format(shown)


# -- progress: the library's steps as a bar, on a terminal only -------------------------
def _ignore(step: Step) -> None:
    """The progress callback when nothing is shown (a pipe, ``--quiet``)."""


@contextmanager
def progress_bar(*, quiet: bool = False) -> Iterator[ProgressHook]:
    """A ``progress=`` callback for the library, drawn as rich bars while the block runs.

    One bar per task (each source and query of a poll, each table of a copy),
    with its count, its total when known, its rate and a note (``page 3, 12 new``).
    Drawn on stderr, so output piped or written to a file is untouched, and only
    when stderr is a terminal and not ``quiet``: cron and pipes get nothing.
    """
    out = progress_console
    if quiet or not out.is_terminal:
        yield _ignore
        return
    from rich.progress import BarColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

    columns = (
        SpinnerColumn(),
        TextColumn("{task.description}"),
        BarColumn(bar_width=24),
        TextColumn("{task.fields[count]}"),
        TextColumn("{task.fields[rate]}", style="cyan"),
        TextColumn("{task.fields[note]}", style="dim"),
        TimeElapsedColumn(),
    )
    # five redraws a second: smooth enough to read, and no CPU taken from the work itself
    with Progress(*columns, console=out, transient=True, refresh_per_second=5) as bar:
        tasks: dict[str, Any] = {}

        def show(step: Step) -> None:
            task = tasks.get(step.task)
            if task is None:
                task = bar.add_task(one_line(step.task, 40), total=step.total, count="",
                                    rate="", note="")  # fmt: skip
                tasks[step.task] = task
            bar.update(task, completed=step.done, total=step.total)
            speed = next((t.speed for t in bar.tasks if t.id == task), None)
            count = f"{step.done:,}" + (f"/{step.total:,}" if step.total is not None else "")
            rate = f"{speed:,.0f}/s" if speed else ""
            bar.update(task, count=count, rate=rate, note=one_line(step.note, 40))

        yield show
