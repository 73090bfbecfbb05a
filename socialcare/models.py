"""Plain data objects passed between adapters, the store, triage and the CLI."""

from __future__ import annotations

from _thread import allocate_lock
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import (
    Any,
    Callable,
    Mapping,
    MutableMapping,
    TypeVar,
    dataclass_transform,
    overload,
)

__all__ = [
    "INTENTS",
    "MENTION_STATUSES",
    "QUEUE_STATUSES",
    "Mention",
    "NEGATIVE_MAX",
    "POSITIVE_MIN",
    "Page",
    "ProgressHook",
    "SentPost",
    "Step",
    "deferred_dataclass",
    "on_first_use",
    "item_options",
    "parse_iso",
    "to_iso",
    "utcnow",
]

#: VADER's conventional sentiment cut-offs, shared by the queue's colours, the
#: store's report queries and the report arithmetic
NEGATIVE_MAX = -0.05
POSITIVE_MIN = 0.05

#: what triage calls a mention (``socialcare.triage.signals.INTENTS``, kept equal by a test;
#: here so that checking ``--intent`` does not load the scorer)
INTENTS = ("complaint", "question", "praise", "spam", "other")
#: a stored mention's status
MENTION_STATUSES = ("open", "replied", "closed", "spam")
#: what ``queue --status`` takes: the statuses, plus open-but-snoozed and everything
QUEUE_STATUSES = ("open", "snoozed", "replied", "closed", "spam", "all")


_C = TypeVar("_C", bound=type)

#: classes made with :func:`deferred_dataclass` that are not dataclasses yet -> their options
_DEFERRED: dict[type, dict[str, bool]] = {}
_DEFERRED_LOCK = allocate_lock()
#: what stands in on such a class until it is made, besides ``__init__``: whatever reads its
#: fields (``dataclasses.fields``, ``is_dataclass``), its signature, or unpickles it makes it
_STAND_INS = ("__dataclass_fields__", "__signature__", "__setstate__")
_NOT_IN_THE_TWIN = ("__dict__", "__weakref__", "__init__")


def _make_dataclass(cls: type) -> None:
    """Turn a class of :func:`deferred_dataclass` into the dataclass (once, thread-safe).

    ``__init__`` is the stand-in until the last step, so another thread creating an
    instance meanwhile waits for the lock in it: the generated ``__init__`` comes from
    a twin of the class (the same body, made alongside), as ``dataclass`` keeps an
    ``__init__`` a class already has.
    """
    with _DEFERRED_LOCK:
        options = _DEFERRED.pop(cls, None)
        if options is None:  # made already (maybe by another thread while this one waited)
            return
        for name in _STAND_INS:
            delattr(cls, name)
        body = {k: v for k, v in vars(cls).items() if k not in _NOT_IN_THE_TWIN}
        made: type = dataclass(
            type(cls.__name__, cls.__bases__, body), repr=False, eq=False, **options
        )
        dataclass(cls, **options)  # everything but __init__, which the stand-in still holds
        cls.__init__ = vars(made)["__init__"]  # type: ignore[misc]


class _StandIn:
    """A class attribute of :data:`_STAND_INS` that makes the dataclass when read."""

    def __init__(self, name: str) -> None:
        self.name = name

    def __get__(self, instance: object, owner: type) -> Any:
        _make_dataclass(owner)
        return getattr(owner if instance is None else instance, self.name)  # the real one


def _first_init(self: Any, *args: Any, **kwargs: Any) -> None:
    cls = type(self)
    _make_dataclass(cls)
    cls.__init__(self, *args, **kwargs)


