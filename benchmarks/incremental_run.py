"""`lakemesh run` after one more landing day against a full rebuild of the same mesh, in the same run.

For each scale factor, over a landing zone and lakehouses of its own: the history is landed through
the day before `--day` and built once (the one-day run's starting point, timed
as well); then `--day` lands and `lakemesh run` catches up (the one-day run);
then a fresh lakehouse over the same landing zone builds everything (the full
rebuild). The ratio one-day / full is printed, and the one-day run's SF ratio
(cost flat in history: the same day at a larger history). Each run's own split
comes from its summary line; the fixed costs are timed apart: the CLI's start
(`lakemesh --help`), a code location's load, Spark's start. Asserts nothing.

    uv run python benchmarks/incremental_run.py --scale-factors 1 10 --day 1998-07-31
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import tempfile
import time
from datetime import date, timedelta
from pathlib import Path

PROJECT_DIR = Path(__file__).resolve().parents[1]
LAKEMESH = str(Path(sys.executable).with_name("lakemesh"))
_SPLIT = re.compile(r"wall ([\d.]+)s: generate ([\d.]+)s, load ([\d.]+)s, materialize ([\d.]+)s "
                    r"\(asset steps ([\d.]+)s, orchestration ([\d.]+)s\)")  # fmt: skip


def _lakemesh(root: Path, *args: str, lakehouse: str) -> tuple[float, str]:
    """`lakemesh <args>` in the repository, over `root/<lakehouse>` and the landing zone `root/landing`."""
    env = {**os.environ, "LAKEMESH_LAKEHOUSE": str(root / lakehouse), "LAKEMESH_LANDING": str(root / "landing"),
           "DAGSTER_HOME": str(root / lakehouse / ".dagster"), "COLUMNS": "200"}  # fmt: skip
    started = time.perf_counter()
    done = subprocess.run([LAKEMESH, *args], cwd=PROJECT_DIR, env=env, capture_output=True, text=True)
    elapsed = time.perf_counter() - started
    if done.returncode not in (0, 1):
        raise SystemExit(f"lakemesh {' '.join(args)} failed:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}")
    return elapsed, done.stdout + done.stderr


def _split(output: str) -> str:
    found = _SPLIT.search(" ".join(output.split()))
    if not found:
        return "(no summary line)"
    wall, _, load, _, steps, orchestration = (float(v) for v in found.groups())
    return f"wall {wall:.1f}s = load {load:.1f}s + asset steps {steps:.1f}s + orchestration {orchestration:.1f}s"


def _built(output: str) -> str:
    return "built " + (re.search(r"built (\d+ of \d+)", output) or re.search(r"(nothing to build)", output))[1]


def measure(scale_factor: float, *, day: date) -> dict[str, float]:
    with tempfile.TemporaryDirectory(prefix="lakemesh-incremental-") as tmp:
        root = Path(tmp)
        sf = str(scale_factor)
        previous = (day - timedelta(days=1)).isoformat()
        _lakemesh(root, "generate", "-s", sf, "--until", previous, lakehouse="history")
        history, out = _lakemesh(root, "run", "-s", sf, lakehouse="history")
        print(f"  history through {previous}: {history:.1f}s, {_built(out)}; {_split(out)}")
        _lakemesh(root, "generate", "-s", sf, "--until", day.isoformat(), lakehouse="history")
        one_day, out = _lakemesh(root, "run", "-s", sf, lakehouse="history")
        print(f"  one more day ({day}): {one_day:.1f}s, {_built(out)}; {_split(out)}")
        again, out = _lakemesh(root, "run", "-s", sf, lakehouse="history")
        print(f"  again, nothing new: {again:.1f}s, {_built(out)}")
        full, out = _lakemesh(root, "run", "-s", sf, lakehouse="rebuilt")
        print(f"  full rebuild through {day}: {full:.1f}s, {_built(out)}; {_split(out)}")
        print(f"  one day / full rebuild: {one_day / full:.1%}")
        return {"one_day": one_day, "full": full, "again": again}


def fixed_costs() -> None:
    """What every run pays whatever it builds: the CLI's start, a code location's load, Spark's start."""
    started = time.perf_counter()
    subprocess.run([LAKEMESH, "--help"], capture_output=True, check=True)
    cli = time.perf_counter() - started
    started = time.perf_counter()
    subprocess.run([sys.executable, "-c", "pass"], check=True)
    bare = time.perf_counter() - started
    code = "import time; t = time.perf_counter(); from domains.sales import definitions; print(time.perf_counter() - t)"
    load = subprocess.run([sys.executable, "-c", code], cwd=PROJECT_DIR, capture_output=True, text=True, check=True)
    spark = (
        "import time; from lakemesh.compute.spark import spark_session, stop_spark_session; "
        "t = time.perf_counter(); spark_session(); print(time.perf_counter() - t); stop_spark_session()"
    )
    spark_start = subprocess.run([sys.executable, "-c", spark], capture_output=True, text=True, check=True)
    print(
        f"fixed costs: CLI start {cli:.2f}s (bare python {bare:.2f}s), sales code location load "
        f"{float(load.stdout.split()[-1]):.2f}s, Spark start {float(spark_start.stdout.split()[-1]):.1f}s"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale-factors", type=float, nargs="+", default=[1.0])
    parser.add_argument("--day", type=date.fromisoformat, default=date(1998, 7, 31))
    args = parser.parse_args()
    fixed_costs()
    one_day = {}
    for scale_factor in args.scale_factors:
        print(f"scale factor {scale_factor:g}:")
        one_day[scale_factor] = measure(scale_factor, day=args.day)["one_day"]
    if len(one_day) > 1:
        low, high = min(one_day), max(one_day)
        print(f"one-day run at SF {high:g} / at SF {low:g}: {one_day[high] / one_day[low]:.2f}x")


if __name__ == "__main__":
    main()
