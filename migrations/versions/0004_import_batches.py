"""import batches: every committed `flask import` / upload, findable later

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-27 04:22:08.225969

"""

import sqlalchemy as sa
from alembic import op

import app.models.types

# Every table in utf8mb4 whatever the MySQL database's default (emoji and rare CJK survive).
TABLE_OPTIONS = {"mysql_charset": "utf8mb4", "mysql_collate": "utf8mb4_unicode_ci"}

# revision identifiers, used by Alembic.
revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "import_batches",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("table_name", sa.String(length=64), nullable=False),
        sa.Column("file_name", sa.String(length=255), nullable=False),
        sa.Column("file_sha256", sa.String(length=64), nullable=False),
        sa.Column("file_format", sa.String(length=8), nullable=False),
        sa.Column("sheet_name", sa.String(length=64), nullable=True),
        sa.Column("row_count", sa.Integer(), nullable=False),
        sa.Column("first_key", sa.String(length=255), nullable=True),
        sa.Column("last_key", sa.String(length=255), nullable=True),
        sa.Column("actor_id", sa.Integer(), nullable=True),
        sa.Column("actor_name", sa.String(length=64), nullable=True),
        sa.Column("notes", sa.Text(), nullable=True),
        sa.Column(
            "created_at",
            app.models.types.UTCDateTime(),
            server_default=app.models.types.utc_now_default(),
            nullable=False,
        ),
        sa.ForeignKeyConstraint(
            ["actor_id"], ["users.id"], name=op.f("fk_import_batches_actor_id_users")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_import_batches")),
        **TABLE_OPTIONS,
    )
    with op.batch_alter_table("import_batches", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_import_batches_actor_id"), ["actor_id"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_import_batches_created_at"), ["created_at"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_import_batches_file_sha256"), ["file_sha256"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_import_batches_table_name"), ["table_name"], unique=False
        )


def downgrade():
    # Dropping the table drops its indexes; MySQL refuses to drop the foreign key's index first.
    op.drop_table("import_batches")
