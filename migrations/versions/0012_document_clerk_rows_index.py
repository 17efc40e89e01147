"""entry tables: an index on (document, clerk, created, key) for the rows beside a document

The workspace lists a clerk's rows of one document, newest first, and counts them. With only
the (document, key) index, both read every row of the document; with this one, the count reads
the index alone and the latest rows come in order, however many rows the document has.

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-03 09:00:00.000000

"""

from alembic import op

# revision identifiers, used by Alembic.
revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None

# The entry tables that exist at this revision, with their keys.
TABLES = {"testDB": "string_column", "register_person": "id"}


def upgrade():
    for table, key in TABLES.items():
        op.create_index(
            f"ix_{table}_document_clerk_created",
            table,
            ["document_id", "entered_by_id", "created_at", key],
            unique=False,
        )


def downgrade():
    for table in TABLES:
        op.drop_index(f"ix_{table}_document_clerk_created", table_name=table)
