#!/usr/bin/env bash
# Render `socialcare report --html` in headless Chromium and check the screenshot.
#
# Usage: bench/render_html_report.sh [REPORT.html] [OUT.png]
#
# Without REPORT.html a demo report is built from generated data (a temporary
# store, no network). Chromium runs with networking side-channels off, so a
# page that tried to fetch anything would render without it; the HTML is also
# grepped for <script> and external src/href. Exits non-zero when chromium is
# missing (apt-get install -y chromium), the page is unsafe, or the PNG is
# missing or trivially small (a blank page compresses to a few KB).
set -euo pipefail

here="$(cd "$(dirname "$0")/.." && pwd)"
python="${PYTHON:-$here/.venv/bin/python}"
chromium="${CHROMIUM:-/usr/bin/chromium}"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

html="${1:-}"
png="${2:-$work/out.png}"

if [[ ! -x "$chromium" ]]; then
    echo "chromium not found at $chromium (apt-get install -y chromium)" >&2
    exit 3
fi

if [[ -z "$html" ]]; then
    html="$work/report.html"
    (cd "$here" && "$python" - "$work" "$html") <<'PY'
import random
import sys
from datetime import datetime, timedelta, timezone

sys.path.insert(0, ".")
from socialcare.reports.html import render_html
from socialcare.models import Mention, to_iso
from socialcare.store import open_store
from socialcare.reports.collect import ReportParams, collect_report

work, out = sys.argv[1], sys.argv[2]
store = open_store(f"{work}/demo.db")
rnd = random.Random(3)
now = datetime.now(timezone.utc)
words = "refund outage app login broken love great help slow cancel #outage #fail billing".split()
mentions = [
    Mention(
        source=rnd.choice(["twitter", "reddit", "mastodon"]),
        native_id=str(i),
        text=" ".join(rnd.choice(words) for _ in range(8)),
        created_at=now - timedelta(minutes=rnd.randint(0, 14 * 24 * 60)),
        author_id=f"u{rnd.randint(0, 40)}",
        author_handle=f"user{rnd.randint(0, 40)}",
    )
    for i in range(600)
]
mentions += [  # hostile text must show up escaped, not as markup
    Mention(source="twitter", native_id=f"x{i}", text="<script>alert(1)</script>",
            created_at=now - timedelta(minutes=5 + i), author_id="evil",
            author_handle='"><img src=https://evil.example/p.png>')
    for i in range(2)
]
store.upsert_mentions(mentions)
for m in mentions:
    store.conn.execute(
        "UPDATE mentions SET sentiment_compound = ?, sentiment_scored = 1, intent = ?, "
        "sla_due_ts = created_ts + 3600 WHERE id = ?",
        [rnd.uniform(-1, 1), rnd.choice(["complaint", "question", "praise", None]), m.id],
    )
    if rnd.random() < 0.6:
        sent = to_iso(m.created_at + timedelta(minutes=rnd.randint(2, 240)))
        store.conn.execute(
            "INSERT INTO outbox (kind, source, mention_id, text, status, agent, created_at, "
            "updated_at, sent_at) VALUES ('reply', ?, ?, 'hi', 'sent', ?, ?, ?, ?)",
            [m.source, m.id, rnd.choice(["alice", "bob", "chen"]), sent, sent, sent],
        )
        store.mark_answered(m.id, sent, "alice")
params = ReportParams(since=now - timedelta(days=7), until=now, now=now, tz=timezone.utc,
                      tz_name="UTC", exclude_terms=("acme",))
previous = collect_report(store, params.previous_period())
with open(out, "w", encoding="utf-8") as fh:
    fh.write(render_html(collect_report(store, params), timezone.utc, previous=previous))
PY
fi

# The page must be inert: no scripts, nothing loaded from anywhere.
if grep -qi '<script' "$html"; then
    echo "FAIL: $html contains <script>" >&2
    exit 1
fi
if grep -Eiq '(src|href)[[:space:]]*=[[:space:]]*["'"'"']?([a-z]+:)?//' "$html"; then
    echo "FAIL: $html references an external resource" >&2
    exit 1
fi

