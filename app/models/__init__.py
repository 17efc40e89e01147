"""All models, imported here so Alembic's autogenerate sees every table."""

from app.models.testdb import TestDB

__all__ = ["TestDB"]
