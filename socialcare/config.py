"""Load configuration: defaults < TOML file < ``SOCIALCARE_*`` env vars < CLI flags.

The file is found via ``--config``, then ``SOCIALCARE_CONFIG``, then the
platform config dir. Secrets are never read from the file's values directly:
the file names environment variables (``bearer_token_env = "TWITTER_BEARER_TOKEN"``)
and :func:`credential` reads them, so the config can be committed and shared.
The parsed file is memoised on disk while it is unchanged (:func:`memo`, start-up).
"""

from __future__ import annotations

import difflib
import marshal
import math
import os
import sys
import time
from pathlib import Path
from types import MappingProxyType
from typing import Any, Callable, Iterable, Mapping, NamedTuple, Sequence, TypeVar

from .errors import ConfigError, MissingCredential

APP_NAME = "socialcare"

__all__ = [
    "Config",
    "load_config",
    "check_keys",
    "credential",
    "default_config_path",
    "data_dir",
    "SOURCE_BASE_KEYS",
    "KNOWN_KEYS",
]

#: keys every ``[sources.NAME]`` table accepts (the engine reads them); each adapter adds
#: its own in ``Source.config_keys``
SOURCE_BASE_KEYS = frozenset(
    {
        "enabled",
        "overlap_seconds",
        "fold_reposts",
        "duplicate_window_seconds",
        "silent_after",
        "monthly_request_budget",
        "monthly_item_budget",
        "budget_warn_at",
    }
)
_INTENTS = ("complaint", "question", "praise", "spam", "other")

#: every table's known keys, by its dotted name ("" is the top level; "[]" marks the
#: entries of an array of tables). The sections' own modules check values; these lists
#: are kept equal to theirs by tests/test_config.py, and are here so that a typo fails
#: every command at once, with a suggestion, not only the one that reads the section.
KNOWN_KEYS: dict[str, tuple[str, ...]] = {
    "": (
        "database", "agent", "timezone", "brand_handles", "sources", "triage",
        "templates_dir", "followups", "kb", "incidents", "routing", "hours", "notify",
    ),
    "triage": (
        "weights", "urgency_words", "extra_urgency_words", "rules", "sla", "age_weight",
        "age_cap_hours", "domains", "brand_names", "retrain_every", "min_labels",
    ),
    "triage.weights": (
        "sentiment", "urgency", "direct", "reach", "repeat", *_INTENTS, "learned", "rating",
    ),
    "triage.sla": (*_INTENTS, "dm"),  # intents, and kinds with their own SLA (scoring.py)
    "triage.rules[]": ("tag", "weight", "pattern", "keywords"),
    "followups": ("rules", "disabled_sources", "dm_subject"),
    "followups.rules[]": (
        "name", "intents", "max_sentiment", "template", "after", "sources", "enabled",
    ),
    "incidents": ("min_interval", "default_since"),
    # team mode (socialcare.team checks the values; tests keep these equal to its lists)
    "routing": ("teams", "strategy", "cap", "rules"),
    "routing.rules[]": (
        "name", "sources", "kinds", "intents", "languages", "tags", "keywords", "pattern",
        "min_score", "customers", "agent", "team", "strategy", "cap",
    ),
    "hours": (
        "timezone", "monday", "tuesday", "wednesday", "thursday", "friday", "saturday",
        "sunday", "holidays", "teams",
    ),
    "notify[]": (
        "name", "type", "url", "url_env", "events", "score_above", "intents", "sources",
        "sla_within", "timeout", "retries", "backoff", "enabled",
    ),
    "kb": (
        "threshold", "max_suggestions", "title_weight", "body_weight", "tags_weight",
        "unmatched_weight", "snippet_tokens", "timeout", "max_pages",
    ),
}  # fmt: skip


def check_keys(table: Mapping[str, Any], known: Iterable[str], where: str) -> None:
    """Refuse a key of ``table`` that is not in ``known``, naming the closest known one.

    ``where`` is the table's dotted name ("" for the top level). difflib's ratio
    catches the typos people make (``brand_handle``, ``max_result``).
    """
    allowed = sorted(set(known))
    for key in table:
        if key in allowed:
            continue
        dotted = f"{where}.{key}" if where else key
        close = difflib.get_close_matches(key, allowed, n=1, cutoff=0.6)
        hint = f"did you mean `{close[0]}`?" if close else f"known keys: {', '.join(allowed)}"
        raise ConfigError(f"`{dotted}` is not a key; {hint}")


