"""OpenLineage run events for catalog tests, as a producer would post them."""

import uuid
from typing import Any

from lakemesh.lineage.naming import PLATFORM_PRODUCER

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
