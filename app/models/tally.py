"""Running counts behind the dashboard: kept in step with every change the portal makes.

One row per (subject, clerk, key): documents by status; entry rows by table, clerk and status;
assignments by clerk and status; per clerk, the documents they submitted and had returned and
the fields compared / differences found on their double entries. The dashboard reads this small
table instead of counting a million rows on every refresh (app/services/tallies.py).
"""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from app.extensions import db


class Tally(db.Model):
    __tablename__ = "tallies"

    # "documents", "rows:<entry table>", "assignments", "clerk", or "recount" (when the counts
    # were last recomputed from the tables themselves, in key "at", n = Unix seconds)
    subject: Mapped[str] = mapped_column(sa.String(80), primary_key=True)
    clerk_id: Mapped[int] = mapped_column(sa.Integer, primary_key=True)  # 0: no clerk
    key: Mapped[str] = mapped_column(sa.String(32), primary_key=True)  # a status or a measure
    n: Mapped[int] = mapped_column(sa.BigInteger, default=0)
