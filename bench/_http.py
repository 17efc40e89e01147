"""A browser's part of the HTTP conversation, without a browser: one keep-alive connection with
a cookie jar, and a quick scan of an HTML answer for what a browser would do next (the forms and
their fields, what loads by itself: htmx `hx-trigger="load"` fetches and framed/embedded files)."""

from __future__ import annotations

import html
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.client import HTTPConnection, HTTPResponse, RemoteDisconnected
from typing import Any
from urllib.parse import urlencode, urlsplit

REDIRECTS = frozenset({301, 302, 303, 307, 308})
# Only tags that matter are looked at; a regex scan costs the client far less CPU than a full
# HTML parser on a 100 KB page, and the clients share the 2 cores with the server.
TAG = re.compile(r"<(/?)([a-zA-Z][a-zA-Z0-9-]*)\b([^>]*)>")
ATTRIBUTE = re.compile(r"""([^\s=/>]+)(?:\s*=\s*(?:"([^"]*)"|'([^']*)'|([^\s>]+)))?""")
INTERESTING = frozenset(
    {"form", "input", "select", "textarea", "img", "iframe", "embed", "object", "meta"}
)
# Files the page itself loads (no script): the browser fetches them again on every full page
# load unless the answer allowed caching. /static/ assets are cached (Last-Modified/ETag).
EMBEDDED = {"img": "src", "iframe": "src", "embed": "src", "object": "data"}


@dataclass
class Response:
    status: int
    body: bytes
    headers: dict[str, str]

    @property
    def location(self) -> str | None:
        target = self.headers.get("location")
        if not target:
            return None
        parts = urlsplit(target)  # same origin: keep path and query only
        return parts.path + (f"?{parts.query}" if parts.query else "")

    def text(self) -> str:
        return self.body.decode("utf-8", "replace")


class BenchClient:
    """One keep-alive connection to a loopback server, with a minimal cookie jar."""

    def __init__(self, port: int, headers: dict[str, str] | None = None) -> None:
        self.conn = HTTPConnection("127.0.0.1", port, timeout=120)
        self.headers = headers or {}
        self.cookies: dict[str, str] = {}
        self.reconnects = 0

    def request(
        self,
        method: str,
        path: str,
        fields: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
    ) -> Response:
        sent = dict(self.headers) | (headers or {})
        if self.cookies:
            sent["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        body = None
        if fields is not None:
            body = urlencode(fields)
            sent["Content-Type"] = "application/x-www-form-urlencoded"
        response = self._send(method, path, body, sent)
        data = response.read()
        for header in response.headers.get_all("Set-Cookie") or []:
            name, _, value = header.split(";", 1)[0].partition("=")
            self.cookies[name.strip()] = value.strip()
        return Response(response.status, data, {k.lower(): v for k, v in response.headers.items()})

    def _send(
        self, method: str, path: str, body: str | None, headers: dict[str, str]
    ) -> HTTPResponse:
        for attempt in (1, 2):
            try:
                self.conn.request(method, path, body, headers)
                return self.conn.getresponse()
            except (RemoteDisconnected, ConnectionResetError, BrokenPipeError):
                self.conn.close()  # the server closed an idle keep-alive connection
                self.reconnects += 1
                if attempt == 2:
                    raise
        raise AssertionError("unreachable")

    def close(self) -> None:
        self.conn.close()


@dataclass
class Form:
    action: str
    method: str
    fields: dict[str, str] = field(default_factory=dict)  # name -> value, hidden ones included
    typed: list[tuple[str, str]] = field(default_factory=list)  # (name, type) a person types in
    autofocus: str | None = None


@dataclass
class PageScan:
    """What a browser would act on in an HTML answer."""

    forms: list[Form] = field(default_factory=list)
    loads: list[str] = field(default_factory=list)  # hx-get ... hx-trigger="load"
    # hx-get ... hx-trigger="intersect ...": fetched when the element comes into view (a panel
    # behind a tab, when the tab is shown), by the element's id
    on_view: dict[str, str] = field(default_factory=dict)
    embedded: list[str] = field(default_factory=list)  # img/iframe/embed/object files
    csrf_meta: str | None = None

    def form_posting_to(self, path: str) -> Form | None:
        return next((f for f in self.forms if urlsplit(f.action).path == path), None)


def attributes(text: str) -> dict[str, str]:
    found = {}
    for match in ATTRIBUTE.finditer(text):
        name, *values = match.groups()
        found[name.lower()] = html.unescape(next((v for v in values if v is not None), ""))
    return found


def scan(page: str) -> PageScan:
    result, form = PageScan(), None
    for closing, tag, raw in _tags(page):
        tag = tag.lower()
        if closing:
            if tag == "form":
                form = None
            continue
        attrs = attributes(raw)
        trigger = attrs.get("hx-trigger", "")
        if "hx-get" in attrs and "load" in trigger:
            result.loads.append(attrs["hx-get"])
        elif "hx-get" in attrs and "intersect" in trigger and attrs.get("id"):
            result.on_view[attrs["id"]] = attrs["hx-get"]
        if tag == "form":
            action = attrs.get("hx-post") or attrs.get("action", "")
            form = Form(action, attrs.get("method", "get").lower())
            result.forms.append(form)
        elif tag == "meta" and attrs.get("name") == "csrf-token":
            result.csrf_meta = attrs.get("content")
        elif tag in EMBEDDED and attrs.get(EMBEDDED[tag]):
            result.embedded.append(attrs[EMBEDDED[tag]])
        elif form is not None and tag in {"input", "select", "textarea"} and "name" in attrs:
            _add_field(form, tag, attrs)
    result.embedded = [u for u in result.embedded if _same_origin_dynamic(u)]
    return result


def _tags(page: str) -> Iterator[tuple[str, str, str]]:
    for match in TAG.finditer(page):
        closing, tag, raw = match.groups()
        if tag.lower() in INTERESTING or "hx-get" in raw:
            yield closing, tag, raw


def _add_field(form: Form, tag: str, attrs: dict[str, str]) -> None:
    kind = attrs.get("type", "text").lower() if tag == "input" else tag
    if kind in {"submit", "button", "reset", "image", "file"}:
        return
    if kind in {"checkbox", "radio"}:
        if "checked" in attrs:
            form.fields[attrs["name"]] = attrs.get("value", "on")
        return
    form.fields[attrs["name"]] = attrs.get("value", "")
    if kind != "hidden" and "disabled" not in attrs:
        form.typed.append((attrs["name"], kind))
        if "autofocus" in attrs and form.autofocus is None:
            form.autofocus = attrs["name"]


def _same_origin_dynamic(url: str) -> bool:
    parts = urlsplit(url)
    return (
        not parts.scheme
        and not parts.netloc
        and parts.path.startswith("/")
        and not parts.path.startswith("/static/")
    )
