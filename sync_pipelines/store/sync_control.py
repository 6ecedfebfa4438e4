"""The admin's one switch that starts the data sync ("initiate data sync"): the sync_control row.

Sensors and schedules are RUNNING from the moment the code location loads, so nothing needs toggling one
by one; each of them reads this switch first (start_switch.until_sync_started) and skips, saying why, until
an admin starts the sync.
"""

from __future__ import annotations

from datetime import datetime

import psycopg

NOT_STARTED = (
    "The data sync has not been started: an admin starts it once with `make start-sync` "
    "(python -m sync_pipelines.start_sync)"
)


def sync_started_at(conn: psycopg.Connection) -> datetime | None:
    row = conn.execute("SELECT started_at FROM sync_control").fetchone()
    return row[0] if row else None


def start_sync(conn: psycopg.Connection, now: datetime | None = None) -> bool:
    """Turn the sync on; returns False when it already was (starting twice changes nothing)."""
    with conn.transaction():
        changed = conn.execute(
            "UPDATE sync_control SET started_at = coalesce(%s, now()) WHERE started_at IS NULL", (now,)
        ).rowcount
    return changed == 1


def stop_sync(conn: psycopg.Connection, now: datetime | None = None) -> bool:
    """Pause every sensor and schedule (runs already started finish); returns False when it was off."""
    with conn.transaction():
        changed = conn.execute(
            "UPDATE sync_control SET started_at = NULL, stopped_at = coalesce(%s, now()) WHERE started_at IS NOT NULL",
            (now,),
        ).rowcount
    return changed == 1
