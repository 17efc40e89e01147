"""The one converter from an entry table's columns (and their `info`) to a Flask-WTF form.

Numbers and dates are text inputs parsed on the server (exactly what was typed, or a message).
Validators mirror the database: String(n) gets MaxChars(n) (no maxlength), Integer the 32-bit range,
Numeric(p, s) its digits, dates the calendar and the years every backend stores, Time a time of
day (HH:MM); NOT NULL columns are required. Any other type (Interval, JSON, LargeBinary, Uuid,
...) is refused with an error naming the model, the column and the type. `Column.info` adds:
label, help, placeholder, choices, min, max, pattern (+ pattern_message), format (a date
column's written format, e.g. "DD/MM/YYYY" or "DD/MM/YYYY HH:MM"; ISO by default, and ISO is
always accepted too) and the soft rules expected_min / expected_max.
"""

from __future__ import annotations

import datetime as dt
import enum
import secrets
from decimal import Decimal
from functools import lru_cache
from typing import Any

import sqlalchemy as sa
from flask_wtf import FlaskForm
from werkzeug.datastructures import MultiDict
from wtforms import (  # type: ignore[attr-defined]  # SelectChoice: WTForms 3.3, not in stubs
    BooleanField,
    Field,
    HiddenField,
    SelectChoice,
    SelectField,
    TextAreaField,
)
from wtforms.validators import InputRequired, NumberRange, Optional, Regexp

from app.entry_tables.fields import (
    TIME_HINT,
    MaxChars,
    StrictDecimalField,
    StrictFloatField,
    StrictIntegerField,
    TimeOfDayField,
    TrimmedStringField,
    WrittenDateField,
    WrittenDateTimeField,
    no_control_characters,
    not_blank,
    written_format,
)
from app.entry_tables.registry import EntryTable, entry_tables
from app.services import drafts

INT32 = (-2_147_483_648, 2_147_483_647)
INT64 = (-9_223_372_036_854_775_808, 9_223_372_036_854_775_807)
INT16 = (-32_768, 32_767)
# Plain Text is 64 KiB on MySQL (4 bytes a character at worst); LongText columns hold far more.
TEXT_MAX_CHARS = 16_000
LONG_TEXT_MAX_CHARS = 1_000_000


class EntryFormBase(FlaskForm):  # type: ignore[misc]  # Flask-WTF ships no type hints
    """Hidden fields every entry form carries.

    The CSRF token is checked once, for every POST, by CSRFProtect (app/extensions.py); the
    templates print it with csrf_token(), so the form does not make and check a second one."""

    class Meta:
        csrf = False

    version = HiddenField()  # the row's version when the form was opened (no lost update)
    form_token = HiddenField()  # one-time token of a create form (no double rows)
    # "1" once a draft of this form may be on the server (restored, or sent by drafts.js):
    # only then does saving it delete the draft.
    draft_kept = HiddenField()
    # Ticked after the soft rules questioned a value: save anyway, and flag it for review.
    confirm_warnings = BooleanField("I checked these values against the document: save them")


def check_entry_tables() -> None:
    """Build every entry table's form now: a column type the converter refuses stops the app
    (and `flask db migrate`) at start, naming the model, column and type."""
    for table in entry_tables():
        entry_form_class(table)


@lru_cache(maxsize=64)
def entry_form_class(table: EntryTable) -> type[EntryFormBase]:
    """The form class for an entry table, built once."""
    attrs: dict[str, Any] = {}
    for position, column in enumerate(table.data_columns):
        try:
            attrs[column.key] = field_for_column(column, autofocus=position == 0)
        except UnsupportedColumnType as exc:
            raise UnsupportedColumnType(column, exc.kind, table.model.__name__) from None
    return type(f"{table.model.__name__}Form", (EntryFormBase,), attrs)


def field_for_column(column: sa.Column[Any], autofocus: bool = False) -> Field:
    """One WTForms field for one column, dispatched on the column's type."""
    info = column.info
    required = column_required(column)
    validators: list[Any] = [not_blank if required else Optional()]
    render_kw: dict[str, Any] = {}
    if autofocus:
        render_kw["autofocus"] = True
    if info.get("placeholder"):
        render_kw["placeholder"] = info["placeholder"]
    if info.get("expected_min") is not None:
        render_kw["data-expected-min"] = info["expected_min"]
    if info.get("expected_max") is not None:
        render_kw["data-expected-max"] = info["expected_max"]
    kwargs = {
        "label": info.get("label") or column.key.replace("_", " ").capitalize(),
        "description": info.get("help", ""),
        "validators": validators,
        "render_kw": render_kw,
    }
    choices = column_choices(column)
    if choices is not None:
        options = [SelectChoice(value, label) for value, label in choices]
        if not required:
            options.insert(0, SelectChoice("", "—"))
        validators[0] = InputRequired() if required else Optional()
        # The empty option means "no value" (NULL), not the text "" that an Enum column refuses.
        return SelectField(choices=options, coerce=str if required else _coerce_choice, **kwargs)
    return _typed_field(column, kwargs, required)


