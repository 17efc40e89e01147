"""Form fields that parse strictly: what the database would refuse, or store differently,
is refused here with a message that says what is accepted."""

from __future__ import annotations

import datetime as dt
import math
import re
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from functools import cached_property
from typing import Any

from wtforms import Field, StringField
from wtforms.validators import Length, StopValidation, ValidationError

from app.form_input import invalid_utf8_fields

INT_PATTERN = re.compile(r"[+-]?[0-9]+")  # ASCII digits only: no full-width, no exponent
FLOAT_PATTERN = re.compile(r"[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?")
DECIMAL_PATTERN = re.compile(r"[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)")
# "1,5": a decimal comma. Refused, never read as 15 or 1: the message asks for a dot.
DECIMAL_COMMA_PATTERN = re.compile(r"[+-]?[0-9]*,[0-9]+")
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


def _refuse_decimal_comma(text: str) -> None:
    if DECIMAL_COMMA_PATTERN.fullmatch(text):
        raise ValueError(f"Use a dot for decimals: {text.replace(',', '.')}, not {text}.")


class StrictFloatField(ParsedField):
    def parse(self, text: str) -> float:
        _refuse_decimal_comma(text)
        if not FLOAT_PATTERN.fullmatch(text):
            raise ValueError("Enter a number using the digits 0-9 and a dot, like 1.75.")
        value = float(text)
        if not math.isfinite(value):
            raise ValueError("That number is too large to store.")
        return value


class StrictDecimalField(ParsedField):
    def __init__(
        self, *args: Any, precision: int | None = None, scale: int | None = None, **kwargs: Any
    ) -> None:
        super().__init__(*args, **kwargs)
        self.precision, self.scale = precision, scale

    def parse(self, text: str) -> Decimal:
        _refuse_decimal_comma(text)
        if not DECIMAL_PATTERN.fullmatch(text):
            raise ValueError("Enter a number using the digits 0-9 and a dot, like 12.50.")
        try:
            value = Decimal(text)
        except InvalidOperation:
            raise ValueError("Enter a number like 12.50.") from None
        _sign, _digits, exponent = value.normalize().as_tuple()
        decimals = max(0, -int(exponent))
        if self.scale is not None and decimals > self.scale:
            raise ValueError(f"Use at most {self.scale} decimal places.")
        if self.precision is not None and self.scale is not None:
            whole_digits = len(str(abs(int(value)))) if abs(value) >= 1 else 0
            if whole_digits > self.precision - self.scale:
                raise ValueError(
                    f"Use at most {self.precision - self.scale} digits before the decimal point."
                )
        return value


def _calendar_date(year: str, month: str, day: str, typed: str) -> dt.date:
    y, m, d = int(year), int(month), int(day)
    if not MIN_YEAR <= y <= MAX_YEAR:
        raise ValueError(f"Years from {MIN_YEAR} to {MAX_YEAR} can be stored.")
    try:
        return dt.date(y, m, d)
    except ValueError:
        raise ValueError(f"{typed} is not a day of the calendar.") from None


@dataclass(frozen=True)
class WrittenFormat:
    """How a register writes its dates, e.g. "DD/MM/YYYY" or "YYYY-MM-DD HH:MM".

    The date part names DD, MM and YYYY once each, between single separators; an optional time
    part is HH:MM (seconds and fractions may always be added, so a stored value re-displays
    exactly)."""

    spelling: str

    @cached_property
    def date_part(self) -> str:
        return self.spelling.split(" ")[0]

    @cached_property
    def date_regex(self) -> re.Pattern[str]:
        pattern = ""
        for token in re.findall(r"YYYY|MM|DD|.", self.date_part):
            pattern += {
                "YYYY": r"(?P<year>[0-9]{4})",
                "MM": r"(?P<month>[0-9]{2})",
                "DD": r"(?P<day>[0-9]{2})",
            }.get(token, re.escape(token))
        return re.compile(pattern)

    def parse_date(self, text: str) -> dt.date | None:
        """The day written as `text` in this format or in ISO; None when it matches neither."""
        for regex in (self.date_regex, ISO_DATE_REGEX):
            match = regex.fullmatch(text)
            if match:
                return _calendar_date(match["year"], match["month"], match["day"], text)
        return None

    def write(self, value: dt.date | dt.datetime, exact: bool = True) -> str:
        """`value` in this format; a time gets its seconds (and fraction, when exact) if any."""
        text = (
            self.date_part.replace("YYYY", f"{value.year:04d}")
            .replace("MM", f"{value.month:02d}")
            .replace("DD", f"{value.day:02d}")
        )
        if isinstance(value, dt.datetime):
            text += f" {value.hour:02d}:{value.minute:02d}"
            if value.second or (exact and value.microsecond):
                text += f":{value.second:02d}"
            if exact and value.microsecond:
                text += f".{value.microsecond:06d}".rstrip("0")
        return text

    def example(self, with_time: bool) -> str:
        return self.write(EXAMPLE_TIME if with_time else EXAMPLE_TIME.date())

    def hint(self, with_time: bool) -> str:
        """The spelling a field asks for: the date part alone for a date column."""
        return f"{self.date_part} HH:MM" if with_time else self.date_part

    def message(self, with_time: bool) -> str:
        clock = " (24-hour)" if with_time else ""
        return (
            f"Use the format {self.hint(with_time)}{clock}, for example {self.example(with_time)}."
        )


