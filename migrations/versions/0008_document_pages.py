"""documents.page_count: how many PNG pages were made from a TIFF at upload

TIFF documents stored before this revision keep page_count NULL; `flask documents pages`
makes their pages.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-02 20:00:00.000000

"""

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("documents", schema=None) as batch_op:
        batch_op.add_column(sa.Column("page_count", sa.Integer(), nullable=True))


def downgrade():
    with op.batch_alter_table("documents", schema=None) as batch_op:
        batch_op.drop_column("page_count")