def _check_sections(data: Mapping[str, Any], where: Path | None) -> None:
    """Every table and array of tables named in :data:`KNOWN_KEYS` has only known keys."""
    try:
        for name, known in KNOWN_KEYS.items():
            path = name.removesuffix("[]").split(".") if name else []
            value: Any = data
            for part in path:
                value = value.get(part) if isinstance(value, dict) else None
            if name.endswith("[]"):
                entries = value if isinstance(value, list) else []
                for n, entry in enumerate(entries):
                    if isinstance(entry, dict):
                        check_keys(entry, known, f"{name[:-2]}[{n}]")
            elif isinstance(value, dict):
                check_keys(value, known, name)
    except ConfigError as exc:
        raise ConfigError(f"{where or 'config'}: {exc}") from None


def data_dir() -> Path:
    """Where the database and lock files live: ``SOCIALCARE_HOME`` or the platform data dir."""
    home = os.environ.get("SOCIALCARE_HOME")
    if home:
        return Path(home).expanduser()
    import platformdirs  # here: with SOCIALCARE_HOME set, start-up never needs it

    return Path(platformdirs.user_data_dir(APP_NAME))


def config_dir() -> Path:
    """Where the config file and templates live by default."""
    home = os.environ.get("SOCIALCARE_HOME")
    if home:
        return Path(home).expanduser()
    import platformdirs

    return Path(platformdirs.user_config_dir(APP_NAME))


#: the default of a config's tables: empty and read-only (shared by every Config)
_EMPTY: Mapping[str, Any] = MappingProxyType({})


def cache_dir() -> Path:
    """Where start-up memos live (:func:`memo`); always safe to delete."""
    home = os.environ.get("SOCIALCARE_HOME")
    if home:
        return Path(home).expanduser() / "cache"
    import platformdirs

    return Path(platformdirs.user_cache_dir(APP_NAME))


def default_config_path() -> Path:
    """The config file used when neither ``--config`` nor ``SOCIALCARE_CONFIG`` is given."""
    return config_dir() / "config.toml"


class Config(NamedTuple):
    """The whole configuration, read-only once loaded.

    ``sources`` keeps each ``[sources.NAME]`` table as a plain mapping because
    each adapter validates its own keys; ``triage`` likewise for the scorer.

    A NamedTuple, not a frozen dataclass: every command builds one, and making
    a 14-field frozen dataclass at import (compiling its ``__init__``, ``__eq__``,
    ``__setattr__``...) cost ~9M instructions, 3.5% of ``import typer, rich``
    (issue 18 item 7). Change one with ``cfg._replace(agent="bob")``. The
    mapping defaults are read-only views, so no two configs can share a mutable one.
    """

    database: str
    agent: str
    timezone: str | None = None
    brand_handles: tuple[str, ...] = ()
    sources: Mapping[str, Mapping[str, Any]] = _EMPTY
    triage: Mapping[str, Any] = _EMPTY
    templates_dir: str | None = None
    followups: Mapping[str, Any] = _EMPTY
    kb: Mapping[str, Any] = _EMPTY
    incidents: Mapping[str, Any] = _EMPTY
    #: team mode: ``[routing]``, ``[hours]`` and the ``[[notify]]`` entries (socialcare.team reads them)
    routing: Mapping[str, Any] = _EMPTY
    hours: Mapping[str, Any] = _EMPTY
    notify: tuple[Mapping[str, Any], ...] = ()
    path: Path | None = None

    def source_section(self, name: str) -> Mapping[str, Any]:
        """The ``[sources.NAME]`` table, or an empty mapping."""
        return self.sources.get(name, {})

    def enabled_sources(self) -> list[str]:
        """Names of sources configured and not switched off with ``enabled = false``."""
        return [n for n, s in self.sources.items() if s.get("enabled", True)]


def _expect(value: Any, kind: type | tuple[type, ...], key: str, where: Path | None) -> Any:
    if not isinstance(value, kind):
        names = kind.__name__ if isinstance(kind, type) else " or ".join(k.__name__ for k in kind)
        raise ConfigError(f"{where or 'config'}: '{key}' must be a {names}, got {value!r}")
    return value


def login_name() -> str:
    """The agent name when none is set: ``$USER``, else the OS login name, else ``agent``.

    ``$USER`` is empty under cron and in some containers; the password database
    still knows who runs the process. Set ``agent = "..."`` in the config or
    ``SOCIALCARE_AGENT`` to choose the name other agents see.
    """
    name = os.environ.get("USER", "").strip() or os.environ.get("LOGNAME", "").strip()
    if name:
        return name
    try:
        # the password database, as getpass.getuser() reads it, without getpass's
        # import of termios (start-up, issue 18 item 7)
        import pwd

        return pwd.getpwuid(os.getuid()).pw_name.strip() or "agent"
    except (OSError, KeyError, ImportError):  # no pwd module (Windows), no entry
        return os.environ.get("USERNAME", "").strip() or "agent"


