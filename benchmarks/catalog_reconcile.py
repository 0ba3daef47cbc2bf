"""Reconcile benchmark: `lakemesh catalog reconcile` over 1,000 products x 100 published versions.

Each product's Delta log is written as a publish leaves it (every commit with
the platform's commit metadata: app id, contract, Dagster run, inputs), then
the catalog is reconciled twice: from empty (every version recorded from the
logs) and when already in agreement (the steady state after every run). The
baseline, measured in the same run, is reading the same logs' history with
deltalake alone, which reconcile cannot avoid.

    uv run python benchmarks/catalog_reconcile.py --products 1000 --versions 100
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
from lakemesh.storage.commit import PublishCommit


def contract(product: str) -> dict:
    domain, name = product.split(".")
    return {
        "apiVersion": "v3.0.2",
        "kind": "DataContract",
        "id": f"urn:bench:{product}",
        "version": "1.0.0",
        "status": "active",
        "domain": domain,
        "dataProduct": name,
        "team": {"name": f"{domain}-team"},
        "description": {"purpose": f"Benchmark product {product}."},
        "schema": [
            {
                "name": name,
                "physicalType": "table",
                "properties": [{"name": "id", "logicalType": "integer", "physicalType": "bigint", "required": True}],
            }
        ],
        "customProperties": [
            {"property": "writeMode", "value": "overwrite"},
            {"property": "producer", "value": "python"},
        ],
    }


def write_log(table: Path, product: str, versions: int) -> None:
    """A Delta table whose log holds `versions` overwrites by the platform's publish."""
    log = table / "_delta_log"
    log.mkdir(parents=True)
    pq.write_table(pa.table({"id": pa.array(range(10), pa.int64())}), table / "part-0.parquet")
    schema = json.dumps(
        {"type": "struct", "fields": [{"name": "id", "type": "long", "nullable": False, "metadata": {}}]}
    )
    document = json.dumps(contract(product))
    started = int(time.time() * 1000) - versions * 1000
    for version in range(versions):
        run = str(uuid.uuid4())
        actions = []
        if version == 0:
            actions.append({"protocol": {"minReaderVersion": 1, "minWriterVersion": 2}})
            actions.append(
                {
                    "metaData": {
                        "id": str(uuid.uuid4()),
                        "format": {"provider": "parquet", "options": {}},
                        "schemaString": schema,
                        "partitionColumns": [],
                        "configuration": {},
                        "createdTime": started,
                    }
                }
            )
        app_id = f"lakemesh/{product}/{run}/publish"
        actions.append({"txn": {"appId": app_id, "version": 0, "lastUpdated": started + version * 1000}})
        actions.append(
            {
                "add": {
                    "path": "part-0.parquet",
                    "size": (table / "part-0.parquet").stat().st_size,
                    "partitionValues": {},
                    "modificationTime": started,
                    "dataChange": True,
                }
            }
        )
        actions.append(
            {
                "commitInfo": {
                    "timestamp": started + version * 1000,
                    "operation": "WRITE",
                    "operationParameters": {"mode": "Overwrite"},
                    "operationMetrics": {"num_added_rows": 10},
                    **PublishCommit(
                        app_id=app_id,
                        run_id=run,
                        contract_id=f"urn:bench:{product}",
                        contract_version="1.0.0",
                        contract=document,
                        code_version="",
                        inputs={},
                    ).metadata(),
                }
            }
        )
        (log / f"{version:020d}.json").write_text("\n".join(json.dumps(a) for a in actions) + "\n")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--products", type=int, default=1000)
    parser.add_argument("--versions", type=int, default=100)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        os.environ["LAKEMESH_LAKEHOUSE"] = f"{tmp}/lakehouse"
        os.environ["LAKEMESH_CATALOG"] = f"{tmp}/catalog.sqlite"
        from deltalake import DeltaTable
        from lakemesh.catalog import Catalog
        from lakemesh.catalog.reconcile import reconcile
        from lakemesh.settings import Settings

        settings = Settings.from_env()
        products = [f"d{i // 100}.p{i % 100}" for i in range(args.products)]
        began = time.perf_counter()
        with ThreadPoolExecutor(4) as pool:
            list(pool.map(lambda p: write_log(Path(settings.table_uri(p)), p, args.versions), products))
        print(f"{len(products):,} products x {args.versions} versions written in {time.perf_counter() - began:.0f}s")

        began = time.perf_counter()
        with ThreadPoolExecutor(8) as pool:
            read = sum(pool.map(lambda p: len(DeltaTable(settings.table_uri(p)).history()), products))
        baseline = time.perf_counter() - began
        assert read == len(products) * args.versions

        began = time.perf_counter()
        first = reconcile(settings, products=products)
        from_empty = time.perf_counter() - began
        assert len(first.recorded) == len(products) * args.versions, first.problems[:3]

        began = time.perf_counter()
        again = reconcile(settings, products=products)
        in_sync = time.perf_counter() - began
        assert again.recorded == [] and again.aborted == []
        catalog = Catalog(settings.catalog_url)
        assert catalog.dataset(settings.namespace, products[-1])["currentVersion"] == str(args.versions - 1)

    commits = len(products) * args.versions
    print(f"{'':34} {'seconds':>8} {'commits/s':>10} {'x baseline':>11}")
    print(f"{'read the Delta logs (baseline)':34} {baseline:8.1f} {commits / baseline:10,.0f} {1:11.1f}")
    print(
        f"{'reconcile, catalog empty':34} {from_empty:8.1f} {commits / from_empty:10,.0f} {from_empty / baseline:11.1f}"
    )
    print(
        f"{'reconcile, catalog in agreement':34} {in_sync:8.1f} {commits / in_sync:10,.0f} {in_sync / baseline:11.1f}"
    )


if __name__ == "__main__":
    main()
