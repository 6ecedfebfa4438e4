"""Datetimes in the form Marketo's APIs expect: ISO-8601 UTC, whole seconds, `Z` suffix."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone


def marketo_datetime(moment: datetime) -> str:
    """`2024-03-01T12:00:00Z`; a naive datetime is taken to be UTC."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    return moment.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def split_windows(start: datetime, end: datetime, max_length: timedelta) -> list[tuple[datetime, datetime]]:
    """Cut [start, end) into consecutive windows no longer than `max_length`, in order."""
    windows = []
    while start < end:
        window_end = min(start + max_length, end)
        windows.append((start, window_end))
        start = window_end
    return windows
