"""Publishing `sales.line_items` through the whole gate vs a bare `write_deltalake` of the same Arrow table.

Interleaved runs (these machines swing ±30%), medians, and each side's peak RSS
measured in a fresh child process. Prints ratios; asserts nothing. Then the
cost of an append's primary-key check (the batch's keys against the table's)
for tables of 1, 5 and 10 times the batch, against the gate without it: with
the table's keys all below the batch's range (new keys, as appends usually
bring: statistics skip every file) and inside it (nothing can be skipped).

    uv run python benchmarks/publish_overhead.py --scale-factor 1 --runs 5
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

PROJECT_DIR = Path(__file__).resolve().parents[1]

CHILD = r"""
import json, resource, sys, time, uuid
from pathlib import Path
import polars as pl
from deltalake import write_deltalake
mode, landing, target = sys.argv[1], Path(sys.argv[2]), sys.argv[3]
sys.path.insert(0, sys.argv[4])
from domains.sales.products import line_items
from lakemesh import load_contract, publish
from lakemesh.settings import Settings
frame = line_items.fn(pl.read_parquet(landing / "lineitem.parquet").lazy()).collect()
table = frame.to_arrow()
started = time.perf_counter()
if mode == "publish":  # once per process, not per publish: import the catalog, check its migrations
    from lakemesh.catalog import Catalog
    Catalog(Settings.from_env().catalog_url)
setup = time.perf_counter() - started
started = time.perf_counter()
if mode == "bare":
    write_deltalake(target, table, mode="overwrite")
    detail = {}
else:
    contract = load_contract(Path(sys.argv[4]) / "contracts" / "sales" / "line_items.yaml")
    result = publish(table, contract=contract, settings=Settings.from_env(), run_id=str(uuid.uuid4()))
    detail = {"validate": result.validate_seconds, "write": result.write_seconds}
seconds = time.perf_counter() - started
peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
print(json.dumps({"seconds": seconds, "setup": setup, "rows": frame.height, "peak_mb": peak_mb, **detail}))
"""

KEY_CHECK = r"""
import json, sys, time
from pathlib import Path
import polars as pl
from deltalake import write_deltalake
landing, root, project, multiples = Path(sys.argv[1]), Path(sys.argv[2]), sys.argv[3], sys.argv[4]
runs = int(sys.argv[5])
sys.path.insert(0, project)
from domains.sales.products import line_items
from lakemesh import load_contract
from lakemesh.quality import validate
contract = load_contract(Path(project) / "contracts" / "sales" / "line_items.yaml")
frame = line_items.fn(pl.read_parquet(landing / "lineitem.parquet").lazy()).collect()
keys = frame.select("order_key", "line_number")
span = int(keys["order_key"].max()) + 1
out = {}
layouts = {  # the table's keys, none of them in the batch: all below the batch's range, or inside it
    "below": lambda copy: keys.with_columns(pl.col("order_key") - span * (copy + 1)),
    "inside": lambda copy: keys.with_columns(pl.col("line_number") + 10 * (copy + 1)),
}
for multiple in map(int, multiples.split(",")):
    for layout, shifted in layouts.items():
        uri = str(root / f"keys_{layout}_{multiple}")
        for copy in range(multiple):
            write_deltalake(uri, shifted(copy).to_arrow(), mode="append")
        plain, checked = [], []
        for _ in range(runs):  # interleaved
            started = time.perf_counter(); validate(frame, contract); plain.append(time.perf_counter() - started)
            started = time.perf_counter()
            report = validate(frame, contract, existing_keys=pl.scan_delta(uri).select("order_key", "line_number"))
            checked.append(time.perf_counter() - started)
            assert report.passed
        out[f"{multiple}x {layout}"] = {"plain": sorted(plain)[runs // 2], "checked": sorted(checked)[runs // 2]}
print(json.dumps(out))
"""


def _once(mode: str, landing: Path, root: Path) -> dict:
    env = dict(
        os.environ,
        LAKEMESH_LAKEHOUSE=str(root / "lakehouse"),
        LAKEMESH_LANDING=str(landing),
        LAKEMESH_PROJECT_DIR=str(PROJECT_DIR),
    )
    target = str(root / "bare" / "line_items")  # both sides overwrite an existing table after run 1
    out = subprocess.run(
        [sys.executable, "-c", CHILD, mode, str(landing), target, str(PROJECT_DIR)],
        env=env,
        check=True,
        capture_output=True,
        text=True,
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale-factor", type=float, default=1.0)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()

    from lakemesh.storage.landing import landing_generator

    generate_tpch = landing_generator(PROJECT_DIR)

    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        landing = root / "landing"
        generate_tpch(landing, scale_factor=args.scale_factor)
        results: dict[str, list[dict]] = {"bare": [], "publish": []}
        for _ in range(args.runs):  # interleaved: bare, publish, bare, publish...
            for mode in results:
                results[mode].append(_once(mode, landing, root))

    bare = statistics.median(r["seconds"] for r in results["bare"])
    gated = statistics.median(r["seconds"] for r in results["publish"])
    rows = results["bare"][0]["rows"]
    print(f"sales.line_items at SF {args.scale_factor}: {rows:,} rows, {args.runs} interleaved runs each")
    print(
        f"  bare write_deltalake   median {bare:6.2f}s  peak RSS {max(r['peak_mb'] for r in results['bare']):7.0f} MB"
    )
    peak = max(r["peak_mb"] for r in results["publish"])
    print(
        f"  lakemesh publish       median {gated:6.2f}s  peak RSS {peak:7.0f} MB"
        f"  (validate {statistics.median(r['validate'] for r in results['publish']):.2f}s,"
        f" write {statistics.median(r['write'] for r in results['publish']):.2f}s;"
        f" once per process: catalog set-up {statistics.median(r['setup'] for r in results['publish']):.2f}s)"
    )
    print(f"  ratio publish / bare: {gated / bare:.2f}x")

    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        landing = root / "landing"
        generate_tpch(landing, scale_factor=args.scale_factor)
        out = subprocess.run(
            [sys.executable, "-c", KEY_CHECK, str(landing), str(root), str(PROJECT_DIR), "1,5,10", str(args.runs)],
            check=True,
            capture_output=True,
            text=True,
        )
        costs = json.loads(out.stdout.strip().splitlines()[-1])
    print(f"append primary-key check ({rows:,} batch rows against the table's keys), medians of {args.runs}:")
    for case, cost in costs.items():
        extra = cost["checked"] - cost["plain"]
        multiple, layout = case.split()
        print(
            f"  table {multiple:>3} the batch, keys {layout:>6} its range:"
            f" gate {cost['plain']:.2f}s -> {cost['checked']:.2f}s"
            f" (+{extra:.2f}s, {cost['checked'] / cost['plain']:.2f}x; vs bare write {extra / bare:.2f}x)"
        )


if __name__ == "__main__":
    main()
