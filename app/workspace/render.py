"""Rendering the workspace and its panels (one per entry table), shared by the workspace's own
views and by the entry views when a save, an edit or a delete is made from it.

A panel is what an in-place save swaps: its form and the latest rows. The document viewer is
outside every panel, so it keeps its page, zoom and scroll while the clerk works."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

from flask import (
    current_app,
    get_template_attribute,
    make_response,
    render_template,
    request,
    url_for,
)
from flask_login import current_user
from markupsafe import Markup

from app.database import read_after_write
from app.entry_tables.forms import (
    EntryFormBase,
    blank_form,
    entry_form_class,
    fill_from_draft,
    new_form_token,
)
from app.entry_tables.registry import EntryTable, entry_tables
from app.extensions import db
from app.models.document import Document
from app.security import csrf_token
from app.services import documents as docs
from app.services import double_entry, drafts, entries, queries, workspace
from app.web import bounded_int, cached_url


def is_htmx() -> bool:
    """The request comes from htmx on the workspace: answer with a fragment, not a redirect."""
    return request.headers.get("HX-Request") == "true"


# Sent by workspace.js with a save from a panel in create mode that shows its latest rows.
PANEL_ROWS_HEADER = "X-Panel-Rows"
# Set by workspace.js: the table last picked for a document, on that document's path only.
PANEL_COOKIE = "portal_panel"


def shows_latest_rows() -> bool:
    """The save comes from a panel that lists the document's latest rows (not an older page)."""
    return request.headers.get(PANEL_ROWS_HEADER) == "latest"


def render_workspace(
    document: Document,
    *,
    failed: dict[str, Any] | None = None,
    status: int = 200,
    warnings: list[Any] | None = None,
    missing: list[Any] | None = None,
    unsaved: list[Any] | None = None,
    panel: str | None = None,
    query_errors: dict[int, Any] | None = None,
):
    """The document beside one panel per entry table (tabs when there are several)."""
    failed = failed or {}
    user = _user()
    tables = entry_tables()
    # The counts on the tabs, the drafts and the queries: one statement for the whole page.
    facts = workspace.document_facts(tables, user, document.id, with_queries=user.role == "clerk")
    field_queries = _clerk_queries(document, facts, user)
    # with nothing chosen, the table of the first open query is shown, its rows at hand
    asked = next((q.table_name for q in field_queries if q.status == "open"), None)
    chosen = next(iter(failed), None) or panel or request.args.get("panel") or asked
    names = {t.name for t in tables}
    # Else the table this browser last picked for this document (workspace.js keeps it in a
    # cookie scoped to the document's path), else the first.
    active = chosen if chosen in names else request.cookies.get(PANEL_COOKIE)
    if active not in names:
        active = tables[0].name if tables else None
    editable = _editable(document)
    # A plain visit builds only the chosen table's panel; the others (behind their tabs) come
    # when their tab is first shown (htmx). After a refusal, every panel is there at once.
    lazy = (
        editable
        and not (failed or missing or unsaved)
        and not (document.double_entry and user.role == "clerk")
    )
    panels = [
        _lazy_panel(document, table, facts.counts[table.name])
        if lazy and table.name != active
        else build_panel(
            document,
            table,
            form=failed.get(table.name),
            warnings=warnings if table.name in failed else None,
            page=bounded_int(request.args.get("page"), 1, low=1) if table.name == active else 1,
            focus=table.name == active,
            restore=table.name in facts.drafts,
            count=facts.counts[table.name],
        )
        for table in tables
    ]
    return render_template(
        "workspace/document.html",
        document=document,
        panels=panels,
        editable=editable,
        assignment=docs.assignment_for(document, user),
        missing=missing,
        unsaved=unsaved,
        active=active,
        chosen=chosen if chosen == active else None,
        field_queries=field_queries,
        query_errors=query_errors or {},
    ), status


