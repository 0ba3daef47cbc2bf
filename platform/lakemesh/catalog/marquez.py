"""Catalog rows in Marquez's JSON shapes, which the HTTP API serves as they are.

Namespaces, datasets and their versions, jobs and runs read the way Marquez
writes them (timestamps in UTC with a `Z`), so Marquez clients work unchanged;
lineage graphs take the `*_node_json` forms, without facets.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa

from lakemesh.catalog import model as m

__all__ = [
    "dataset_json",
    "dataset_node_json",
    "iso",
    "job_node_json",
    "jobs_json",
    "namespace_json",
    "runs_json",
    "version_json",
]


def iso(value: datetime | None) -> str | None:
    """ISO-8601 in UTC with a `Z`, the way Marquez writes timestamps."""
    if value is None:
        return None
    if value.tzinfo is not UTC:
        value = value.astimezone(UTC)
    return value.replace(tzinfo=None).isoformat() + "Z"  # graphs format thousands of these


def runs_json(db: sa.Connection, run_ids: Iterable[str], *, summary: bool = False) -> dict[str, dict[str, Any]]:
    """Runs in Marquez's shape; a `summary` (for graph nodes) leaves out facets and dataset versions."""
    ids = list(dict.fromkeys(run_ids))
    if not ids:
        return {}
    r, io, d, j = m.runs, m.run_io, m.datasets, m.jobs
    columns = [c for c in r.c if not (summary and c.name == "facets")]
    rows = db.execute(
        sa.select(*columns, j.c.namespace.label("job_namespace"), j.c.name.label("job_name"))
        .join(j, j.c.id == r.c.job_id)
        .where(r.c.run_id.in_(ids))
    ).all()
    versions: dict[str, dict[str, list]] = {i: {"input": [], "output": []} for i in ids}
    if summary:
        return {row.run_id: _run_json(row, versions[row.run_id]) for row in rows}
    for row in db.execute(
        sa.select(io.c.run_id, io.c.direction, io.c.version, d.c.namespace, d.c.name)
        .join(d, d.c.id == io.c.dataset_id)
        .where(io.c.run_id.in_(ids))
        .order_by(d.c.name)
    ):
        versions[row.run_id][row.direction].append(
            {
                "datasetVersionId": {"namespace": row.namespace, "name": row.name, "version": row.version},
                "facets": {},
            }
        )
    return {row.run_id: _run_json(row, versions[row.run_id]) for row in rows}


def namespace_json(row: sa.Row) -> dict[str, Any]:
    return {
        "name": row.name,
        "createdAt": iso(row.created_at),
        "updatedAt": iso(row.updated_at),
        "ownerName": None,
        "description": None,
        "isHidden": False,
    }


def dataset_node_json(row: sa.Row) -> dict[str, Any]:
    """A dataset as lineage graphs show it (Marquez's `DatasetData`: no facets)."""
    return {
        "id": {"namespace": row.namespace, "name": row.name},
        "type": "DB_TABLE",
        "name": row.name,
        "physicalName": row.name,
        "createdAt": iso(row.created_at),
        "updatedAt": iso(row.updated_at),
        "namespace": row.namespace,
        "sourceName": row.namespace,
        "fields": row.fields or [],
        "tags": [],
        "lastModifiedAt": iso(row.last_modified_at),
        "lastLifecycleState": None,
        "description": row.description,
    }


def dataset_json(row: sa.Row) -> dict[str, Any]:
    return {
        **dataset_node_json(row),
        "currentVersion": row.current_version,
        "facets": row.facets or {},
        "deleted": False,
    }


def version_json(dataset: sa.Row, row: sa.Row, run: dict[str, Any] | None) -> dict[str, Any]:
    return {
        "id": {"namespace": dataset.namespace, "name": dataset.name, "version": row.version},
        "type": "DB_TABLE",
        "name": dataset.name,
        "physicalName": dataset.name,
        "createdAt": iso(row.created_at),
        "version": row.version,
        "namespace": dataset.namespace,
        "sourceName": dataset.namespace,
        "fields": row.fields or [],
        "tags": [],
        "lifecycleState": None,
        "description": dataset.description,
        "createdByRun": run,
        "facets": row.facets or {},
    }


def job_node_json(row: sa.Row, io: Mapping[str, list], latest_run: dict[str, Any] | None) -> dict[str, Any]:
    """A job as lineage graphs show it (Marquez's `JobData`)."""
    return {
        "id": {"namespace": row.namespace, "name": row.name},
        "type": "BATCH",
        "name": row.name,
        "simpleName": row.name.rsplit(".", 1)[-1],
        "parentJobName": None,
        "createdAt": iso(row.created_at),
        "updatedAt": iso(row.updated_at),
        "namespace": row.namespace,
        "inputs": io["input"],
        "outputs": io["output"],
        "location": row.location,
        "description": row.description,
        "latestRun": latest_run,
    }


def _job_json(row: sa.Row, io: Mapping[str, list], latest_run: dict[str, Any] | None) -> dict[str, Any]:
    return {**job_node_json(row, io, latest_run), "facets": row.facets or {}, "currentVersion": None}


def _run_json(row: sa.Row, versions: Mapping[str, list]) -> dict[str, Any]:
    duration = None
    if row.started_at and row.ended_at:
        duration = int((row.ended_at - row.started_at).total_seconds() * 1000)
    return {
        "id": row.run_id,
        "createdAt": iso(row.created_at),
        "updatedAt": iso(row.updated_at),
        "nominalStartTime": iso(row.nominal_start_time),
        "nominalEndTime": iso(row.nominal_end_time),
        "state": row.state,
        "startedAt": iso(row.started_at),
        "endedAt": iso(row.ended_at),
        "durationMs": duration,
        "args": {},
        "jobVersion": {"namespace": row.job_namespace, "name": row.job_name, "version": None},
        "inputDatasetVersions": versions["input"],
        "outputDatasetVersions": versions["output"],
        "context": {},
        "facets": row._mapping.get("facets") or {},
    }


def jobs_json(db: sa.Connection, rows: list[sa.Row]) -> list[dict[str, Any]]:
    """Jobs in Marquez's shape, with their inputs, outputs and latest run."""
    if not rows:
        return []
    io, d = m.job_io, m.datasets
    by_job: dict[int, dict[str, list]] = {row.id: {"input": [], "output": []} for row in rows}
    for link in db.execute(
        sa.select(io.c.job_id, io.c.direction, d.c.namespace, d.c.name)
        .join(d, d.c.id == io.c.dataset_id)
        .where(io.c.job_id.in_(list(by_job)))
        .order_by(d.c.name)
    ):
        by_job[link.job_id][link.direction].append({"namespace": link.namespace, "name": link.name})
    latest = runs_json(db, [row.latest_run_id for row in rows if row.latest_run_id])
    return [_job_json(row, by_job[row.id], latest.get(row.latest_run_id)) for row in rows]
