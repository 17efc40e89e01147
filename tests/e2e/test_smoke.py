"""The live server answers a real browser: home page, local Bootstrap, health check."""

from __future__ import annotations

from urllib.parse import urlsplit


def test_home_page_serves_bootstrap_locally(page, live_server):
    requested: list[str] = []
    errors: list[str] = []
    page.on("request", lambda request: requested.append(request.url))
    page.on("pageerror", lambda error: errors.append(str(error)))

    response = page.goto("/")

    assert response is not None and response.status == 200
    assert "Data-entry portal" in page.title()
    hrefs = page.eval_on_selector_all(
        'link[rel="stylesheet"]', "links => links.map(link => link.href)"
    )
    bootstrap = [href for href in hrefs if "bootstrap" in href.lower()]
    assert bootstrap, f"no Bootstrap stylesheet among {hrefs}"
    for href in bootstrap:
        assert href.startswith(live_server.url + "/"), f"{href} is not served by the portal"
        css = page.request.get(href)
        assert css.status == 200, href
        assert css.headers["content-type"].startswith("text/css")
    # The stylesheet is applied (a Bootstrap navbar is a flex box) ...
    assert page.locator("nav.navbar").evaluate("el => getComputedStyle(el).display") == "flex"
    # ... and the page fetched nothing from anywhere else (no CDN).
    origin = urlsplit(live_server.url).netloc
    assert {urlsplit(url).netloc for url in requested} == {origin}
    assert errors == []


def test_healthz_reports_ok(page):
    response = page.goto("/healthz")

    assert response is not None and response.status == 200
    assert response.json() == {"status": "ok", "database": "ok"}


def test_live_server_enforces_csrf(page, live_server):
    assert live_server.app.config["WTF_CSRF_ENABLED"] is True
    response = page.goto("/")
    assert response is not None and response.status == 200
    assert page.locator('meta[name="csrf-token"]').get_attribute("content")
