"""The one exception tree of socialcare, and the exit code each error maps to.

Every error the library raises on purpose is a ``SocialcareError``. The CLI
turns it into a single ``Error: ...`` line on stderr and exits with the
class's ``exit_code``; anything else is a bug and exits 1.

    SocialcareError            exit 1  (base; never raised directly)
    ├── UsageError             exit 2  bad option values, unparsable times
    ├── ConfigError            exit 2  malformed or invalid config file
    │   └── MissingCredential  exit 2  an environment variable named in config is unset
    ├── NotFound               exit 3  unknown mention, source, template, ...
    ├── SourceError            exit 4  a platform API failed (5xx, 4xx, network)
    │   ├── AuthError          exit 4  credentials rejected or expired
    │   └── SendOutcomeUnknown exit 4  a post may or may not have gone out (outbox `unknown`)
    ├── RateLimited            exit 5  a platform said 429 and we did not wait
    │   └── BudgetExhausted    exit 5  the source's monthly request/item budget is used up (poll.py)
    ├── LockHeld               exit 6  another poll/due run holds the lock
    ├── Conflict               exit 7  claimed by another agent, wrong state, ...
    ├── SendFailed             exit 8  one or more outbox items failed to send
    ├── StoreUnavailable       exit 11 the PostgreSQL server cannot be reached (or went away)
    └── IncompleteCopy         exit 12 `db copy` ended with fewer rows in the target than the source

Exits 9 and 10 are not errors: `report spikes --alert` signals a spike with 9,
and `status --alert` signals an unhealthy source, or an outbox item whose
outcome is unknown, with 10.
"""

from __future__ import annotations

__all__ = [
    "AuthError",
    "ConfigError",
    "Conflict",
    "LockHeld",
    "MissingCredential",
    "NotFound",
    "RateLimited",
    "SendFailed",
    "SendOutcomeUnknown",
    "SocialcareError",
    "SourceError",
    "UsageError",
    "StoreUnavailable",
    "IncompleteCopy",
    "EXIT_CODES",
    "NotAStore",
    "check_choice",
]


class SocialcareError(Exception):
    """Base class: a failure the user can act on, reported in one line."""

    exit_code: int = 1


class UsageError(SocialcareError):
    """An option or argument has a value we cannot use."""

    exit_code = 2


class ConfigError(SocialcareError):
    """The config file is malformed or has an invalid value."""

    exit_code = 2


class MissingCredential(ConfigError):
    """A credential's environment variable (named in config) is not set."""

    exit_code = 2


class NotFound(SocialcareError):
    """An id, source, template or file does not exist."""

    exit_code = 3


class SourceError(SocialcareError):
    """A platform's API failed in a way waiting will not fix."""

    exit_code = 4


class AuthError(SourceError):
    """The platform rejected our credentials (expired or revoked token)."""

    exit_code = 4


class SendOutcomeUnknown(SourceError):
    """A write reached the platform, but its answer does not prove whether it was published.

    Raised for a read timeout or a connection closed after the request went
    out, a 5xx answer to a write, or a 2xx whose body cannot be read or names
    no id. The outbox marks such an item ``unknown``, never ``failed``: sending
    it again blindly could post twice. Only an answer that proves nothing was
    published (a 4xx, a refused connection) is a plain ``SourceError``.
    """

    exit_code = 4


class RateLimited(SocialcareError):
    """The platform asked us to slow down and we chose not to sleep."""

    exit_code = 5

    def __init__(self, message: str, reset_at: float | None = None) -> None:
        super().__init__(message)
        self.reset_at = reset_at


class LockHeld(SocialcareError):
    """Another run of the same job holds the lock (overlapping cron runs)."""

    exit_code = 6


class Conflict(SocialcareError):
    """The action clashes with the current state (claimed by someone else, ...)."""

    exit_code = 7


class SendFailed(SocialcareError):
    """At least one reply, follow-up or post could not be sent."""

    exit_code = 8


class StoreUnavailable(SocialcareError):
    """The team database server refused the connection or dropped it mid-command."""

    exit_code = 11


class NotAStore(ConfigError):
    """The database is not a socialcare store: garbage, another program's, or from a newer version."""

    exit_code = 2


class IncompleteCopy(SocialcareError):
    """``db copy`` finished but the target holds fewer rows than the source."""

    exit_code = 12


def check_choice(value: str | None, allowed: tuple[str, ...], what: str) -> None:
    """Refuse a value outside ``allowed`` (a UsageError, exit 2), listing the allowed ones."""
    if value is not None and value not in allowed:
        raise UsageError(f"{what} {value!r} is not one of: {', '.join(allowed)}")


EXIT_CODES: list[tuple[int, str]] = [
    (0, "success"),
    (1, "unexpected error (a bug: run with SOCIALCARE_DEBUG=1 and report it)"),
    (2, "usage, config or missing-credential error"),
    (3, "not found (unknown mention id, source, template, ...)"),
    (4, "source/API error (platform failure, rejected or expired credentials)"),
    (5, "rate limited (the platform's reset time is in the message)"),
    (6, "lock held: another poll or due run is in progress"),
    (7, "conflict: claimed by another agent, or not allowed in the current state"),
    (8, "one or more outbox items failed to send"),
    (9, "spike detected (`report spikes --alert`)"),
    (
        10,
        "`status --alert`: a source is failing, silent or over its monthly budget, "
        "or an outbox item may or may not have been posted",
    ),
    (11, "the PostgreSQL server cannot be reached, or the connection was lost"),
    (12, "`db copy`: the target ended with fewer rows than the source"),
    (130, 'interrupted: Ctrl-C, or Ctrl-D at a prompt ("Interrupted", nothing half-done)'),
]
