"""user_sessions: one row per device's login; login_failures.device_key for known devices

A user may be logged in on several devices at once; each login is a row (created, last seen,
address, user agent, ended) that can be ended on its own. Failed logins from a "known device"
are counted by that device.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-03 08:40:00.000000

"""

import sqlalchemy as sa
from alembic import op

import app.models.types

TABLE_OPTIONS = {"mysql_charset": "utf8mb4", "mysql_collate": "utf8mb4_unicode_ci"}

# revision identifiers, used by Alembic.
revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "user_sessions",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("created_at", app.models.types.UTCDateTime(), nullable=False),
        sa.Column("last_seen_at", app.models.types.UTCDateTime(), nullable=False),
        sa.Column("client_address", sa.String(length=64), nullable=False),
        sa.Column("user_agent", sa.String(length=255), nullable=False),
        sa.Column("remember", sa.Boolean(), server_default=sa.false(), nullable=False),
        sa.Column("ended_at", app.models.types.UTCDateTime(), nullable=True),
        sa.Column("end_reason", sa.String(length=32), nullable=True),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name=op.f("fk_user_sessions_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_user_sessions")),
        **TABLE_OPTIONS,
    )
    with op.batch_alter_table("user_sessions", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_user_sessions_user_id"), ["user_id"], unique=False)

    with op.batch_alter_table("login_failures", schema=None) as batch_op:
        batch_op.add_column(sa.Column("device_key", sa.String(length=64), nullable=True))
        batch_op.create_index(
            batch_op.f("ix_login_failures_device_key"), ["device_key"], unique=False
        )


def downgrade():
    with op.batch_alter_table("login_failures", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_login_failures_device_key"))
        batch_op.drop_column("device_key")

    # Its index goes with the table (MySQL refuses to drop an index a foreign key needs).
    op.drop_table("user_sessions")
