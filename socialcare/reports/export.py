"""Writers for ``export`` rows and ``report --csv``: CSV, JSON lines and JSON, streamed.

Rows arrive from a generator and leave one at a time, so an export of
millions of mentions needs the memory of one page. CSV cells are made safe
for spreadsheets: text from social media that starts with ``= + - @``, a tab
or CR gets a leading apostrophe (:func:`socialcare.safety.csv_safe`; pages are
checked column by column in C by :func:`socialcare.safety.csv_page` and only
the cells it cannot clear go through ``csv_safe``), and control characters
other than tab/newline/CR are dropped so a piped export cannot drive the
terminal. ``--excel`` only adds a UTF-8 byte-order mark
(Excel otherwise guesses a legacy code page).
"""

from __future__ import annotations

import csv
import gc
import io
import json
import os
import sys
from contextlib import contextmanager
from operator import itemgetter
from pathlib import Path
from typing import Any, Iterable, Iterator, Protocol, Sequence, TextIO, runtime_checkable

from ..errors import UsageError
from ..safety import csv_page, csv_rows, private_dir
from .metrics import Report

__all__ = [
    "FORMATS",
    "JSON_TEXT_COLUMNS",
    "write_rows",
    "open_output",
    "write_report_csv",
]

FORMATS = ("csv", "jsonl", "json")
#: columns stored as JSON text; JSON exports embed them as values, CSV keeps the text
JSON_TEXT_COLUMNS = frozenset({"tags", "detail"})
_BOM = "\ufeff"


@runtime_checkable
class Paged(Protocol):
    """Rows that can also be read a page at a time, like ``iter_export``'s ``ExportRows``.

    Each row of :meth:`keyed_pages` starts with ``lead`` cells that are not
    exported (the keyset's keys); the exported columns follow.
    """

    lead: int

    def keyed_pages(self) -> Iterator[list[tuple[Any, ...]]]:
        """The rows not read yet, a page at a time, each with its ``lead`` key cells first."""
        ...


def _json_value(column: str, value: Any) -> Any:
    if column in JSON_TEXT_COLUMNS and isinstance(value, str):
        try:
            return json.loads(value)
        except ValueError:
            return value
    return value


def _record(columns: Sequence[str], row: Sequence[Any]) -> str:
    return json.dumps(
        {c: _json_value(c, v) for c, v in zip(columns, row, strict=True)}, ensure_ascii=False
    )


def write_rows(
    out: TextIO,
    fmt: str,
    columns: Sequence[str],
    rows: Iterable[Sequence[Any]],
    *,
    excel: bool = False,
) -> int:
    """Write ``rows`` (in ``columns`` order) to ``out`` as csv, jsonl or json; returns the count.

    ``out`` must be opened with ``newline=""`` (CSV rows end in CRLF, as RFC
    4180 and Excel expect). ``json`` is a single array written element by
    element, not built in memory.
    """
    if fmt not in FORMATS:
        raise UsageError(f"--format {fmt!r}: use one of {', '.join(FORMATS)}")
    if excel and fmt != "csv":
        raise UsageError("--excel only applies to --format csv")
    count = 0
    if fmt == "csv":
        if excel:
            out.write(_BOM)
        writer = csv.writer(out)
        writer.writerow(columns)
        # The cyclic collector is paused while rows stream (and resumed if it ran): a
        # page keeps a thousand row tuples alive, so every 700 new rows set off a
        # collection that scanned them, and every tenth of those a larger one, though
        # no row is in a cycle (tuples of str, int, float and None).
        collecting = gc.isenabled()
        gc.disable()
        try:
            count = _write_csv(writer, rows)
        finally:
            if collecting:
                gc.enable()
    elif fmt == "jsonl":
        for row in rows:
            out.write(_record(columns, row) + "\n")
            count += 1
    else:
        out.write("[")
        for row in rows:
            out.write(("\n" if count == 0 else ",\n") + _record(columns, row))
            count += 1
        out.write("\n]\n" if count else "]\n")
    return count


def _write_csv(writer: Any, rows: Iterable[Sequence[Any]]) -> int:
    count = 0
    if isinstance(rows, Paged):  # a page at a time: cleaned and written in C
        lead = rows.lead
        tail = itemgetter(slice(lead, None))  # the row without its keys, made as written
        for page in rows.keyed_pages():
            safe = csv_page(page, first=lead)
            writer.writerows(map(tail, safe) if lead else safe)
            count += len(page)
    else:
        write = writer.writerow
        for cells in csv_rows(rows):
            write(cells)
            count += 1
    return count


@contextmanager
def open_output(path: str | Path | None) -> Iterator[TextIO]:
    """A UTF-8 text stream (``newline=""``) to ``path``, or to stdout when ``path`` is None/``-``.

    A file is written under a temporary name and renamed into place at the
    end, so an interrupted export never leaves a truncated file that looks
    complete.
    """
    if path is None or str(path) == "-":
        sys.stdout.flush()
        stream = io.TextIOWrapper(sys.stdout.buffer, encoding="utf-8", newline="")
        try:
            yield stream
            stream.flush()
        finally:
            try:
                stream.detach()  # leave stdout itself open for the rest of the process
            except (OSError, ValueError):
                pass  # the reader went away (broken pipe): nothing left to keep open
        return
    target = Path(path).expanduser()
    if target.is_dir():
        raise UsageError(f"-o {target}: is a directory; give a file name")
    partial = target.with_name(f".{target.name}.part")
    try:
        handle = partial.open("w", encoding="utf-8", newline="")
    except OSError as exc:
        raise UsageError(f"-o {target}: cannot write ({exc.strerror})") from None
    try:
        with handle:
            yield handle
        os.replace(partial, target)
    finally:
        if partial.exists():
            partial.unlink()


def write_report_csv(report: Report, directory: str | Path) -> list[Path]:
    """Write each report table to ``DIRECTORY/<table>.csv``; returns the files written."""
    folder = Path(directory).expanduser()
    try:
        private_dir(folder)
    except OSError as exc:
        raise UsageError(f"--csv {folder}: cannot create the folder ({exc.strerror})") from None
    written = []
    for table in report.tables:
        path = folder / f"{table.name}.csv"
        with open_output(path) as out:
            write_rows(out, "csv", table.columns, table.rows)
        written.append(path)
    return written
