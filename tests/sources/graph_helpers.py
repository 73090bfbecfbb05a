"""What the Graph API tests (the client, Facebook, Instagram) share: the documented
base URL, a Page id and token, a fixed clock and fixture loading. The fixtures that
set the credentials and answer HTTP (``graph_env``, ``api``) are in this folder's
conftest."""

from __future__ import annotations

import json
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"
G = "https://graph.facebook.com/v23.0"
PAGE = "104530000000001"
TOKEN = "EAAB-page-SECRET-token-77"
NOW = datetime(2024, 5, 13, 12, 0, tzinfo=timezone.utc)


def load_fixture(platform: str, name: str) -> Any:
    """One documented response body from ``tests/fixtures/<platform>/``."""
    return json.loads((FIXTURES / platform / name).read_text(encoding="utf-8"))
