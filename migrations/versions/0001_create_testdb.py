"""create testDB, the researcher's seed table

Revision ID: 0001
Revises:
Create Date: 2026-11-27 04:00:17

"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import mysql

import app.models.types

# revision identifiers, used by Alembic.
revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "testDB",
        sa.Column(
            "string_column",
            sa.String(length=140).with_variant(
                mysql.VARCHAR(140, charset="utf8mb4", collation="utf8mb4_bin"), "mysql", "mariadb"
            ),
            nullable=False,
        ),
        sa.Column("integer_column", sa.Integer(), nullable=True),
        sa.Column(
            "date_column",
            app.models.types.UTCDateTime(),
            server_default=app.models.types.utc_now_default(),
            nullable=True,
        ),
        sa.PrimaryKeyConstraint("string_column", name=op.f("pk_testDB")),
        mysql_charset="utf8mb4",
        mysql_collate="utf8mb4_unicode_ci",
    )


def downgrade():
    op.drop_table("testDB")
