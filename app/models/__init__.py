"""All models, imported here so Alembic's autogenerate sees every table.

Entry tables are the models that subclass EntryMixin: add one here and it gets its form, list,
history, export and codebook.
"""

from app.models.audit import AuditEvent
from app.models.document import DOCUMENT_STATUSES, Assignment, Document
from app.models.entry import Draft, EntryMixin, FormSubmission
from app.models.register import RegisterPerson
from app.models.testdb import TestDB
from app.models.user import ROLES, LoginFailure, SetupToken, User

__all__ = ["DOCUMENT_STATUSES", "ROLES", "Assignment", "AuditEvent", "Document", "Draft",
           "EntryMixin", "FormSubmission", "LoginFailure", "RegisterPerson", "SetupToken",
           "TestDB", "User"]
