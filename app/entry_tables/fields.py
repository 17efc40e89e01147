"""Form fields that parse strictly: what the database would refuse, or store differently,
is refused here with a message that says what is accepted."""

from __future__ import annotations

import datetime as dt
import math
import re
from decimal import Decimal, InvalidOperation
from typing import Any

from wtforms import Field, StringField
from wtforms.validators import StopValidation, ValidationError

INT_PATTERN = re.compile(r"[+-]?[0-9]+")  # ASCII digits only: no full-width, no exponent
FLOAT_PATTERN = re.compile(r"[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?")
DECIMAL_PATTERN = re.compile(r"[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)")
DATE_PATTERN = re.compile(r"([0-9]{4})-([0-9]{2})-([0-9]{2})")
DATETIME_PATTERN = re.compile(
    r"([0-9]{4})-([0-9]{2})-([0-9]{2})[T ]([0-9]{2}):([0-9]{2})(?::([0-9]{2})(?:\.([0-9]{1,6}))?)?")
# The range every backend stores (MySQL's DATE/DATETIME is the narrowest).
MIN_YEAR, MAX_YEAR = 1000, 9999


class ParsedField(StringField):
    """A text input whose value is parsed by `parse`; the raw text is kept for re-display."""

    def process_formdata(self, valuelist: list[Any]) -> None:
        self.raw_text = (valuelist[0] if valuelist else "") or ""
        text = str(self.raw_text).strip()
        self.data = None
        if text:
            self.data = self.parse(text)  # a ValueError becomes this field's message

    def pre_validate(self, form: Any) -> None:
        if self.process_errors:
            raise StopValidation()  # the parse message says it all; skip range checks

    def parse(self, text: str) -> Any:  # pragma: no cover - abstract
        raise NotImplementedError

    def _value(self) -> str:
        if self.raw_data:
            return str(self.raw_data[0])
        return "" if self.data is None else self.format(self.data)

    def format(self, value: Any) -> str:
        return str(value)


class StrictIntegerField(ParsedField):
    def parse(self, text: str) -> int:
        if not INT_PATTERN.fullmatch(text):
            raise ValueError("Enter a whole number using the digits 0-9, like 42 or -7.")
        return int(text)


class StrictFloatField(ParsedField):
    def parse(self, text: str) -> float:
        if not FLOAT_PATTERN.fullmatch(text):
            raise ValueError("Enter a number using the digits 0-9 and a dot, like 1.75.")
        value = float(text)
        if not math.isfinite(value):
            raise ValueError("That number is too large to store.")
        return value


class StrictDecimalField(ParsedField):
    def __init__(self, *args: Any, precision: int | None = None, scale: int | None = None,
                 **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.precision, self.scale = precision, scale

    def parse(self, text: str) -> Decimal:
        if not DECIMAL_PATTERN.fullmatch(text):
            raise ValueError("Enter a number using the digits 0-9 and a dot, like 12.50.")
        try:
            value = Decimal(text)
        except InvalidOperation:
            raise ValueError("Enter a number like 12.50.") from None
        sign, digits, exponent = value.normalize().as_tuple()
        decimals = max(0, -int(exponent))
        if self.scale is not None and decimals > self.scale:
            raise ValueError(f"Use at most {self.scale} decimal places.")
        if self.precision is not None and self.scale is not None:
            whole_digits = len(str(abs(int(value)))) if abs(value) >= 1 else 0
            if whole_digits > self.precision - self.scale:
                raise ValueError(f"Use at most {self.precision - self.scale} digits before the "
                                 "decimal point.")
        return value


def _calendar_date(year: str, month: str, day: str) -> dt.date:
    y, m, d = int(year), int(month), int(day)
    if not MIN_YEAR <= y <= MAX_YEAR:
        raise ValueError(f"Years from {MIN_YEAR} to {MAX_YEAR} can be stored.")
    try:
        return dt.date(y, m, d)
    except ValueError:
        raise ValueError(f"{year}-{month}-{day} is not a day of the calendar.") from None


class IsoDateField(ParsedField):
    message = "Use the format YYYY-MM-DD, for example 1989-01-31."

    def parse(self, text: str) -> dt.date:
        match = DATE_PATTERN.fullmatch(text)
        if not match:
            raise ValueError(self.message)
        return _calendar_date(*match.groups())

    def format(self, value: dt.date) -> str:
        return value.isoformat()


class IsoDateTimeField(ParsedField):
    message = "Use the format YYYY-MM-DD HH:MM (24-hour), for example 1989-01-31 14:05."

    def parse(self, text: str) -> dt.datetime:
        if DATE_PATTERN.fullmatch(text):
            text += "T00:00"  # a bare date means midnight
        match = DATETIME_PATTERN.fullmatch(text)
        if not match:
            raise ValueError(self.message)
        year, month, day, hour, minute, second, fraction = match.groups()
        date = _calendar_date(year, month, day)
        try:
            time = dt.time(int(hour), int(minute), int(second or 0),
                           int((fraction or "0").ljust(6, "0")))
        except ValueError:
            raise ValueError(f"{hour}:{minute} is not a time of day.") from None
        return dt.datetime.combine(date, time)

    def format(self, value: dt.datetime) -> str:
        # datetime-local inputs want "YYYY-MM-DDTHH:MM[:SS]"
        text = value.replace(tzinfo=None).isoformat(timespec="seconds")
        return text[:-3] if text.endswith(":00") else text


class TrimmedStringField(StringField):
    """Leading and trailing spaces are dropped: '  A12 ' and 'A12' are the same value."""

    def process_formdata(self, valuelist: list[Any]) -> None:
        super().process_formdata(valuelist)
        if isinstance(self.data, str):
            self.data = self.data.strip()


def not_blank(form: Any, field: Field) -> None:
    if field.data is None or (isinstance(field.data, str) and not field.data.strip()):
        raise ValidationError("This field is required.")


CONTROL_CHARACTERS = {chr(c) for c in range(32)} - {"\t", "\n", "\r"} | {"\x7f"}


def no_control_characters(form: Any, field: Field) -> None:
    """Invisible control characters (NUL, escape, ...) are refused on every backend alike;
    PostgreSQL would refuse NUL anyway, SQLite and MySQL would store it silently."""
    if isinstance(field.data, str) and any(c in CONTROL_CHARACTERS for c in field.data):
        raise ValidationError("Remove the invisible control characters from this text.")
