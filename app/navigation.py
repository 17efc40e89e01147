"""The navigation bar, derived from the access rules so it shows exactly what a role may do."""

from __future__ import annotations

from dataclasses import dataclass

from flask import Flask, current_app, request, url_for
from flask_login import current_user

from app.security import PUBLIC, access_of

# (label, endpoint) in display order; endpoints not registered (yet) are skipped.
NAV = [
    ("Home", "main.index"),
    ("My documents", "workspace.queue"),
    ("Dashboard", "dashboard.index"),
    ("Review", "review.queue"),
    ("Quality", "review.quality"),
    ("Data", "entries.tables"),
    ("Documents", "documents.index"),
    ("Users", "admin.users"),
    ("Sampling", "review.sampling"),
    ("Codebook", "data.codebook"),
    ("Freezes", "freezes.index"),
]


@dataclass(frozen=True)
class NavItem:
    label: str
    endpoint: str
    url: str


def nav_items() -> list[NavItem]:
    """The links a role sees: the same on every page, so worked out once per role and mount
    point (script root) for the life of the process."""
    if not current_user.is_authenticated:
        return []
    cache = current_app.extensions.setdefault("nav_items", {})
    key = (current_user.role, request.script_root)
    if key not in cache:
        cache[key] = _items_for_role()
    return cache[key]


def _items_for_role() -> list[NavItem]:
    items = []
    for label, endpoint in NAV:
        if endpoint not in current_app.view_functions:
            continue
        rule = access_of(current_app, endpoint)
        if rule == PUBLIC or (rule is not None and current_user.role in rule):
            items.append(NavItem(label, endpoint, url_for(endpoint)))
    return items


def register(app: Flask) -> None:
    app.context_processor(lambda: {"nav_items": nav_items})
