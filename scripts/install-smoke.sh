#!/bin/sh
# Install socialcare the way users install CLIs and run the main job there.
#
# A fresh venv on the NEWEST Python on this machine (pyenv versions, or python3.N
# on PATH), with no setuptools in it (as pipx, uv tool and 3.12+ venvs have),
# and a regular (not editable) install of this checkout. Then init, poll the
# offline demo source, list sources and print the queue, in a throwaway home.
# A missing import (an undeclared dependency, pkg_resources, ...) fails here.
#
# Skips loudly (exit 0) when no Python >= 3.12 exists; any failure exits non-zero.
#
# Usage: sh scripts/install-smoke.sh

set -eu
cd "$(dirname "$0")/.."

say() { echo "install-smoke: $*" >&2; }

newest=""
best=0
for candidate in "${PYENV_ROOT:-$HOME/.pyenv}"/versions/*/bin/python3 \
    $(command -v python3.14 python3.13 python3.12 python3 2>/dev/null || true); do
    [ -x "$candidate" ] || continue
    minor=$("$candidate" -c 'import sys; print(sys.version_info[1] if sys.version_info[0] == 3 else 0)' 2>/dev/null) || continue
    if [ "$minor" -gt "$best" ]; then
        best=$minor
        newest=$candidate
    fi
done
if [ "$best" -lt 12 ]; then
    say "SKIPPED: no Python >= 3.12 found (pyenv or PATH); the install smoke test did not run" >&2
    exit 0
fi

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
say "Python 3.$best ($newest), venv in $work"
"$newest" -m venv "$work/venv"
if "$work/venv/bin/python" -c "import setuptools" 2>/dev/null; then
    "$work/venv/bin/python" -m pip uninstall -q -y setuptools
fi
"$work/venv/bin/python" -m pip install -q --disable-pip-version-check .
if "$work/venv/bin/python" -c "import setuptools" 2>/dev/null; then
    say "FAILED: installing socialcare pulled setuptools into the venv"
    exit 1
fi

export SOCIALCARE_HOME="$work/home" HOME="$work/home"
unset SOCIALCARE_CONFIG SOCIALCARE_DATABASE
mkdir -p "$HOME"
cd "$work"
sc="$work/venv/bin/socialcare"
"$sc" init >/dev/null
"$sc" poll --source demo --quiet
"$sc" sources >/dev/null
out=$("$sc" queue)
case "$out" in
    *demo:*) ;;
    *) say "FAILED: the queue shows no demo mention"; echo "$out" >&2; exit 1 ;;
esac
say "ok: init, poll --source demo, sources and queue ran on Python 3.$best without setuptools"
