"""Cells a spreadsheet would run as a formula, made inert for CSV (OWASP's CSV injection rule).

A text value that starts with = + - @, a tab or a carriage return (also after leading spaces,
which some programs drop) gets a leading apostrophe, which spreadsheets show as text and do not
store. Values that already start with apostrophes before such a character get one more, so
that `restore` undoes exactly what `neutralise` did and an export imports back unchanged.
"""

from __future__ import annotations

import re

TRIGGERS = frozenset("=+-@\t\r")
# Every character str.isspace() calls whitespace (checked by the tests), so that the first
# character alone tells whether a value may need a quote.
WHITESPACE = frozenset(
    "\t\n\x0b\x0c\r\x1c\x1d\x1e\x1f \x85\xa0\u1680\u2000\u2001\u2002"
    "\u2003\u2004\u2005\u2006\u2007\u2008\u2009\u200a\u2028\u2029\u202f"
    "\u205f\u3000"
)
QUOTE_STARTS = TRIGGERS | WHITESPACE | {"'"}
# Apostrophes, then a tab or carriage return, or any whitespace and one of = + - @.
NEEDS_QUOTE = re.compile(r"'*(?:[\t\r]|\s*[=+\-@])")


def needs_quote(value: str) -> bool:
    """Whether a spreadsheet could read this text as a formula (or as one of our quotes)."""
    if not value:
        return False
    if value[0] not in QUOTE_STARTS:
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
