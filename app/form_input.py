"""Form fields whose bytes are not UTF-8 text: found before any view reads the form.

Werkzeug does not refuse them: a URL-encoded body keeps the bad bytes percent-escaped ("%FF"),
a multipart one replaces them with U+FFFD, and either would be stored as if typed. Entry forms
refuse such a field at the field (like control characters, see
app.entry_tables.fields.no_control_characters); every other form is refused whole, with a 400
naming the field. Either way nothing is stored.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar
from urllib.parse import unquote_to_bytes

from flask import Flask, abort, current_app, g, has_request_context, request

from app.entry_tables.registry import get_entry_table
from app.request_log import start_request

F = TypeVar("F", bound=Callable[..., Any])
FORM_METHODS = {"POST", "PUT", "PATCH", "DELETE"}
URLENCODED = "application/x-www-form-urlencoded"
MULTIPART = "multipart/form-data"
REPLACEMENT = "\ufffd"  # what the multipart parser puts where bytes were not UTF-8


def checks_text_at_field(view: F) -> F:
    """The view's form marks a field that is not UTF-8 text itself (an entry form)."""
    view._utf8_at_field = True  # type: ignore[attr-defined]
    return view


def invalid_utf8_fields() -> frozenset[str]:
    """The names of this request's form fields whose value was not UTF-8 text."""
    if not has_request_context():
        return frozenset()
    found: frozenset[str] = g.get("invalid_utf8_fields", frozenset())
    return found


def find_invalid_fields() -> set[str]:
    """Names of the posted fields whose value (or name) is not UTF-8 text."""
    if request.mimetype == URLENCODED:
        return _invalid_urlencoded(request.get_data(cache=True))
    if request.mimetype == MULTIPART:
        return {
            name
            for name, value in request.form.items(multi=True)
            if REPLACEMENT in name or REPLACEMENT in value
        }
    return set()


def _invalid_urlencoded(body: bytes) -> set[str]:
    try:
        # Every field is UTF-8 text exactly when the whole body is, once unescaped: the
        # separators are ASCII, which no multi-byte character contains. The usual case, in one
        # step; else each field is looked at to name the bad ones.
        unquote_to_bytes(body).decode("utf-8")
    except UnicodeDecodeError:
        pass
    else:
        return set()
    invalid = set()
    for pair in body.split(b"&"):
        raw_name, _, raw_value = pair.partition(b"=")
        name = unquote_to_bytes(raw_name.replace(b"+", b" "))
        value = unquote_to_bytes(raw_value.replace(b"+", b" "))
        try:
            name.decode("utf-8")
            value.decode("utf-8")
        except UnicodeDecodeError:
            invalid.add(name.decode("utf-8", "replace"))
    return invalid


def check_form_text() -> None:
    """before_request: note fields that are not UTF-8 text; refuse the request unless its
    view refuses them at the field."""
    if request.method not in FORM_METHODS:
        return
    invalid = find_invalid_fields()
    if not invalid:
        return
    g.invalid_utf8_fields = frozenset(invalid)
    if not _refused_at_field(invalid):
        names = ", ".join(repr(n) for n in sorted(invalid))
        abort(
            400,
            f"The field {names} holds bytes that are not UTF-8 text, so nothing was "
            "saved. Type the value again (or paste it from another source).",
        )


def _refused_at_field(invalid: set[str]) -> bool:
    """Whether the view's entry form will refuse every one of these fields itself: only
    the entry table's own fields are checked there."""
    view = current_app.view_functions.get(request.endpoint or "")
    if not getattr(view, "_utf8_at_field", False):
        return False
    table = get_entry_table(str((request.view_args or {}).get("table_name", "")))
    return table is not None and invalid <= {c.key for c in table.data_columns}


def register(app: Flask) -> None:
    # Before CSRFProtect reads the form: once the body is parsed, its raw bytes are gone.
    funcs = app.before_request_funcs.setdefault(None, [])
    position = funcs.index(start_request) + 1 if start_request in funcs else 0
    funcs.insert(position, check_form_text)
