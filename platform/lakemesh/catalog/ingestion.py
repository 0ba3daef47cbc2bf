"""The writes one OpenLineage run event causes, in a handful of batched statements.

The statements are built once per database dialect
(`lakemesh.catalog.statements`) and executed with parameter lists. Everything is
derived from the event: the stored payload, the namespaces, the job and its
run, the datasets with their versions, and the graph edges (job inputs and
outputs, column lineage, data-quality assertions).

A dataset named by its storage (`file` + path, as Spark's OpenLineage listener
names a Delta table) whose platform events carry a `symlinks` facet naming a
product is the product: its events land on the product's node (the listener's
column lineage is added to the declared one, never replaces it). A product's
versions and what describes it come only from the platform's COMPLETE that
the product's Delta log confirms (`lakemesh.catalog.provenance`); every other
event about a product is recorded as a run that observed it.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa

from lakemesh.catalog.provenance import (
    ProductCommit,
    confirmed_commit,
    product_table,
    refusal_in_product_namespace,
)
from lakemesh.catalog.statements import DESCRIPTIVE, statements
from lakemesh.catalog.symlinks import is_quarantine, product_symlink
from lakemesh.lineage.naming import PLATFORM_PRODUCER
from lakemesh.lineage.validation import InvalidEvent
from lakemesh.settings import PRODUCT_NAMESPACE_SCHEME

__all__ = ["WHOLE_DATASET", "described_by", "ingest_event"]

WHOLE_DATASET = "*"
"""The output field of column lineage that concerns every column: INDIRECT inputs such as join keys and filters."""

_STATES = {"START": "RUNNING", "RUNNING": "RUNNING", "COMPLETE": "COMPLETED", "FAIL": "FAILED", "ABORT": "ABORTED"}
TERMINAL = frozenset({"COMPLETED", "FAILED", "ABORTED"})

_NUMBER = re.compile(r"[0-9]{1,30}")


def ingest_event(
    db: sa.Connection, payload: Mapping[str, Any], *, storage_options: Mapping[str, str] | None = None
) -> None:
    """Apply one valid run event inside the caller's transaction.

    A COMPLETE of the platform names the product versions it published: each is checked against the product's
    Delta log (read with `storage_options`), and `UnconfirmedVersion` refuses the event when one is not there.
    """
    _Ingestion(db, payload, storage_options=storage_options).run()


class _Ingestion:
    def __init__(
        self, db: sa.Connection, payload: Mapping[str, Any], *, storage_options: Mapping[str, str] | None
    ) -> None:
        self.db, self.payload = db, payload
        self.storage_options = dict(storage_options or {})
        self.sql = statements(db.dialect.name)
        self.now = datetime.now(UTC)
        self.when = _parse_time(payload["eventTime"])
        self.event_type = payload.get("eventType")
        self.run_id = payload["run"]["runId"]

    def run(self) -> None:
        payload, job = self.payload, self.payload["job"]
        # The first statement writes, so SQLite takes its write lock at once instead of upgrading a read lock.
        self.db.execute(
            self.sql.event,
            {
                "received_at": self.now,
                "event_time": self.when,
                "event_type": self.event_type,
                "run_id": self.run_id,
                "job_namespace": job["namespace"],
                "job_name": job["name"],
                "payload": dict(payload),
            },
        )
        payload = self.payload = self._resolved(payload)  # the stored event stays as it was sent
        sides = [("input", d) for d in payload.get("inputs") or []] + [
            ("output", d) for d in payload.get("outputs") or []
        ]
        named = {(job["namespace"], job["name"])} | {(d["namespace"], d["name"]) for _, d in sides}
        sources = {(s["namespace"], s["name"]) for _, d in sides for s in _column_sources(d)}
        for namespace, name in sorted(named | sources):
            if refusal := refusal_in_product_namespace(namespace, name):
                raise InvalidEvent(f"{refusal}; nothing was stored")
        self.db.execute(
            self.sql.namespaces,
            [
                {"name": ns, "created_at": self.when, "updated_at": self.now}
                for ns in sorted({n for n, _ in named | sources})
            ],
        )
        job_id = self._job(job)
        self._run(job_id)
        # A run that started before the job's latest (a late event, a commit recorded by reconcile) leaves the
        # job's latest run and its inputs and outputs as they are.
        latest = self.db.execute(
            self.sql.latest_run, {"job_id": job_id, "run_id": self.run_id, "event_time": self.when}
        ).rowcount
        if not sides:
            return
        rows = self._datasets(sorted({(d["namespace"], d["name"]) for _, d in sides} | sources))
        if latest:
            self._job_io(job_id, {(rows[(d["namespace"], d["name"])].id, direction) for direction, d in sides})
        self._describe_and_version(sides, rows)

    def _resolved(self, payload: Mapping[str, Any]) -> Mapping[str, Any]:
        """The event with every storage name of a product replaced by the product's name.

        The platform's events teach the catalog those names (their `symlinks`);
        any other producer's events are resolved with what it has learnt.
        """
        datasets = [*(payload.get("inputs") or []), *(payload.get("outputs") or [])]
        if not datasets:
            return payload
        links: dict[tuple[str, str], tuple[str, str]] = {}
        if payload.get("producer") == PLATFORM_PRODUCER:
            for dataset in datasets:
                if (target := product_symlink(dataset)) and target != (dataset["namespace"], dataset["name"]):
                    links[(dataset["namespace"], dataset["name"])] = target
            if links:
                self.db.execute(
                    self.sql.symlink,
                    [
                        {"namespace": ns, "name": name, "target_namespace": to_ns, "target_name": to_name}
                        | {"created_at": self.now}
                        for (ns, name), (to_ns, to_name) in sorted(links.items())
                    ],
                )
        else:
            named = {(d["namespace"], d["name"]) for d in datasets}
            named |= {(s["namespace"], s["name"]) for d in datasets for s in _column_sources(d)}
            for row in self.db.execute(self.sql.symlinks, {"names": sorted(named)}):
                links[(row.namespace, row.name)] = (row.target_namespace, row.target_name)
        if not links:
            return payload

        def renamed(reference: Mapping[str, Any]) -> dict[str, Any]:
            target = links.get((reference["namespace"], reference["name"]))
            return {**reference, "namespace": target[0], "name": target[1]} if target else dict(reference)

        def dataset(original: Mapping[str, Any]) -> dict[str, Any]:
            found = renamed(original)
            lineage = (found.get("facets") or {}).get("columnLineage")
            if lineage:
                fields = {
                    field: {**value, "inputFields": [renamed(s) for s in value.get("inputFields") or []]}
                    for field, value in (lineage.get("fields") or {}).items()
                }
                whole = [renamed(s) for s in lineage.get("dataset") or []]
                found["facets"] = {**found["facets"], "columnLineage": {**lineage, "fields": fields, "dataset": whole}}
            return found

        return {
            **payload,
            "inputs": [dataset(d) for d in payload.get("inputs") or []],
            "outputs": [dataset(d) for d in payload.get("outputs") or []],
        }

    def _job(self, job: Mapping[str, Any]) -> int:
        values = {"namespace": job["namespace"], "name": job["name"], "created_at": self.when, "updated_at": self.now}
        row = self.db.execute(self.sql.job, {**values, "latest_run_id": self.run_id}).one()  # set if new
        if facets := job.get("facets"):
            self.db.execute(
                self.sql.job_facets,
                {
                    "job_id": row.id,
                    "facets": {**(row.facets or {}), **facets},
                    "description": (facets.get("documentation") or {}).get("description", row.description),
                    "location": (facets.get("sourceCodeLocation") or {}).get("url", row.location),
                },
            )
        return row.id

    def _run(self, job_id: int) -> None:
        facets = self.payload["run"].get("facets") or {}
        existing = self.db.execute(self.sql.run, {"run_id": self.run_id}).one_or_none()
        self.completed_before = existing is not None and existing.state == "COMPLETED"
        if existing is not None and existing.job_id != job_id:
            job = self.payload["job"]
            raise InvalidEvent(
                f"run {self.run_id} belongs to another job; an event of job {job['name']!r} in namespace "
                f"{job['namespace']!r} cannot report it"
            )
        state = _STATES.get(self.event_type or "")
        if existing is not None and (state is None or _keeps(existing.state, over=state)):
            state = existing.state
        nominal = facets.get("nominalTime") or {}
        values = {
            "job_id": job_id,
            "state": state or "NEW",
            "updated_at": self.now,
            "started_at": _earliest(
                existing and existing.started_at, self.when if self.event_type == "START" else None
            ),
            "ended_at": self.when if self.event_type in ("COMPLETE", "FAIL", "ABORT") else None,
            "parent_run_id": (facets.get("parent") or {}).get("run", {}).get("runId"),
            "error": (facets.get("errorMessage") or {}).get("message"),
            "nominal_start_time": _parse_time(nominal["nominalStartTime"]) if "nominalStartTime" in nominal else None,
            "nominal_end_time": _parse_time(nominal["nominalEndTime"]) if nominal.get("nominalEndTime") else None,
            "facets": {**((existing and existing.facets) or {}), **facets},
        }
        if existing is None:
            self.db.execute(self.sql.new_run, {"run_id": self.run_id, "created_at": self.when, **values})
        else:  # what this event does not say, the run keeps
            kept = {k: v if v is not None else getattr(existing, k) for k, v in values.items()}
            self.db.execute(self.sql.run_update, {"b_run_id": self.run_id, **kept})

    def _datasets(self, names: list[tuple[str, str]]) -> dict[tuple[str, str], sa.Row]:
        """Insert or touch every dataset the event names; their ids and descriptive columns, by name."""
        found = self.db.execute(
            self.sql.datasets,
            [{"namespace": ns, "name": n, "created_at": self.when, "updated_at": self.now} for ns, n in names],
        ).all()
        return {(row.namespace, row.name): row for row in found}

    def _job_io(self, job_id: int, edges: set[tuple[int, str]]) -> None:
        """The job's inputs and outputs become this event's; the graph's version moves only when they change."""
        current = {(row.dataset_id, row.direction) for row in self.db.execute(self.sql.job_io, {"job_id": job_id})}
        if current == edges:
            return
        self.db.execute(self.sql.job_io_clear, {"job_id": job_id})
        self.db.execute(
            self.sql.job_io_add, [{"job_id": job_id, "dataset_id": i, "direction": d} for i, d in sorted(edges)]
        )
        self.db.execute(self.sql.graph_changed)

    def _describe_and_version(self, sides: list[tuple[str, Mapping[str, Any]]], rows: Mapping[tuple, sa.Row]) -> None:
        described, versions, run_io, assertions = [], [], [], []
        producer = self.payload["producer"]
        platform = producer == PLATFORM_PRODUCER
        for direction, dataset in sides:
            row = rows[(dataset["namespace"], dataset["name"])]
            facets = dataset.get("facets") or {}
            version = (facets.get("version") or {}).get("datasetVersion")
            count = ((dataset.get("outputFacets") or {}).get("outputStatistics") or {}).get("rowCount")
            product, replay, partition = product_table(row.namespace, row.name) is not None, False, None
            if direction == "output" and self.event_type == "COMPLETE" and _is_quarantine(row):
                raise InvalidEvent(f"{row.name}: a quarantine has no versions, no COMPLETE reports one")
            if direction == "output" and product:
                # A product: only the platform's COMPLETE, confirmed by the product's Delta log, adds a version and
                # describes it, with the facets of the contract in the commit; any other event only observes it.
                commit = self._confirmed(row, version) if platform and self.event_type == "COMPLETE" else None
                # The run's first COMPLETE only: its run id is in the Delta log for anyone to copy, so a replay adds
                # nothing (no description, lineage or assertions).
                replay = commit is not None and self.completed_before
                completed = describes = commit is not None and not replay
                observer, asserts = not completed, platform and not replay
                if completed:
                    facets, version = {**facets, **commit.facets()}, str(commit.version)
                    count = commit.rows if commit.rows is not None else count
                    # from the Delta log, as all that describes a product; "": the whole table (null: not known,
                    # a version recorded before the catalog kept partitions)
                    partition = commit.record.partition or ""
            else:
                # a dataset's versions are its writer's: another producer writing it (Spark's listener) adds none
                observer = row.producer == PLATFORM_PRODUCER and not platform
                completed = direction == "output" and self.event_type == "COMPLETE" and not observer
                # Only a dataset's writer describes it: the producer that first wrote it, or the platform (a
                # reader's facets fill in a dataset nobody writes, a product never).
                if direction == "output":
                    describes = row.producer in (None, producer) or platform
                else:
                    describes = row.producer is None and bool(facets) and not product
                asserts = describes
            if completed:
                version = version or self.run_id  # a producer without versions gets one per successful run
                versions.append(
                    {
                        "dataset_id": row.id,
                        "version": version,
                        "run_id": self.run_id,
                        "created_at": self.when,
                        "row_count": count,
                        "fields": _fields(facets.get("schema")),
                        "facets": facets,
                        "partition": partition,
                    }
                )
            # a late event of an older version never moves the description back
            if describes and not (completed and _older(version, than=row.current_version)):
                described.append(self._description(row, direction, facets, version if completed else None))
            elif observer and platform and row.producer is None:  # the platform's product, not yet published
                described.append({"b_id": row.id, **{c: getattr(row, c) for c in DESCRIPTIVE}, "producer": producer})
            run_io.append(
                {
                    "run_id": self.run_id,
                    "dataset_id": row.id,
                    "direction": direction,
                    "version": version,
                    "row_count": count,
                }
            )
            if direction == "output" and "columnLineage" in facets and not (product and replay):
                self._column_lineage(row.id, facets["columnLineage"], rows, observed=observer)
            checked = (facets.get("dataQualityAssertions") or {}).get("assertions") or []
            for assertion in checked if asserts else []:
                assertions.append(
                    {
                        "run_id": self.run_id,
                        "dataset_id": row.id,
                        "assertion": assertion["assertion"],
                        "column_name": assertion.get("column") or "",
                        "success": bool(assertion["success"]),
                    }
                )
        for statement, parameters in (
            (self.sql.version, versions),
            (self.sql.describe, described),
            (self.sql.run_io, run_io),
            (self.sql.assertions, assertions),
        ):
            if parameters:
                self.db.execute(statement, parameters)

    def _confirmed(self, row: sa.Row, version: str | None) -> ProductCommit:
        return confirmed_commit(
            row.namespace, row.name, version=version, run_id=self.run_id, storage_options=self.storage_options
        )

    def _description(
        self, row: sa.Row, direction: str, facets: Mapping[str, Any], version: str | None
    ) -> dict[str, Any]:
        values = {c: getattr(row, c) for c in DESCRIPTIVE}
        values["facets"] = {**(row.facets or {}), **facets}
        values.update(described_by(facets))
        if direction == "output":
            values["producer"] = self.payload["producer"]
        if version is not None:
            values.update(current_version=version, last_modified_at=self.when)
        return {"b_id": row.id, **values}

    def _column_lineage(
        self, output_id: int, facet: Mapping[str, Any], rows: Mapping[tuple, sa.Row], *, observed: bool
    ) -> None:
        """Replace the output's column lineage with what this event says; `observed` (an engine's listener on a
        product the platform declares) adds to it instead.

        The facet's `dataset` inputs (INDIRECT: joins, filters...) shape every row; they are kept under the
        output field `*`, the dataset as a whole.
        """
        if not observed:
            self.db.execute(self.sql.column_lineage_clear, {"output_id": output_id})
        found: dict[tuple, dict[str, Any]] = {}
        fields = [*(facet.get("fields") or {}).items(), (WHOLE_DATASET, {"inputFields": facet.get("dataset") or []})]
        for field, lineage in fields:
            for source in lineage.get("inputFields") or []:
                input_id = rows[(source["namespace"], source["name"])].id
                transformation = (source.get("transformations") or [{}])[0]
                found[(field, input_id, source["field"])] = {
                    "output_dataset_id": output_id,
                    "output_field": field,
                    "input_dataset_id": input_id,
                    "input_field": source["field"],
                    "transformation_type": transformation.get("type") or lineage.get("transformationType"),
                    "transformation_subtype": transformation.get("subtype"),
                    "transformation_description": transformation.get("description")
                    or lineage.get("transformationDescription"),
                    "updated_at": self.now,
                }
        if found:
            statement = self.sql.column_lineage_observed if observed else self.sql.column_lineage_add
            self.db.execute(statement, list(found.values()))