def column_required(column: sa.Column[Any]) -> bool:
    """A value must be typed: NOT NULL and neither a default nor a server default."""
    return not column.nullable and column.server_default is None and column.default is None


def _typed_field(column: sa.Column[Any], kwargs: dict[str, Any], required: bool) -> Field:
    kind = python_type(column)
    info, render_kw, validators = column.info, kwargs["render_kw"], kwargs["validators"]
    if kind is bool:
        if required:
            return BooleanField(**{**kwargs, "validators": []})
        options = [SelectChoice("", "—"), SelectChoice("1", "Yes"), SelectChoice("0", "No")]
        return SelectField(choices=options, coerce=_coerce_bool, **kwargs)
    if kind is int:
        low, high = _int_range(column.type)
        low, high = max(low, info.get("min", low)), min(high, info.get("max", high))
        validators.append(
            NumberRange(min=low, max=high, message=f"Enter a whole number from {low} to {high}.")
        )
        render_kw.update(_TYPED_TEXT, inputmode="numeric")
        return StrictIntegerField(**kwargs)
    if kind is float:
        _number_range(info, validators)
        render_kw.update(_TYPED_TEXT, inputmode="decimal")
        return StrictFloatField(**kwargs)
    if kind is Decimal:
        _number_range(info, validators)
        render_kw.update(_TYPED_TEXT, inputmode="decimal")
        return StrictDecimalField(
            precision=getattr(column.type, "precision", None),
            scale=getattr(column.type, "scale", None),
            **kwargs,
        )
    if kind in (dt.datetime, dt.date):
        return _date_field(column, kwargs, with_time=kind is dt.datetime)
    if kind is dt.time:
        return _time_field(kwargs)
    if kind is str:
        return _text_field(column, kwargs)
    raise UnsupportedColumnType(column, kind)


class UnsupportedColumnType(TypeError):
    """An entry table has a column the form cannot hold: refused, rather than guessed at."""

    def __init__(self, column: sa.Column[Any], kind: type | None, model: str | None = None) -> None:
        self.column, self.kind = column, kind
        table = column.table.name if isinstance(column.table, sa.Table) else "?"
        where = f"model {model}, table {table}" if model else f"table {table}"
        held = kind.__name__ if kind is not None else "no Python type"
        super().__init__(
            f"entry table ({where}): column {column.key!r} has type {column.type!r} ({held}), "
            f"which an entry form cannot hold. Supported: {SUPPORTED_TYPES}; or give the "
            "column info={'choices': [...]}."
        )


SUPPORTED_TYPES = (
    "String, Text, Integer, BigInteger, SmallInteger, Float, Numeric, Boolean, "
    "Date, DateTime, Time, Enum"
)


# Numbers and dates are typed as text: a native number or date input turns "12e", "4O" or a
# half-typed date into an empty value, which would be saved as "no value" (or as "now").
_TYPED_TEXT = {"type": "text", "autocomplete": "off", "spellcheck": "false"}


def _date_field(column: sa.Column[Any], kwargs: dict[str, Any], with_time: bool) -> Field:
    written = written_format(column.info)
    hint = written.hint(with_time)
    # No inputmode: a phone's numeric keypad lacks the separators ("-", "/", ":", space).
    kwargs["render_kw"].update(_TYPED_TEXT)
    kwargs["render_kw"].setdefault("placeholder", hint)
    kwargs["render_kw"]["data-format"] = hint
    # Worded for the clerk and for the codebook alike: it is how values are typed, while the
    # database stores every date the same way (ISO).
    sentence = f"Type it as {hint}, for example {written.example(with_time)}."
    kwargs["description"] = " ".join(filter(None, [kwargs["description"], sentence]))
    field_class = WrittenDateTimeField if with_time else WrittenDateField
    return field_class(written=written, **kwargs)


def _time_field(kwargs: dict[str, Any]) -> Field:
    kwargs["render_kw"].update(_TYPED_TEXT)
    kwargs["render_kw"].setdefault("placeholder", TIME_HINT)
    kwargs["render_kw"]["data-format"] = TIME_HINT
    sentence = f"Type it as {TIME_HINT} (24-hour), for example 14:05."
    kwargs["description"] = " ".join(filter(None, [kwargs["description"], sentence]))
    return TimeOfDayField(**kwargs)


