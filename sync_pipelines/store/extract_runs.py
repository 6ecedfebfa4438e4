"""The completion marker of the Marketo person extract (the extract_run table).

The extract records itself finished in the transaction that commits its rows, so a marker never claims
rows that were rolled back. Readers ask for the latest finished full extract, never "is there a row".
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal

import psycopg


def record_extract_finished(
    conn: psycopg.Connection, kind: Literal["full", "incremental"], started_at: datetime,
    finished_at: datetime | None = None,
) -> None:
    """Mark an extract finished; call it inside the transaction that commits the extract's rows."""
    conn.execute(
        "INSERT INTO extract_run (kind, started_at, finished_at) VALUES (%s, %s, coalesce(%s, now()))",
        (kind, started_at, finished_at),
    )


def last_full_extract_finished(conn: psycopg.Connection) -> datetime | None:
    """When the latest full extract finished; None when none has (the extract table may hold a partial set)."""
    row = conn.execute(
        "SELECT finished_at FROM extract_run WHERE kind = 'full' ORDER BY finished_at DESC LIMIT 1"
    ).fetchone()
    return row[0] if row else None
