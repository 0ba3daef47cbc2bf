"""The embedded catalog: an OpenLineage event store with products, runs, quality and lineage.

Everything in it is derived from OpenLineage run events, so events that arrive
in-process and events posted by any other producer are handled the same way.
"""

from __future__ import annotations

import json
import sqlite3
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, Self

from openlineage.client.serde import Serde

__all__ = ["Catalog", "LineageNode", "ProductEntry", "RunEntry"]

_SCHEMA = """
CREATE TABLE IF NOT EXISTS events (
    id INTEGER PRIMARY KEY, event_time TEXT NOT NULL, event_type TEXT, run_id TEXT NOT NULL,
    job_namespace TEXT NOT NULL, job_name TEXT NOT NULL, payload TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS datasets (
    namespace TEXT NOT NULL, name TEXT NOT NULL, description TEXT, owner TEXT,
    contract_id TEXT, contract_version TEXT, access TEXT, location TEXT, freshness_hours REAL,
    schema_json TEXT, current_version TEXT, updated_at TEXT, PRIMARY KEY (namespace, name));
CREATE TABLE IF NOT EXISTS runs (
    run_id TEXT PRIMARY KEY, job_namespace TEXT NOT NULL, job_name TEXT NOT NULL, state TEXT,
    started_at TEXT, ended_at TEXT, parent_run_id TEXT, error TEXT);
CREATE TABLE IF NOT EXISTS run_datasets (
    run_id TEXT NOT NULL, direction TEXT NOT NULL, namespace TEXT NOT NULL, name TEXT NOT NULL,
    version TEXT, row_count INTEGER, PRIMARY KEY (run_id, direction, namespace, name));
CREATE TABLE IF NOT EXISTS job_datasets (
    job_namespace TEXT NOT NULL, job_name TEXT NOT NULL, direction TEXT NOT NULL,
    namespace TEXT NOT NULL, name TEXT NOT NULL,
    PRIMARY KEY (job_namespace, job_name, direction, namespace, name));
CREATE TABLE IF NOT EXISTS assertions (
    run_id TEXT NOT NULL, namespace TEXT NOT NULL, name TEXT NOT NULL, assertion TEXT NOT NULL,
    column_name TEXT, success INTEGER NOT NULL, PRIMARY KEY (run_id, namespace, name, assertion));
CREATE INDEX IF NOT EXISTS job_datasets_by_dataset ON job_datasets (namespace, name, direction);
CREATE INDEX IF NOT EXISTS runs_by_job ON runs (job_namespace, job_name);
"""
_TERMINAL = ("COMPLETE", "FAIL", "ABORT")


@dataclass(frozen=True, kw_only=True)
class RunEntry:
    run_id: str
    state: str
    started_at: str | None
    ended_at: str | None
    error: str | None


@dataclass(frozen=True, kw_only=True)
class ProductEntry:
    """What the catalog knows of one dataset."""

    namespace: str
    name: str
    description: str | None
    owner: str | None
    contract_id: str | None
    contract_version: str | None
    access: str | None
    location: str | None
    freshness_hours: float | None
    columns: list[dict[str, Any]]
    current_version: str | None
    updated_at: str | None
    last_run: RunEntry | None
    checks: dict[str, bool]


@dataclass(frozen=True, kw_only=True)
class LineageNode:
    """A dataset in a lineage tree, with the job that links it to its parent in the tree."""

    namespace: str
    name: str
    via_job: str | None
    children: list[LineageNode]


