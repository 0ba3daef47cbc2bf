"""Training `logistics.late_delivery` through the platform against bare `xgboost.train` on the same arrays.

The features of TPC-H at the given scale factor are written once as a Delta
table (the domain's own function over the landing data). Then, interleaved,
each side in a fresh child process (so its peak RSS is its own):

- `platform`: Delta at a pinned version -> Arrow batches -> `QuantileDMatrix`
  (a `DataIter`) -> `xgboost.train` with the gate's evaluation -> the drift
  baseline -> logged and registered in MLflow (SQLite store);
- `bare`: the same encoded features already in memory as numpy arrays
  (loaded before the clock starts) -> `QuantileDMatrix` -> `xgboost.train`,
  the same parameters, rounds and evaluation set.

Prints medians, the ratio (aim: at most 1.2x), MLflow's start-up (a fixed cost,
reported apart like Spark's) and each side's peak RSS; with
`--devices cpu cuda` on a machine with a GPU, the GPU/CPU speed-up of each.
Asserts nothing.

    uv run python benchmarks/model_training.py --scale-factor 1 --runs 3
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
import json, resource, sys, time
from dataclasses import replace
sys.path.insert(0, sys.argv[4])
side, device, lakehouse = sys.argv[1], sys.argv[2], sys.argv[3]
import os
os.environ["LAKEMESH_LAKEHOUSE"] = lakehouse
import numpy as np, pyarrow as pa, pyarrow.compute as pc, xgboost
from lakemesh import Settings, load_contract
from lakemesh.ml.features import FeatureSource
from lakemesh.ml.training import train_model
from domains.logistics.models import late_delivery as spec
settings = Settings.from_env(project_dir=__import__("pathlib").Path(sys.argv[4]))
contract = load_contract(settings.project_dir / "contracts" / "logistics" / "shipment_features.yaml")
source = FeatureSource.open(spec, contract, version=0, settings=settings)
startup = 0.0
if side == "platform":
    started = time.perf_counter()
    from lakemesh.ml.registry import ModelRegistry
    registry = ModelRegistry.for_settings(settings)
    registry.check_reachable()  # as the asset does, before training
    startup = time.perf_counter() - started
    trained = train_model(source, device=device)
    registry.register(name=spec.registered_name, alias="bench", booster=trained.booster, encoding=trained.encoding,
                      baseline=trained.baseline, params=trained.params, metrics=trained.metrics,
                      tags={"lakemesh.device": trained.device}, description="benchmark")
    seconds, auc, reported = time.perf_counter() - started, trained.metrics["auc"], trained.device
else:
    encoding = source.encoding()
    def arrays(period):
        parts = [(encoding.encode(b), pc.cast(b.column(spec.label), pa.float32()).to_numpy(zero_copy_only=False))
                 for b in source.batches(period, [*encoding.columns, spec.label])]
        return np.concatenate([p[0] for p in parts]), np.concatenate([p[1] for p in parts])
    (x_train, y_train), (x_valid, y_valid) = arrays(source.training), arrays(source.validation)
    started = time.perf_counter()
    kinds = dict(feature_names=list(encoding.columns), feature_types=encoding.feature_types, enable_categorical=True)
    train = xgboost.QuantileDMatrix(x_train, y_train, **kinds)
    valid = xgboost.QuantileDMatrix(x_valid, y_valid, ref=train, **kinds)
    params = {"objective": "binary:logistic", "seed": 0, **spec.params, "tree_method": "hist", "device": device,
              "eval_metric": list(spec.gate)}
    result = {}
    booster = xgboost.train(params, train, spec.rounds, evals=[(valid, "validation")], evals_result=result,
                            verbose_eval=False)
    seconds, auc = time.perf_counter() - started, result["validation"]["auc"][-1]
    reported = json.loads(booster.save_config())["learner"]["generic_param"]["device"]
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
print(json.dumps({"seconds": seconds, "startup": startup, "peak_mib": peak, "auc": auc, "device": reported}))
"""


