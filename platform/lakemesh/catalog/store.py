"""The catalog store: OpenLineage run events in, datasets, jobs, runs and versions out.

One class over SQLAlchemy serves the embedded SQLite file and a team's
PostgreSQL alike; the schema is brought to the newest Alembic revision the
first time a process opens a URL. Everything is derived from run events, so an
event from the platform's own publish and one posted by any other OpenLineage
producer are handled the same way. Lookups return Marquez's JSON shapes, which
the HTTP API serves as they are.
"""

from __future__ import annotations

import fcntl
import json
import sqlite3
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cache
from pathlib import Path
from typing import Any

import attr
import orjson
import sqlalchemy as sa

from lakemesh.catalog import model as m
from lakemesh.catalog.events import check_run_event
from lakemesh.catalog.ingestion import TERMINAL, WHOLE_DATASET, ingest_event
from lakemesh.settings import PLATFORM_PRODUCER

__all__ = [
    "WHOLE_DATASET",
    "Catalog",
    "NotFound",
    "OpenRun",
    "ProductEntry",
    "VersionEntry",
    "catalog_url",
    "in_batches",
    "iso",
    "rows_by_id",
    "runs_json",
]

_MIGRATIONS = Path(__file__).parent / "migrations"


class NotFound(LookupError):
    """The catalog has never seen the namespace, dataset, job, run or node asked for."""


def catalog_url(target: str | Path) -> str:
    """A SQLAlchemy URL for a SQLite file path or a database URL (`postgresql://` uses psycopg 3)."""
    text = str(target)
    if "://" not in text:
        return f"sqlite:///{Path(text).expanduser().resolve()}"
    for prefix in ("postgresql://", "postgres://"):
        if text.startswith(prefix):
            return "postgresql+psycopg://" + text.removeprefix(prefix)
    return text


def iso(value: datetime | None) -> str | None:
    """ISO-8601 in UTC with a `Z`, the way Marquez writes timestamps."""
    if value is None:
        return None
    if value.tzinfo is not UTC:
        value = value.astimezone(UTC)
    return value.replace(tzinfo=None).isoformat() + "Z"  # graphs format thousands of these


_JSON_CODEC = {"json_serializer": lambda value: orjson.dumps(value).decode(), "json_deserializer": orjson.loads}


