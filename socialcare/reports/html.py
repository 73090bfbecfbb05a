"""``report --html``: one self-contained page with inline CSS and inline SVG charts.

The page is mailed around and opened from disk, so it fetches nothing: no
scripts, fonts, images or stylesheets from anywhere, and a Content Security
Policy that forbids them in case a future change slips one in. Author
handles and terms come from strangers, so every piece of text goes through
:func:`_esc` (controls dropped, then HTML-escaped, quotes included).
"""

from __future__ import annotations

import html
import math
from datetime import tzinfo
from typing import Sequence

from ..models import parse_iso
from ..safety import one_line
from .metrics import Cell, Report, ReportTable, column_label, format_cell, headline_changes

__all__ = ["axis_ticks", "render_html"]

# no red or green here: those mean negative / positive in the sentiment and intent charts;
# the palette tells series apart (sources in the volume chart), never rows of one kind
_PALETTE = ("#4e79a7", "#f28e2b", "#76b7b2", "#edc948", "#b07aa1", "#9c755f", "#bab0ac", "#86bcb6")
#: the one colour of bars that all measure the same kind of thing (authors, terms, agents)
_BAR_COLOUR = "#4e79a7"
#: charts whose rows are labels with a meaning of their own (negative is red everywhere)
_LABELLED_CHARTS = frozenset({"sentiment", "intent"})
_LABEL_COLOURS = {
    "negative": "#d64541",
    "neutral": "#9aa5b1",
    "positive": "#3c9d5d",
    "unscored": "#d8dde3",
    "complaint": "#d64541",
    "praise": "#3c9d5d",
    "all": "#52606d",
}
_CSS = """
body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,"DejaVu Sans",sans-serif;
margin:24px auto;max-width:1100px;color:#1f2933;background:#fff;padding:0 16px}
h1{font-size:24px;margin:0 0 4px}h2{font-size:18px;margin:28px 0 8px;border-bottom:1px solid #e4e7eb;
padding-bottom:4px}.meta{color:#616e7c;font-size:13px;margin:0 0 16px}
.cards{display:flex;flex-wrap:wrap;gap:12px;margin:16px 0}
.card{border:1px solid #e4e7eb;border-radius:6px;padding:10px 14px;min-width:150px}
.card b{display:block;font-size:22px}.card span{color:#616e7c;font-size:12px;display:block}
.card .change{font-size:12px;color:#52606d}.card .better{color:#2f7d4a}.card .worse{color:#b8322e}
nav.toc{font-size:13px;margin:8px 0 16px}nav.toc ol{margin:4px 0;padding-left:20px;columns:2}
details{margin:4px 0 8px}summary{cursor:pointer;color:#3e4c59;font-size:13px}
table{border-collapse:collapse;font-size:13px;margin:8px 0}
th,td{border-bottom:1px solid #eef1f4;padding:4px 10px;text-align:left;vertical-align:top}
th{background:#f5f7fa;font-weight:600}td.num{text-align:right;font-variant-numeric:tabular-nums}
.note{color:#616e7c;font-size:12px;margin:4px 0}.empty{color:#9aa5b1;font-style:italic}
svg{display:block;margin:8px 0;max-width:100%;height:auto}
svg text{font-family:inherit;font-size:11px;fill:#323f4b}
"""


def _esc(value: object, width: int | None = None) -> str:
    """Untrusted text made inert: control characters dropped, one line, HTML-escaped."""
    return html.escape(one_line(str(value), width), quote=True)


def _num(value: Cell) -> float | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return float(value) if math.isfinite(value) else None


def _series_colour(index: int) -> str:
    """The colour of the ``index``-th series of a stacked chart (one per source)."""
    return _PALETTE[index % len(_PALETTE)]