def _clerk_queries(document: Document, facts: workspace.DocumentFacts, user: Any) -> list[Any]:
    """The reviewer's open and answered queries on this clerk's rows of the document: read
    only when the page's facts counted some (never per panel or per save)."""
    if user.role != "clerk" or not facts.queries:
        return []
    return queries.for_document(document.id, clerk_id=user.id, statuses=("open", "answered"))


def _user() -> Any:
    """The logged-in user itself: every use of the current_user proxy looks the user up again,
    which on a page that asks a dozen times is a measurable part of its cost."""
    return current_user._get_current_object()


def _lazy_panel(document: Document, table: EntryTable, count: int) -> dict[str, Any]:
    """A panel behind a tab not shown yet: its count (on the tab) and where to fetch it from."""
    return {
        "table": table,
        "lazy": True,
        "count": count,
        "panel_url": cached_url(
            "workspace.panel", document_id=document.id, table_name=table.name, lazy=1
        ),
    }


def render_panel(
    document: Document,
    table: EntryTable,
    *,
    status: int = 200,
    message: str | None = None,
    message_kind: str = "success",
    **options: Any,
):
    """One panel as an htmx fragment, plus the message for the panel's live region."""
    read_after_write(db.session())
    # The rows' count and whether a draft exists: one statement, as on the page.
    facts = workspace.document_facts([table], _user(), document.id, with_queries=False)
    options.setdefault("count", facts.counts[table.name])
    options["restore"] = options.get("restore", True) and table.name in facts.drafts
    # Fetched when its tab was first shown (?lazy=1): the focus stays on the tab.
    panel = build_panel(document, table, focus=not request.args.get("lazy"), **options)
    body = render_template(
        "workspace/_panel_fragment.html",
        document=document,
        panel=panel,
        editable=_editable(document),
        message=message,
        message_kind=message_kind,
    )
    response = make_response(body, status)
    response.headers["Vary"] = "HX-Request"
    return response


def render_saved(document: Document, table: EntryTable, row: Any, message: str, *, count: int):
    """A row saved from a panel that shows the latest rows: a fresh form, and the new row, the
    count (of the document's rows, this one included) and the message out of band
    (workspace/_saved.html). The rows already on the page are not read again, so a save costs
    the same with 5 rows on the document or 5,000."""
    editable = _editable(document)
    form, panel_url = _saved_form(document, table, editable)
    edit, delete = _row_urls(table)
    body = render_template(
        "workspace/_saved.html",
        document=document,
        table=table,
        form=form,
        panel_url=panel_url,
        count=count,
        editable=editable,
        row=_row_view(table, row, edit, delete),
        limit=entries.LATEST_ROWS,
        message=message,
        message_kind="success",
    )
    response = make_response(body, 200)
    response.headers["Vary"] = "HX-Request"
    response.headers["HX-Retarget"] = f"#panel-form-{table.name}"
    response.headers["HX-Reswap"] = "outerHTML"
    return response


# Stand-ins for the two tokens in the kept markup of a blank form (see _saved_form).
CSRF_SLOT = "csrf-token-slot-6b1d0f"
FORM_TOKEN_SLOT = "form-token-slot-6b1d0f"
SAVED_FORMS_KEPT = 512


def _saved_form(document: Document, table: EntryTable, editable: bool) -> tuple[Markup, str]:
    """The blank form a save answers with (workspace/_panel_form.html) with fresh tokens, and
    the panel's URL. The form's markup differs from one save of the panel to the next only by
    its CSRF and one-time tokens, so it is rendered once per panel (of the latest few hundred)
    and process, and the tokens are put in."""
    key = (table.name, document.id, editable, request.script_root)
    cache = current_app.extensions.setdefault("saved_panel_forms", {})
    kept = None if current_app.debug else cache.get(key)  # the dev server reloads templates
    if kept is None:
        kept = _render_form(document, table, editable, CSRF_SLOT, FORM_TOKEN_SLOT)
        if CSRF_SLOT not in kept[0] or FORM_TOKEN_SLOT not in kept[0]:
            # Not a blank form with both tokens where the slots were: render it as it is.
            return _render_form(document, table, editable, None, None)
        if len(cache) >= SAVED_FORMS_KEPT:
            cache.clear()
        cache[key] = kept
    markup, panel_url = kept
    # Both tokens are URL-safe base64 text: nothing in them needs escaping.
    markup = markup.replace(CSRF_SLOT, csrf_token()).replace(FORM_TOKEN_SLOT, new_form_token())
    return Markup(markup), panel_url