ISO_DATE_REGEX = re.compile(r"(?P<year>[0-9]{4})-(?P<month>[0-9]{2})-(?P<day>[0-9]{2})")
TIME_REGEX = re.compile(r"([0-9]{2}):([0-9]{2})(?::([0-9]{2})(?:\.([0-9]{1,6}))?)?")
EXAMPLE_TIME = dt.datetime(1989, 1, 31, 14, 5)
ISO = WrittenFormat("YYYY-MM-DD")


def written_format(info: dict[str, Any]) -> WrittenFormat:
    """The column's written date format (`info["format"]`), ISO when it names none."""
    spelling = str(info.get("format") or "").strip()
    if not spelling:
        return ISO
    if not all(token in spelling.split(" ")[0] for token in ("YYYY", "MM", "DD")):
        raise ValueError(f"date format {spelling!r} must name YYYY, MM and DD")
    return WrittenFormat(spelling)


class WrittenDateField(ParsedField):
    """A day typed in the column's written format (ISO is always understood too)."""

    def __init__(self, *args: Any, written: WrittenFormat = ISO, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.written = written

    def parse(self, text: str) -> dt.date:
        day = self.written.parse_date(text)
        if day is None:
            raise ValueError(self.written.message(with_time=False))
        return day

    def format(self, value: dt.date) -> str:
        return self.written.write(value)


class WrittenDateTimeField(WrittenDateField):
    """A day and a time of day; a day alone means midnight. ISO's "T" is understood too."""

    def parse(self, text: str) -> dt.datetime:
        date_text, _, time_text = text.replace("T", " ", 1).partition(" ")
        day = self.written.parse_date(date_text.strip())
        match = TIME_REGEX.fullmatch(time_text.strip()) if time_text.strip() else None
        if day is None or (time_text.strip() and match is None):
            raise ValueError(self.written.message(with_time=True))
        if match is None:
            return dt.datetime.combine(day, dt.time())
        hour, minute, second, fraction = match.groups()
        try:
            time = dt.time(
                int(hour), int(minute), int(second or 0), int((fraction or "0").ljust(6, "0"))
            )
        except ValueError:
            raise ValueError(f"{hour}:{minute} is not a time of day.") from None
        return dt.datetime.combine(day, time)

    def format(self, value: dt.date) -> str:
        if isinstance(value, dt.datetime) and value.tzinfo is not None:  # UTC, shown as UTC
            value = value.astimezone(dt.UTC).replace(tzinfo=None)
        return self.written.write(value)


TIME_HINT = "HH:MM"
TIME_MESSAGE = f"Use the format {TIME_HINT} (24-hour), for example 14:05."


def write_time(value: dt.time, exact: bool = True) -> str:
    """A time of day as HH:MM, with its seconds (and fraction, when exact) if any."""
    text = f"{value.hour:02d}:{value.minute:02d}"
    if value.second or (exact and value.microsecond):
        text += f":{value.second:02d}"
    if exact and value.microsecond:
        text += f".{value.microsecond:06d}".rstrip("0")
    return text


class TimeOfDayField(ParsedField):
    """A time of day typed as HH:MM (24-hour); seconds and a fraction may follow."""

    def parse(self, text: str) -> dt.time:
        match = TIME_REGEX.fullmatch(text)
        if match is None:
            raise ValueError(TIME_MESSAGE)
        hour, minute, second, fraction = match.groups()
        try:
            return dt.time(
                int(hour), int(minute), int(second or 0), int((fraction or "0").ljust(6, "0"))
            )
        except ValueError:
            raise ValueError(f"{text} is not a time of day.") from None

    def format(self, value: dt.time) -> str:
        return write_time(value)


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
    if field.name in invalid_utf8_fields():
        raise ValidationError(NOT_UTF8_MESSAGE)


NOT_UTF8_MESSAGE = (
    "This text arrived with bytes that are not UTF-8 (a broken copy and paste?); type it again."
)


class MaxChars(Length):
    """At most `max` characters, counted as the database counts them (code points); the
    message says how many the value has, since nothing in the page cuts it short."""

    def __init__(self, max: int) -> None:  # noqa: A002 - Length's own name for the limit
        super().__init__(max=max)
        self.field_flags = {}  # Length's flag would render maxlength, which cuts a paste

    def __call__(self, form: Any, field: Field) -> None:
        length = len(field.data or "")
        if length > self.max:
            raise ValidationError(f"At most {self.max:,} characters (this has {length:,}).")
