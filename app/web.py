"""Small helpers shared by the views."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, TypeVar

from flask import Flask, current_app, has_request_context, request, url_for
from flask.json.provider import DefaultJSONProvider
from flask_wtf import FlaskForm
from markupsafe import Markup
from werkzeug.routing import IntegerConverter, Map

from app.entry_tables import display
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


# Ids and page numbers beyond what every backend's INTEGER holds are simply "not found":
# SQLite raises on a Python int over 2**63, which would otherwise be a 500.
MAX_ID = 2_147_483_647
MAX_KEY = 9_223_372_036_854_775_807


def bounded_int(
    text: object, default: int | None = None, *, low: int = 0, high: int = MAX_ID
) -> int | None:
    """A whole number from a query or form value, or `default` when it is not one in range."""
    raw = str(text).strip() if text is not None else ""
    if not (raw.isascii() and raw.isdigit()):
        return default
    value = int(raw)
    return value if low <= value <= high else default


class IdConverter(IntegerConverter):
    """`<int:...>` in routes: at most MAX_ID, so an absurd id is a 404, not a database error."""

    def __init__(self, url_map: Map, *args: object, **kwargs: object) -> None:
        kwargs.setdefault("max", MAX_ID)
        super().__init__(url_map, *args, **kwargs)


class PortalJSONProvider(DefaultJSONProvider):
    """Request bodies too deeply nested for the parser are bad JSON like any other (a 400, or
    None for get_json(silent=True)), not a RecursionError and a 500."""

    def loads(self, s: str | bytes, **kwargs: Any) -> Any:
        try:
            return super().loads(s, **kwargs)
        except RecursionError:
            raise ValueError("The JSON is nested too deeply.") from None


T = TypeVar("T")


def once_per_mount(key: tuple[Any, ...], make: Callable[[], T]) -> T:
    """make()'s value, worked out once per process and mount point (request.script_root) for
    key: for what every page asks for and no request or user changes."""
    if not has_request_context():  # no mount point to key on (a page rendered outside one)
        return make()
    cache: dict[tuple[Any, ...], Any] = current_app.extensions.setdefault("once_per_mount", {})
    full_key = (request.script_root, *key)
    if full_key not in cache:
        cache[full_key] = make()
    return cache[full_key]  # type: ignore[no-any-return]


CACHED_URLS_KEPT = 4096


def cached_url(endpoint: str, **values: Any) -> str:
    """url_for for a URL made of nothing but its arguments (static files, pages without
    parameters, a document's panel, file or submit URL): built once per process, mount point
    and arguments, of the latest few thousand. A page asks for a dozen or two. Never for a URL
    that depends on anything else (the user, the time, _external's host)."""
    if not has_request_context():
        return url_for(endpoint, **values)
    cache: dict[tuple[Any, ...], str] = current_app.extensions.setdefault("cached_urls", {})
    key = (request.script_root, endpoint, *values.items())
    url = cache.get(key)
    if url is None:
        if len(cache) >= CACHED_URLS_KEPT:
            cache.clear()
        url = cache[key] = url_for(endpoint, **values)
    return url


def bootstrap_assets(kind: str) -> Markup:
    """Bootstrap-Flask's `<link>` (kind "css") or `<script>` tags ("js"): its macros call
    url_for and build SRI attributes each time."""

    def tags() -> Markup:
        bootstrap = current_app.extensions["bootstrap"]
        return Markup(bootstrap.load_css() if kind == "css" else bootstrap.load_js())

    return once_per_mount(("bootstrap", kind), tags)


def register(app: Flask) -> None:
    app.json = PortalJSONProvider(app)
    app.add_template_filter(format_datetime, "datetime")
    app.add_template_filter(display.show, "show")
    app.add_template_filter(display.label, "label")
    app.add_template_filter(display.row_label, "row_label")
    app.add_template_global(cached_url, "cached_url")
    app.add_template_global(bootstrap_assets, "bootstrap_assets")