@overload
def deferred_dataclass(cls: _C, /) -> _C: ...
@overload
def deferred_dataclass(*, frozen: bool = False) -> Callable[[_C], _C]: ...
@dataclass_transform(field_specifiers=(field,))
def deferred_dataclass(cls: _C | None = None, /, *, frozen: bool = False) -> Any:
    """``@dataclass`` (or ``@dataclass(frozen=True)``), applied when the class is first used.

    Making a dataclass compiles its ``__init__``, ``__repr__`` and ``__eq__`` from
    source, which costs more than running the rest of a module: a result type that a
    command never builds should not cost ``queue`` its start-up (issue 18). The class
    becomes exactly the dataclass ``@dataclass`` would make the first time an
    instance is created (or unpickled), or its fields or signature are read; from
    then on it is that dataclass, with nothing added. Not for classes that are
    subclassed, define ``__init__`` or use ``slots``.
    """

    def defer(cls: _C) -> _C:
        if "__init__" in vars(cls) or "__slots__" in vars(cls):
            raise TypeError(f"{cls.__qualname__}: a deferred dataclass makes its own __init__")
        _DEFERRED[cls] = {"frozen": frozen}
        cls.__init__ = _first_init  # type: ignore[misc]
        for name in _STAND_INS:
            setattr(cls, name, _StandIn(name))
        return cls

    return defer if cls is None else defer(cls)


@deferred_dataclass(frozen=True)
class Step:
    """How far one piece of long work has got, for whoever shows progress (the CLI's bar).

    The library reports steps through a ``progress`` callback and never draws
    anything itself, so a script, a test or the CLI decides what to show.

    Attributes:
        task: a stable name (``demo acme``, ``export mentions``); one bar per task.
        done: items so far (mentions read, rows written, rows copied).
        total: items expected, when known in advance; None draws a running count.
        note: a short word on the detail (``page 3, 12 new``).
    """

    task: str
    done: int
    total: int | None = None
    note: str = ""


#: the callback type of every ``progress=`` parameter in the library
ProgressHook = Callable[[Step], None]


def utcnow() -> datetime:
    """The current time, timezone-aware UTC (the only clock the library reads)."""
    return datetime.now(timezone.utc)


def to_iso(dt: datetime) -> str:
    """UTC ISO-8601 text with a ``Z`` suffix, the storage format for every time."""
    if dt.tzinfo is timezone.utc and dt.__class__ is datetime and dt.year >= 1000:
        # the usual time (a poll stores one or two a mention): ``%`` formats it in half
        # strftime's time; the guard keeps strftime's own spelling of years before 1000
        return "%04d-%02d-%02dT%02d:%02d:%02dZ" % (
            dt.year, dt.month, dt.day, dt.hour, dt.minute, dt.second,
        )  # fmt: skip
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=timezone.utc)
    return dt.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_iso(text: str) -> datetime:
    """Parse an ISO-8601 time (``Z`` or offset); naive times are taken as UTC."""
    dt = datetime.fromisoformat(text.replace("Z", "+00:00"))
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=timezone.utc)
    return dt.astimezone(timezone.utc)


def _json_object(value: Any) -> dict[str, Any]:
    """A stored JSON object column (text on SQLite, maybe decoded already on PostgreSQL)."""
    import json

    if isinstance(value, dict):
        return value
    if not value:
        return {}
    decoded = json.loads(value)
    return decoded if isinstance(decoded, dict) else {}


@deferred_dataclass
class Mention:
    """One post from a platform, normalised.

    ``id`` is stable across polls: ``source:native_id``. ``parent_id`` and
    ``conversation_id`` are native ids of the same platform.
    """

    source: str
    native_id: str
    text: str
    created_at: datetime
    author_id: str
    author_handle: str
    author_name: str = ""
    author_followers: int | None = None
    url: str = ""
    language: str | None = None
    conversation_id: str | None = None
    parent_id: str | None = None
    query: str = ""
    kind: str = "post"  # post, reply, comment, repost, quote, dm, review
    repost_of: str | None = None  # native id of the original, for reposts and quotes
    raw: dict[str, Any] = field(default_factory=dict)
    #: star rating 1..5 of a review (None for everything else)
    rating: int | None = None
    #: when the platform last changed the item (an edited review); None if never or unknown
    updated_at: datetime | None = None
    #: platform extras worth showing and filtering on: app version, territory, location
    meta: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def from_row(cls, row: dict[str, Any]) -> Mention:
        """Rebuild a Mention from a stored ``mentions`` row (to hand back to its adapter)."""
        import json

        return cls(
            source=row["source"],
            native_id=row["native_id"],
            text=row["text"],
            created_at=parse_iso(row["created_at"]),
            author_id=row["author_id"],
            author_handle=row["author_handle"],
            author_name=row.get("author_name") or "",
            author_followers=row.get("author_followers"),
            url=row.get("url") or "",
            language=row.get("language"),
            conversation_id=row.get("conversation_id"),
            parent_id=row.get("parent_id"),
            query=row.get("query") or "",
            kind=row.get("kind") or "post",
            repost_of=row.get("repost_of"),
            raw=json.loads(row.get("raw") or "{}"),
            # review columns may not exist (yet) in a store: absent keys mean "none"
            rating=row.get("rating"),
            updated_at=parse_iso(row["updated_at"]) if row.get("updated_at") else None,
            meta=_json_object(row.get("meta")),
        )

    @property
    def id(self) -> str:
        """The stable store id, ``source:native_id``."""
        return f"{self.source}:{self.native_id}"

    @property
    def author_key(self) -> str:
        """The stable author id, ``source:author_id``; "" (unlinked) when the id is unknown.

        An empty id is no identity: ``"twitter:"`` would make every author the
        platform hid one customer, with one history and one collision check.
        """
        if not self.author_id.strip():
            return ""
        return f"{self.source}:{self.author_id}"


