"""one-time form tokens move onto the create audit event; one index fewer per audit event

Every save wrote a `form_submissions` row beside its audit event; the token now lives on the
event itself (unique), so a save writes one row less and a replayed form still fails. The
single-column index on audit_events.actor_id goes: ix_audit_events_actor_latest leads with it.
Tokens only guard against a form sent twice within minutes, so the old table's are not kept.

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-27 07:30:00.000000

"""

import sqlalchemy as sa
from alembic import op

import app.models.types

TABLE_OPTIONS = {"mysql_charset": "utf8mb4", "mysql_collate": "utf8mb4_unicode_ci"}

# revision identifiers, used by Alembic.
revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("audit_events", schema=None) as batch_op:
        batch_op.add_column(sa.Column("form_token", sa.String(length=64), nullable=True))
        batch_op.create_unique_constraint(batch_op.f("uq_audit_events_form_token"), ["form_token"])
        batch_op.drop_index(batch_op.f("ix_audit_events_actor_id"))
    op.drop_table("form_submissions")


def downgrade():
    op.create_table(
        "form_submissions",
        sa.Column("token", sa.String(length=64), nullable=False),
        sa.Column("table_name", sa.String(length=64), nullable=False),
        sa.Column("row_key", sa.String(length=255), nullable=False),
        sa.Column("created_at", app.models.types.UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("token", name=op.f("pk_form_submissions")),
        **TABLE_OPTIONS,
    )
    with op.batch_alter_table("audit_events", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_audit_events_actor_id"), ["actor_id"], unique=False)
        batch_op.drop_constraint(batch_op.f("uq_audit_events_form_token"), type_="unique")
        batch_op.drop_column("form_token")