def _render_form(
    document: Document, table: EntryTable, editable: bool, csrf: str | None, token: str | None
) -> tuple[Markup, str]:
    """The panel's blank form and URL; csrf and token: what to write for its two tokens
    (None: real ones)."""
    panel = build_panel(document, table, focus=True, restore=False, counted=0)
    if token is not None:
        panel["form_token"] = token
    markup = render_template(
        "workspace/_panel_form.html",
        document=document,
        panel=panel,
        editable=editable,
        table=table,
        name=table.name,
        target=f"#panel-body-{table.name}",
        **({"csrf_token": lambda: csrf} if csrf is not None else {}),
    )
    return Markup(markup), panel["panel_url"]


def _row_urls(table: EntryTable) -> tuple[str, str]:
    """The edit and delete URLs of the table's rows (the key goes in the query string): the
    same for every row and request."""
    return (
        cached_url("entries.edit", table_name=table.name),
        cached_url("entries.delete", table_name=table.name),
    )


def build_panel(
    document: Document,
    table: EntryTable,
    *,
    form: EntryFormBase | None = None,
    mode: str = "create",
    row: Any = None,
    warnings: list[Any] | None = None,
    conflict: Any = None,
    error: str | None = None,
    page: int = 1,
    focus: bool = False,
    restore: bool = True,
    counted: int | None = None,
    count: int | None = None,
) -> dict[str, Any]:
    """Everything a panel shows: its form (blank, restored from a draft, or as posted).

    restore=False right after a save: that save deleted the draft, no need to look for it
    (nor when the page's facts found none).
    counted: the count of the rows, known already; no rows (the page has them).
    count: the count of the rows, known already; the rows are read unless there are none."""
    user = _user()
    blind = document.double_entry and user.role == "clerk"
    draft = None
    fields_html = None
    form_token = None
    if form is None and mode == "create":
        if restore:
            draft = drafts.load_draft(user.id, drafts.draft_scope(table.name, document.id, None))
        if draft is not None:
            form = blank_form(table)
            fill_from_draft(table, form, draft, None)
        else:  # a blank form needs no form object: its markup is cached, only the token is new
            form_token = new_form_token()
            fields_html = blank_fields_html(table, focus)
    if counted is not None:
        rows, count, has_next = [], counted, False
    elif blind:
        rows, count, has_next = _blind_rows(document, table, page)
    else:
        rows, count, has_next = _table_rows(document, table, page, count, user)
    key = table.key_of(row) if row is not None else None
    return {
        "table": table,
        "form": form,
        "fields_html": fields_html,
        "draft": draft,
        "form_token": form_token,
        "rows": rows,
        "count": count,
        "page": page,
        "has_next": has_next,
        "latest": entries.LATEST_ROWS,
        "mode": mode,
        "row": row,
        "key": key,
        "warnings": warnings,
        "conflict": conflict,
        "error": error,
        "focus": focus,
        "blind": blind,
        "action": _action(document, table, mode, key, blind),
        "draft_url": cached_url(
            "entries.save_draft",
            table_name=table.name,
            document=document.id,
            **({"key": key} if key else {}),
        ),
        "discard_url": cached_url(
            "entries.discard_draft", table_name=table.name, document=document.id
        ),
        "panel_url": cached_url("workspace.panel", document_id=document.id, table_name=table.name),
    }