timeout 120 "$chromium" --headless --no-sandbox --disable-gpu --disable-background-networking \
    --disable-component-update --disable-sync --no-first-run \
    --user-data-dir="$(mktemp -d -p "$work")" --screenshot="$png" --window-size=1200,2000 \
    "file://$(realpath "$html")" >"$work/chromium.log" 2>&1 || {
    echo "FAIL: chromium exited non-zero; log:" >&2
    tail -20 "$work/chromium.log" >&2
    exit 1
}

# Layout check: a copy of the page with a probe script (the original forbids scripts) that
# opens every <details>, then lists what spills out: the page wider than the window, an SVG
# label outside its chart, a table wider than the page. Chromium prints the DOM after it ran.
probe="$work/probe.html"
cat >"$work/probe.js" <<'JS'
for (const d of document.querySelectorAll("details")) d.open = true;
const bad = [];
const W = document.documentElement.clientWidth;
if (document.documentElement.scrollWidth > W + 1)
  bad.push("page wider than window: " + document.documentElement.scrollWidth + " > " + W);
for (const svg of document.querySelectorAll("svg")) {
  const box = svg.getBoundingClientRect();
  for (const t of svg.querySelectorAll("text")) {
    const r = t.getBoundingClientRect();
    if (r.width > 0 && (r.left < box.left - 1 || r.right > box.right + 1))
      bad.push("label outside chart " + svg.getAttribute("aria-label") + ": " + t.textContent);
  }
}
for (const tb of document.querySelectorAll("table"))
  if (tb.getBoundingClientRect().right > W + 1)
    bad.push("table wider than page: " + tb.closest("section").id);
const out = document.createElement("pre");
out.id = "layout";
out.textContent = bad.length ? "LAYOUT-ERRORS\n" + bad.join("\n") : "LAYOUT-OK";
document.body.appendChild(out);
JS
"$python" - "$html" "$work/probe.js" "$probe" <<'PY'
import re, sys
page = open(sys.argv[1], encoding="utf-8").read()
page = re.sub(r'<meta http-equiv="Content-Security-Policy"[^>]*>', "", page)
script = open(sys.argv[2], encoding="utf-8").read()
open(sys.argv[3], "w", encoding="utf-8").write(page.replace("</body>", f"<script>{script}</script></body>"))
PY
timeout 120 "$chromium" --headless --no-sandbox --disable-gpu --disable-background-networking \
    --disable-component-update --disable-sync --no-first-run --virtual-time-budget=2000 \
    --user-data-dir="$(mktemp -d -p "$work")" --window-size=1200,2000 --dump-dom \
    "file://$(realpath "$probe")" >"$work/dom.html" 2>"$work/chromium-dom.log" || true
if ! grep -q '<pre id="layout">LAYOUT-' "$work/dom.html"; then
    echo "FAIL: the layout probe did not run; chromium log:" >&2
    tail -20 "$work/chromium-dom.log" >&2
    exit 1
fi
if grep -q '<pre id="layout">LAYOUT-ERRORS' "$work/dom.html"; then
    echo "FAIL: layout errors in $html:" >&2
    sed -n '/<pre id="layout">LAYOUT-ERRORS/,/<\/pre>/p' "$work/dom.html" | head -20 >&2
    exit 1
fi

if [[ ! -s "$png" ]]; then
    echo "FAIL: no screenshot written to $png" >&2
    exit 1
fi
size=$(stat -c %s "$png")
# PNG signature, then a size a blank 1200x2000 page never reaches (~10 KB)
if [[ "$(head -c 8 "$png" | od -An -tx1 | tr -d ' \n')" != "89504e470d0a1a0a" ]]; then
    echo "FAIL: $png is not a PNG" >&2
    exit 1
fi
if (( size < 40000 )); then
    echo "FAIL: $png is only $size bytes: the page rendered (nearly) blank" >&2
    exit 1
fi
if [[ -n "${2:-}" ]]; then
    echo "OK: $png ($size bytes) from $html"
else
    cp "$png" "${KEEP_PNG:-/tmp/socialcare_report.png}"
    echo "OK: ${KEEP_PNG:-/tmp/socialcare_report.png} ($size bytes) from a generated demo report"
fi