def _is_quarantine(row: sa.Row) -> bool:
    return row.namespace.startswith(PRODUCT_NAMESPACE_SCHEME) and is_quarantine(row.name)


def described_by(facets: Mapping[str, Any]) -> dict[str, Any]:
    """The descriptive columns a dataset's facets set: fields, owner, description, contract (those present)."""
    values: dict[str, Any] = {}
    if (fields := _fields(facets.get("schema"))) is not None:
        values["fields"] = fields
    if owners := (facets.get("ownership") or {}).get("owners"):
        values["owner"] = owners[0]["name"].removeprefix("team:")
    if documentation := facets.get("documentation"):
        values["description"] = documentation.get("description")
    if contract := facets.get("contract"):
        values["contract"] = {k: v for k, v in contract.items() if not k.startswith("_")}
    return values


def _keeps(current: str, *, over: str) -> bool:
    """Whether a run's state stands against a later event's: a finished run is never reopened, and a run that
    completed (its commit stands) is not turned into a failure by a late FAIL or ABORT."""
    return (current in TERMINAL and over not in TERMINAL) or (current == "COMPLETED" and over != "COMPLETED")


def _column_sources(dataset: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    facet = (dataset.get("facets") or {}).get("columnLineage") or {}
    per_field = [s for lineage in (facet.get("fields") or {}).values() for s in lineage.get("inputFields") or []]
    return per_field + list(facet.get("dataset") or [])


def _fields(schema_facet: Mapping[str, Any] | None) -> list[dict[str, Any]] | None:
    if not schema_facet or "fields" not in schema_facet:
        return None
    return [
        {"name": f["name"], "type": f.get("type"), "tags": [], "description": f.get("description")}
        for f in schema_facet["fields"]
    ]


def _parse_time(value: str) -> datetime:
    parsed = datetime.fromisoformat(value)
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def _older(version: str, *, than: str | None) -> bool:
    """Whether `version` comes before the current one: Delta versions are ordered by number, not by arrival."""
    numbers = than is not None and _NUMBER.fullmatch(version) and _NUMBER.fullmatch(than)
    return bool(numbers) and int(version) < int(than)


def _earliest(*times: datetime | None) -> datetime | None:
    present = [t for t in times if t is not None]
    return min(present) if present else None
