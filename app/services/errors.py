"""The small family of domain errors that services raise and views translate.

Which HTTP status each one answers is decided in one place, app/errors (`status_for`), for
every blueprint: services know nothing of HTTP."""

from __future__ import annotations


class DomainError(Exception):
    """A rule of the portal refused the request; the message is safe to show. `field` names
    the input the message is about, when it is about one."""

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field


class NotFound(DomainError):
    """No such thing, or none the actor may know of."""


class PermissionDenied(DomainError):
    """The actor may not do this (now)."""


class Conflict(DomainError):
    """The state changed, or clashes with the request (a row changed meanwhile, a last admin)."""


class Invalid(DomainError):
    """A value given is not acceptable."""


class Throttled(DomainError):
    """Too many attempts: try again after `retry_after` seconds."""

    def __init__(self, message: str, *, retry_after: int) -> None:
        super().__init__(message)
        self.retry_after = retry_after


def database_refused_message(request_id: str | None) -> str:
    """What a person is told when the database refuses a write: a plain sentence (the driver's
    text, which names tables, columns and values, goes to the log with the request id)."""
    where = f"quote request id {request_id}" if request_id else "the server log has the details"
    return (
        f"The database refused this change, so nothing was saved. If this happens again, "
        f"tell your administrator ({where})."
    )
