"""Benchmark: start-up time of `socialcare --help`, `queue` and `show` against typer + rich alone.

Usage: python bench/bench_startup.py [RUNS] [--before REV] [--triage-all]     (default 7 runs)

Builds a small demo store in a temporary SOCIALCARE_HOME (`init`, `poll`, and with
``--triage-all`` a `triage --all`, which fingerprints every row's signals so that
`show` explains them from the stored signals; a poll that writes ``triage_fp``
itself makes that the default), then
times each command as a fresh process, interleaved with the baseline
``python -c "import typer, rich"`` so that all of them share the machine's load.
Prints the median wall time and CPU time (user + system, which a loaded machine
disturbs far less) of each, and their ratios to the baseline's (goal: <= 1.5x).

``--before REV`` also times the package as it was at git revision REV (extracted
to a temporary directory, ahead of the installed one on ``PYTHONPATH``) in the
same interleaved rounds, so before and after share the load too; the working tree
is then also timed the same way (``@tree``, without the editable install's import
finder), and ``@tree`` against ``@REV`` is the before/after comparison. With
``--triage-all`` each of those two gets its own copy of the polled store, triaged by
its own code (a fingerprint is current only for the code that wrote it).

Each process gets a bytecode cache (``PYTHONPYCACHEPREFIX`` in the temporary
directory, even when ``PYTHONDONTWRITEBYTECODE`` is set), as an installed
package has: otherwise every run would compile socialcare's modules afresh.
The ``+pydantic`` line is typer + rich + pydantic, what typer's option coercion
would add if a command let it build its pydantic adapters.
"""

from __future__ import annotations

import os
import shutil
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
from io import BytesIO
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

BASELINES: dict[str, list[str]] = {
    "baseline": [sys.executable, "-c", "import typer, rich"],
    "+pydantic": [sys.executable, "-c", "import typer, rich, pydantic"],
}
COMMANDS: dict[str, list[str]] = {
    "--help": ["--help"],
    "queue": ["queue"],
    "show": ["show", "demo:1001"],
}
#: timed too, outside the goal: a mention whose language the scorer detected, which
#: explaining from its text detects again (py3langid, numpy); from current stored
#: signals (``--triage-all``) it costs what ``show`` does
EXTRA: dict[str, list[str]] = {"show (detected)": ["show", "demo:1007"]}


