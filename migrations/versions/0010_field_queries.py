"""field queries; how a quality flag was resolved; indexes for the review figures

field_queries: a reviewer's question on one field of one row, its answer and its state.
quality_flags.resolution / resolution_reason: accepted or corrected, and why.
Indexes: double_entry_rows.created_at (rows today per clerk), comparisons.created_at and
audit_events (table_name, action, at, actor_id) (agreement per week on the dashboard).

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-03 09:00:00.000000

"""

import sqlalchemy as sa
from alembic import op

import app.models.types

TABLE_OPTIONS = {"mysql_charset": "utf8mb4", "mysql_collate": "utf8mb4_unicode_ci"}

# revision identifiers, used by Alembic.
revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "field_queries",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("document_id", sa.Integer(), nullable=False),
        sa.Column("table_name", sa.String(length=64), nullable=False),
        sa.Column("row_key", sa.String(length=255), nullable=False),
        sa.Column("field", sa.String(length=64), nullable=False),
        sa.Column("clerk_id", sa.Integer(), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("question", sa.Text(), nullable=False),
        sa.Column("value_asked", sa.Text(), nullable=True),
        sa.Column("answer", sa.Text(), nullable=True),
        sa.Column("corrected_to", sa.Text(), nullable=True),
        sa.Column("opened_by_id", sa.Integer(), nullable=True),
        sa.Column("opened_at", app.models.types.UTCDateTime(), nullable=False),
        sa.Column("answered_by_id", sa.Integer(), nullable=True),
        sa.Column("answered_at", app.models.types.UTCDateTime(), nullable=True),
        sa.Column("closed_by_id", sa.Integer(), nullable=True),
        sa.Column("closed_at", app.models.types.UTCDateTime(), nullable=True),
        sa.ForeignKeyConstraint(
            ["document_id"],
            ["documents.id"],
            name=op.f("fk_field_queries_document_id_documents"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["clerk_id"], ["users.id"], name=op.f("fk_field_queries_clerk_id_users")
        ),
        sa.ForeignKeyConstraint(
            ["opened_by_id"], ["users.id"], name=op.f("fk_field_queries_opened_by_id_users")
        ),
        sa.ForeignKeyConstraint(
            ["answered_by_id"], ["users.id"], name=op.f("fk_field_queries_answered_by_id_users")
        ),
        sa.ForeignKeyConstraint(
            ["closed_by_id"], ["users.id"], name=op.f("fk_field_queries_closed_by_id_users")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_field_queries")),
        **TABLE_OPTIONS,
    )
    with op.batch_alter_table("field_queries", schema=None) as batch_op:
        batch_op.create_index(
            "ix_field_queries_document_status", ["document_id", "status"], unique=False
        )
        batch_op.create_index("ix_field_queries_clerk_status", ["clerk_id", "status"], unique=False)
        batch_op.create_index(batch_op.f("ix_field_queries_opened_at"), ["opened_at"], unique=False)

    with op.batch_alter_table("quality_flags", schema=None) as batch_op:
        batch_op.add_column(sa.Column("resolution", sa.String(length=16), nullable=True))
        batch_op.add_column(sa.Column("resolution_reason", sa.Text(), nullable=True))

    with op.batch_alter_table("double_entry_rows", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_double_entry_rows_created_at"), ["created_at"], unique=False
        )

    with op.batch_alter_table("comparisons", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_comparisons_created_at"), ["created_at"], unique=False)

    with op.batch_alter_table("audit_events", schema=None) as batch_op:
        batch_op.create_index(
            "ix_audit_events_action_at", ["table_name", "action", "at", "actor_id"], unique=False
        )


def downgrade():
    with op.batch_alter_table("audit_events", schema=None) as batch_op:
        batch_op.drop_index("ix_audit_events_action_at")

    with op.batch_alter_table("comparisons", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_comparisons_created_at"))

    with op.batch_alter_table("double_entry_rows", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_double_entry_rows_created_at"))

    with op.batch_alter_table("quality_flags", schema=None) as batch_op:
        batch_op.drop_column("resolution_reason")
        batch_op.drop_column("resolution")

    op.drop_table("field_queries")  # its indexes go with it (MySQL keeps an FK's index)
