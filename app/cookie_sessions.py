"""Flask's signed-cookie sessions, with the cookies this process has verified remembered.

Every request of a logged-in person carries the same session cookie until the session changes,
and Flask verifies its signature (an HMAC, after deriving the key) and decodes it each time:
about as much work as a page's database read. A cookie verified before is taken from memory
instead, its age still checked against the session lifetime exactly as itsdangerous does; a
cookie never seen, changed by a single character or too old is verified (or refused) as usual.
Each request gets its own copy of the data, so what one request changes never shows in another.
"""

from __future__ import annotations

import copy
import time
from typing import Any

from flask import Flask, Request
from flask.sessions import SecureCookieSession, SecureCookieSessionInterface
from itsdangerous import BadSignature

VERIFIED_KEPT = 4096


class RememberingCookieSessions(SecureCookieSessionInterface):
    def __init__(self) -> None:
        # cookie value -> (when it was signed, its data), for the latest few thousand
        self._verified: dict[str, tuple[float, dict[str, Any]]] = {}

    def open_session(self, app: Flask, request: Request) -> SecureCookieSession | None:
        value = request.cookies.get(self.get_cookie_name(app))
        if not value or not app.secret_key:
            return super().open_session(app, request)
        max_age = int(app.permanent_session_lifetime.total_seconds())
        kept = self._verified.get(value)
        if kept is not None and 0 <= time.time() - kept[0] <= max_age:
            return self.session_class(copy.deepcopy(kept[1]))
        serializer = self.get_signing_serializer(app)
        if serializer is None:
            return None
        try:
            data, signed_at = serializer.loads(value, max_age=max_age, return_timestamp=True)
        except BadSignature:
            return self.session_class()
        if len(self._verified) >= VERIFIED_KEPT:
            self._verified.clear()
        self._verified[value] = (signed_at.timestamp(), copy.deepcopy(data))
        return self.session_class(data)


def register(app: Flask) -> None:
    app.session_interface = RememberingCookieSessions()
