"""Portal-wide settings an admin changes from the web."""

from __future__ import annotations

from app.extensions import db
from app.models.quality import Setting
from app.services.errors import Invalid

SAMPLE_PERCENT = "reentry_sample_percent"


def get_int(key: str, default: int = 0) -> int:
    setting = db.session.get(Setting, key)
    try:
        return int(setting.value) if setting else default
    except ValueError:
        return default


def set_sample_percent(raw: str) -> int:
    """Store the share (0-100 %) of each clerk's documents re-entered blind; commits."""
    text = (raw or "").strip()
    if not text.isascii() or not text.isdigit() or not 0 <= int(text) <= 100:
        raise Invalid("Enter a whole percentage from 0 to 100.", field="percent")
    setting = db.session.get(Setting, SAMPLE_PERCENT) or Setting(key=SAMPLE_PERCENT)
    setting.value = str(int(text))
    db.session.add(setting)
    db.session.commit()
    return int(text)
