"""The person_repair table: which field of which person the extract repaired (never the value)."""

from __future__ import annotations

from datetime import datetime

import pandas as pd
import psycopg


def record_person_repairs(conn: psycopg.Connection, repairs: pd.DataFrame, now: datetime) -> int:
    """Upsert one row per (marketo_id, field, repair); a repair seen again moves its last_seen_at."""
    if repairs.empty:
        return 0
    rows = [(int(r.marketo_id), r.field, r.repair, now, now) for r in repairs.itertuples(index=False)]
    with conn.cursor() as cursor:
        cursor.executemany(
            """
            INSERT INTO person_repair (marketo_id, field, repair, first_seen_at, last_seen_at)
            VALUES (%s, %s, %s, %s, %s)
            ON CONFLICT (marketo_id, field, repair) DO UPDATE SET last_seen_at = EXCLUDED.last_seen_at
            """,
            rows,
        )
    return len(rows)
