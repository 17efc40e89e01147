"""tallies: the running counts the dashboard reads instead of counting every row

Created empty: the first dashboard view (or `flask dashboard recount`) fills it from the tables.

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-27 08:00:00.000000

"""

import sqlalchemy as sa
from alembic import op

TABLE_OPTIONS = {"mysql_charset": "utf8mb4", "mysql_collate": "utf8mb4_unicode_ci"}

# revision identifiers, used by Alembic.
revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "tallies",
        sa.Column("subject", sa.String(length=80), nullable=False),
        sa.Column("clerk_id", sa.Integer(), nullable=False),
        sa.Column("key", sa.String(length=32), nullable=False),
        sa.Column("n", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("subject", "clerk_id", "key", name=op.f("pk_tallies")),
        **TABLE_OPTIONS,
    )


def downgrade():
    op.drop_table("tallies")
