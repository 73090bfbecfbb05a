"""What every CLI module shares: the consoles and the one Socialcare per invocation.

Each command group (followup, kb, report, status) gets its config and store
from here, so a command opens the store once and closes it when it ends.
"""

from __future__ import annotations

from typing import Any

import typer
from rich.console import Console

from .app import Socialcare
from .config import Config
from .store import Store

__all__ = ["console", "err_console", "socialcare_for", "config_and_store"]

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


def config_and_store(ctx: typer.Context) -> tuple[Config, Store]:
    """Config and open store for this invocation."""
    sc = socialcare_for(ctx)
    return sc.config, sc.store
