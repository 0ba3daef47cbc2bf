"""The catalog's tables, shared by SQLite and PostgreSQL.

Everything here is derived from OpenLineage run events (kept verbatim in
`events`): namespaces, datasets and their versions, jobs and the datasets they
read and write, runs, column lineage and data-quality assertions. Integer ids
on datasets and jobs keep the lineage graph's edges small and indexable.
The migrations in `migrations/versions` create exactly these tables.
"""

from __future__ import annotations

from datetime import UTC, datetime

import sqlalchemy as sa

__all__ = [
    "UtcDateTime",
    "assertions",
    "column_lineage",
    "dataset_symlinks",
    "dataset_versions",
    "datasets",
    "events",
    "graph_state",
    "job_io",
    "jobs",
    "metadata",
    "namespaces",
    "run_io",
    "runs",
]


class UtcDateTime(sa.types.TypeDecorator):
    """Timestamps stored as UTC on both backends and read back timezone-aware (SQLite drops the zone)."""

    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: sa.Dialect) -> datetime | None:
        if value is None:
            return None
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: sa.Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


NAME = sa.String(1024)  # Marquez's limit for namespace, dataset and job names
Id = sa.BigInteger().with_variant(sa.Integer(), "sqlite")  # SQLite only auto-increments INTEGER keys

metadata = sa.MetaData()


def _named_entity() -> list[sa.Column]:
    """The columns datasets and jobs share: an integer id, the OpenLineage (namespace, name), timestamps."""
    return [
        sa.Column("id", Id, primary_key=True, autoincrement=True),
        sa.Column("namespace", NAME, nullable=False),
        sa.Column("name", NAME, nullable=False),
        sa.Column("created_at", UtcDateTime, nullable=False),
        sa.Column("updated_at", UtcDateTime, nullable=False),
    ]


namespaces = sa.Table(
    "namespaces",
    metadata,
    sa.Column("name", NAME, primary_key=True),
    sa.Column("created_at", UtcDateTime, nullable=False),
    sa.Column("updated_at", UtcDateTime, nullable=False),
)

datasets = sa.Table(
    "datasets",
    metadata,
    *_named_entity(),
    sa.Column("description", sa.Text),
    sa.Column("owner", sa.String(255)),
    sa.Column("contract", sa.JSON(none_as_null=True)),  # SQL NULL, not JSON null: "no contract" is queried
    sa.Column("fields", sa.JSON),
    sa.Column("facets", sa.JSON),
    sa.Column("current_version", sa.String(255)),
    sa.Column("last_modified_at", UtcDateTime),
    sa.Column("producer", sa.Text),  # of the last event that wrote it: products are those the platform wrote
    sa.UniqueConstraint("namespace", "name", name="datasets_namespace_name"),
)

dataset_versions = sa.Table(
    "dataset_versions",
    metadata,
    sa.Column("dataset_id", Id, sa.ForeignKey("datasets.id"), primary_key=True),
    sa.Column("version", sa.String(255), primary_key=True),
    sa.Column("run_id", sa.String(64), nullable=False),
    sa.Column("created_at", UtcDateTime, nullable=False),
    sa.Column("row_count", sa.BigInteger),
    sa.Column("fields", sa.JSON),
    sa.Column("facets", sa.JSON),
    sa.Column("partition", sa.String(64)),  # the time partitions a product's commit replaced; null: the whole table
)

jobs = sa.Table(
    "jobs",
    metadata,
    *_named_entity(),
    sa.Column("description", sa.Text),
    sa.Column("location", sa.Text),
    sa.Column("facets", sa.JSON),
    sa.Column("latest_run_id", sa.String(64)),
    sa.UniqueConstraint("namespace", "name", name="jobs_namespace_name"),
)

job_io = sa.Table(
    "job_io",
    metadata,
    sa.Column("job_id", Id, sa.ForeignKey("jobs.id"), primary_key=True),
    sa.Column("dataset_id", Id, sa.ForeignKey("datasets.id"), primary_key=True),
    sa.Column("direction", sa.String(6), primary_key=True),
    sa.Index("job_io_by_dataset", "dataset_id", "direction"),
)

