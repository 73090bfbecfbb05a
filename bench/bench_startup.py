"""Benchmark: start-up time of `socialcare --help`, `queue` and `show` against typer + rich alone.

Usage: python bench/bench_startup.py [RUNS]     (default 7)

Builds a small demo store in a temporary SOCIALCARE_HOME (`init`, `poll`), then
times each command as a fresh process, interleaved with the baseline
``python -c "import typer, rich"`` so that all of them share the machine's load.
Prints the median wall time of each and its ratio to the baseline (goal: <= 1.5x).
The ``+pydantic`` line is typer + rich + pydantic, which typer itself imports to coerce
option values once a command has any non-flag option: the floor for ``queue`` and ``show``.
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import tempfile
import time

COMMANDS: dict[str, list[str]] = {
    "baseline": [sys.executable, "-c", "import typer, rich"],
    # typer 0.29 coerces every non-flag parameter through a pydantic TypeAdapter, so any
    # command with options pays for pydantic: the floor of `queue` and `show`, for reference
    "+pydantic": [sys.executable, "-c", "import typer, rich, pydantic"],
    "--help": [sys.executable, "-m", "socialcare", "--help"],
    "queue": [sys.executable, "-m", "socialcare", "queue"],
    "show": [sys.executable, "-m", "socialcare", "show", "demo:1001"],
}


def _run(argv: list[str], env: dict[str, str]) -> float:
    started = time.perf_counter()
    subprocess.run(argv, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True)
    return time.perf_counter() - started


def main() -> None:
    runs = int(sys.argv[1]) if len(sys.argv) > 1 else 7
    with tempfile.TemporaryDirectory() as home:
        env = {**os.environ, "SOCIALCARE_HOME": home, "COLUMNS": "120"}
        env.pop("SOCIALCARE_CONFIG", None)
        for setup in (["init"], ["poll"]):
            subprocess.run(
                [sys.executable, "-m", "socialcare", *setup],
                env=env, stdout=subprocess.DEVNULL, check=True,
            )  # fmt: skip
        times: dict[str, list[float]] = {name: [] for name in COMMANDS}
        for argv in COMMANDS.values():  # warm the file cache and the .pyc files
            _run(argv, env)
        for _ in range(runs):
            for name, argv in COMMANDS.items():
                times[name].append(_run(argv, env))
    base = statistics.median(times["baseline"])
    print(f"{'command':<10} {'median s':>9} {'min s':>7} {'ratio':>6}")
    for name, values in times.items():
        median = statistics.median(values)
        print(f"{name:<10} {median:>9.3f} {min(values):>7.3f} {median / base:>5.2f}x")
    worst = max(statistics.median(times[k]) for k in ("--help", "queue", "show")) / base
    print(f"worst ratio {worst:.2f}x (goal <= 1.50x), {runs} runs each")


if __name__ == "__main__":
    main()
