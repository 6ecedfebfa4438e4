"""Bulk-load a DataFrame into PostgreSQL with COPY (one round trip per chunk, no per-row statements)."""

from __future__ import annotations

import csv
import io

import pandas as pd
import psycopg
from psycopg import sql


def copy_frame(conn: psycopg.Connection, table: str, frame: pd.DataFrame) -> int:
    """COPY `frame` into `table` (columns by name); returns the rows written.

    Every non-numeric value is quoted, so text such as a lone backslash-dot line or embedded newlines
    travels intact; FORCE_NULL turns the empty quoted values that pandas writes for missing data back into
    NULL (the sync stores no empty strings: transforms map them to missing).
    """
    if frame.empty:
        return 0
    columns = list(frame.columns)
    buffer = io.StringIO()
    frame.to_csv(buffer, header=False, index=False, quoting=csv.QUOTE_NONNUMERIC, date_format="%Y-%m-%dT%H:%M:%S.%f%z")
    statement = sql.SQL("COPY {table} ({columns}) FROM STDIN (FORMAT csv, FORCE_NULL ({columns}))").format(
        table=sql.Identifier(table),
        columns=sql.SQL(", ").join(map(sql.Identifier, columns)),
    )
    with conn.cursor() as cursor, cursor.copy(statement) as copy:
        copy.write(buffer.getvalue())
    return len(frame)
