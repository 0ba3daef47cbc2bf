"""OpenLineage run events for catalog tests, as a producer would post them."""

import json
import uuid
from pathlib import Path
from typing import Any

import pyarrow as pa
from deltalake import CommitProperties, DeltaTable, write_deltalake
from lakemesh.lineage import publish_run_id
from lakemesh.lineage.naming import PLATFORM_PRODUCER
from lakemesh.storage.commit import PublishCommit

from ..conftest import contract_doc

PRODUCER = PLATFORM_PRODUCER  # products are what the platform writes; other producers are passed explicitly
SCHEMA_URL = "https://openlineage.io/spec/2-0-2/OpenLineage.json#/$defs/RunEvent"
NS = "warehouse://db"


def facet(**fields: Any) -> dict[str, Any]:
    return {"_producer": PRODUCER, "_schemaURL": "https://example.com/facet.json", **fields}


def dataset(name: str, *, namespace: str = NS, columns: tuple[str, ...] = (), **facets: Any) -> dict[str, Any]:
    found = dict(facets)
    if columns:
        found["schema"] = facet(fields=[{"name": c, "type": "INTEGER"} for c in columns])
    return {"namespace": namespace, "name": name, "facets": found}


def column_lineage(fields: dict[str, list[tuple[str, str]]], *, namespace: str = NS) -> dict[str, Any]:
    """`{"out": [("input_dataset", "input_column"), ...]}` as the OpenLineage column-lineage facet."""
    return facet(
        fields={
            out: {
                "inputFields": [
                    {"namespace": namespace, "name": ds, "field": col, "transformations": [{"type": "DIRECT"}]}
                    for ds, col in sources
                ]
            }
            for out, sources in fields.items()
        }
    )


def run_event(
    job: str,
    *,
    inputs: list[dict] = (),
    outputs: list[dict] = (),
    event_type: str = "COMPLETE",
    run_id: str | None = None,
    event_time: str = "2026-11-20T10:00:00Z",
    run_facets: dict[str, Any] | None = None,
    producer: str = PRODUCER,
) -> dict[str, Any]:
    return {
        "eventType": event_type,
        "eventTime": event_time,
        "producer": producer,
        "schemaURL": SCHEMA_URL,
        "run": {"runId": run_id or str(uuid.uuid4()), "facets": run_facets or {}},
        "job": {"namespace": "etl", "name": job, "facets": {}},
        "inputs": list(inputs),
        "outputs": list(outputs),
    }


def chain(length: int) -> list[dict[str, Any]]:
    """ds0 -> job1 -> ds1 -> job2 -> ... with column `c` flowing through every hop."""
    return [
        run_event(
            f"job{i}",
            inputs=[dataset(f"ds{i - 1}", columns=("c",))],
            outputs=[dataset(f"ds{i}", columns=("c",), columnLineage=column_lineage({"c": [(f"ds{i - 1}", "c")]}))],
        )
        for i in range(1, length + 1)
    ]


def publish_commit(lakehouse: Path, product: str, *, columns: tuple[str, ...] = ("id",)) -> tuple[str, str]:
    """Commit a version of `product` to its real Delta table in `lakehouse` as a platform publish does (its
    `PublishCommit`: step, run and contract); return (version, lineage run id) for the COMPLETE that reports it."""
    domain, name = product.split(".")
    app_id = f"lakemesh/{product}/{uuid.uuid4()}/step"
    contract = contract_doc(product, columns=[{"name": c, "logicalType": "integer"} for c in columns])
    record = PublishCommit(run_id=str(uuid.uuid4()), app_id=app_id, contract=json.dumps(contract))
    write_deltalake(
        str(lakehouse / domain / name),
        pa.table({c: [1, 2] for c in columns}),
        mode="append",
        commit_properties=CommitProperties(custom_metadata=record.metadata()),
    )
    return str(DeltaTable(str(lakehouse / domain / name)).version()), publish_run_id(app_id)
