"""users, login failures, setup tokens

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-27 04:04:47.640721

"""

import sqlalchemy as sa
from alembic import op

import app.models.types

TABLE_OPTIONS = {"mysql_charset": "utf8mb4", "mysql_collate": "utf8mb4_unicode_ci"}


# revision identifiers, used by Alembic.
revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "login_failures",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("username_key", sa.String(length=64), nullable=False),
        sa.Column("client_address", sa.String(length=64), nullable=False),
        sa.Column("failed_at", app.models.types.UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_login_failures")),
        **TABLE_OPTIONS,
    )
    with op.batch_alter_table("login_failures", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_login_failures_client_address"), ["client_address"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_login_failures_failed_at"), ["failed_at"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_login_failures_username_key"), ["username_key"], unique=False
        )

    op.create_table(
        "setup_tokens",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("created_at", app.models.types.UTCDateTime(), nullable=False),
        sa.Column("expires_at", app.models.types.UTCDateTime(), nullable=False),
        sa.Column("used_at", app.models.types.UTCDateTime(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_setup_tokens")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_setup_tokens_token_hash")),
        **TABLE_OPTIONS,
    )
    op.create_table(
        "users",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("username", sa.String(length=64), nullable=False),
        sa.Column("password_hash", sa.String(length=255), nullable=False),
        sa.Column("role", sa.String(length=16), nullable=False),
        sa.Column("active", sa.Boolean(), server_default=sa.true(), nullable=False),
        sa.Column("session_token", sa.String(length=64), nullable=False),
        sa.Column(
            "created_at",
            app.models.types.UTCDateTime(),
            server_default=app.models.types.utc_now_default(),
            nullable=False,
        ),
        sa.Column("last_login_at", app.models.types.UTCDateTime(), nullable=True),
        sa.CheckConstraint("role IN ('admin', 'reviewer', 'clerk')", name=op.f("ck_users_role")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_users")),
        sa.UniqueConstraint("session_token", name=op.f("uq_users_session_token")),
        sa.UniqueConstraint("username", name=op.f("uq_users_username")),
        **TABLE_OPTIONS,
    )


def downgrade():
    op.drop_table("users")
    op.drop_table("setup_tokens")
    with op.batch_alter_table("login_failures", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_login_failures_username_key"))
        batch_op.drop_index(batch_op.f("ix_login_failures_failed_at"))
        batch_op.drop_index(batch_op.f("ix_login_failures_client_address"))

    op.drop_table("login_failures")
