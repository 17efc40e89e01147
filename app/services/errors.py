"""The small family of domain errors that services raise and views translate."""

from __future__ import annotations


class DomainError(Exception):
    """A rule of the portal refused the request; the message is safe to show."""

    status_code = 400

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field


class NotFound(DomainError):
    status_code = 404


class PermissionDenied(DomainError):
    status_code = 403


class Conflict(DomainError):
    status_code = 409


class Invalid(DomainError):
    status_code = 422


class Throttled(DomainError):
    status_code = 429

    def __init__(self, message: str, *, retry_after: int) -> None:
        super().__init__(message)
        self.retry_after = retry_after


def database_refused_message(request_id: str | None) -> str:
    """What a person is told when the database refuses a write: a plain sentence (the driver's
    text, which names tables, columns and values, goes to the log with the request id)."""
    where = (f"quote request id {request_id}" if request_id
             else "the server log has the details")
    return (f"The database refused this change, so nothing was saved. If this happens again, "
            f"tell your administrator ({where}).")
