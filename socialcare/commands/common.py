"""What every CLI module shares: the consoles and the one Socialcare per invocation.

Each command gets its :class:`~socialcare.app.Socialcare` from here, so a
command opens the store once and closes it when it ends.
"""

from __future__ import annotations

import sys
from typing import Any, Callable

import typer
from rich.console import Console

from ..app import Socialcare

__all__ = [
    "CommandSet",
    "console",
    "err_console",
    "interactive",
    "sc_of",
    "socialcare_for",
]

console = Console(highlight=False, soft_wrap=False)
err_console = Console(stderr=True, highlight=False)


def socialcare_for(ctx: typer.Context) -> Socialcare:
    """The Socialcare for this invocation, built once from the root's ``--config``."""
    root = ctx.find_root()
    obj: dict[str, Any] = root.obj if isinstance(root.obj, dict) else {}
    root.obj = obj
    if "sc" not in obj:
        obj["sc"] = Socialcare.from_config_file(obj.get("config"))
        root.call_on_close(obj["sc"].shutdown)
    sc: Socialcare = obj["sc"]
    return sc


#: the short name commands use
sc_of = socialcare_for


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