@deferred_dataclass
class Page:
    """What an adapter yields while polling: some mentions and maybe a cursor.

    ``cursor`` is the value to store for the query once this page is stored;
    ``None`` means "do not move the cursor yet" (e.g. newest-first pagination
    where only the last page may move it, so a failure mid-way loses nothing).

    Newest-first adapters (``Source.newest_first``) also say where the page
    sits, so the poll engine can record what a cut-short run skipped as a gap
    and backfill it later (see :mod:`socialcare.poll`):

    * ``newest``: the cursor value that covers everything scanned so far in
      this run (what to store once all older items are stored or gapped);
    * ``oldest``: the position of the oldest item scanned on this page, in the
      form the adapter accepts as ``until`` to continue below it;
    * ``complete``: the walk reached its lower bound (the old cursor, or the
      platform's horizon); nothing between is missing;
    * ``items_read``: items the platform returned for this page, counted
      against ``monthly_item_budget`` (default: ``len(mentions)``; adapters that
      drop items, e.g. by keyword, report the larger number);
    * ``skipped``: items the adapter read but could not normalise (a missing
      field, no usable time, an unknown kind), each ``{"reason": ..., "raw": ...}``
      so one bad item never costs the page and can still be inspected.
    """

    mentions: list[Mention]
    cursor: str | None = None
    rate_limit_remaining: int | None = None
    rate_limit_reset: float | None = None
    newest: str | None = None
    oldest: str | None = None
    complete: bool = False
    items_read: int | None = None
    skipped: list[dict[str, Any]] = field(default_factory=list)


@deferred_dataclass
class SentPost:
    """The platform's answer to a reply or post we sent."""

    native_id: str
    url: str = ""


def item_options(item: Mapping[str, Any]) -> dict[str, Any]:
    """An outbox item's ``options`` JSON as a dict (template, text, dm, subject, rule, ...);
    ``{}`` when it is missing or not a JSON object."""
    import json

    try:
        data = json.loads(item.get("options") or "{}")
    except ValueError:
        return {}
    return data if isinstance(data, dict) else {}


class _OnFirstUse:
    """A module-level value (a compiled regex, a matcher) built when first used.

    The first attribute read builds it and makes the module global of that name the
    value itself, so the module's functions find the real value from then on and pay
    nothing extra: ``queue`` and ``show`` of a row explained from its stored signals
    use none of safety's CSV patterns or the scorer's, and compiling them cost their
    start-up (issue 18 item 7).
    """

    __slots__ = ("_namespace", "_name", "_build", "_args")

    def __init__(
        self,
        namespace: MutableMapping[str, Any],
        name: str,
        build: Callable[..., Any],
        args: tuple[Any, ...],
    ) -> None:
        self._namespace, self._name, self._build, self._args = namespace, name, build, args

    def __getattr__(self, attr: str) -> Any:
        value = self._namespace.get(self._name, self)
        if value is self:
            value = self._build(*self._args)
            self._namespace[self._name] = value
        return getattr(value, attr)


def on_first_use(
    namespace: MutableMapping[str, Any], name: str, build: Callable[..., Any], *args: Any
) -> Any:
    """``build(*args)``, built on the first attribute read of ``namespace[name]`` (its
    module's ``globals()``), which it then replaces."""
    return _OnFirstUse(namespace, name, build, args)
