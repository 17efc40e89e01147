"""quality flags, double entry, comparisons, settings

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-27 04:25:32.700450

"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import mysql

import app.models.types

TABLE_OPTIONS = {"mysql_charset": "utf8mb4", "mysql_collate": "utf8mb4_unicode_ci"}

# revision identifiers, used by Alembic.
revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "settings",
        sa.Column("key", sa.String(length=64), nullable=False),
        sa.Column("value", sa.String(length=255), nullable=False),
        sa.PrimaryKeyConstraint("key", name=op.f("pk_settings")),
        **TABLE_OPTIONS,
    )
    op.create_table(
        "comparisons",
        sa.Column("document_id", sa.Integer(), nullable=False),
        sa.Column("clerk_a_id", sa.Integer(), nullable=False),
        sa.Column("clerk_b_id", sa.Integer(), nullable=False),
        sa.Column("fields_compared", sa.Integer(), nullable=False),
        sa.Column("differences", sa.Integer(), nullable=False),
        sa.Column("created_at", app.models.types.UTCDateTime(), nullable=False),
        sa.Column("resolved_at", app.models.types.UTCDateTime(), nullable=True),
        sa.Column("resolved_by_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["clerk_a_id"], ["users.id"], name=op.f("fk_comparisons_clerk_a_id_users")
        ),
        sa.ForeignKeyConstraint(
            ["clerk_b_id"], ["users.id"], name=op.f("fk_comparisons_clerk_b_id_users")
        ),
        sa.ForeignKeyConstraint(
            ["document_id"],
            ["documents.id"],
            name=op.f("fk_comparisons_document_id_documents"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["resolved_by_id"], ["users.id"], name=op.f("fk_comparisons_resolved_by_id_users")
        ),
        sa.PrimaryKeyConstraint("document_id", name=op.f("pk_comparisons")),
        **TABLE_OPTIONS,
    )
    with op.batch_alter_table("comparisons", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_comparisons_clerk_a_id"), ["clerk_a_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_comparisons_clerk_b_id"), ["clerk_b_id"], unique=False)

    op.create_table(
        "double_entry_rows",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("document_id", sa.Integer(), nullable=False),
        sa.Column("clerk_id", sa.Integer(), nullable=False),
        sa.Column("table_name", sa.String(length=64), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column(
            "data",
            sa.Text()
            .with_variant(mysql.LONGTEXT(), "mariadb")
            .with_variant(mysql.LONGTEXT(), "mysql"),
            nullable=False,
        ),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("created_at", app.models.types.UTCDateTime(), nullable=False),
        sa.Column("updated_at", app.models.types.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["clerk_id"], ["users.id"], name=op.f("fk_double_entry_rows_clerk_id_users")
        ),
        sa.ForeignKeyConstraint(
            ["document_id"],
            ["documents.id"],
            name=op.f("fk_double_entry_rows_document_id_documents"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_double_entry_rows")),
        sa.UniqueConstraint(
            "document_id",
            "clerk_id",
            "table_name",
            "position",
            name=op.f("uq_double_entry_rows_document_id"),
        ),
        **TABLE_OPTIONS,
    )
    with op.batch_alter_table("double_entry_rows", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_double_entry_rows_clerk_id"), ["clerk_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_double_entry_rows_document_id"), ["document_id"], unique=False
        )

    op.create_table(
        "quality_flags",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("table_name", sa.String(length=64), nullable=False),
        sa.Column("row_key", sa.String(length=255), nullable=True),
        sa.Column("document_id", sa.Integer(), nullable=True),
        sa.Column("field", sa.String(length=64), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("message", sa.String(length=500), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("raised_by_id", sa.Integer(), nullable=True),
        sa.Column("raised_at", app.models.types.UTCDateTime(), nullable=False),
        sa.Column("cleared_by_id", sa.Integer(), nullable=True),
        sa.Column("cleared_at", app.models.types.UTCDateTime(), nullable=True),
        sa.ForeignKeyConstraint(
            ["cleared_by_id"], ["users.id"], name=op.f("fk_quality_flags_cleared_by_id_users")
        ),
        sa.ForeignKeyConstraint(
            ["document_id"], ["documents.id"], name=op.f("fk_quality_flags_document_id_documents")
        ),
        sa.ForeignKeyConstraint(
            ["raised_by_id"], ["users.id"], name=op.f("fk_quality_flags_raised_by_id_users")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_quality_flags")),
        **TABLE_OPTIONS,
    )
    with op.batch_alter_table("quality_flags", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_quality_flags_document_id"), ["document_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_quality_flags_raised_by_id"), ["raised_by_id"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_quality_flags_status"), ["status"], unique=False)

    op.create_table(
        "discrepancies",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("document_id", sa.Integer(), nullable=False),
        sa.Column("table_name", sa.String(length=64), nullable=False),
        sa.Column("match_key", sa.String(length=255), nullable=False),
        sa.Column("field", sa.String(length=64), nullable=False),
        sa.Column(
            "value_a",
            sa.Text()
            .with_variant(mysql.LONGTEXT(), "mariadb")
            .with_variant(mysql.LONGTEXT(), "mysql"),
            nullable=True,
        ),
        sa.Column(
            "value_b",
            sa.Text()
            .with_variant(mysql.LONGTEXT(), "mariadb")
            .with_variant(mysql.LONGTEXT(), "mysql"),
            nullable=True,
        ),
        sa.Column(
            "resolved_value",
            sa.Text()
            .with_variant(mysql.LONGTEXT(), "mariadb")
            .with_variant(mysql.LONGTEXT(), "mysql"),
            nullable=True,
        ),
        sa.Column("resolved", sa.Boolean(), nullable=False),
        sa.Column("resolved_by_id", sa.Integer(), nullable=True),
        sa.Column("resolved_at", app.models.types.UTCDateTime(), nullable=True),
        sa.ForeignKeyConstraint(
            ["document_id"],
            ["comparisons.document_id"],
            name=op.f("fk_discrepancies_document_id_comparisons"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["resolved_by_id"], ["users.id"], name=op.f("fk_discrepancies_resolved_by_id_users")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_discrepancies")),
        **TABLE_OPTIONS,
    )
    with op.batch_alter_table("discrepancies", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_discrepancies_document_id"), ["document_id"], unique=False
        )
    # Indexes the dashboard and the review queue read at any size.
    with op.batch_alter_table("documents", schema=None) as batch_op:
        batch_op.create_index("ix_documents_status_updated", ["status", "updated_at"], unique=False)
    with op.batch_alter_table("assignments", schema=None) as batch_op:
        batch_op.create_index("ix_assignments_clerk_status", ["clerk_id", "status"], unique=False)
    with op.batch_alter_table("audit_events", schema=None) as batch_op:
        batch_op.create_index(
            "ix_audit_events_table_action",
            ["table_name", "action", "document_id", "actor_id", "at"],
            unique=False,
        )
        batch_op.create_index("ix_audit_events_actor_latest", ["actor_id", "id"], unique=False)


def downgrade():
    with op.batch_alter_table("audit_events", schema=None) as batch_op:
        batch_op.drop_index("ix_audit_events_actor_latest")
        batch_op.drop_index("ix_audit_events_table_action")
    with op.batch_alter_table("assignments", schema=None) as batch_op:
        batch_op.drop_index("ix_assignments_clerk_status")
    with op.batch_alter_table("documents", schema=None) as batch_op:
        batch_op.drop_index("ix_documents_status_updated")
    op.drop_table("discrepancies")
    op.drop_table("quality_flags")
    op.drop_table("double_entry_rows")
    op.drop_table("comparisons")
    op.drop_table("settings")
