"""`lakemesh run` against a plain script doing the same work, and the start-up time of each CLI command.

The plain script reads the same landing files with polars, writes the seven
Python products with deltalake, runs the project's own dbt model SQL in DuckDB
over them (sources as registered Arrow tables) and writes those results too:
no contracts, no lineage, no orchestration. Both sides run as fresh processes
into fresh lakehouses, interleaved (these machines swing ±30%); the medians
and their ratio are printed with `lakemesh run`'s own split (start-up before
its clock, landing, load, asset steps, orchestration). Then each CLI command
and each code location load, against a bare `python -c pass`. Asserts nothing.

    uv run python benchmarks/main_job.py --scale-factors 0.1 1 --runs 3
"""

from __future__ import annotations

import argparse
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

PROJECT_DIR = Path(__file__).resolve().parents[1]
LAKEMESH = str(Path(sys.executable).with_name("lakemesh"))

PLAIN = r"""
import re, sys, types
from pathlib import Path
import duckdb, polars as pl
from deltalake import write_deltalake
landing, lakehouse, project = Path(sys.argv[1]), sys.argv[2], Path(sys.argv[3])

# The domains' own producer functions, without the platform: `@data_product` only records what they read.
class Producer:
    def __init__(self, fn, name=None, inputs=(), landing=(), columns=None, indirect=None):
        self.fn, self.name, self.landing = fn, name or fn.__name__, tuple(landing)
        self.inputs = dict(inputs) if isinstance(inputs, dict) else {p.split(".")[1]: p for p in inputs}
def data_product(fn=None, **options):
    return Producer(fn, **options) if fn is not None else (lambda f: Producer(f, **options))
sys.modules["lakemesh"] = types.SimpleNamespace(data_product=data_product)
sys.path.insert(0, str(project))
from domains.customers import products as customers
from domains.sales import products as sales
from domains.supply import products as supply

def files(table):  # a snapshot's file, or the folder of a table that arrives by the day
    return landing / table / "*.parquet" if (landing / table).is_dir() else landing / f"{table}.parquet"
tables = {}
for domain, module in (("customers", customers), ("sales", sales), ("supply", supply)):
    for product in [v for v in vars(module).values() if isinstance(v, Producer)]:
        frames = {t: pl.scan_parquet(files(t)) for t in product.landing}
        frames |= {p: tables[u].lazy() for p, u in product.inputs.items()}
        result = product.fn(**frames)
        frame = result.collect() if isinstance(result, pl.LazyFrame) else result
        write_deltalake(f"{lakehouse}/{domain}/{product.name}", frame.to_arrow(), mode="overwrite")
        tables[f"{domain}.{product.name}"] = frame
con = duckdb.connect()
source = re.compile(r"\{\{\s*source\('(\w+)',\s*'(\w+)'\)\s*\}\}")
pending = sorted((project / "dbt_project" / "models").glob("*/*.sql"))
while pending:  # in dependency order: a model whose sources are all there
    for model in pending:
        sql = model.read_text()
        if all(d == "landing" or f"{d}.{t}" in tables for d, t in source.findall(sql)):
            break
    pending.remove(model)
    for domain, table in set(source.findall(sql)):
        if domain != "landing":
            con.register(f"{domain}__{table}", tables[f"{domain}.{table}"].to_arrow())
    def relation(m):
        return f"read_parquet('{files(m[2])}')" if m[1] == "landing" else f"{m[1]}__{m[2]}"
    sql = source.sub(relation, sql)
    frame = con.sql(sql).pl()
    domain = model.parent.name
    write_deltalake(f"{lakehouse}/{domain}/{model.stem}", frame.to_arrow(), mode="overwrite")
    tables[f"{domain}.{model.stem}"] = frame
"""

_SPLIT = re.compile(
    r"wall (?P<wall>[\d.]+)s: generate (?P<generate>[\d.]+)s, load (?P<load>[\d.]+)s, materialize "
    r"(?P<materialize>[\d.]+)s \(asset steps (?P<steps>[\d.]+)s, orchestration (?P<orchestration>[\d.]+)s\)"
)


