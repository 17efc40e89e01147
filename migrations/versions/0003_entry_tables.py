"""entry tables: provenance, documents, audit, drafts

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-27 04:08:54.340431

"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import mysql

import app.models.types

# Every table in utf8mb4 whatever the MySQL database's default (emoji and rare CJK survive).
TABLE_OPTIONS = {"mysql_charset": "utf8mb4", "mysql_collate": "utf8mb4_unicode_ci"}

# revision identifiers, used by Alembic.
revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "form_submissions",
        sa.Column("token", sa.String(length=64), nullable=False),
        sa.Column("table_name", sa.String(length=64), nullable=False),
        sa.Column("row_key", sa.String(length=255), nullable=False),
        sa.Column("created_at", app.models.types.UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("token", name=op.f("pk_form_submissions")),
        **TABLE_OPTIONS,
    )
    op.create_table(
        "audit_events",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("at", app.models.types.UTCDateTime(), nullable=False),
        sa.Column("actor_id", sa.Integer(), nullable=True),
        sa.Column("actor_name", sa.String(length=64), nullable=True),
        sa.Column("action", sa.String(length=16), nullable=False),
        sa.Column("table_name", sa.String(length=64), nullable=False),
        sa.Column("row_key", sa.String(length=255), nullable=True),
        sa.Column("document_id", sa.Integer(), nullable=True),
        sa.Column(
            "before",
            sa.Text()
            .with_variant(mysql.LONGTEXT(), "mariadb")
            .with_variant(mysql.LONGTEXT(), "mysql"),
            nullable=True,
        ),
        sa.Column(
            "after",
            sa.Text()
            .with_variant(mysql.LONGTEXT(), "mariadb")
            .with_variant(mysql.LONGTEXT(), "mysql"),
            nullable=True,
        ),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ["actor_id"], ["users.id"], name=op.f("fk_audit_events_actor_id_users")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_events")),
        **TABLE_OPTIONS,
    )
    with op.batch_alter_table("audit_events", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_audit_events_actor_id"), ["actor_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_audit_events_at"), ["at"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_audit_events_document_id"), ["document_id"], unique=False
        )
        batch_op.create_index("ix_audit_events_table_key", ["table_name", "row_key"], unique=False)

    op.create_table(
        "documents",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("storage_key", sa.String(length=128), nullable=False),
        sa.Column("original_name", sa.String(length=255), nullable=False),
        sa.Column("content_type", sa.String(length=64), nullable=False),
        sa.Column("size_bytes", sa.BigInteger(), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("status", sa.String(length=16), server_default="new", nullable=False),
        sa.Column("double_entry", sa.Boolean(), server_default=sa.false(), nullable=False),
        sa.Column("review_comment", sa.Text(), nullable=True),
        sa.Column("uploaded_by_id", sa.Integer(), nullable=True),
        sa.Column(
            "created_at",
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
            ["uploaded_by_id"], ["users.id"], name=op.f("fk_documents_uploaded_by_id_users")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_documents")),
        sa.UniqueConstraint("sha256", name=op.f("uq_documents_sha256")),
        sa.UniqueConstraint("storage_key", name=op.f("uq_documents_storage_key")),
        **TABLE_OPTIONS,
    )
    with op.batch_alter_table("documents", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_documents_created_at"), ["created_at"], unique=False)
        batch_op.create_index(batch_op.f("ix_documents_status"), ["status"], unique=False)

    op.create_table(
        "drafts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("scope", sa.String(length=400), nullable=False),
        sa.Column("table_name", sa.String(length=64), nullable=False),
        sa.Column("document_id", sa.Integer(), nullable=True),
        sa.Column(
            "data",
            sa.Text()
            .with_variant(mysql.LONGTEXT(), "mariadb")
            .with_variant(mysql.LONGTEXT(), "mysql"),
            nullable=False,
        ),
        sa.Column("updated_at", app.models.types.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_drafts_user_id_users"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_drafts")),
        sa.UniqueConstraint("user_id", "scope", name=op.f("uq_drafts_user_id")),
        **TABLE_OPTIONS,
    )
    op.create_table(
        "assignments",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("document_id", sa.Integer(), nullable=False),
        sa.Column("clerk_id", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=16), server_default="assigned", nullable=False),
        sa.Column(
            "created_at",
            app.models.types.UTCDateTime(),
            server_default=app.models.types.utc_now_default(),
            nullable=False,
        ),
        sa.Column("submitted_at", app.models.types.UTCDateTime(), nullable=True),
        sa.ForeignKeyConstraint(
            ["clerk_id"], ["users.id"], name=op.f("fk_assignments_clerk_id_users")
        ),
        sa.ForeignKeyConstraint(
            ["document_id"],
            ["documents.id"],
            name=op.f("fk_assignments_document_id_documents"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_assignments")),
        sa.UniqueConstraint("document_id", "clerk_id", name=op.f("uq_assignments_document_id")),
        **TABLE_OPTIONS,
    )
    with op.batch_alter_table("assignments", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_assignments_clerk_id"), ["clerk_id"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_assignments_document_id"), ["document_id"], unique=False
        )

    op.create_table(
        "register_person",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("full_name", sa.String(length=200), nullable=False),
        sa.Column(
            "sex",
            sa.Enum(
                "female",
                "male",
                "unknown",
                name="register_person_sex",
                native_enum=False,
                create_constraint=True,
            ),
            nullable=True,
        ),
        sa.Column("age", sa.Integer(), nullable=True),
        sa.Column("birth_date", sa.Date(), nullable=True),
        sa.Column("recorded_at", sa.DateTime(), nullable=True),
        sa.Column("height_m", sa.Float(), nullable=True),
        sa.Column("fee_paid", sa.Numeric(precision=8, scale=2), nullable=True),
        sa.Column("literate", sa.Boolean(), nullable=True),
        sa.Column("parish", sa.String(length=80), nullable=True),
        sa.Column(
            "notes",
            sa.Text()
            .with_variant(mysql.LONGTEXT(), "mariadb")
            .with_variant(mysql.LONGTEXT(), "mysql"),
            nullable=True,
        ),
        sa.Column("document_id", sa.Integer(), nullable=True),
        sa.Column("entered_by_id", sa.Integer(), nullable=True),
        sa.Column("status", sa.String(length=16), server_default="entered", nullable=False),
        sa.Column("version", sa.Integer(), server_default="1", nullable=False),
        sa.Column(
            "created_at",
            app.models.types.UTCDateTime(),
            server_default=app.models.types.utc_now_default(),
            nullable=True,
        ),
        sa.Column(
            "updated_at",
            app.models.types.UTCDateTime(),
            server_default=app.models.types.utc_now_default(),
            nullable=True,
        ),
        sa.ForeignKeyConstraint(
            ["document_id"], ["documents.id"], name=op.f("fk_register_person_document_id_documents")
        ),
        sa.ForeignKeyConstraint(
            ["entered_by_id"], ["users.id"], name=op.f("fk_register_person_entered_by_id_users")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_register_person")),
        **TABLE_OPTIONS,
    )
    with op.batch_alter_table("register_person", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_register_person_created_at"), ["created_at"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_register_person_updated_at"), ["updated_at"], unique=False
        )
        batch_op.create_index("ix_register_person_status_key", ["status", "id"], unique=False)
        batch_op.create_index(
            "ix_register_person_entered_by_key", ["entered_by_id", "id"], unique=False
        )
        batch_op.create_index(
            "ix_register_person_document_key", ["document_id", "id"], unique=False
        )
        batch_op.create_index(
            "ix_register_person_entered_by_updated", ["entered_by_id", "updated_at"], unique=False
        )

    with op.batch_alter_table("testDB", schema=None) as batch_op:
        batch_op.add_column(sa.Column("document_id", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("entered_by_id", sa.Integer(), nullable=True))
        batch_op.add_column(
            sa.Column("status", sa.String(length=16), server_default="entered", nullable=False)
        )
        batch_op.add_column(sa.Column("version", sa.Integer(), server_default="1", nullable=False))
        batch_op.add_column(
            sa.Column(
                "created_at",
                app.models.types.UTCDateTime(),
                server_default=app.models.types.utc_now_default(),
                nullable=True,
            )
        )
        batch_op.add_column(
            sa.Column(
                "updated_at",
                app.models.types.UTCDateTime(),
                server_default=app.models.types.utc_now_default(),
                nullable=True,
            )
        )
        batch_op.create_index(batch_op.f("ix_testDB_created_at"), ["created_at"], unique=False)
        batch_op.create_index(batch_op.f("ix_testDB_updated_at"), ["updated_at"], unique=False)
        batch_op.create_index("ix_testDB_status_key", ["status", "string_column"], unique=False)
        batch_op.create_index(
            "ix_testDB_entered_by_key", ["entered_by_id", "string_column"], unique=False
        )
        batch_op.create_index(
            "ix_testDB_document_key", ["document_id", "string_column"], unique=False
        )
        batch_op.create_index(
            "ix_testDB_entered_by_updated", ["entered_by_id", "updated_at"], unique=False
        )
        batch_op.create_foreign_key(
            batch_op.f("fk_testDB_document_id_documents"), "documents", ["document_id"], ["id"]
        )
        batch_op.create_foreign_key(
            batch_op.f("fk_testDB_entered_by_id_users"), "users", ["entered_by_id"], ["id"]
        )


def downgrade():
    with op.batch_alter_table("testDB", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("fk_testDB_entered_by_id_users"), type_="foreignkey")
        batch_op.drop_constraint(batch_op.f("fk_testDB_document_id_documents"), type_="foreignkey")
        batch_op.drop_index(batch_op.f("ix_testDB_updated_at"))
        batch_op.drop_index("ix_testDB_status_key")
        batch_op.drop_index("ix_testDB_entered_by_key")
        batch_op.drop_index("ix_testDB_document_key")
        batch_op.drop_index("ix_testDB_entered_by_updated")
        batch_op.drop_index(batch_op.f("ix_testDB_created_at"))
        batch_op.drop_column("updated_at")
        batch_op.drop_column("created_at")
        batch_op.drop_column("version")
        batch_op.drop_column("status")
        batch_op.drop_column("entered_by_id")
        batch_op.drop_column("document_id")

    op.drop_table("register_person")
    op.drop_table("assignments")
    op.drop_table("drafts")
    op.drop_table("documents")
    op.drop_table("audit_events")
    op.drop_table("form_submissions")
