"""`supply.supplier_delivery_performance` on Spark `local[2]` against the same computation in DuckDB.

For each scale factor, the inputs (`sales.shipments`, `supply.suppliers`) are
written once as Delta tables from TPC-H landing data. Then, interleaved, in one
Spark session (its start-up, a fixed cost, is reported apart; one uncounted
warm-up round per scale factor, then rounds alternating which Spark side goes first):

- `publish`: the platform's path, as the Dagster asset runs it: read the
  inputs at pinned versions, the domain's Spark function, the contract gate
  (Spark aggregates), Spark's native Delta commit;
- `bare spark`: the same function written by Spark with no gate and no metadata;
- `duckdb`: the same computation in DuckDB SQL over the same Delta versions,
  written with deltalake.

The gate's share is the platform path's extra time over `bare spark`, as a
share of the platform path. Prints figures and ratios; asserts nothing.

    uv run python benchmarks/spark_product.py --scale-factors 1 10 --runs 3
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path

PROJECT_DIR = Path(__file__).resolve().parents[1]

DUCKDB_SQL = """
select s.supplier_key,
       date_trunc('month', s.ship_date)::date as ship_month,
       count(*) as shipped_lines,
       count(*) filter (where s.receipt_date > s.commit_date) as late_lines,
       late_lines / shipped_lines as late_ratio,
       avg(s.receipt_date - s.commit_date) filter (where s.receipt_date > s.commit_date) as avg_days_late
