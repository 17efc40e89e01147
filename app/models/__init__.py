"""All models, imported here so Alembic's autogenerate sees every table.

Entry tables are the models that subclass EntryMixin: add one here and it gets its form, list,
history, export and codebook.
"""

from app.models.audit import AuditEvent
from app.models.document import DOCUMENT_STATUSES, Assignment, Document
from app.models.entry import Draft, EntryMixin
from app.models.freeze import Freeze, FreezeJob
from app.models.imports import ImportBatch
from app.models.quality import Comparison, Discrepancy, DoubleEntryRow, QualityFlag, Setting
from app.models.queries import QUERY_STATUSES, FieldQuery
from app.models.register import RegisterPerson
from app.models.tally import Tally
from app.models.testdb import TestDB
from app.models.user import ROLES, LoginFailure, SetupToken, User, UserSession

__all__ = [
    "DOCUMENT_STATUSES",
    "QUERY_STATUSES",
    "ROLES",
    "Assignment",
    "AuditEvent",
    "Comparison",
    "Discrepancy",
    "Document",
    "DoubleEntryRow",
    "Draft",
    "EntryMixin",
    "FieldQuery",
    "Freeze",
    "FreezeJob",
    "ImportBatch",
    "LoginFailure",
    "QualityFlag",
    "RegisterPerson",
    "Setting",
    "SetupToken",
    "Tally",
    "TestDB",
    "User",
    "UserSession",
]
