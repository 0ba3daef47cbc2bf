"""Storage names of products (the OpenLineage naming spec's `file` + path, `s3://bucket` + key) resolve to the
product's node: the platform's events carry them with a `symlinks` facet naming the product.

Revision ID: 0003
Revises: 0002
"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "dataset_symlinks",
        sa.Column("namespace", sa.String(1024), primary_key=True),
        sa.Column("name", sa.String(1024), primary_key=True),
        sa.Column("target_namespace", sa.String(1024), nullable=False),
        sa.Column("target_name", sa.String(1024), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("dataset_symlinks")