def _run(argv: list[str], env: dict[str, str]) -> tuple[float, float]:
    """Wall time and CPU time (user + system) of one process."""
    started = time.perf_counter()
    child = subprocess.Popen(argv, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    _, status, usage = os.wait4(child.pid, 0)
    wall = time.perf_counter() - started
    child.returncode = os.waitstatus_to_exitcode(status)
    if child.returncode:
        raise SystemExit(f"{' '.join(argv)} exited {child.returncode}")
    return wall, usage.ru_utime + usage.ru_stime


def _extract(rev: str, into: Path) -> None:
    """The ``socialcare`` package as it was at ``rev``, written under ``into``."""
    archive = subprocess.run(
        ["git", "-C", str(ROOT), "archive", "--format=tar", rev, "socialcare"],
        capture_output=True, check=True,
    ).stdout  # fmt: skip
    with tarfile.open(fileobj=BytesIO(archive)) as tar:
        tar.extractall(into, filter="data")


def main() -> None:
    args = sys.argv[1:]
    before = None
    if "--before" in args:
        at = args.index("--before")
        before = args[at + 1]
        del args[at : at + 2]
    setups = [["init"], ["poll"]]
    if "--triage-all" in args:
        args.remove("--triage-all")
        setups.append(["triage", "--all"])
    runs = int(args[0]) if args else 7
    with tempfile.TemporaryDirectory() as tmp:
        home = Path(tmp) / "home"
        env = {**os.environ, "SOCIALCARE_HOME": str(home), "COLUMNS": "120"}
        env.pop("SOCIALCARE_CONFIG", None)
        env.pop("PYTHONDONTWRITEBYTECODE", None)
        env["PYTHONPYCACHEPREFIX"] = str(Path(tmp) / "pycache")
        cases: dict[str, tuple[list[str], dict[str, str]]] = {
            name: (argv, env) for name, argv in BASELINES.items()
        }
        for name, argv in {**COMMANDS, **EXTRA}.items():
            cases[name] = ([sys.executable, "-m", "socialcare", *argv], env)
        labelled: dict[str, list[str]] = {}  # label -> the prelude's argv, for the setup
        if before is not None:
            old = Path(tmp) / "before"
            _extract(before, old)
            # the editable install's finder would still answer `import socialcare` with this
            # tree: drop it, put the old copy first, and run it as `-m socialcare` would.
            # That finder is consulted on every import (~5% of `queue`), so the working
            # tree is timed the same way too (``@tree``): those two rows compare code only.
            for label, root in (("tree", ROOT), (before, old)):
                prelude = (
                    "import runpy, sys; "
                    "sys.meta_path[:] = [f for f in sys.meta_path if 'editable' not in repr(f)]; "
                    f"sys.path.insert(0, {str(root)!r}); "
                    "runpy.run_module('socialcare', run_name='__main__', alter_sys=True)"
                )
                # each tree gets its own copy of the store, triaged by that tree (with
                # --triage-all): a fingerprint written by the other tree's code is not
                # current for this one, and its show would score the text instead
                label_env = {**env, "SOCIALCARE_HOME": str(Path(tmp) / f"home-{len(labelled)}")}
                labelled[label] = [sys.executable, "-c", prelude]
                for name, argv in {**COMMANDS, **EXTRA}.items():
                    cases[f"{name} @{label}"] = ([sys.executable, "-c", prelude, *argv], label_env)
        for setup in setups:
            if setup == ["triage", "--all"]:
                for label, argv in labelled.items():
                    label_env = cases[f"show @{label}"][1]
                    shutil.copytree(home, label_env["SOCIALCARE_HOME"])
                    subprocess.run(
                        [*argv, *setup], env=label_env, stdout=subprocess.DEVNULL, check=True
                    )
            subprocess.run(
                [sys.executable, "-m", "socialcare", *setup],
                env=env, stdout=subprocess.DEVNULL, check=True,
            )  # fmt: skip
        for label in labelled:
            label_home = Path(cases[f"show @{label}"][1]["SOCIALCARE_HOME"])
            if not label_home.exists():
                shutil.copytree(home, label_home)
        times: dict[str, list[tuple[float, float]]] = {name: [] for name in cases}
        for argv, case_env in cases.values():  # warm the file cache and the .pyc files
            _run(argv, case_env)
        for _ in range(runs):
            for name, (argv, case_env) in cases.items():
                times[name].append(_run(argv, case_env))

    def median(name: str, which: int) -> float:
        return statistics.median(t[which] for t in times[name])

    base_wall, base_cpu = median("baseline", 0), median("baseline", 1)
    width = max(len(name) for name in times)
    print(f"{'command':<{width}} {'wall s':>7} {'ratio':>6} {'cpu s':>7} {'ratio':>6}")
    for name in times:
        wall, cpu = median(name, 0), median(name, 1)
        print(
            f"{name:<{width}} {wall:>7.3f} {wall / base_wall:>5.2f}x "
            f"{cpu:>7.3f} {cpu / base_cpu:>5.2f}x"
        )
    worst = max(median(k, 0) for k in COMMANDS) / base_wall
    worst_cpu = max(median(k, 1) for k in COMMANDS) / base_cpu
    print(
        f"worst ratio {worst:.2f}x wall, {worst_cpu:.2f}x cpu (goal <= 1.50x), "
        f"medians of {runs} interleaved runs"
    )


if __name__ == "__main__":
    main()
