"""freezes and freeze_jobs: immutable, checksummed versions of the data, and their progress

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-03 09:00:00.000000

"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import mysql

import app.models.types

# Every table in utf8mb4 whatever the MySQL database's default (emoji and rare CJK survive).
TABLE_OPTIONS = {"mysql_charset": "utf8mb4", "mysql_collate": "utf8mb4_unicode_ci"}

# revision identifiers, used by Alembic.
revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "freezes",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("rows", sa.String(length=16), nullable=False),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("storage_key", sa.String(length=64), nullable=False),
        sa.Column("size_bytes", sa.BigInteger(), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("manifest_sha256", sa.String(length=64), nullable=False),
        sa.Column(
            "manifest",
            sa.Text()
            .with_variant(mysql.LONGTEXT(), "mariadb")
            .with_variant(mysql.LONGTEXT(), "mysql"),
            nullable=False,
        ),
        sa.Column("row_count", sa.BigInteger(), nullable=False),
        sa.Column("schema_revision", sa.String(length=64), nullable=True),
        sa.Column("creator_id", sa.Integer(), nullable=True),
        sa.Column("creator_name", sa.String(length=100), nullable=False),
        sa.Column(
            "created_at",
            app.models.types.UTCDateTime(),
            server_default=app.models.types.utc_now_default(),
            nullable=False,
        ),
        sa.ForeignKeyConstraint(
            ["creator_id"], ["users.id"], name=op.f("fk_freezes_creator_id_users")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_freezes")),
        sa.UniqueConstraint("name", name=op.f("uq_freezes_name")),
        **TABLE_OPTIONS,
    )
    with op.batch_alter_table("freezes", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_freezes_created_at"), ["created_at"], unique=False)
        batch_op.create_index(batch_op.f("ix_freezes_creator_id"), ["creator_id"], unique=False)

    op.create_table(
        "freeze_jobs",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("rows", sa.String(length=16), nullable=False),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("rows_done", sa.BigInteger(), nullable=False),
        sa.Column("rows_total", sa.BigInteger(), nullable=True),
        sa.Column("message", sa.Text(), nullable=True),
        sa.Column("creator_id", sa.Integer(), nullable=True),
        sa.Column("creator_name", sa.String(length=100), nullable=False),
        sa.Column(
            "started_at",
            app.models.types.UTCDateTime(),
            server_default=app.models.types.utc_now_default(),
            nullable=False,
        ),
        sa.Column(
            "updated_at",
            app.models.types.UTCDateTime(),
            server_default=app.models.types.utc_now_default(),
            nullable=False,
        ),
        sa.ForeignKeyConstraint(
            ["creator_id"], ["users.id"], name=op.f("fk_freeze_jobs_creator_id_users")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_freeze_jobs")),
        sa.UniqueConstraint("name", name=op.f("uq_freeze_jobs_name")),
        **TABLE_OPTIONS,
    )
    with op.batch_alter_table("freeze_jobs", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_freeze_jobs_creator_id"), ["creator_id"], unique=False)


def downgrade():
    op.drop_table("freeze_jobs")
    op.drop_table("freezes")
