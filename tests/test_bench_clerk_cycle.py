"""The clerk-cycle benchmark's harness: what it reads from a page, and that the rows it counts
as saved are the rows in the database (a smoke run on SQLite, a few cycles, no timing)."""

from __future__ import annotations

import argparse

import pytest
import sqlalchemy as sa

from bench._http import scan
from bench._load import CycleFailed
from bench._support import GunicornServer, count_rows
from bench.clerk_cycle import (
    SAMPLE_ROW,
    check_rows,
    entry_form,
    keystrokes,
    portal_env,
    prepare_clerks,
    run_scenario,
    scenarios,
)

FRAGMENT = """
<section id="panel-testDB"><div role="status">Saved</div>
<form method="post" action="/data/testDB/new?document=7" hx-post="/data/testDB/new?document=7">
  <input type="hidden" name="form_token" value="next-token">
  <input type="hidden" name="version" value=""><input type="hidden" name="draft_kept" value="">
  <input id="string_column" name="string_column" type="text" autofocus value="">
  <input name="integer_column" type="text" inputmode="numeric">
  <input name="date_column" type="text" value="">
  <input type="checkbox" name="confirm_warnings" value="y">
  <button type="submit">Save row</button>
</form>
<div hx-get="/data/testDB/rows?document=7&amp;page=1" hx-trigger="load"></div>
<img src="/documents/7/file" alt=""><img src="/static/logo.png" alt="">
</section>"""

pytestmark = pytest.mark.sqlite_only


def test_scan_reads_the_form_the_htmx_loads_and_the_embedded_files():
    page = scan(FRAGMENT)
    form = entry_form(page, None)
    assert form.action == "/data/testDB/new?document=7"
    assert form.fields["form_token"] == "next-token"
    assert "confirm_warnings" not in form.fields  # an unticked box is not sent
    assert [name for name, _ in form.typed] == ["string_column", "integer_column", "date_column"]
    assert form.autofocus == "string_column"
    assert page.loads == ["/data/testDB/rows?document=7&page=1"]
    assert page.embedded == ["/documents/7/file"]  # /static/ is cached by a browser


def test_scan_keeps_a_panel_behind_a_tab_apart_from_what_loads_by_itself():
    page = scan(
        '<div id="panel-body-testDB" class="panel-body" data-mode="lazy" '
        'hx-get="/work/documents/7/panel/testDB?lazy=1" hx-trigger="intersect once" '
        'hx-swap="outerHTML"><p>Loading</p></div>'
    )
    assert page.loads == []  # not fetched with the page: only when its tab is shown
    assert page.on_view == {"panel-body-testDB": "/work/documents/7/panel/testDB?lazy=1"}


def test_a_reused_form_token_fails_the_cycle():
    first = entry_form(scan(FRAGMENT), None)
    with pytest.raises(CycleFailed, match="form_token"):
        entry_form(scan(FRAGMENT), first)


@pytest.fixture(scope="module")
def portal(tmp_path_factory: pytest.TempPathFactory):
    scratch = tmp_path_factory.mktemp("bench")
    url = f"sqlite:///{scratch / 'bench.db'}"
    clerks = prepare_clerks(url, scratch, 2)
    with GunicornServer(
        "flask_backend_with_aws:application",
        portal_env(url, scratch),
        name="portal",
        workers=1,
        threads=2,
        scratch=scratch,
    ) as server:
        yield url, server, clerks


def test_saved_rows_counted_by_the_harness_are_in_the_database(portal):
    url, server, clerks = portal
    scenario = next(s for s in scenarios(3) if s.key == "portal_full")
    args = argparse.Namespace(cycles=4, seconds=60.0, warmup=1)
    result = run_scenario(url, server, scenario, clerks, args)
    assert result.problems == []
    assert result.cycles == 4 and result.errors == 0
    assert len(result.requests["save POST"]) == 4
    engine = sa.create_engine(url)
    with engine.connect() as conn:
        saved = conn.execute(
            sa.text(
                "SELECT document_id, COUNT(*) FROM testDB WHERE string_column LIKE 'REG-%' "
                "AND integer_column = 42 GROUP BY document_id ORDER BY document_id"
            )
        ).all()
    engine.dispose()
    # 2 timed + 1 warm-up per client, each on the clerk's own document, beside 3 prefilled
    assert saved == [(clerks[0].document_id, 3), (clerks[1].document_id, 3)]
    assert count_rows(url) == 6 + 3 * 2

    engine = sa.create_engine(url)  # a row the harness counted goes missing: it must notice
    with engine.begin() as conn:
        conn.execute(sa.text("DELETE FROM testDB WHERE string_column = 'REG-c0-1'"))
    engine.dispose()
    check_rows(url, scenario, result, len(clerks))
    assert result.problems == ["5 rows stored, 6 counted as saved"]


def test_keystrokes_follow_the_forms_field_order(portal):
    _url, server, clerks = portal
    keys = keystrokes(server.port, clerks[0])
    typed = sum(len(v) for v in SAMPLE_ROW.values())
    assert keys.total == typed + 3  # Tab, Tab, Enter
    assert keys.spelled.startswith("'REG-1902-017' Tab '42' Tab")
    assert keys.spelled.endswith("Enter")
