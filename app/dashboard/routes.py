"""The reviewer's live dashboard: a plain page, and the fragment its script fetches."""

from __future__ import annotations

from typing import Any

from flask import current_app, make_response, render_template, request, url_for

from app.dashboard import bp
from app.entry_tables.registry import entry_tables
from app.extensions import db
from app.models.entry import ROW_STATUSES
from app.security import roles_required
from app.services.dashboard import build_dashboard

DEFAULT_REFRESH_SECONDS = 5
MIN_REFRESH_SECONDS = 1
MAX_REFRESH_SECONDS = 300
# Sent with the fragment, so the script can tell it from a login page it was redirected to.
FRAGMENT_HEADER = "X-Dashboard-Fragment"
QUALITY_ENDPOINT = "review.quality"


def refresh_seconds() -> int:
    """The refresh interval: ?refresh=N seconds, clamped, else the default."""
    wanted = request.args.get("refresh", DEFAULT_REFRESH_SECONDS, type=int)
    return max(MIN_REFRESH_SECONDS, min(MAX_REFRESH_SECONDS, wanted))


def live_context() -> dict[str, Any]:
    """The figures and what the live part needs besides them."""
    # This page only reads, on a read-only connection of its own (build_dashboard): end the
    # request's own transaction, if anything began one, rather than hold it meanwhile.
    db.session.close()
    has_quality = QUALITY_ENDPOINT in current_app.view_functions
    return {
        "data": build_dashboard(),
        "row_statuses": ROW_STATUSES,
        "entry_table_names": {t.name for t in entry_tables()},
        "quality_url": url_for(QUALITY_ENDPOINT) if has_quality else None,
    }


@bp.get("/")
@roles_required("admin", "reviewer")
def index():
    return render_template("dashboard/index.html", refresh=refresh_seconds(), **live_context())


@bp.get("/fragment")
@roles_required("admin", "reviewer")
def fragment():
    response = make_response(render_template("dashboard/_live.html", **live_context()))
    response.headers[FRAGMENT_HEADER] = "1"
    return response