def load_config(path: str | Path | None = None, *, require_file: bool = False) -> Config:
    """Read the config file (if any) and apply env overrides.

    Args:
        path: explicit file (``--config``); falls back to ``SOCIALCARE_CONFIG``
            and then :func:`default_config_path`.
        require_file: raise if the file does not exist (an explicit path always does).
    """
    explicit = path or os.environ.get("SOCIALCARE_CONFIG")
    cfg_path = Path(explicit).expanduser() if explicit else default_config_path()
    data: dict[str, Any] = {}
    if cfg_path.exists():
        data = memo("config", [cfg_path], lambda: _read_toml(cfg_path), cache_dir())
    elif explicit or require_file:
        raise ConfigError(f"config file {cfg_path} does not exist (run `socialcare init`)")
    else:
        cfg_path = None  # type: ignore[assignment]

    _check_sections(data, cfg_path)
    database = _expect(data.get("database", ""), str, "database", cfg_path)
    database = os.environ.get("SOCIALCARE_DATABASE") or database
    if not database:
        database = str(data_dir() / "socialcare.db")
    elif "://" not in database:
        database = str(Path(database).expanduser())

    agent = _expect(data.get("agent", ""), str, "agent", cfg_path)
    agent = os.environ.get("SOCIALCARE_AGENT") or agent or login_name()
    tz = data.get("timezone")
    if tz is not None:
        _expect(tz, str, "timezone", cfg_path)
    tz = os.environ.get("SOCIALCARE_TIMEZONE") or tz

    handles = _expect(data.get("brand_handles", []), list, "brand_handles", cfg_path)
    for h in handles:
        _expect(h, str, "brand_handles[]", cfg_path)

    sources = _expect(data.get("sources", {}), dict, "sources", cfg_path)
    for name, section in sources.items():
        _expect(section, dict, f"sources.{name}", cfg_path)
        enabled = section.get("enabled", True)
        _expect(enabled, bool, f"sources.{name}.enabled", cfg_path)

    triage = _expect(data.get("triage", {}), dict, "triage", cfg_path)
    followups = _expect(data.get("followups", {}), dict, "followups", cfg_path)
    kb = _expect(data.get("kb", {}), dict, "kb", cfg_path)
    incidents = _expect(data.get("incidents", {}), dict, "incidents", cfg_path)
    routing = _expect(data.get("routing", {}), dict, "routing", cfg_path)
    hours = _expect(data.get("hours", {}), dict, "hours", cfg_path)
    notify = _expect(data.get("notify", []), list, "notify", cfg_path)
    templates_dir = data.get("templates_dir")
    if templates_dir is not None:
        _expect(templates_dir, str, "templates_dir", cfg_path)

    return Config(
        database=database,
        agent=agent,
        timezone=tz,
        brand_handles=tuple(h.lstrip("@").lower() for h in handles),
        sources=sources,
        triage=triage,
        templates_dir=templates_dir,
        followups=followups,
        kb=kb,
        incidents=incidents,
        routing=routing,
        hours=hours,
        notify=tuple(notify),
        path=cfg_path,
    )


def _read_toml(cfg_path: Path) -> dict[str, Any]:
    """The config file's TOML, or one clear error line (tomllib imported here: see :func:`memo`)."""
    import tomllib

    try:
        # utf-8-sig: a BOM (Windows editors write one) is not part of the TOML
        return tomllib.loads(cfg_path.read_text(encoding="utf-8-sig"))
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{cfg_path}: not valid TOML ({exc})") from None
    except OSError as exc:
        raise ConfigError(f"{cfg_path}: cannot read ({exc.strerror})") from None
    except UnicodeDecodeError as exc:
        raise ConfigError(
            f"{cfg_path}: not UTF-8 text (byte {exc.start}); save it as UTF-8"
        ) from None


