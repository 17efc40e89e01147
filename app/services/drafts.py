"""Drafts: the unsaved state of a form, kept on the server so a closed tab loses nothing."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError

from app.extensions import db
from app.models.entry import Draft
from app.models.types import utcnow
from app.services import audit
from app.services.errors import Invalid

MAX_DRAFT_BYTES = 2_000_000


def draft_scope(table_name: str, document_id: int | None, row_key: str | None) -> str:
    """One draft per user and form: the table, the document and the row (or a new row)."""
    return f"{table_name}|{document_id or '-'}|{row_key if row_key is not None else 'new'}"[:400]


def save_draft(
    user_id: int,
    table_name: str,
    document_id: int | None,
    row_key: str | None,
    data: Any,
    allowed_fields: set[str],
) -> Draft:
    """Create or replace the user's draft for this form; commits."""
    if not isinstance(data, dict) or not all(isinstance(k, str) for k in data):
        raise Invalid("A draft is an object of field names to typed text.")
    clean = {k: "" if v is None else str(v) for k, v in data.items() if k in allowed_fields}
    encoded = json.dumps(clean, ensure_ascii=False)
    if len(encoded.encode()) > MAX_DRAFT_BYTES:
        raise Invalid("This draft is too large to keep.")
    scope = draft_scope(table_name, document_id, row_key)
    for _attempt in range(2):
        draft = load_draft(user_id, scope) or Draft(
            user_id=user_id, scope=scope, table_name=table_name, document_id=document_id
        )
        draft.data, draft.updated_at = encoded, utcnow()
        db.session.add(draft)
        try:
            db.session.commit()
            return draft
        except IntegrityError:  # two saves raced to create it: the second updates instead
            db.session.rollback()
    raise Invalid("The draft could not be saved; it will be tried again.")


def save_form_draft(
    user_id: int,
    table_name: str,
    document_id: int | None,
    row_key: str | None,
    data: Any,
    allowed_fields: set[str],
    form_token: str | None,
) -> Draft | None:
    """Save a create form's draft, unless that form was saved as a row meanwhile (None).

    A draft request may cross the save of its form on the wire; checked after writing, so
    whichever commits last, no draft of a saved form is left to block "Submit document"."""
    draft = save_draft(user_id, table_name, document_id, row_key, data, allowed_fields)
    if form_token and audit.saved_by_form(form_token[:64]) is not None:
        discard_draft(user_id, draft.scope)
        db.session.commit()
        return None
    return draft


def keep_refused(
    user_id: int,
    table_name: str,
    document_id: int | None,
    row_key: str | None,
    posted: Mapping[str, str],
    allowed_fields: set[str],
) -> bool:
    """A refused save keeps what was posted as the form's draft, so nothing typed is lost even
    if the tab closes before the clerk corrects it. False when it cannot be kept (too large)."""
    values = {name: posted.get(name, "") for name in allowed_fields if name in posted}
    try:
        save_draft(user_id, table_name, document_id, row_key, values, allowed_fields)
    except Invalid:
        return False
    return True


def load_draft(user_id: int, scope: str) -> Draft | None:
    query = sa.select(Draft).where(Draft.user_id == user_id, Draft.scope == scope)
    return db.session.scalar(query)


def draft_values(draft: Draft) -> dict[str, str]:
    values: dict[str, str] = json.loads(draft.data)
    return values


def has_input(draft: Draft) -> bool:
    """Whether anything was typed: a draft of only empty fields holds nothing to lose."""
    return any(str(v).strip() for v in draft_values(draft).values())


def unsaved_drafts(user_id: int, document_id: int) -> list[Draft]:
    """The user's drafts of forms on this document that hold typed input, oldest first."""
    query = (
        sa.select(Draft)
        .where(Draft.user_id == user_id, Draft.document_id == document_id)
        .order_by(Draft.updated_at, Draft.id)
    )
    return [d for d in db.session.scalars(query) if has_input(d)]


def row_key_of(draft: Draft) -> str | None:
    """The row a draft edits, or None for a new row (the last part of its scope)."""
    key = draft.scope.split("|", 2)[-1]
    return None if key == "new" else key


DRAFTS = Draft.__table__


def discard_draft(user_id: int, scope: str) -> None:
    """Delete the draft in the current transaction (the caller commits).

    A plain DELETE on the table: no loaded Draft is ever kept in a session meanwhile."""
    db.session.connection().execute(
        DRAFTS.delete().where(DRAFTS.c.user_id == user_id, DRAFTS.c.scope == scope)
    )
