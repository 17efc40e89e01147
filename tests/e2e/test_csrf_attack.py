"""An attacker's page on another origin posts to the portal while an admin is logged in.

The page is served from http://localhost:<another port> (another origin, and another site than
the portal's 127.0.0.1); it submits itself at once, as such pages do. The portal must refuse the
post without offering a re-armed "Send again" form that one click by the admin would send.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
import sqlalchemy as sa

from app.extensions import db
from tests.e2e.conftest import E2E_PASSWORD

ATTACK_PAGE = """<!doctype html><html><head><title>You won a prize</title></head><body>
<form id="attack" method="post" action="{target}">
  <input type="hidden" name="role" value="admin">
  <button type="submit">Claim</button>
</form>
<script>document.getElementById("attack").submit();</script>
</body></html>"""


@pytest.fixture
def attacker_site() -> Iterator[dict[str, object]]:
    """A second local web server; set ["page"] to the HTML it serves at /prize.html."""
    site: dict[str, object] = {"page": ""}

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            body = str(site["page"]).encode()
            self.send_response(200)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(
        target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
    )
    thread.start()
    site["url"] = f"http://localhost:{server.server_port}/prize.html"
    try:
        yield site
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


def _role(live_server, username: str) -> str:
    with live_server.app.app_context():
        return db.session.execute(
            sa.text("SELECT role FROM users WHERE username = :u"), {"u": username}
        ).scalar_one()


def test_cross_origin_post_is_refused_without_a_send_again_form(
    live_server, live_user, page, attacker_site, tmp_path: Path
):
    live_user("boss", "admin")
    live_user("mallory", "clerk")
    with live_server.app.app_context():
        mallory_id = db.session.execute(
            sa.text("SELECT id FROM users WHERE username = 'mallory'")
        ).scalar_one()
    # The admin logs in the way a person does, ticking "Keep me logged in".
    page.goto("/login")
    page.locator("[name=username]").press_sequentially("boss")
    page.locator("[name=password]").press_sequentially(E2E_PASSWORD)
    page.locator("[name=remember]").press("Space")
    assert page.locator("[name=remember]").is_checked()
    page.press("[name=password]", "Enter")
    page.wait_for_selector("#nav-user")
    assert any(c["name"] == "remember_token" for c in page.context.cookies())

    attacker_site["page"] = ATTACK_PAGE.format(
        target=f"{live_server.url}/admin/users/{mallory_id}/role"
    )
    with page.expect_navigation(url=f"{live_server.url}/admin/users/{mallory_id}/role"):
        page.goto(str(attacker_site["url"]))
    page.wait_for_load_state()
    page.screenshot(path=str(tmp_path / "csrf-refused.png"))

    assert "nothing was saved" in page.locator("main, body").first.inner_text()
    assert page.get_by_role("button", name="Send again").count() == 0
    assert page.locator(f"form[action*='/admin/users/{mallory_id}/role']").count() == 0
    # Whatever the page offers, the admin clicks it, as the attack counts on.
    for button in page.locator("main button[type=submit]").all():
        button.click()
        page.wait_for_load_state()
    assert _role(live_server, "mallory") == "clerk"