class Catalog:
    """A SQLite-backed catalog; open it as a context manager."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(path, timeout=30)
        self._db.row_factory = sqlite3.Row
        self._db.executescript(_SCHEMA)

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self._db.close()

    # -- ingestion ---------------------------------------------------------------------------

    def ingest(self, event: Any) -> None:
        """Store one OpenLineage run event (an `openlineage-python` event or its JSON dict)."""
        payload = event if isinstance(event, dict) else Serde.to_dict(event)
        run, job = payload["run"], payload["job"]
        run_id, state, when = run["runId"], payload.get("eventType"), payload["eventTime"]
        job_ns, job_name = job["namespace"], job["name"]
        with self._db:
            db = self._db
            db.execute(
                "INSERT INTO events (event_time, event_type, run_id, job_namespace, job_name, payload)"
                " VALUES (?, ?, ?, ?, ?, ?)",
                (when, state, run_id, job_ns, job_name, json.dumps(payload)),
            )
            facets = run.get("facets") or {}
            parent = (facets.get("parent") or {}).get("run", {}).get("runId")
            error = (facets.get("errorMessage") or {}).get("message")
            db.execute(
                "INSERT INTO runs (run_id, job_namespace, job_name, state, started_at, ended_at, parent_run_id, error)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (run_id) DO UPDATE SET"
                " state = excluded.state, started_at = COALESCE(runs.started_at, excluded.started_at),"
                " ended_at = COALESCE(excluded.ended_at, runs.ended_at),"
                " parent_run_id = COALESCE(excluded.parent_run_id, runs.parent_run_id),"
                " error = COALESCE(excluded.error, runs.error)",
                (
                    run_id,
                    job_ns,
                    job_name,
                    state,
                    when if state == "START" else None,
                    when if state in _TERMINAL else None,
                    parent,
                    error,
                ),
            )
            inputs, outputs = payload.get("inputs") or [], payload.get("outputs") or []
            if inputs or outputs:
                db.execute(
                    "DELETE FROM job_datasets WHERE job_namespace = ? AND job_name = ?",
                    (job_ns, job_name),
                )
            for direction, datasets in (("input", inputs), ("output", outputs)):
                for dataset in datasets:
                    self._ingest_dataset(run_id, job_ns, job_name, direction, dataset, state, when)

    def _ingest_dataset(
        self,
        run_id: str,
        job_ns: str,
        job_name: str,
        direction: str,
        dataset: dict,
        state: str | None,
        when: str,
    ) -> None:
        db, ns, name = self._db, dataset["namespace"], dataset["name"]
        facets = dataset.get("facets") or {}
        version = (facets.get("version") or {}).get("datasetVersion")
        rows = ((dataset.get("outputFacets") or {}).get("outputStatistics") or {}).get("rowCount")
        db.execute(
            "INSERT OR IGNORE INTO job_datasets VALUES (?, ?, ?, ?, ?)",
            (job_ns, job_name, direction, ns, name),
        )
        db.execute(
            "INSERT INTO run_datasets VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT DO UPDATE SET"
            " version = COALESCE(excluded.version, run_datasets.version),"
            " row_count = COALESCE(excluded.row_count, run_datasets.row_count)",
            (run_id, direction, ns, name, version, rows),
        )
        db.execute("INSERT OR IGNORE INTO datasets (namespace, name) VALUES (?, ?)", (ns, name))
        contract = facets.get("contract") or {}
        owners = (facets.get("ownership") or {}).get("owners") or []
        fields = (facets.get("schema") or {}).get("fields")
        db.execute(
            "UPDATE datasets SET description = COALESCE(?, description), owner = COALESCE(?, owner),"
            " contract_id = COALESCE(?, contract_id), contract_version = COALESCE(?, contract_version),"
            " access = COALESCE(?, access), location = COALESCE(?, location),"
            " freshness_hours = COALESCE(?, freshness_hours), schema_json = COALESCE(?, schema_json)"
            " WHERE namespace = ? AND name = ?",
            (
                (facets.get("documentation") or {}).get("description"),
                owners[0]["name"].removeprefix("team:") if owners else None,
                contract.get("contractId"),
                contract.get("contractVersion"),
                contract.get("access"),
                contract.get("location"),
                contract.get("freshnessHours"),
                json.dumps(fields) if fields is not None else None,
                ns,
                name,
            ),
        )
        if direction == "output" and state == "COMPLETE" and version is not None:
            db.execute(
                "UPDATE datasets SET current_version = ?, updated_at = ? WHERE namespace = ? AND name = ?",
                (version, when, ns, name),
            )
        for assertion in (facets.get("dataQualityAssertions") or {}).get("assertions") or []:
            db.execute(
                "INSERT OR REPLACE INTO assertions VALUES (?, ?, ?, ?, ?, ?)",
                (
                    run_id,
                    ns,
                    name,
                    assertion["assertion"],
                    assertion.get("column"),
                    int(assertion["success"]),
                ),
            )

    # -- lookups -----------------------------------------------------------------------------

    def products(self, *, namespace: str | None = None) -> list[ProductEntry]:
        """Every dataset published under a contract, by name."""
        rows = self._db.execute(
            "SELECT namespace, name FROM datasets WHERE contract_id IS NOT NULL"
            " AND (? IS NULL OR namespace = ?) ORDER BY name",
            (namespace, namespace),
        ).fetchall()
        return [self.product(r["name"], namespace=r["namespace"]) for r in rows]

    def product(self, name: str, *, namespace: str | None = None) -> ProductEntry:
        """One dataset's entry; KeyError naming the dataset when the catalog has never seen it."""
        row = self._db.execute(
            "SELECT * FROM datasets WHERE name = ? AND (? IS NULL OR namespace = ?)"
            " ORDER BY contract_id IS NULL, updated_at DESC LIMIT 1",
            (name, namespace, namespace),
        ).fetchone()
        if row is None:
            raise KeyError(f"the catalog has no dataset named {name!r}")
        last = self._db.execute(
            "SELECT r.* FROM runs r JOIN run_datasets d ON d.run_id = r.run_id"
            " WHERE d.direction = 'output' AND d.namespace = ? AND d.name = ?"
            " ORDER BY COALESCE(r.ended_at, r.started_at) DESC LIMIT 1",
            (row["namespace"], name),
        ).fetchone()
        checks = {}
        if last is not None:
            checks = {
                a["assertion"]: bool(a["success"])
                for a in self._db.execute(
                    "SELECT assertion, success FROM assertions WHERE run_id = ? AND namespace = ? AND name = ?"
                    " ORDER BY assertion",
                    (last["run_id"], row["namespace"], name),
                )
            }
        return ProductEntry(
            namespace=row["namespace"],
            name=name,
            description=row["description"],
            owner=row["owner"],
            contract_id=row["contract_id"],
            contract_version=row["contract_version"],
            access=row["access"],
            location=row["location"],
            freshness_hours=row["freshness_hours"],
            columns=json.loads(row["schema_json"]) if row["schema_json"] else [],
            current_version=row["current_version"],
            updated_at=row["updated_at"],
            last_run=RunEntry(
                run_id=last["run_id"],
                state=last["state"],
                started_at=last["started_at"],
                ended_at=last["ended_at"],
                error=last["error"],
            )
            if last
            else None,
            checks=checks,
        )

    def lineage(
        self,
        name: str,
        *,
        direction: Literal["upstream", "downstream"],
        depth: int,
        namespace: str | None = None,
    ) -> LineageNode:
        """The datasets `depth` job hops up- or downstream of one dataset, as a tree."""
        if depth < 0:
            raise ValueError(f"depth must be 0 or more, got {depth}")
        root = self.product(name, namespace=namespace)
        near, far = ("output", "input") if direction == "upstream" else ("input", "output")

        def expand(ns: str, ds: str, via: str | None, left: int, seen: frozenset) -> LineageNode:
            children = []
            if left > 0:
                linked = self._db.execute(
                    "SELECT DISTINCT f.job_name AS job, f.namespace AS ns, f.name AS name"
                    " FROM job_datasets n JOIN job_datasets f"
                    " ON f.job_namespace = n.job_namespace AND f.job_name = n.job_name AND f.direction = ?"
                    " WHERE n.direction = ? AND n.namespace = ? AND n.name = ? ORDER BY f.name",
                    (far, near, ns, ds),
                ).fetchall()
                for row in linked:
                    key = (row["ns"], row["name"])
                    if key not in seen:
                        children.append(expand(row["ns"], row["name"], row["job"], left - 1, seen | {key}))
            return LineageNode(namespace=ns, name=ds, via_job=via, children=children)

        return expand(root.namespace, root.name, None, depth, frozenset({(root.namespace, root.name)}))
