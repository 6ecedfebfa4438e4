"""Build SOQL safely: every value the project puts in a query goes through `quote` or `soql_in`.

Escaping follows Salesforce's "Quoted String Escape Sequences": backslash first, then quotes and
control characters. Nothing here builds LIKE patterns: the sync has no use for them.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, datetime, timezone

# Order matters: the backslash must be doubled before the other escapes add backslashes.
_ESCAPES = (
    ("\\", "\\\\"),
    ("'", "\\'"),
    ('"', '\\"'),
    ("\n", "\\n"),
    ("\r", "\\r"),
    ("\t", "\\t"),
    ("\b", "\\b"),
    ("\f", "\\f"),
)

SoqlValue = str | bool | int | float | date | datetime | None


def _escape(text: str) -> str:
    for raw, escaped in _ESCAPES:
        text = text.replace(raw, escaped)
    return text


def quote(value: SoqlValue) -> str:
    """A SOQL literal for `value`: 'escaped string', true/false, null, number, date or UTC datetime.

    Datetimes must be timezone-aware (a naive one would silently mean the wrong instant).
    """
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    if isinstance(value, datetime):
        if value.tzinfo is None:
            raise ValueError("SOQL datetimes must be timezone-aware")
        return value.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, str):
        return f"'{_escape(value)}'"
    raise TypeError(f"cannot put a {type(value).__name__} into SOQL")


def soql_in(values: Iterable[SoqlValue]) -> str:
    """A parenthesised IN list, e.g. `('a','b')`. An empty list is refused: `IN ()` is malformed SOQL."""
    items = [quote(v) for v in values]
    if not items:
        raise ValueError("soql_in needs at least one value")
    return "(" + ",".join(items) + ")"