from shipments s join suppliers using (supplier_key)
group by all
"""


def _inputs(root: Path, scale_factor: float) -> Path:
    """Landing data and the two input products as Delta tables (written once per scale factor)."""
    import polars as pl
    from deltalake import write_deltalake

    from sample.tpch import generate

    lakehouse = root / f"sf{scale_factor:g}" / "lakehouse"
    landing = root / f"sf{scale_factor:g}" / "landing"
    generate(landing, scale_factor=scale_factor)
    shipments = pl.scan_parquet(landing / "lineitem.parquet").select(
        order_key="l_orderkey",
        line_number="l_linenumber",
        part_key="l_partkey",
        supplier_key="l_suppkey",
        ship_date="l_shipdate",
        commit_date="l_commitdate",
        receipt_date="l_receiptdate",
        ship_mode="l_shipmode",
    )
    shipments.sink_delta(lakehouse / "sales" / "shipments", mode="overwrite")
    suppliers = pl.read_parquet(landing / "supplier.parquet").select(supplier_key="s_suppkey")
    write_deltalake(lakehouse / "supply" / "suppliers", suppliers.to_arrow(), mode="overwrite")
    return lakehouse


def _publish(spark, lakehouse: Path) -> tuple[float, float, int]:
    from lakemesh import Settings, load_contract, publish
    from lakemesh.storage.spark_delta import read_spark_table

    from domains.supply.products import supplier_delivery_performance as product

    settings = Settings.from_env()
    contract = load_contract(PROJECT_DIR / "contracts" / "supply" / "supplier_delivery_performance.yaml")
    started = time.perf_counter()
    frames = {
        "suppliers": read_spark_table(spark, str(lakehouse / "supply" / "suppliers"), version=0),
        "shipments": read_spark_table(spark, str(lakehouse / "sales" / "shipments"), version=0),
    }
    result = publish(product.fn(**frames), contract=contract, settings=settings, run_id=str(uuid.uuid4()))
    return time.perf_counter() - started, result.validate_seconds, result.rows


def _bare_spark(spark, lakehouse: Path, target: Path) -> float:
    from domains.supply.products import supplier_delivery_performance as product

    started = time.perf_counter()
    frames = {
        "suppliers": spark.read.format("delta").load(str(lakehouse / "supply" / "suppliers")),
        "shipments": spark.read.format("delta").load(str(lakehouse / "sales" / "shipments")),
    }
    product.fn(**frames).write.format("delta").mode("overwrite").save(str(target))
    return time.perf_counter() - started


def _duckdb(lakehouse: Path, target: Path) -> tuple[float, int]:
    import duckdb
    from deltalake import DeltaTable, write_deltalake

    started = time.perf_counter()
    with duckdb.connect() as con:
        con.execute("SET threads = 2")
        con.register("shipments", DeltaTable(lakehouse / "sales" / "shipments").to_pyarrow_dataset())
        con.register("suppliers", DeltaTable(lakehouse / "supply" / "suppliers").to_pyarrow_dataset())
        result = con.sql(DUCKDB_SQL).arrow().read_all()
    write_deltalake(target, result, mode="overwrite")
    return time.perf_counter() - started, result.num_rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--scale-factors", type=float, nargs="+", default=[1.0, 10.0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--workdir", type=Path, default=None, help="keep inputs here between invocations")
    args = parser.parse_args()
    sys.path.insert(0, str(PROJECT_DIR))
    root = args.workdir or Path(tempfile.mkdtemp(prefix="lakemesh-spark-bench-"))
    os.environ["LAKEMESH_PROJECT_DIR"] = str(PROJECT_DIR)

    from lakemesh.compute.spark import spark_session

    started = time.perf_counter()
    os.environ["LAKEMESH_LAKEHOUSE"] = str(root / "startup")
    spark = spark_session(master="local[2]")
    spark.range(1).count()
    startup = time.perf_counter() - started
    print(f"Spark local[2] start-up (JVM, Delta jars from the cache, first job): {startup:.1f} s\n")

    medians = {}
    for scale_factor in args.scale_factors:
        lakehouse = _inputs(root, scale_factor)
        os.environ["LAKEMESH_LAKEHOUSE"] = str(lakehouse)
        times: dict[str, list[float]] = {"publish": [], "gate": [], "bare spark": [], "duckdb": []}
        rows = {}
        for run in range(args.runs + 1):  # run 0 warms the JVM's code for this size up and is not counted
            sides = ["publish", "bare spark"] if run % 2 else ["bare spark", "publish"]
            measured = {}
            for side in sides:
                if side == "publish":
                    measured["publish"], measured["gate"], rows["spark"] = _publish(spark, lakehouse)
                else:
                    measured["bare spark"] = _bare_spark(spark, lakehouse, root / f"bare-{scale_factor:g}-{run}")
            measured["duckdb"], rows["duckdb"] = _duckdb(lakehouse, root / f"duckdb-{scale_factor:g}-{run}")
            for name, seconds in measured.items():
                if run:
                    times[name].append(seconds)
        medians[scale_factor] = {name: statistics.median(values) for name, values in times.items()}
        m = medians[scale_factor]
        print(f"SF {scale_factor:g}: {rows['spark']:,} rows (DuckDB: {rows['duckdb']:,}); medians of {args.runs} runs")
        print(f"  publish on Spark   {m['publish']:7.2f} s   (gate + compute pass {m['gate']:.2f} s)")
        print(f"  bare Spark write   {m['bare spark']:7.2f} s")
        print(f"  DuckDB + deltalake {m['duckdb']:7.2f} s")
        ratios = f"publish / DuckDB {m['publish'] / m['duckdb']:.2f}x"
        print(f"  {ratios}; publish / bare Spark {m['publish'] / m['bare spark']:.2f}x")
        gate_share = (m["publish"] - m["bare spark"]) / m["publish"]
        print(f"  the gate's share of the product's wall time: {gate_share:.0%} (aim: at most 20%)\n")
    if len(args.scale_factors) >= 2:
        low, high = args.scale_factors[0], args.scale_factors[-1]
        factor = high / low
        for name in ("publish", "bare spark", "duckdb"):
            growth = medians[high][name] / medians[low][name]
            print(f"SF {low:g} -> {high:g} ({factor:g}x data): {name} took {growth:.2f}x as long "
                  f"({'within' if growth <= factor else 'worse than'} linear)")  # fmt: skip


if __name__ == "__main__":
    main()