def blank_fields_html(table: EntryTable, focus: bool) -> Markup:
    """The fields of a blank create form (with its empty hidden version and draft marker): the
    same markup every time (the one-time token is outside it), so it is rendered once per
    table and process instead of on every save."""
    if current_app.debug:  # templates may change while the development server runs
        return _render_blank_fields(table, focus)
    cache = current_app.extensions.setdefault("blank_entry_fields", {})
    key = (table.name, focus)
    if key not in cache:
        cache[key] = _render_blank_fields(table, focus)
    return cache[key]


def _render_blank_fields(table: EntryTable, focus: bool) -> Markup:
    form = entry_form_class(table)(formdata=None)
    macro = get_template_attribute("entries/_fields.html", "entry_fields")
    return Markup("\n").join(
        [form.version(), form.draft_kept(), macro(table, form, "create", focus=focus)]
    )


def _action(document: Document, table: EntryTable, mode: str, key: str | None, blind: bool) -> str:
    if blind:
        return cached_url("workspace.double_create", document_id=document.id, table_name=table.name)
    if mode == "edit":
        return url_for("entries.edit", table_name=table.name, key=key)
    if mode == "delete":
        return url_for("entries.delete", table_name=table.name, key=key)
    return cached_url("entries.create", table_name=table.name, document=document.id)


def _editable(document: Document) -> bool:
    user = _user()
    return user.role == "clerk" and docs.can_enter(document, user)


def _table_rows(
    document: Document, table: EntryTable, page: int, count: int | None, user: Any
) -> tuple[list[RowView], int, bool]:
    """The latest rows of the document (newest first), their total, and whether more exist.

    count: the total, counted already; with none on this page, no rows are read."""
    if count is None:
        count = entries.count_rows(table, user, document.id)
    if count <= (page - 1) * entries.LATEST_ROWS:
        return [], count, False
    latest, has_next = workspace.latest_rows(table, user, document.id, page=page)
    edit, delete = _row_urls(table)  # per panel, not per row
    rows = [_row_view(table, row, edit, delete) for row in latest]
    return rows, count, has_next


@dataclass(frozen=True, slots=True)
class RowView:
    """A row as the panel lists it: its key, its values (with their columns, for display; None
    for a blind entry's text), and its edit and delete links. An object rather than a dict: a
    template reads its attributes directly, where a dict's are looked up twice."""

    key: Any
    values: list[tuple[Any, Any]]
    edit_url: str
    delete_url: str | None


def _row_view(table: EntryTable, row: Any, edit: str, delete: str) -> RowView:
    """A row of an entry table as the panel lists it."""
    key = table.key_of(row)
    query = urlencode({"key": key})
    return RowView(
        key=key,
        values=[
            (column, getattr(row, column.key))
            for column in table.data_columns
            if not column.primary_key
        ],
        edit_url=f"{edit}?{query}",
        delete_url=f"{delete}?{query}",
    )


def _blind_rows(
    document: Document, table: EntryTable, page: int
) -> tuple[list[RowView], int, bool]:
    """The clerk's own rows of a double-entry document (never the other clerk's)."""
    own = list(double_entry.own_rows(document.id, current_user.id, table.name))[::-1]
    size = entries.LATEST_ROWS
    rows = []
    for row in own[(page - 1) * size : page * size]:
        data = json.loads(row.data)
        key = f"#{row.position}" if table.key_is_generated else data.get(table.key_column.key)
        rows.append(
            RowView(
                key=key,
                values=[(None, data.get(c.key)) for c in table.data_columns if not c.primary_key],
                edit_url=url_for(
                    "workspace.double_edit",
                    document_id=document.id,
                    table_name=table.name,
                    row_id=row.id,
                ),
                delete_url=None,
            )
        )
    return rows, len(own), len(own) > page * size