def _finite(value: Any, key: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise ConfigError(f"{key} must be a number, got {value!r}")
    return float(value)


def queue_age_terms(triage: Mapping[str, Any]) -> tuple[float, float]:
    """``(age_weight, age_cap_hours)`` of ``[triage]``, checked as the scorer checks them.

    The queue adds the waiting term at read time and needs nothing else of the
    scorer, so ``socialcare queue`` does not load it.
    """
    weight = _finite(triage.get("age_weight", 2.0), "triage.age_weight")
    if weight < 0:
        raise ConfigError(f"triage.age_weight must be 0 or more, got {weight!r}")
    cap = _finite(triage.get("age_cap_hours", 24.0), "triage.age_cap_hours")
    if cap <= 0:
        raise ConfigError(f"triage.age_cap_hours must be more than 0, got {cap!r}")
    return weight, cap


def credential(section: Mapping[str, Any], key: str, default_env: str, source: str) -> str:
    """Read a secret from the environment variable that config names for ``key``.

    ``key`` is e.g. ``bearer_token``; config may set ``bearer_token_env`` to pick
    a different variable than ``default_env``. The value is never logged.
    """
    env_name = section.get(f"{key}_env", default_env)
    if not isinstance(env_name, str) or not env_name:
        raise ConfigError(f"sources.{source}.{key}_env must name an environment variable")
    value = os.environ.get(env_name, "")
    if not value:
        raise MissingCredential(
            f"source '{source}' needs {key}: set the environment variable {env_name}"
            f" (named by sources.{source}.{key}_env)"
        )
    return value


# -- the start-up memo ---------------------------------------------------------------
#
# A memo on disk of values computed from files, trusted while those files are unchanged.
#
# Every command parses the TOML config (``tomllib`` compiles its regexes at import:
# ~2 ms of start-up) and ``show`` hashes the scorer's code and data (~3 ms) to tell
# whether a row's stored signals are current (issue 18 item 7). Both are pure
# functions of a few files, so :func:`memo` keeps the result in the cache directory
# keyed by each file's stat, as git's index and mypy's cache trust stat data.
#
# Why the key can be trusted:
#
# * size, mtime, ctime, inode and device are all in it: an edit changes mtime and
#   ctime, a restored mtime (``touch -d``, ``rsync -t``) still changes ctime, and a
#   file replaced by rename has another inode;
# * a file changed in the last :data:`RACY_SECONDS` is never cached (git's "racily
#   clean" rule): where timestamps are coarse, two writes in one tick share an
#   mtime, so a stat taken that soon after a write proves nothing;
# * only values :mod:`marshal` can write are kept (plain data: a TOML table with a
#   date in it is simply not cached), and a cache file that does not read back
#   whole is ignored and rewritten.
#
# The cache is an optimisation only: any error reading or writing it falls back to
# computing the value, and deleting the directory is always safe. Its files are
# the user's own (mode 0600 in a 0700 directory), like the config they mirror.

_T = TypeVar("_T")

#: a file changed this recently is not cached (its stat may not change on the next edit)
RACY_SECONDS = 2.0
#: bumped when the cache files' layout changes; the Python version is in the key too
_FORMAT = 1

StatKey = tuple[tuple[str, tuple[int, int, int, int, int] | None], ...]


def stat_key(paths: Sequence[Path | str]) -> StatKey:
    """Each path with its (size, mtime, ctime, inode, device), or None where it is missing."""
    key: list[tuple[str, tuple[int, int, int, int, int] | None]] = []
    for path in paths:
        try:
            st = os.stat(path)
        except OSError:
            key.append((os.path.abspath(path), None))
            continue
        key.append(
            (
                os.path.abspath(path),
                (st.st_size, st.st_mtime_ns, st.st_ctime_ns, st.st_ino, st.st_dev),
            )
        )
    return tuple(key)


def _racy(key: StatKey, now: float) -> bool:
    newest = max((max(s[1], s[2]) for _, s in key if s is not None), default=0)
    return newest / 1e9 > now - RACY_SECONDS


def memo(
    name: str,
    paths: Sequence[Path | str],
    compute: Callable[[], _T],
    directory: Path,
) -> _T:
    """``compute()``, or the value it returned before while ``paths`` are unchanged.

    ``name`` says what the value is (one cache file per name: the paths are in its key);
    ``compute`` must depend on nothing but the contents of ``paths``.
    """
    key = (_FORMAT, sys.version_info[:2], stat_key(paths))
    file = directory / f"{name}.marshal"
    try:
        with open(file, "rb") as f:
            stored_key, value = marshal.load(f)
        if stored_key == key:
            return value  # type: ignore[no-any-return]
    except (OSError, EOFError, ValueError, TypeError):
        pass  # no cache yet, or one that does not read back: compute
    value = compute()
    if not _racy(key[2], time.time()):
        _write(file, (key, value))
    return value


def _write(file: Path, entry: Any) -> None:
    """Write ``entry`` whole or not at all; a value marshal cannot write is not cached."""
    try:
        data = marshal.dumps(entry)
    except ValueError:
        return
    partial = file.with_name(f".{file.name}.{os.getpid()}")
    try:
        file.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.replace(partial, file)
    except OSError:
        try:
            partial.unlink(missing_ok=True)
        except OSError:
            pass