runs = sa.Table(
    "runs",
    metadata,
    sa.Column("run_id", sa.String(64), primary_key=True),
    sa.Column("job_id", Id, sa.ForeignKey("jobs.id"), nullable=False),
    sa.Column("state", sa.String(16), nullable=False),
    sa.Column("created_at", UtcDateTime, nullable=False),
    sa.Column("updated_at", UtcDateTime, nullable=False),
    sa.Column("started_at", UtcDateTime),
    sa.Column("ended_at", UtcDateTime),
    sa.Column("nominal_start_time", UtcDateTime),
    sa.Column("nominal_end_time", UtcDateTime),
    sa.Column("parent_run_id", sa.String(64)),
    sa.Column("error", sa.Text),
    sa.Column("facets", sa.JSON),
    sa.Index("runs_by_job", "job_id", "created_at"),
    sa.Index("runs_by_state", "state"),
)

run_io = sa.Table(
    "run_io",
    metadata,
    sa.Column("run_id", sa.String(64), primary_key=True),
    sa.Column("dataset_id", Id, sa.ForeignKey("datasets.id"), primary_key=True),
    sa.Column("direction", sa.String(6), primary_key=True),
    sa.Column("version", sa.String(255)),
    sa.Column("row_count", sa.BigInteger),
    sa.Index("run_io_by_dataset", "dataset_id", "direction"),
)

column_lineage = sa.Table(
    "column_lineage",
    metadata,
    sa.Column("output_dataset_id", Id, sa.ForeignKey("datasets.id"), primary_key=True),
    sa.Column("output_field", sa.String(255), primary_key=True),
    sa.Column("input_dataset_id", Id, sa.ForeignKey("datasets.id"), primary_key=True),
    sa.Column("input_field", sa.String(255), primary_key=True),
    sa.Column("transformation_type", sa.String(32)),
    sa.Column("transformation_subtype", sa.String(32)),
    sa.Column("transformation_description", sa.Text),
    sa.Column("updated_at", UtcDateTime, nullable=False),
    sa.Index("column_lineage_by_input", "input_dataset_id", "input_field"),
)

assertions = sa.Table(
    "assertions",
    metadata,
    sa.Column("run_id", sa.String(64), primary_key=True),
    sa.Column("dataset_id", Id, sa.ForeignKey("datasets.id"), primary_key=True),
    sa.Column("assertion", sa.String(255), primary_key=True),
    sa.Column("column_name", sa.String(255), primary_key=True, server_default=""),
    sa.Column("success", sa.Boolean, nullable=False),
)

events = sa.Table(
    "events",
    metadata,
    sa.Column("id", Id, primary_key=True, autoincrement=True),
    sa.Column("received_at", UtcDateTime, nullable=False),
    sa.Column("event_time", UtcDateTime, nullable=False),
    sa.Column("event_type", sa.String(16)),
    sa.Column("run_id", sa.String(64), nullable=False),
    sa.Column("job_namespace", NAME, nullable=False),
    sa.Column("job_name", NAME, nullable=False),
    sa.Column("payload", sa.JSON, nullable=False),
    sa.Index("events_by_time", "event_time"),
    sa.Index("events_by_namespace", "job_namespace", "event_time"),
)

graph_state = sa.Table(
    "graph_state",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("version", sa.BigInteger, nullable=False),
)
"""One row whose `version` moves whenever a job's inputs or outputs change: lineage caches the graph until it does."""

dataset_symlinks = sa.Table(
    "dataset_symlinks",
    metadata,
    sa.Column("namespace", NAME, primary_key=True),
    sa.Column("name", NAME, primary_key=True),
    sa.Column("target_namespace", NAME, nullable=False),
    sa.Column("target_name", NAME, nullable=False),
    sa.Column("created_at", UtcDateTime, nullable=False),
)
"""A storage name (`file` + path, `s3://bucket` + key) -> the product stored there, as the platform's events say
in their `symlinks` facets: any producer naming the storage (Spark's listener) lands on the product's node."""
