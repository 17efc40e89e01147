"""The signed "known device" cookie: the usernames that logged in on this browser before.

A login from a known device is not held back by the throttles an attacker can trigger from
elsewhere (see accounts.authenticate); the device has a failure budget of its own instead.
"""

from __future__ import annotations

import secrets
from typing import Any

from flask import current_app, request
from itsdangerous import BadSignature, URLSafeTimedSerializer

from app.services.accounts import normalize_username

COOKIE = "known_device"
SALT = "known-device"
MAX_AGE_SECONDS = 365 * 24 * 3600
MAX_NAMES = 8  # a shared office computer: a few clerks each


def _serializer() -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(current_app.secret_key or "", salt=SALT)


def _read() -> tuple[str, list[str]] | None:
    raw = request.cookies.get(COOKIE)
    if not raw or len(raw) > 2000:
        return None
    try:
        data = _serializer().loads(raw, max_age=MAX_AGE_SECONDS)
    except BadSignature:
        return None
    device, names = (data.get("d"), data.get("u")) if isinstance(data, dict) else (None, None)
    if not isinstance(device, str) or not isinstance(names, list):
        return None
    return device[:64], [str(n) for n in names][:MAX_NAMES]


def device_for(username: str) -> str | None:
    """This browser's device id, if the username logged in on it before."""
    known = _read()
    if known is None or normalize_username(username) not in known[1]:
        return None
    return known[0]


def remember(response: Any, username: str) -> None:
    """After a successful login: this browser is a known device for the username."""
    device, names = _read() or (secrets.token_urlsafe(16), [])
    names = [username] + [n for n in names if n != username]
    value = _serializer().dumps({"d": device, "u": names[:MAX_NAMES]})
    response.set_cookie(
        COOKIE,
        value,
        max_age=MAX_AGE_SECONDS,
        httponly=True,
        samesite="Lax",
        secure=bool(current_app.config.get("SESSION_COOKIE_SECURE")),
    )
