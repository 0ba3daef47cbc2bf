"""The first catalog schema: namespaces, datasets, versions, jobs, runs, column lineage, assertions, events.

Revision ID: 0001
Revises:
"""

import sqlalchemy as sa
from alembic import op
from lakemesh.catalog.model import UtcDateTime

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

NAME = sa.String(1024)
Id = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def _ref(table: str) -> sa.ForeignKey:
    return sa.ForeignKey(f"{table}.id")


def upgrade() -> None:
    op.create_table(
        "namespaces",
        sa.Column("name", NAME, primary_key=True),
        sa.Column("created_at", UtcDateTime, nullable=False),
        sa.Column("updated_at", UtcDateTime, nullable=False),
    )
    op.create_table(
        "datasets",
        sa.Column("id", Id, primary_key=True, autoincrement=True),
        sa.Column("namespace", NAME, nullable=False),
        sa.Column("name", NAME, nullable=False),
        sa.Column("created_at", UtcDateTime, nullable=False),
        sa.Column("updated_at", UtcDateTime, nullable=False),
        sa.Column("description", sa.Text),
        sa.Column("owner", sa.String(255)),
        sa.Column("contract", sa.JSON),
        sa.Column("fields", sa.JSON),
        sa.Column("facets", sa.JSON),
        sa.Column("current_version", sa.String(255)),
        sa.Column("last_modified_at", UtcDateTime),
        sa.UniqueConstraint("namespace", "name", name="datasets_namespace_name"),
    )
    op.create_table(
        "dataset_versions",
        sa.Column("dataset_id", Id, _ref("datasets"), primary_key=True),
        sa.Column("version", sa.String(255), primary_key=True),
        sa.Column("run_id", sa.String(64), nullable=False),
        sa.Column("created_at", UtcDateTime, nullable=False),
        sa.Column("row_count", sa.BigInteger),
        sa.Column("fields", sa.JSON),
        sa.Column("facets", sa.JSON),
    )
    op.create_table(
        "jobs",
        sa.Column("id", Id, primary_key=True, autoincrement=True),
        sa.Column("namespace", NAME, nullable=False),
        sa.Column("name", NAME, nullable=False),
        sa.Column("created_at", UtcDateTime, nullable=False),
        sa.Column("updated_at", UtcDateTime, nullable=False),
        sa.Column("description", sa.Text),
        sa.Column("location", sa.Text),
        sa.Column("facets", sa.JSON),
        sa.Column("latest_run_id", sa.String(64)),
        sa.UniqueConstraint("namespace", "name", name="jobs_namespace_name"),
    )
    op.create_table(
        "job_io",
        sa.Column("job_id", Id, _ref("jobs"), primary_key=True),
        sa.Column("dataset_id", Id, _ref("datasets"), primary_key=True),
        sa.Column("direction", sa.String(6), primary_key=True),
    )
    op.create_index("job_io_by_dataset", "job_io", ["dataset_id", "direction"])
    op.create_table(
        "runs",
        sa.Column("run_id", sa.String(64), primary_key=True),
        sa.Column("job_id", Id, _ref("jobs"), nullable=False),
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
    )
    op.create_index("runs_by_job", "runs", ["job_id", "created_at"])
    op.create_table(
        "run_io",
        sa.Column("run_id", sa.String(64), primary_key=True),
        sa.Column("dataset_id", Id, _ref("datasets"), primary_key=True),
        sa.Column("direction", sa.String(6), primary_key=True),
        sa.Column("version", sa.String(255)),
        sa.Column("row_count", sa.BigInteger),
    )
    op.create_index("run_io_by_dataset", "run_io", ["dataset_id", "direction"])
    op.create_table(
        "column_lineage",
        sa.Column("output_dataset_id", Id, _ref("datasets"), primary_key=True),
        sa.Column("output_field", sa.String(255), primary_key=True),
        sa.Column("input_dataset_id", Id, _ref("datasets"), primary_key=True),
        sa.Column("input_field", sa.String(255), primary_key=True),
        sa.Column("transformation_type", sa.String(32)),
        sa.Column("transformation_subtype", sa.String(32)),
        sa.Column("transformation_description", sa.Text),
        sa.Column("updated_at", UtcDateTime, nullable=False),
    )
    op.create_index("column_lineage_by_input", "column_lineage", ["input_dataset_id", "input_field"])
    op.create_table(
        "assertions",
        sa.Column("run_id", sa.String(64), primary_key=True),
        sa.Column("dataset_id", Id, _ref("datasets"), primary_key=True),
        sa.Column("assertion", sa.String(255), primary_key=True),
        sa.Column("column_name", sa.String(255), primary_key=True, server_default=""),
        sa.Column("success", sa.Boolean, nullable=False),
    )
    op.create_table(
        "events",
        sa.Column("id", Id, primary_key=True, autoincrement=True),
        sa.Column("received_at", UtcDateTime, nullable=False),
        sa.Column("event_time", UtcDateTime, nullable=False),
        sa.Column("event_type", sa.String(16)),
        sa.Column("run_id", sa.String(64), nullable=False),
        sa.Column("job_namespace", NAME, nullable=False),
        sa.Column("job_name", NAME, nullable=False),
        sa.Column("payload", sa.JSON, nullable=False),
    )
    op.create_index("events_by_time", "events", ["event_time"])
    op.create_index("events_by_namespace", "events", ["job_namespace", "event_time"])


def downgrade() -> None:
    for index, table in (
        ("events_by_namespace", "events"),
        ("events_by_time", "events"),
        ("column_lineage_by_input", "column_lineage"),
        ("run_io_by_dataset", "run_io"),
        ("runs_by_job", "runs"),
        ("job_io_by_dataset", "job_io"),
    ):
        op.drop_index(index, table_name=table)
    for table in (
        "events",
        "assertions",
        "column_lineage",
        "run_io",
        "runs",
        "job_io",
        "jobs",
        "dataset_versions",
        "datasets",
        "namespaces",
    ):
        op.drop_table(table)
