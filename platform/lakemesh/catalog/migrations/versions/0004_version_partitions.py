"""A product version names the time partitions its commit replaced (`1995-06-30`, `1995-06-01...1995-06-30`), so the
product page shows which partitions exist and the version that wrote each.

Revision ID: 0004
Revises: 0003
"""

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("dataset_versions") as table:
        table.add_column(sa.Column("partition", sa.String(64)))


def downgrade() -> None:
    with op.batch_alter_table("dataset_versions") as table:
        table.drop_column("partition")
