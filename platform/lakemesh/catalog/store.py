"""The catalog store: OpenLineage run events in, datasets, jobs, runs and versions out.

One class serves the embedded SQLite file and a team's PostgreSQL alike (the
database and its migrations are `lakemesh.catalog.database`). Everything is
derived from run events, so an event from the platform's own publish and one
posted by any other OpenLineage producer are handled the same way. Lookups
return Marquez's JSON shapes (`lakemesh.catalog.marquez`), which the HTTP API
serves as they are.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import attr
import sqlalchemy as sa

from lakemesh.catalog import model as m
from lakemesh.catalog.database import catalog_url, engine, in_batches
from lakemesh.catalog.entries import (
    RETIRED_FACET,
    DeltaState,
    OpenRun,
    ProductEntry,
    VersionEntry,
    current_partitions,
)
from lakemesh.catalog.ingestion import TERMINAL, ingest_event
from lakemesh.catalog.marquez import (
    dataset_json,
    iso,
    jobs_json,
    namespace_json,
    runs_json,
    version_json,
)
from lakemesh.errors import LakemeshError, did_you_mean
from lakemesh.lineage.naming import PLATFORM_PRODUCER
from lakemesh.lineage.process import run_process
from lakemesh.lineage.validation import check_run_event

__all__ = ["Catalog", "NotFound"]


class NotFound(LakemeshError, LookupError):
    """The catalog has never seen the namespace, dataset, job, run or node asked for."""


class Catalog:
    """The catalog at a SQLite path or a database URL.

    `storage_options` read the products' Delta logs, which confirm every product version an event claims
    (`lakemesh.catalog.provenance`).
    """

    def __init__(self, target: str | Path, *, storage_options: Mapping[str, str] | None = None) -> None:
        self.url = catalog_url(target)
        self.engine = engine(self.url)
        self.storage_options = dict(storage_options or {})

    # -- ingestion ---------------------------------------------------------------------------

    def ingest(self, event: Any, *, checked: bool = False) -> None:
        """Store one OpenLineage run event (an `openlineage-python` event or its JSON dict), all or nothing.

        `checked`: the caller has already passed it through `check_run_event`.
        """
        self.ingest_all([event], checked=checked)

    def ingest_all(self, events: Iterable[Any], *, checked: bool = False) -> None:
        """Store run events in order, in one transaction: all of them or none (`InvalidEvent` stores nothing)."""
        with self.engine.begin() as db:
            for event in events:
                if attr.has(type(event)):  # an openlineage-python event
                    from openlineage.client.serde import Serde  # the client takes half a second to import

                    event = Serde.to_dict(event)
                ingest_event(db, event if checked else check_run_event(event), storage_options=self.storage_options)

    # -- Marquez-shaped lookups ----------------------------------------------------------------

    def namespaces(self, *, limit: int = 100, offset: int = 0) -> tuple[list[dict[str, Any]], int]:
        with self.engine.connect() as db:
            total = db.scalar(sa.select(sa.func.count()).select_from(m.namespaces))
            rows = db.execute(sa.select(m.namespaces).order_by(m.namespaces.c.name).limit(limit).offset(offset))
            return [namespace_json(r) for r in rows], total

    def namespace(self, name: str) -> dict[str, Any]:
        with self.engine.connect() as db:
            row = db.execute(sa.select(m.namespaces).where(m.namespaces.c.name == name)).one_or_none()
        if row is None:
            raise NotFound(f"no namespace {name!r}")
        return namespace_json(row)

    def datasets(self, namespace: str, *, limit: int = 100, offset: int = 0) -> tuple[list[dict[str, Any]], int]:
        with self.engine.connect() as db:
            self._namespace_exists(db, namespace)
            where = m.datasets.c.namespace == namespace
            total = db.scalar(sa.select(sa.func.count()).select_from(m.datasets).where(where))
            rows = db.execute(
                sa.select(m.datasets).where(where).order_by(m.datasets.c.name).limit(limit).offset(offset)
            ).all()
            return [dataset_json(r) for r in rows], total

    def dataset(self, namespace: str, name: str) -> dict[str, Any]:
        with self.engine.connect() as db:
            return dataset_json(self._dataset_row(db, namespace, name))

    def dataset_versions(
        self, namespace: str, name: str, *, limit: int = 100, offset: int = 0
    ) -> tuple[list[dict[str, Any]], int]:
        with self.engine.connect() as db:
            dataset = self._dataset_row(db, namespace, name)
            v = m.dataset_versions
            where = v.c.dataset_id == dataset.id
            total = db.scalar(sa.select(sa.func.count()).select_from(v).where(where))
            rows = db.execute(
                sa.select(v).where(where).order_by(v.c.created_at.desc()).limit(limit).offset(offset)
            ).all()
            created_by = runs_json(db, [r.run_id for r in rows])
            return [version_json(dataset, r, created_by.get(r.run_id)) for r in rows], total

    def jobs(self, namespace: str, *, limit: int = 100, offset: int = 0) -> tuple[list[dict[str, Any]], int]:
        with self.engine.connect() as db:
            self._namespace_exists(db, namespace)
            where = m.jobs.c.namespace == namespace
            total = db.scalar(sa.select(sa.func.count()).select_from(m.jobs).where(where))
            rows = db.execute(sa.select(m.jobs).where(where).order_by(m.jobs.c.name).limit(limit).offset(offset)).all()
            return jobs_json(db, rows), total

    def job(self, namespace: str, name: str) -> dict[str, Any]:
        with self.engine.connect() as db:
            row = db.execute(
                sa.select(m.jobs).where(m.jobs.c.namespace == namespace, m.jobs.c.name == name)
            ).one_or_none()
            if row is None:
                raise NotFound(f"no job {name!r} in namespace {namespace!r}")
            return jobs_json(db, [row])[0]

    def job_runs(
        self, namespace: str, name: str, *, limit: int = 100, offset: int = 0
    ) -> tuple[list[dict[str, Any]], int]:
        with self.engine.connect() as db:
            job_id = db.scalar(sa.select(m.jobs.c.id).where(m.jobs.c.namespace == namespace, m.jobs.c.name == name))
            if job_id is None:
                raise NotFound(f"no job {name!r} in namespace {namespace!r}")
            where = m.runs.c.job_id == job_id
            total = db.scalar(sa.select(sa.func.count()).select_from(m.runs).where(where))
            ids = db.scalars(
                sa.select(m.runs.c.run_id).where(where).order_by(m.runs.c.created_at.desc()).limit(limit).offset(offset)
            ).all()
            by_id = runs_json(db, ids)
        return [by_id[i] for i in ids], total

    def run(self, run_id: str) -> dict[str, Any]:
        with self.engine.connect() as db:
            found = runs_json(db, [run_id])
        if run_id not in found:
            raise NotFound(f"no run {run_id!r}")
        return found[run_id]

    def state(self) -> int:
        """A number that moves whenever anything is stored (the newest event's id): what a page cache keys on."""
        with self.engine.connect() as db:
            return db.scalar(sa.select(sa.func.coalesce(sa.func.max(m.events.c.id), 0)))

    def events(
        self, *, namespace: str | None = None, limit: int = 100, offset: int = 0
    ) -> tuple[list[dict[str, Any]], int]:
        """Stored events, newest first, exactly as they were posted."""
        e = m.events
        where = sa.true() if namespace is None else e.c.job_namespace == namespace
        with self.engine.connect() as db:
            total = db.scalar(sa.select(sa.func.count()).select_from(e).where(where))
            payloads = db.scalars(
                sa.select(e.c.payload)
                .where(where)
                .order_by(e.c.event_time.desc(), e.c.id.desc())
                .limit(limit)
                .offset(offset)
            ).all()
        return list(payloads), total

    def search(
        self, query: str, *, kind: str | None = None, sort: str = "name", limit: int = 10
    ) -> tuple[list[dict[str, Any]], int]:
        """Datasets and jobs whose name contains the query (case-insensitive; `%` and `_` are wildcards)."""
        pattern = f"%{query.lower()}%"
        selects = []
        for table, node_type in ((m.datasets, "DATASET"), (m.jobs, "JOB")):
            if kind in (None, node_type.lower()):
                selects.append(
                    sa.select(
                        sa.literal(node_type).label("type"),
                        table.c.namespace,
                        table.c.name,
                        table.c.updated_at,
                    ).where(sa.func.lower(table.c.name).like(pattern))
                )
        union = sa.union_all(*selects).subquery()
        order = union.c.updated_at.desc() if sort == "updated_at" else union.c.name
        with self.engine.connect() as db:
            total = db.scalar(sa.select(sa.func.count()).select_from(union))
            rows = db.execute(sa.select(union).order_by(order, union.c.type).limit(limit)).all()
        return [
            {
                "type": r.type,
                "name": r.name,
                "updatedAt": iso(r.updated_at),
                "namespace": r.namespace,
                "nodeId": f"{r.type.lower()}:{r.namespace}:{r.name}",
            }
            for r in rows
        ], total

    # -- products ---------------------------------------------------------------------------

    def products(
        self, *, namespace: str | None = None, query: str | None = None, producer: str = PLATFORM_PRODUCER
    ) -> list[ProductEntry]:
        """Every dataset `producer` (the platform) published under a contract, by name; `query` filters on name,
        owner and description."""
        return [
            self.product(name, namespace=where, producer=producer)
            for where, name in self.product_names(namespace=namespace, query=query, producer=producer)
        ]

    def product_names(
        self, *, namespace: str | None = None, query: str | None = None, producer: str = PLATFORM_PRODUCER
    ) -> list[tuple[str, str]]:
        """(namespace, name) of each product `products` would return, without reading their entries."""
        d = m.datasets
        where = [d.c.contract.is_not(None), d.c.producer == producer]
        if namespace is not None:
            where.append(d.c.namespace == namespace)
        if query:
            pattern = f"%{query.lower()}%"
            where.append(
                sa.or_(
                    sa.func.lower(d.c.name).like(pattern),
                    sa.func.lower(sa.func.coalesce(d.c.owner, "")).like(pattern),
                    sa.func.lower(sa.func.coalesce(d.c.description, "")).like(pattern),
                )
            )
        with self.engine.connect() as db:
            rows = db.execute(sa.select(d.c.namespace, d.c.name).where(*where).order_by(d.c.name)).all()
        return [(row.namespace, row.name) for row in rows]

    def product(
        self, name: str, *, namespace: str | None = None, versions: int = 20, producer: str = PLATFORM_PRODUCER
    ) -> ProductEntry:
        """One product's entry: contract, versions with their runs, last run and its checks.

        Only a dataset that `producer` (the platform) wrote is a product: the same name written by anyone else,
        in any namespace, is another dataset and is never shown as the product.
        """
        d, v, r = m.datasets, m.dataset_versions, m.runs
        with self.engine.connect() as db:
            query = sa.select(d).where(d.c.name == name, d.c.producer == producer)
            if namespace is not None:
                query = query.where(d.c.namespace == namespace)
            row = db.execute(query.order_by(d.c.contract.is_(None), d.c.updated_at.desc()).limit(1)).one_or_none()
            if row is None:
                others = self.namesakes(name, producer=producer)
                elsewhere = "; datasets of that name written by others: " + ", ".join(
                    f"{o.namespace} (producer {o.producer})" for o in others
                )
                known = (n for _, n in self.product_names(namespace=namespace, producer=producer))
                hint = did_you_mean(name, known)
                raise NotFound(f"the catalog has no product named {name!r}{hint}" + (elsewhere if others else ""))
            history = db.execute(
                sa.select(v, r.c.state)
                .join(r, r.c.run_id == v.c.run_id, isouter=True)
                .where(v.c.dataset_id == row.id)
                .order_by(v.c.created_at.desc())
                .limit(versions)
            ).all()
            last_id = db.scalar(
                sa.select(m.run_io.c.run_id)
                .join(r, r.c.run_id == m.run_io.c.run_id)
                .where(m.run_io.c.dataset_id == row.id, m.run_io.c.direction == "output")
                .order_by(sa.func.coalesce(r.c.ended_at, r.c.started_at, r.c.created_at).desc())
                .limit(1)
            )
            last = runs_json(db, [last_id]).get(last_id) if last_id else None
            written = db.execute(
                sa.select(v.c.version, v.c.partition, v.c.created_at).where(v.c.dataset_id == row.id)
            ).all()
            results = db.execute(
                sa.select(m.assertions).where(m.assertions.c.run_id == last_id, m.assertions.c.dataset_id == row.id)
            ).all()
        names = [a.assertion for a in results]
        # an assertion reported for several columns (`not_null` on a and b) is shown once per column
        checks = {
            f"{a.column_name}.{a.assertion}" if names.count(a.assertion) > 1 else a.assertion: a.success
            for a in results
        }
        return ProductEntry(
            namespace=row.namespace,
            name=row.name,
            description=row.description,
            owner=row.owner,
            contract=row.contract or {},
            fields=row.fields or [],
            current_version=row.current_version,
            updated_at=row.last_modified_at,
            versions=[
                VersionEntry(
                    version=h.version,
                    created_at=h.created_at,
                    run_id=h.run_id,
                    run_state=h.state,
                    row_count=h.row_count,
                )
                for h in history
            ],
            last_run=last,
            checks=dict(sorted(checks.items())),
            retired=((row.facets or {}).get(RETIRED_FACET) or {}).get("since"),
            partitions=current_partitions(  # a product's versions are Delta's, in commit order
                sorted(written, key=lambda w: (int(w.version) if w.version.isdigit() else -1, w.created_at))
            )
            if any(w.partition for w in written)
            else [],
        )

    def namesakes(self, name: str, *, producer: str = PLATFORM_PRODUCER) -> list[sa.Row]:
        """Datasets named like a product that `producer` did not write: other datasets, whatever they claim."""
        d = m.datasets
        with self.engine.connect() as db:
            return db.execute(
                sa.select(d.c.namespace, d.c.producer)
                .where(d.c.name == name, sa.func.coalesce(d.c.producer, "") != producer)
                .order_by(d.c.namespace)
            ).all()

    # -- reconciliation with Delta ----------------------------------------------------------

    def dataset_names(self, namespace: str) -> list[str]:
        """The name of every dataset of `namespace` the catalog knows, whoever wrote or read it."""
        with self.engine.connect() as db:
            return list(db.scalars(sa.select(m.datasets.c.name).where(m.datasets.c.namespace == namespace)))

    def recorded_versions(self, namespace: str, names: Collection[str]) -> dict[str, set[str]]:
        """The versions of each named dataset that the catalog has a COMPLETE run for."""
        d, v = m.datasets, m.dataset_versions
        found: dict[str, set[str]] = {name: set() for name in names}
        with self.engine.connect() as db:
            for chunk in in_batches(sorted(names)):
                for row in db.execute(
                    sa.select(d.c.name, v.c.version)
                    .join(v, v.c.dataset_id == d.c.id)
                    .where(d.c.namespace == namespace, d.c.name.in_(chunk))
                ):
                    found[row.name].add(row.version)
        return found

    def restate(self, namespace: str, states: Mapping[str, DeltaState]) -> list[str]:
        """Make each named product's entry equal its Delta log, in one transaction: versions Delta does not have
        are removed, the current version becomes Delta's latest, and the latest's contract describes the product.
        Returns what changed, one `<product>: ...` line each; a product that already agrees is not written."""
        d, v = m.datasets, m.dataset_versions
        changed = []
        with self.engine.begin() as db:
            for chunk in in_batches(sorted(states)):
                rows = db.execute(sa.select(d).where(d.c.namespace == namespace, d.c.name.in_(chunk))).all()
                recorded: dict[int, set[str]] = {row.id: set() for row in rows}
                for found in db.execute(sa.select(v.c.dataset_id, v.c.version).where(v.c.dataset_id.in_(recorded))):
                    recorded[found.dataset_id].add(found.version)
                for row in rows:
                    state, done = states[row.name], []
                    if extra := recorded[row.id] - state.versions:
                        db.execute(v.delete().where(v.c.dataset_id == row.id, v.c.version.in_(extra)))
                        done.append(f"removed version(s) {', '.join(sorted(extra, key=_version_order))}")
                    values = {k: val for k, val in state.described.items() if getattr(row, k) != val}
                    if row.current_version != state.latest:
                        values.update(current_version=state.latest, last_modified_at=state.at)
                        done.append(f"current version {row.current_version} -> {state.latest}")
                    if state.latest is not None and row.producer != PLATFORM_PRODUCER:
                        values["producer"] = PLATFORM_PRODUCER
                    done += [f"{k} restated" for k in sorted(state.described) if k in values]
                    if values:
                        db.execute(d.update().where(d.c.id == row.id).values(values))
                    if done:
                        changed.append(f"{row.name}: {'; '.join(done)}")
        return changed

    def retire(self, namespace: str, *, live: Collection[str]) -> tuple[list[str], list[str]]:
        """Mark each product of `namespace` whose name is not `live` (its contract is gone) retired, and a retired
        one that is live again not; returns (retired now, live again)."""
        d = m.datasets
        retired, revived = [], []
        with self.engine.begin() as db:
            rows = db.execute(
                sa.select(d.c.id, d.c.name, d.c.facets).where(
                    d.c.namespace == namespace, d.c.producer == PLATFORM_PRODUCER, d.c.contract.is_not(None)
                )
            ).all()
            for row in rows:
                facets = dict(row.facets or {})
                if (row.name in live) == (RETIRED_FACET not in facets):
                    continue
                if row.name in live:
                    del facets[RETIRED_FACET]
                    revived.append(row.name)
                else:
                    facets[RETIRED_FACET] = {"since": datetime.now(UTC).isoformat()}
                    retired.append(row.name)
                db.execute(d.update().where(d.c.id == row.id).values(facets=facets))
        return sorted(retired), sorted(revived)

    def open_runs(self, *, job_namespace: str, names: Collection[str] | None = None) -> list[OpenRun]:
        """Runs of the named jobs (all, when None) that started and never ended (no COMPLETE, FAIL or ABORT yet)."""
        r, j = m.runs, m.jobs
        with self.engine.connect() as db:
            rows = db.execute(
                sa.select(r.c.run_id, r.c.parent_run_id, r.c.created_at, r.c.started_at, r.c.facets, j.c.name)
                .join(j, j.c.id == r.c.job_id)
                .where(r.c.state.not_in(TERMINAL), j.c.namespace == job_namespace)
            ).all()
        return [
            OpenRun(
                run_id=row.run_id,
                job=row.name,
                parent_run_id=row.parent_run_id,
                since=row.started_at or row.created_at,
                process=run_process(row.facets),
            )
            for row in rows
            if names is None or row.name in names
        ]

    # -- helpers ----------------------------------------------------------------------------

    @staticmethod
    def _namespace_exists(db: sa.Connection, namespace: str) -> None:
        if db.scalar(sa.select(m.namespaces.c.name).where(m.namespaces.c.name == namespace)) is None:
            raise NotFound(f"no namespace {namespace!r}")

    @staticmethod
    def _dataset_row(db: sa.Connection, namespace: str, name: str) -> sa.Row:
        row = db.execute(
            sa.select(m.datasets).where(m.datasets.c.namespace == namespace, m.datasets.c.name == name)
        ).one_or_none()
        if row is None:
            raise NotFound(f"no dataset {name!r} in namespace {namespace!r}")
        return row


def _version_order(version: str) -> tuple[int, str]:
    return (int(version), "") if version.isdigit() else (-1, version)