@cache
def _engine(url: str) -> sa.Engine:
    """One engine per URL per process, migrated to the newest schema on first use."""
    if url.startswith("sqlite"):
        database = Path(sa.make_url(url).database or "")
        database.parent.mkdir(parents=True, exist_ok=True)
        engine = sa.create_engine(url, connect_args={"timeout": 60}, **_JSON_CODEC)

        @sa.event.listens_for(engine, "connect")
        def _sqlite_pragmas(connection: Any, _record: Any) -> None:
            cursor = connection.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")  # readers never wait for the writer
            cursor.execute("PRAGMA synchronous=NORMAL")
            cursor.close()

        with database.with_suffix(".migrate.lock").open("w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)  # step processes open the same file side by side
            legacy = _set_aside_unversioned(database)
            _migrate(_transactional_ddl(url))
            if legacy is not None:
                _replay(legacy, engine)
    else:
        engine = sa.create_engine(url, pool_size=10, pool_pre_ping=True, **_JSON_CODEC)
        _migrate(engine)
    return engine


def _transactional_ddl(url: str) -> sa.Engine:
    """A SQLite engine whose transactions hold DDL too, so a migrator killed halfway leaves nothing behind.

    Python's sqlite3 runs `CREATE TABLE` outside any transaction; a process
    killed between two tables would leave a half-built schema that no later
    migration can finish. Here the driver's own transaction handling is off and
    every transaction is an explicit `BEGIN IMMEDIATE`.
    """
    engine = sa.create_engine(url, connect_args={"timeout": 60, "isolation_level": None}, poolclass=sa.NullPool)

    @sa.event.listens_for(engine, "begin")
    def _begin(connection: sa.Connection) -> None:
        connection.exec_driver_sql("BEGIN IMMEDIATE")

    return engine


def _set_aside_unversioned(database: Path) -> Path | None:
    """An embedded catalog written before migrations existed is moved aside, to be replayed into a new one."""
    if not database.is_file():
        return None
    with sqlite3.connect(database) as db:
        tables = {name for (name,) in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    if "events" not in tables or "alembic_version" in tables:
        return None
    legacy = database.with_name(f"{database.name}.unversioned")
    database.rename(legacy)
    for suffix in ("-wal", "-shm"):
        database.with_name(database.name + suffix).unlink(missing_ok=True)
    return legacy


def _replay(legacy: Path, engine: sa.Engine) -> None:
    """Rebuild everything from the old file's stored events: the catalog is derived from them alone."""
    with sqlite3.connect(legacy) as old, engine.begin() as db:
        for (payload,) in old.execute("SELECT payload FROM events ORDER BY id"):
            ingest_event(db, json.loads(payload))


def _at_head(engine: sa.Engine) -> bool:
    """Whether the database is at the newest revision, without importing Alembic (half a second).

    Revisions are numbered like their files (`versions/0001_initial.py` is revision 0001).
    """
    newest = max(path.name.split("_", 1)[0] for path in (_MIGRATIONS / "versions").glob("[0-9]*_*.py"))
    try:
        with engine.connect() as connection:
            return connection.scalar(sa.text("SELECT version_num FROM alembic_version")) == newest
    except sa.exc.DBAPIError:  # no catalog yet
        return False


def _migrate(engine: sa.Engine) -> None:
    if _at_head(engine):
        return
    from alembic import command
    from alembic.config import Config
    from alembic.runtime.migration import MigrationContext
    from alembic.script import ScriptDirectory

    config = Config()
    config.set_main_option("script_location", str(_MIGRATIONS))
    head = ScriptDirectory.from_config(config).get_current_head()
    with engine.begin() as connection:
        if engine.dialect.name == "postgresql":
            connection.execute(sa.text("SELECT pg_advisory_xact_lock(727365)"))  # one migrator at a time
        if MigrationContext.configure(connection).get_current_revision() != head:
            config.attributes["connection"] = connection
            command.upgrade(config, "head")


@dataclass(frozen=True, kw_only=True)
class OpenRun:
    """A run the catalog has seen start and not end."""

    run_id: str
    job: str
    parent_run_id: str | None
    since: datetime


@dataclass(frozen=True, kw_only=True)
class VersionEntry:
    """One version of a dataset and the run that wrote it."""

    version: str
    created_at: datetime
    run_id: str
    run_state: str | None
    row_count: int | None


@dataclass(frozen=True, kw_only=True)
class ProductEntry:
    """What the catalog knows of one dataset, for the CLI and the product page."""

    namespace: str
    name: str
    description: str | None
    owner: str | None
    contract: Mapping[str, Any]
    fields: list[dict[str, Any]]
    current_version: str | None
    updated_at: datetime | None
    versions: list[VersionEntry]
    last_run: dict[str, Any] | None
    checks: dict[str, bool]

    @property
    def domain(self) -> str:
        return self.name.split(".", 1)[0]

    @property
    def freshness_hours(self) -> float | None:
        return self.contract.get("freshnessHours")

    def age_hours(self, now: datetime | None = None) -> float | None:
        """Hours since the current version was written."""
        if self.updated_at is None:
            return None
        return ((now or datetime.now(UTC)) - self.updated_at).total_seconds() / 3600

    def is_fresh(self, now: datetime | None = None) -> bool | None:
        """Whether the current version is within the contract's freshness SLA (None when there is no SLA)."""
        age = self.age_hours(now)
        if self.freshness_hours is None or age is None:
            return None if self.freshness_hours is None else False
        return age <= self.freshness_hours


class Catalog:
    """The catalog at a SQLite path or a database URL."""

    def __init__(self, target: str | Path) -> None:
        self.url = catalog_url(target)
        self.engine = _engine(self.url)

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
                ingest_event(db, event if checked else check_run_event(event))

    # -- Marquez-shaped lookups ----------------------------------------------------------------

    def namespaces(self, *, limit: int = 100, offset: int = 0) -> tuple[list[dict[str, Any]], int]:
        with self.engine.connect() as db:
            total = db.scalar(sa.select(sa.func.count()).select_from(m.namespaces))
            rows = db.execute(sa.select(m.namespaces).order_by(m.namespaces.c.name).limit(limit).offset(offset))
            return [_namespace_json(r) for r in rows], total

    def namespace(self, name: str) -> dict[str, Any]:
        with self.engine.connect() as db:
            row = db.execute(sa.select(m.namespaces).where(m.namespaces.c.name == name)).one_or_none()
        if row is None:
            raise NotFound(f"no namespace {name!r}")
        return _namespace_json(row)

    def datasets(self, namespace: str, *, limit: int = 100, offset: int = 0) -> tuple[list[dict[str, Any]], int]:
        with self.engine.connect() as db:
            self._namespace_exists(db, namespace)
            where = m.datasets.c.namespace == namespace
            total = db.scalar(sa.select(sa.func.count()).select_from(m.datasets).where(where))
            rows = db.execute(
                sa.select(m.datasets).where(where).order_by(m.datasets.c.name).limit(limit).offset(offset)
            ).all()
            return [_dataset_json(r) for r in rows], total

    def dataset(self, namespace: str, name: str) -> dict[str, Any]:
        with self.engine.connect() as db:
            return _dataset_json(self._dataset_row(db, namespace, name))

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
            return [_version_json(dataset, r, created_by.get(r.run_id)) for r in rows], total

    def jobs(self, namespace: str, *, limit: int = 100, offset: int = 0) -> tuple[list[dict[str, Any]], int]:
        with self.engine.connect() as db:
            self._namespace_exists(db, namespace)
            where = m.jobs.c.namespace == namespace
            total = db.scalar(sa.select(sa.func.count()).select_from(m.jobs).where(where))
            rows = db.execute(sa.select(m.jobs).where(where).order_by(m.jobs.c.name).limit(limit).offset(offset)).all()
            return self._jobs_json(db, rows), total

    def job(self, namespace: str, name: str) -> dict[str, Any]:
        with self.engine.connect() as db:
            row = db.execute(
                sa.select(m.jobs).where(m.jobs.c.namespace == namespace, m.jobs.c.name == name)
            ).one_or_none()
            if row is None:
                raise NotFound(f"no job {name!r} in namespace {namespace!r}")
            return self._jobs_json(db, [row])[0]

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
                raise NotFound(f"the catalog has no product named {name!r}" + (elsewhere if others else ""))
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

    def open_runs(self, *, job_namespace: str, names: Collection[str]) -> list[OpenRun]:
        """Runs of the named jobs that started and never ended (no COMPLETE, FAIL or ABORT yet)."""
        r, j = m.runs, m.jobs
        with self.engine.connect() as db:
            rows = db.execute(
                sa.select(r.c.run_id, r.c.parent_run_id, r.c.created_at, r.c.started_at, j.c.name)
                .join(j, j.c.id == r.c.job_id)
                .where(r.c.state.not_in(TERMINAL), j.c.namespace == job_namespace)
            ).all()
        return [
            OpenRun(
                run_id=row.run_id, job=row.name, parent_run_id=row.parent_run_id, since=row.started_at or row.created_at
            )
            for row in rows
            if row.name in names
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

    def _jobs_json(self, db: sa.Connection, rows: list[sa.Row]) -> list[dict[str, Any]]:
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


# -- JSON in Marquez's shapes ---------------------------------------------------------------------


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


def _namespace_json(row: sa.Row) -> dict[str, Any]:
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


def _dataset_json(row: sa.Row) -> dict[str, Any]:
    return {
        **dataset_node_json(row),
        "currentVersion": row.current_version,
        "facets": row.facets or {},
        "deleted": False,
    }


def _version_json(dataset: sa.Row, row: sa.Row, run: dict[str, Any] | None) -> dict[str, Any]:
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


def in_batches(items: Iterable[Any], size: int = 5000) -> Iterable[list[Any]]:
    """Bounded IN lists: SQLite allows 32,766 parameters per statement."""
    items = list(items)
    for start in range(0, len(items), size):
        yield items[start : start + size]


def rows_by_id(
    db: sa.Connection, table: sa.Table, ids: Iterable[int], *, columns: Sequence[str] | None = None
) -> dict[int, sa.Row]:
    """Rows of a table with an `id` key (datasets, jobs), all columns or the `columns` named (`id` among them)."""
    selected = [table.c[name] for name in columns] if columns else [table]
    return {
        row.id: row
        for batch in in_batches(set(ids))
        for row in db.execute(sa.select(*selected).where(table.c.id.in_(batch)))
    }