def _bars_svg(table: ReportTable) -> str:
    """Horizontal bars, one per row, labelled with the first column and the formatted value."""
    if not table.chart_value or not table.rows:
        return ""
    values = [_num(v) for v in table.column(table.chart_value)]
    top = max((v for v in values if v is not None), default=0.0)
    label_w, bar_w, row_h = 200, 420, 22
    height = row_h * len(table.rows) + 8
    parts = [
        f'<svg width="{label_w + bar_w + 120}" '
        f'height="{height}" viewBox="0 0 {label_w + bar_w + 120} {height}" role="img" '
        f'aria-label="{_esc(table.title)}">'
    ]
    labelled = table.name in _LABELLED_CHARTS
    for i, (row, value) in enumerate(zip(table.rows, values, strict=True)):
        y = 4 + i * row_h
        label = str(row[0])
        parts.append(
            f'<text x="{label_w - 8}" y="{y + 15}" text-anchor="end">{_esc(label, 30)}</text>'
        )
        if value is not None and top > 0 and value > 0:
            w = max(value / top * bar_w, 1.0)
            fill = _LABEL_COLOURS.get(label, _BAR_COLOUR) if labelled else _BAR_COLOUR
            parts.append(
                f'<rect x="{label_w}" y="{y + 3}" width="{w:.1f}" height="15" rx="2" '
                f'fill="{fill}"/>'
            )
        else:
            w = 0.0
        text = format_cell(table.chart_value, row[table.columns.index(table.chart_value)])
        parts.append(f'<text x="{label_w + w + 6:.1f}" y="{y + 15}">{_esc(text)}</text>')
    parts.append("</svg>")
    return "".join(parts)


def axis_ticks(value: float, *, counts: bool = True) -> tuple[float, float]:
    """(axis maximum, step) for a plot whose highest value is ``value``.

    The step is 1, 2, 2.5 or 5 times a power of ten, chosen so that 3 to 6
    steps reach the first tick at or above ``value`` with the least empty
    space above the tallest column. With ``counts`` (mentions) every tick is a
    whole number: no axis says "2.5 mentions".
    """
    if value <= 0 or not math.isfinite(value):
        return 1.0, 1.0
    if counts and value <= 6:
        top = float(math.ceil(value - 1e-9))
        return top, 1.0
    best: tuple[float, float] | None = None
    exp = 10.0 ** math.floor(math.log10(value))
    for scale in (exp / 10, exp, exp * 10):
        for mult in (1.0, 2.0, 2.5, 5.0):
            step = float(f"{mult * scale:.12g}")
            if counts and step != int(step):
                continue
            n = math.ceil(value / step - 1e-9)
            if 3 <= n <= 6 and (best is None or n * step < best[0]):
                best = (float(f"{n * step:.12g}"), step)
    return best if best is not None else (value, value / 4)


def _stacked_svg(table: ReportTable) -> str:
    """Columns per time bucket, stacked by source, with a legend and a light grid."""
    if not table.rows:
        return ""
    series = table.columns[2:]
    totals = [_num(r[1]) or 0.0 for r in table.rows]
    top, step = axis_ticks(max(totals, default=0.0))
    width, height, left, bottom, top_pad = 1000, 280, 48, 36, 30
    plot_w, plot_h = width - left - 10, height - bottom - top_pad
    slot = plot_w / len(table.rows)
    col_w = max(slot * 0.75, 1.0)
    parts = [
        f'<svg width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" role="img" aria-label="{_esc(table.title)}">'
    ]
    for k in range(round(top / step) + 1):
        tick = k * step
        y = top_pad + plot_h * (1 - tick / top)
        parts.append(
            f'<line x1="{left}" y1="{y:.1f}" x2="{width - 10}" y2="{y:.1f}" stroke="#e4e7eb"/>'
            f'<text x="{left - 6}" y="{y + 4:.1f}" text-anchor="end">{tick:g}</text>'
        )
    x_legend = left
    for i, name in enumerate(series):
        parts.append(
            f'<rect x="{x_legend}" y="6" width="10" height="10" fill="{_series_colour(i)}"/>'
            f'<text x="{x_legend + 14}" y="15">{_esc(name, 24)}</text>'
        )
        x_legend += 24 + 7 * min(len(name), 24)
    every = max(math.ceil(len(table.rows) / 14), 1)
    for b, row in enumerate(table.rows):
        x = left + b * slot + (slot - col_w) / 2
        y = top_pad + plot_h
        for i, _name in enumerate(series):
            n = _num(row[2 + i]) or 0.0
            if n <= 0:
                continue
            h = n / top * plot_h
            y -= h
            parts.append(
                f'<rect x="{x:.1f}" y="{y:.1f}" width="{col_w:.1f}" height="{h:.1f}" '
                f'fill="{_series_colour(i)}"/>'
            )
        if b % every == 0:
            parts.append(
                f'<text x="{x + col_w / 2:.1f}" y="{height - bottom + 16}" '
                f'text-anchor="middle">{_esc(str(row[0])[5:])}</text>'
            )
    parts.append("</svg>")
    return "".join(parts)