def _features(root: Path, scale_factor: float) -> Path:
    """The feature product's table at version 0, computed by the domain's function from TPC-H landing data."""
    import polars as pl
    from deltalake import write_deltalake

    from domains.logistics.products import shipment_features
    from sample.tpch import generate

    lakehouse = root / f"sf{scale_factor:g}" / "lakehouse"
    table = lakehouse / "logistics" / "shipment_features"
    if (table / "_delta_log").is_dir():
        return lakehouse
    landing = root / f"sf{scale_factor:g}" / "landing"
    generate(landing, scale_factor=scale_factor)

    def read(name: str, **columns: str) -> pl.LazyFrame:
        return pl.scan_parquet(landing / f"{name}.parquet").select(**{k: pl.col(v) for k, v in columns.items()})

    frame = shipment_features.fn(
        shipments=read("lineitem", order_key="l_orderkey", line_number="l_linenumber", part_key="l_partkey",
                       supplier_key="l_suppkey", ship_date="l_shipdate", commit_date="l_commitdate",
                       receipt_date="l_receiptdate", ship_mode="l_shipmode", ship_instruct="l_shipinstruct",
                       quantity="l_quantity", discount="l_discount"),
        orders=read("orders", order_key="o_orderkey", customer_key="o_custkey", order_date="o_orderdate",
                    order_priority="o_orderpriority"),
        customer=read("customer", customer_key="c_custkey", nation_key="c_nationkey"),
        nation=read("nation", nation_key="n_nationkey", nation_name="n_name"),
        suppliers=read("supplier", supplier_key="s_suppkey", nation_key="s_nationkey"),
        parts=read("part", part_key="p_partkey", size="p_size", part_type="p_type"),
    ).collect()  # fmt: skip
    write_deltalake(table, frame.to_arrow(), mode="overwrite")
    return lakehouse


def _side(side: str, device: str, lakehouse: Path) -> dict:
    done = subprocess.run(
        [sys.executable, "-c", CHILD, side, device, str(lakehouse), str(PROJECT_DIR)],
        capture_output=True,
        text=True,
        check=False,
        env={**os.environ, "LAKEMESH_PROJECT_DIR": str(PROJECT_DIR)},
    )
    if done.returncode:
        raise SystemExit(f"{side} on {device} failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--scale-factor", type=float, default=1.0)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--devices", nargs="+", default=["cpu"], choices=["cpu", "cuda"])
    parser.add_argument("--workdir", type=Path, default=None, help="keep the features here between invocations")
    args = parser.parse_args()
    sys.path.insert(0, str(PROJECT_DIR))
    lakehouse = _features(args.workdir or Path(tempfile.mkdtemp(prefix="lakemesh-train-bench-")), args.scale_factor)
    medians = {}
    for device in args.devices:
        results: dict[str, list[dict]] = {"platform": [], "bare": []}
        for run in range(args.runs):
            for side in ("platform", "bare") if run % 2 == 0 else ("bare", "platform"):
                results[side].append(_side(side, device, lakehouse))
        for side, runs in results.items():
            medians[device, side] = statistics.median(r["seconds"] for r in runs)
            peak = max(r["peak_mib"] for r in runs)
            print(f"{device:4s} {side:8s} {medians[device, side]:7.2f} s   peak RSS {peak:7.0f} MiB   "
                  f"validation AUC {runs[-1]['auc']:.4f}   XGBoost device {runs[-1]['device']}")  # fmt: skip
        ratio = medians[device, "platform"] / medians[device, "bare"]
        startup = statistics.median(r["startup"] for r in results["platform"])
        steady = (medians[device, "platform"] - startup) / medians[device, "bare"]
        print(f"{device:4s} platform / bare xgboost.train: {ratio:.2f}x (aim: at most 1.2x)")
        print(
            f"{device:4s} of which MLflow start-up (import, open the store; fixed): {startup:.2f} s; "
            f"without it {steady:.2f}x\n"
        )
    if "cuda" in args.devices and "cpu" in args.devices:
        for side in ("platform", "bare"):
            print(f"GPU speed-up, {side}: {medians['cpu', side] / medians['cuda', side]:.2f}x")


if __name__ == "__main__":
    main()
