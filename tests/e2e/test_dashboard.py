"""The reviewer's dashboard updates by itself while a clerk works, without reloading the page
or losing the scroll position, and is still a complete page with JavaScript off."""

from __future__ import annotations

from tests.helpers import VIEWPORT, log_in

ROWS_TODAY = 'document.querySelector(\'tr[data-clerk="kim"] [data-metric="rows_today"]\')'


def _rows_today(page) -> str:
    return page.evaluate(f"{ROWS_TODAY}.textContent.trim()")


def _refreshes(page) -> int:
    return page.evaluate("window.dashboardRefreshes")


def test_the_dashboard_follows_a_clerk_without_reloading(new_page, live_server, live_user):
    live_user("kim")
    live_user("rex", "reviewer")
    dashboard, clerk = new_page(), new_page()
    log_in(dashboard, "rex")
    dashboard.goto("/dashboard/?refresh=1")
    assert _rows_today(dashboard) == "0"
    assert "Refreshes itself every 1 s." in dashboard.inner_text("#dashboard-refresh-note")
    first_update = dashboard.inner_text("#dashboard-updated")
    dashboard.evaluate("window.__sameDocument = 'yes'")  # gone if the page were reloaded

    log_in(clerk, "kim")
    clerk.goto("/data/testDB/new")
    clerk.fill("[name=string_column]", "LIVE-1")
    clerk.fill("[name=integer_column]", "5")
    clerk.press("[name=integer_column]", "Enter")
    clerk.wait_for_selector(".alert-success")

    # Function form: a bare expression would be eval'd in the page, which our CSP forbids.
    dashboard.wait_for_function(f"() => {ROWS_TODAY}.textContent.trim() === '1'", timeout=10_000)
    assert dashboard.evaluate("window.__sameDocument") == "yes"
    assert dashboard.evaluate("performance.getEntriesByType('navigation').length") == 1
    assert _refreshes(dashboard) >= 1
    assert dashboard.inner_text("#dashboard-updated") != first_update or _refreshes(dashboard) > 1
    events = dashboard.inner_text("#dashboard-events")
    assert "kim" in events and "LIVE-1" in events
    row = dashboard.inner_text("tr[data-clerk='kim']")
    assert row.split()[0] == "kim"  # the name, then the counts beside it


def test_a_refresh_keeps_the_scroll_position(page, live_server, live_user):
    for n in range(12):  # enough clerks for the page to scroll
        live_user(f"clerk{n:02}")
    live_user("rex", "reviewer")
    page.set_viewport_size({"width": VIEWPORT["width"], "height": 420})
    log_in(page, "rex")
    page.goto("/dashboard/?refresh=1")
    page.evaluate("window.scrollTo(0, 300)")
    page.wait_for_function("() => window.scrollY === 300")
    before = _refreshes(page)
    page.wait_for_function(f"() => window.dashboardRefreshes >= {before + 2}", timeout=10_000)
    assert page.evaluate("window.scrollY") == 300


def test_without_javascript_the_page_is_complete(browser, live_server, live_user):
    live_user("kim")
    live_user("rex", "reviewer")
    context = browser.new_context(
        java_script_enabled=False, viewport=VIEWPORT, base_url=live_server.url
    )
    try:
        page = context.new_page()
        log_in(page, "rex")
        page.goto("/dashboard/")
        assert page.inner_text("tr[data-clerk='kim'] th") == "kim"
        assert page.inner_text("#dashboard-refresh-note") == "Reload the page for newer figures."
        assert page.locator("#activity-chart rect").count() == 12
    finally:
        context.close()
