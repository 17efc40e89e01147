"""Cells a spreadsheet would run as a formula, made inert for CSV (OWASP's CSV injection rule).

A text value that starts with = + - @, a tab or a carriage return (also after leading spaces,
which some programs drop) gets a leading apostrophe, which spreadsheets show as text and do not
store. Values that already start with apostrophes before such a character get one more, so
that `restore` undoes exactly what `neutralise` did and an export imports back unchanged.
"""

from __future__ import annotations

import re

TRIGGERS = frozenset("=+-@\t\r")
# Apostrophes, then a tab or carriage return, or any whitespace and one of = + - @.
NEEDS_QUOTE = re.compile(r"'*(?:[\t\r]|\s*[=+\-@])")


def needs_quote(value: str) -> bool:
    """Whether a spreadsheet could read this text as a formula (or as one of our quotes)."""
    if not value:
        return False
    first = value[0]
    if first not in TRIGGERS and first != "'" and not first.isspace():
        return False  # the common case, decided without a regular expression
    return NEEDS_QUOTE.match(value) is not None


def neutralise(value: str) -> str:
    """The value as written to a CSV cell: a leading apostrophe when it could be a formula."""
    return "'" + value if needs_quote(value) else value


def restore(value: str) -> str:
    """The stored value of a CSV cell written by `neutralise` (other cells are unchanged)."""
    if value[:1] == "'" and needs_quote(value[1:]):
        return value[1:]
    return value
