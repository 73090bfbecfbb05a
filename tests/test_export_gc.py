"""The CSV writer pauses the cyclic garbage collector while rows stream, and puts it back."""

from __future__ import annotations

import gc
import io
from typing import Any, Iterator

import pytest

from socialcare.reports.export import write_rows
from socialcare.store.reports import ExportRows

pytestmark = pytest.mark.store_free


def _rows(seen: list[bool]) -> Iterator[list[tuple[Any, ...]]]:
    for i in range(3):
        seen.append(gc.isenabled())
        yield [(i, f"=row {i}", None)]


@pytest.mark.parametrize("enabled", [True, False])
def test_collector_is_paused_during_and_restored_after(enabled: bool) -> None:
    was = gc.isenabled()
    try:
        (gc.enable if enabled else gc.disable)()
        seen: list[bool] = []
        out = io.StringIO(newline="")
        assert write_rows(out, "csv", ["a", "b"], ExportRows(_rows(seen), lead=1)) == 3
        assert seen == [False, False, False]
        assert gc.isenabled() is enabled
        assert out.getvalue() == "a,b\r\n'=row 0,\r\n'=row 1,\r\n'=row 2,\r\n"
    finally:
        (gc.enable if was else gc.disable)()


def test_collector_is_restored_when_the_rows_fail() -> None:
    def broken() -> Iterator[list[tuple[Any, ...]]]:
        yield [(0, "x")]
        raise RuntimeError("lost the store")

    assert gc.isenabled()
    with pytest.raises(RuntimeError):
        write_rows(io.StringIO(newline=""), "csv", ["a"], ExportRows(broken(), lead=1))
    assert gc.isenabled()
