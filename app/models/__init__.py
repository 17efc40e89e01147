"""All models, imported here so Alembic's autogenerate sees every table."""

from app.models.testdb import TestDB
from app.models.user import ROLES, LoginFailure, SetupToken, User

__all__ = ["ROLES", "LoginFailure", "SetupToken", "TestDB", "User"]