def _table_html(table: ReportTable) -> str:
    if not table.rows:
        return '<p class="empty">No data for this period.</p>'
    head = "".join(f"<th>{_esc(column_label(c))}</th>" for c in table.columns)
    body = []
    for row in table.rows:
        cells = []
        for column, value in zip(table.columns, row, strict=True):
            cls = ' class="num"' if _num(value) is not None else ""
            cells.append(f"<td{cls}>{_esc(format_cell(column, value), 120)}</td>")
        body.append("<tr>" + "".join(cells) + "</tr>")
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>"


def _section(table: ReportTable) -> str:
    """A table's heading, its chart, and its table: folded under the chart, when there is one."""
    chart = ""
    if table.chart == "bars":
        chart = _bars_svg(table)
    elif table.chart == "stacked":
        chart = _stacked_svg(table)
    note = f'<p class="note">{_esc(table.note)}</p>' if table.note else ""
    rows = _table_html(table)
    if chart:
        rows = f"<details><summary>The figures as a table</summary>{rows}</details>"
    return (
        f'<section id="{_esc(table.name)}"><h2>{_esc(table.title)}</h2>'
        f"{chart}{rows}{note}</section>"
    )


def _contents(tables: Sequence[ReportTable]) -> str:
    items = "".join(f'<li><a href="#{_esc(t.name)}">{_esc(t.title)}</a></li>' for t in tables)
    return f'<nav class="toc" aria-label="Contents"><b>Contents</b><ol>{items}</ol></nav>'


def _card(label: str, value: str, change: str, better: bool | None) -> str:
    mood = "" if better is None else (" better" if better else " worse")
    moved = f'<span class="change{mood}">{_esc(change)}</span>' if change else ""
    return f'<div class="card"><b>{_esc(value)}</b><span>{_esc(label)}</span>{moved}</div>'


def _local(iso: str, tz: tzinfo) -> str:
    return parse_iso(iso).astimezone(tz).strftime("%Y-%m-%d %H:%M %Z")


def render_html(
    report: Report,
    tz: tzinfo,
    *,
    sections: Sequence[ReportTable] | None = None,
    previous: Report | None = None,
) -> str:
    """The whole report as one HTML document (a string; the caller writes the file).

    ``previous``: the same report for the period of the same length just
    before, so each headline card says how its number moved.
    """
    cards = "".join(
        _card(c.label, c.value, c.change, c.better) for c in headline_changes(report, previous)
    )
    scope = f" · source {_esc(report.source)}" if report.source else ""
    meta = (
        f"{_esc(_local(report.since, tz))} to {_esc(_local(report.until, tz))} "
        f"({_esc(report.timezone)}, by {_esc(report.by)}){scope} · generated "
        f"{_esc(_local(report.generated_at, tz))}"
    )
    tables = list(sections if sections is not None else report.tables)
    body = "".join(_section(t) for t in tables)
    return (
        "<!DOCTYPE html>\n"
        '<html lang="en"><head><meta charset="utf-8">'
        '<meta http-equiv="Content-Security-Policy" '
        "content=\"default-src 'none'; style-src 'unsafe-inline'; img-src data:\">"
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        '<meta name="referrer" content="no-referrer">'
        f"<title>{_esc(report.title)}</title><style>{_CSS}</style></head><body>"
        f'<h1>{_esc(report.title)}</h1><p class="meta">{meta}</p>'
        f'<div class="cards">{cards}</div>{_contents(tables)}{body}</body></html>\n'
    )
