"""Datasets remember the producer that wrote them (products are what the platform wrote); runs by state;
the lineage graph's version, which moves when a job's inputs or outputs change.

The producer of datasets written before this revision is read back from the stored events.

Revision ID: 0002
Revises: 0001
"""

import json

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("datasets", sa.Column("producer", sa.Text))
    op.create_index("runs_by_state", "runs", ["state"])
    graph_state = op.create_table(
        "graph_state",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("version", sa.BigInteger, nullable=False),
    )
    op.bulk_insert(graph_state, [{"id": 1, "version": 0}])
    db = op.get_bind()
    writers: dict[tuple[str, str], str] = {}
    for (payload,) in db.execute(sa.text("SELECT payload FROM events ORDER BY id")):
        event = json.loads(payload) if isinstance(payload, str) else payload
        for output in event.get("outputs") or []:
            writers[(output["namespace"], output["name"])] = event["producer"]
    update = sa.text("UPDATE datasets SET producer = :producer WHERE namespace = :namespace AND name = :name")
    for (namespace, name), producer in writers.items():
        db.execute(update, {"producer": producer, "namespace": namespace, "name": name})


def downgrade() -> None:
    op.drop_table("graph_state")
    op.drop_index("runs_by_state", "runs")
    op.drop_column("datasets", "producer")
