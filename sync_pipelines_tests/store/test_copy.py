"""copy_frame against a real PostgreSQL: values arrive exactly, whatever the session's time zone."""

import pandas as pd
import psycopg

from sync_pipelines.store.copy import copy_frame


def test_copy_keeps_instants_text_and_nulls_exact_in_any_session_time_zone(database_url):
    frame = pd.DataFrame({
        "id": pd.array([1, 2, 3], dtype="int64"),
        "note": pd.array(['a "quoted", multi\nline', "", None], dtype="string"),
        "flag": pd.array([True, None, False], dtype="boolean"),
        "at": pd.to_datetime(
            ["2026-06-21T22:21:13.5Z", None, "2026-01-01T05:00:00.123456+05:00"], utc=True, format="ISO8601"
        ),
    })
    with psycopg.connect(database_url) as conn:
        conn.execute("SET TimeZone = 'America/Los_Angeles'")  # naive times would shift by 7-8 hours
        conn.execute("CREATE TABLE copied (id bigint, note text, flag boolean, at timestamptz)")
        assert copy_frame(conn, "copied", frame) == 3
        conn.execute("SET TimeZone = 'UTC'")
        rows = conn.execute("SELECT id, note, flag, at::text FROM copied ORDER BY id").fetchall()
    assert rows == [
        (1, 'a "quoted", multi\nline', True, "2026-06-21 22:21:13.5+00"),
        (2, "", None, None),
        (3, None, False, "2026-01-01 00:00:00.123456+00"),
    ]