def _text_field(column: sa.Column[Any], kwargs: dict[str, Any]) -> Field:
    info, render_kw, validators = column.info, kwargs["render_kw"], kwargs["validators"]
    length = getattr(column.type, "length", None)
    if isinstance(column.type, sa.Text) or length is None:
        limit = LONG_TEXT_MAX_CHARS if _is_long_text(column) else TEXT_MAX_CHARS
        validators.append(MaxChars(limit))
        validators.append(no_control_characters)
        render_kw.setdefault("rows", 3)
        render_kw["data-maxchars"] = limit
        return TextAreaField(**kwargs)
    # No maxlength: the browser would cut a pasted value without a word. fields.js counts,
    # the server refuses what is longer.
    validators.append(MaxChars(length))
    validators.append(no_control_characters)
    render_kw["data-maxchars"] = length
    if info.get("pattern"):
        validators.append(
            Regexp(
                f"^(?:{info['pattern']})$",
                message=info.get("pattern_message", f"Must match the pattern {info['pattern']}."),
            )
        )
        render_kw["pattern"] = info["pattern"]
    return TrimmedStringField(**kwargs)


def column_choices(column: sa.Column[Any]) -> list[tuple[str, str]] | None:
    """(stored value, label) of a column with choices (info or Enum); None for the others."""
    if column.info.get("choices"):
        return [(str(v), str(label)) for v, label in _pairs(column.info["choices"])]
    if isinstance(column.type, sa.Enum):
        if column.type.enum_class is not None:
            return [
                (m.value if isinstance(m, enum.Enum) else str(m), m.name)
                for m in column.type.enum_class
            ]
        return [(value, value.capitalize()) for value in column.type.enums]
    return None


def _pairs(choices: Any) -> list[tuple[Any, Any]]:
    return [(c[0], c[1]) if isinstance(c, tuple | list) else (c, c) for c in choices]


def python_type(column: sa.Column[Any]) -> type | None:
    """The Python type a column holds, or None when it has none. A TypeDecorator that names
    its own (Interval: timedelta, stored as a DATETIME) wins over the type it is stored as."""
    column_type = column.type
    kind = _own_python_type(column_type)
    if isinstance(column_type, sa.TypeDecorator) and kind in (None, object):
        kind = _own_python_type(column_type.impl_instance)
    return kind


def _own_python_type(column_type: sa.types.TypeEngine[Any]) -> type | None:
    try:
        return column_type.python_type
    except NotImplementedError:
        return None


def _int_range(column_type: sa.types.TypeEngine[Any]) -> tuple[int, int]:
    if isinstance(column_type, sa.BigInteger):
        return INT64
    if isinstance(column_type, sa.SmallInteger):
        return INT16
    return INT32


def _number_range(info: dict[str, Any], validators: list[Any]) -> None:
    low, high = info.get("min"), info.get("max")
    if low is None and high is None:
        return
    if low is not None and high is not None:
        message = f"Enter a number from {low} to {high}."
    elif low is not None:
        message = f"Enter a number of at least {low}."
    else:
        message = f"Enter a number of at most {high}."
    validators.append(NumberRange(min=low, max=high, message=message))


def _is_long_text(column: sa.Column[Any]) -> bool:
    variants = getattr(column.type, "_variant_mapping", {})
    return any(type(v).__name__ in {"LONGTEXT", "MEDIUMTEXT"} for v in variants.values())


def _coerce_choice(value: Any) -> str | None:
    return None if value in (None, "") else str(value)


def _coerce_bool(value: Any) -> bool | None:
    if value in (None, ""):
        return None
    if isinstance(value, bool):
        return value
    return str(value) in {"1", "true", "True", "yes", "on"}


def form_values(table: EntryTable, form: EntryFormBase, *, creating: bool) -> dict[str, Any]:
    """Typed values by column; an empty field of a column with a default gets the default."""
    values = {}
    for column in table.data_columns:
        value = form[column.key].data
        if creating and value is None and column.default is not None:
            continue
        values[column.key] = value
    return values


def new_form_token() -> str:
    """The one-time token of a create form: a second save of the same form is recognised."""
    return secrets.token_urlsafe(24)


def blank_form(table: EntryTable) -> EntryFormBase:
    form = entry_form_class(table)(formdata=None)
    form.form_token.data = new_form_token()
    return form


def restore_draft(
    table: EntryTable,
    form: EntryFormBase,
    user_id: int,
    document_id: int | None,
    row_key: str | None,
) -> Any:
    """Fill the form from the user's draft, if any; returns the draft (for the notice)."""
    scope = drafts.draft_scope(table.name, document_id, row_key)
    draft = drafts.load_draft(user_id, scope)
    if draft is None:
        return None
    fill_from_draft(table, form, draft, row_key)
    return draft


def fill_from_draft(
    table: EntryTable, form: EntryFormBase, draft: Any, row_key: str | None
) -> None:
    """Put a draft's values in the form, each processed as if it had been submitted."""
    values = drafts.draft_values(draft)
    form.draft_kept.data = "1"
    for column in table.data_columns:
        if column.key in values and not (row_key is not None and column.primary_key):
            # Processed exactly like a submission, so every field type shows the typed text.
            form[column.key].process(MultiDict({column.key: values[column.key]}))
