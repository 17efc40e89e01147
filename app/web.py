"""Small helpers shared by the views."""

from __future__ import annotations

from datetime import UTC, datetime

from flask import Flask
from flask_wtf import FlaskForm

from app.services.errors import DomainError


def attach_error(form: FlaskForm, exc: DomainError) -> None:
    """Show a domain error next to its field, or above the form when it names none."""
    field = getattr(form, exc.field, None) if exc.field else None
    if field is not None:
        field.errors = [*field.errors, exc.message]
    else:
        form.form_errors.append(exc.message)


def format_datetime(value: datetime | None) -> str:
    """A stored UTC time as text for a page."""
    if value is None:
        return ""
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")


def register(app: Flask) -> None:
    app.add_template_filter(format_datetime, "datetime")