def _timed(command: list[str], env: dict[str, str]) -> tuple[float, str]:
    started = time.perf_counter()
    done = subprocess.run(command, cwd=PROJECT_DIR, env=env, capture_output=True, text=True, check=False)
    seconds = time.perf_counter() - started
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(command)} failed:\n{done.stdout[-2000:]}\n{done.stderr[-2000:]}")
    return seconds, done.stdout


def main_job(scale_factor: float, runs: int, work: Path) -> None:
    landing = work / f"landing-{scale_factor}"
    env = {**os.environ, "LAKEMESH_LANDING": str(landing), "COLUMNS": "200"}
    env.pop("DAGSTER_HOME", None)
    subprocess.run([LAKEMESH, "generate", "-s", str(scale_factor)], env=env, check=True, capture_output=True)
    plain, lakemesh, splits = [], [], []
    for run in range(runs):
        for side in ("plain", "lakemesh"):
            lakehouse = work / f"{side}-{scale_factor}-{run}"
            side_env = {**env, "LAKEMESH_LAKEHOUSE": str(lakehouse)}
            if side == "plain":
                command = [sys.executable, "-c", PLAIN, str(landing), str(lakehouse), str(PROJECT_DIR)]
                plain.append(_timed(command, side_env)[0])
            else:
                seconds, output = _timed([LAKEMESH, "run", "-s", str(scale_factor)], side_env)
                lakemesh.append(seconds)
                split = {k: float(v) for k, v in _SPLIT.search(" ".join(output.split())).groupdict().items()}
                splits.append({"start-up": seconds - split["wall"], **split})
    p, m = statistics.median(plain), statistics.median(lakemesh)
    print(f"\nscale factor {scale_factor}, {runs} interleaved runs, medians:")
    print(f"  plain script  {p:6.2f} s   {[round(s, 2) for s in plain]}")
    print(f"  lakemesh run  {m:6.2f} s   {[round(s, 2) for s in lakemesh]}   ratio {m / p:.2f}x")
    for key in ("start-up", "generate", "load", "steps", "orchestration"):
        value = statistics.median(s[key] for s in splits)
        print(f"    {key:14s} {value:6.2f} s  ({value / m:5.1%} of wall)")


def start_up(runs: int, work: Path) -> None:
    lakehouse = work / "lakemesh-0.1-0"  # a lakehouse the main job filled, with its catalog
    env = {**os.environ, "LAKEMESH_LAKEHOUSE": str(lakehouse), "LAKEMESH_LANDING": str(work / "landing-0.1")}
    commands = {
        "python -c pass (baseline)": [sys.executable, "-c", "pass"],
        "lakemesh --help": [LAKEMESH, "--help"],
        "catalog list": [LAKEMESH, "catalog", "list"],
        "catalog show": [LAKEMESH, "catalog", "show", "sales.revenue_by_nation"],
        "catalog lineage": [LAKEMESH, "catalog", "lineage", "sales.revenue_by_nation"],
        "catalog impact": [LAKEMESH, "catalog", "impact", "customers.nation.region_name"],
        "read": [LAKEMESH, "read", "sales.orders"],
    }
    commands |= {
        f"load location {d}": [sys.executable, "-c", f"import domains.{d}.definitions"]
        for d in ("customers", "sales", "supply")
    }
    print(f"\nstart-up, median of {runs}:")
    for name, command in commands.items():
        seconds = statistics.median(_timed(command, env)[0] for _ in range(runs))
        print(f"  {name:28s} {seconds:6.2f} s")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale-factors", type=float, nargs="+", default=[0.1, 1.0])
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="lakemesh-bench-") as folder:
        work = Path(folder)
        for scale_factor in args.scale_factors:
            main_job(scale_factor, args.runs, work)
        if 0.1 in args.scale_factors:
            start_up(args.runs, work)


if __name__ == "__main__":
    main()
