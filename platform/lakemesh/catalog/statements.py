"""The SQL of one event's ingestion, built once per database dialect with bound parameters in place of values.

Executed with parameter lists (executemany), so an event costs about ten round trips whatever its number of
datasets, and SQLAlchemy compiles nothing per event (`lakemesh.catalog.ingestion` runs them).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite

from lakemesh.catalog import model as m

__all__ = ["DESCRIPTIVE", "Statements", "statements"]

DESCRIPTIVE = (
    "facets",
    "fields",
    "owner",
    "description",
    "contract",
    "producer",
    "current_version",
    "last_modified_at",
)


@dataclass(frozen=True)
class Statements:
    """Every statement of an ingestion, with bound parameters in place of values."""

    event: sa.Insert
    namespaces: sa.Insert
    job: sa.Insert
    latest_run: sa.Update
    job_facets: sa.Update
    run: sa.Select
    new_run: sa.Insert
    run_update: sa.Update
    datasets: sa.Insert
    describe: sa.Update
    version: sa.Insert
    job_io: sa.Select
    job_io_clear: sa.Delete
    job_io_add: sa.Insert
    graph_changed: sa.Update
    run_io: sa.Insert
    column_lineage_clear: sa.Delete
    column_lineage_add: sa.Insert
    column_lineage_observed: sa.Insert
    assertions: sa.Insert
    symlink: sa.Insert
    symlinks: sa.Select


@cache
def statements(dialect: str) -> Statements:
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    d, j, r = m.datasets, m.jobs, m.runs

    def upsert_named(table: sa.Table, *touched: str) -> Any:
        statement = insert(table)
        return statement.on_conflict_do_update(
            index_elements=["namespace", "name"], set_={c: statement.excluded[c] for c in ("updated_at", *touched)}
        )

    namespaces = insert(m.namespaces)
    run_io = insert(m.run_io)
    assertions = insert(m.assertions)
    symlink, s = insert(m.dataset_symlinks), m.dataset_symlinks
    return Statements(
        event=m.events.insert(),
        namespaces=namespaces.on_conflict_do_update(
            index_elements=["name"], set_={"updated_at": namespaces.excluded.updated_at}
        ),
        job=upsert_named(j).returning(j.c.id, j.c.facets, j.c.description, j.c.location),
        latest_run=j.update()
        .where(
            j.c.id == sa.bindparam("job_id"),
            sa.or_(
                j.c.latest_run_id.is_(None),
                j.c.latest_run_id == sa.bindparam("run_id"),
                sa.select(r.c.created_at).where(r.c.run_id == j.c.latest_run_id).scalar_subquery()
                <= sa.bindparam("event_time", type_=m.UtcDateTime),
            ),
        )
        .values(latest_run_id=sa.bindparam("run_id")),
        job_facets=j.update()
        .where(j.c.id == sa.bindparam("job_id"))
        .values(
            facets=sa.bindparam("facets"), description=sa.bindparam("description"), location=sa.bindparam("location")
        ),
        run=sa.select(r).where(r.c.run_id == sa.bindparam("run_id")),
        new_run=r.insert(),
        run_update=r.update()
        .where(r.c.run_id == sa.bindparam("b_run_id"))
        .values({c.name: sa.bindparam(c.name) for c in r.c if c.name not in ("run_id", "created_at")}),
        datasets=upsert_named(d).returning(
            d.c.id, d.c.namespace, d.c.name, *(d.c[c] for c in DESCRIPTIVE), sort_by_parameter_order=True
        ),
        describe=d.update().where(d.c.id == sa.bindparam("b_id")).values({c: sa.bindparam(c) for c in DESCRIPTIVE}),
        version=insert(m.dataset_versions).on_conflict_do_nothing(),
        job_io=sa.select(m.job_io.c.dataset_id, m.job_io.c.direction).where(
            m.job_io.c.job_id == sa.bindparam("job_id")
        ),
        job_io_clear=m.job_io.delete().where(m.job_io.c.job_id == sa.bindparam("job_id")),
        job_io_add=m.job_io.insert(),
        graph_changed=m.graph_state.update().values(version=m.graph_state.c.version + 1),
        run_io=run_io.on_conflict_do_update(
            index_elements=["run_id", "dataset_id", "direction"],
            set_={"version": sa.func.coalesce(run_io.excluded.version, m.run_io.c.version)},
        ),
        column_lineage_clear=m.column_lineage.delete().where(
            m.column_lineage.c.output_dataset_id == sa.bindparam("output_id")
        ),
        column_lineage_add=m.column_lineage.insert(),
        column_lineage_observed=insert(m.column_lineage).on_conflict_do_nothing(),
        assertions=assertions.on_conflict_do_update(
            index_elements=["run_id", "dataset_id", "assertion", "column_name"],
            set_={"success": assertions.excluded.success},
        ),
        symlink=symlink.on_conflict_do_update(
            index_elements=["namespace", "name"],
            set_={"target_namespace": symlink.excluded.target_namespace, "target_name": symlink.excluded.target_name},
        ),
        symlinks=sa.select(s.c.namespace, s.c.name, s.c.target_namespace, s.c.target_name).where(
            sa.tuple_(s.c.namespace, s.c.name).in_(sa.bindparam("names", expanding=True))
        ),
    )
