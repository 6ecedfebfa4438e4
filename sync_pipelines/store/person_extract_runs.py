"""The full person extract's checkpoints: a run, its export windows, and the rows of the loaded windows.

Each call is one short transaction of its own (the caller's connection must not be inside another):
recording a job's exportId, staging one window's rows, the final merge. Nothing here waits for Marketo.
A run killed at any point leaves committed windows and recorded jobs behind; the next run with the same
plan resumes them, and only a run whose every window is loaded is merged into marketo_person_extract.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

import pandas as pd
import psycopg
from psycopg.types.json import Jsonb

from sync_pipelines.store.copy import copy_frames
from sync_pipelines.store.extract_runs import record_extract_finished
from sync_pipelines.store.person_repairs import record_person_repairs
from sync_pipelines.store.people import (
    _EXTRACT_CONTENT,
    _LOCK_NAMESPACE,
    EXTRACT_COLUMNS,
    WriteCounts,
    _columns,
    forget_stale_quarantine,
    quarantine_people,
)

# Marketo keeps a finished export file 7 days: a run older than this cannot re-attach to its jobs.
RESUME_WITHIN = timedelta(days=6)
_STAGED = "person_extract_staged"


@dataclass(frozen=True)
class PlannedWindow:
    index: int
    export_filter: dict
    export_id: str | None
    loaded: bool


@dataclass(frozen=True)
class ExtractRun:
    extract_id: int
    started_at: datetime
    span_from: datetime | None
    span_until: datetime | None
    windows: list[PlannedWindow]
    resumed: bool

    @property
    def pending(self) -> list[PlannedWindow]:
        return [window for window in self.windows if not window.loaded]


def hold_extract_writer(conn: psycopg.Connection) -> None:
    """One full extract at a time (a session lock, not a transaction: released when the connection ends)."""
    with conn.transaction():
        conn.execute("SELECT pg_advisory_lock(%s, 3)", (_LOCK_NAMESPACE,))


def resumable_extract(conn: psycopg.Connection, plan: dict) -> ExtractRun | None:
    """The newest unmerged run of the same plan, young enough for its export jobs to be re-attached."""
    with conn.transaction():
        row = conn.execute(
            "SELECT extract_id FROM person_extract_run WHERE merged_at IS NULL AND plan = %s "
            "AND started_at > now() - %s ORDER BY extract_id DESC LIMIT 1",
            (Jsonb(plan), RESUME_WITHIN),
        ).fetchone()
        return None if row is None else _load_run(conn, row[0], resumed=True)


def start_extract(
    conn: psycopg.Connection, plan: dict, filters: list[dict], span: tuple[datetime, datetime] | None
) -> ExtractRun:
    """A new run with its windows; runs never merged before it are dropped with their staged rows."""
    with conn.transaction():
        conn.execute("DELETE FROM person_extract_run WHERE merged_at IS NULL")
        (extract_id,) = conn.execute(
            "INSERT INTO person_extract_run (plan, span_from, span_until) VALUES (%s, %s, %s) RETURNING extract_id",
            (Jsonb(plan), *(span or (None, None))),
        ).fetchone()
        with conn.cursor() as cursor:
            cursor.executemany(
                "INSERT INTO person_extract_window (extract_id, window_index, export_filter) VALUES (%s, %s, %s)",
                [(extract_id, index, Jsonb(export_filter)) for index, export_filter in enumerate(filters)],
            )
        return _load_run(conn, extract_id, resumed=False)


def record_export_id(conn: psycopg.Connection, extract_id: int, window_index: int, export_id: str | None) -> None:
    """Remember a window's export job the moment it exists, so a killed run's successor re-attaches to it
    (None forgets it: the next run creates a new job)."""
    with conn.transaction():
        conn.execute(
            "UPDATE person_extract_window SET export_id = %s WHERE extract_id = %s AND window_index = %s",
            (export_id, extract_id, window_index),
        )


def stage_window(
    conn: psycopg.Connection,
    run: ExtractRun,
    window_index: int,
    clean_chunks: Iterable[pd.DataFrame],
    rejected: list[pd.DataFrame],
    repairs: list[pd.DataFrame],
) -> tuple[int, int]:
    """Stage one window's clean rows and quarantine its bad ones, in one transaction; (read, quarantined).

    `clean_chunks` is consumed inside the transaction (it may raise, e.g. on a short file: nothing of
    the window is kept then); `rejected` fills up as it is consumed.
    """
    with conn.transaction():
        keyed = (chunk.assign(extract_id=run.extract_id, window_index=window_index) for chunk in clean_chunks)
        staged = copy_frames(conn, _STAGED, ["extract_id", "window_index", *EXTRACT_COLUMNS], keyed)
        quarantined = sum(quarantine_people(conn, bad, run.started_at) for bad in rejected)
        if repairs:
            record_person_repairs(conn, pd.concat(repairs, ignore_index=True), run.started_at)
        conn.execute(
            "UPDATE person_extract_window SET rows_read = %s, rows_quarantined = %s, loaded_at = now() "
            "WHERE extract_id = %s AND window_index = %s",
            (staged + quarantined, quarantined, run.extract_id, window_index),
        )
    return staged + quarantined, quarantined


def staged_totals(conn: psycopg.Connection, extract_id: int) -> tuple[int, int]:
    """(rows read, rows quarantined) over the run's loaded windows, this attempt's and earlier ones'."""
    with conn.transaction():
        read, quarantined = conn.execute(
            "SELECT coalesce(sum(rows_read), 0)::bigint, coalesce(sum(rows_quarantined), 0)::bigint "
            "FROM person_extract_window WHERE extract_id = %s",
            (extract_id,),
        ).fetchone()
    return read, quarantined


def merge_extract(conn: psycopg.Connection, run: ExtractRun) -> WriteCounts:
    """Make marketo_person_extract equal to the run's staged rows, in one short transaction; mark it merged.

    Refuses a run with a window not loaded. Changes made by an incremental run since this extract
    started win: a staged version older than the stored one does not overwrite it, and a person stored
    or changed after the start is not removed (the extract could not have seen them).
    """
    with conn.transaction():
        conn.execute("SELECT pg_advisory_xact_lock(%s, 1)", (_LOCK_NAMESPACE,))
        (unloaded,) = conn.execute(
            "SELECT count(*) FROM person_extract_window WHERE extract_id = %s AND loaded_at IS NULL",
            (run.extract_id,),
        ).fetchone()
        if unloaded:
            raise RuntimeError(f"person extract {run.extract_id} has {unloaded} window(s) not loaded: not merged")
        newest = f"""
            SELECT DISTINCT ON (marketo_id) {_columns(EXTRACT_COLUMNS)} FROM {_STAGED}
            WHERE extract_id = %(extract_id)s ORDER BY marketo_id, marketo_updated_at DESC NULLS LAST
        """
        conn.execute(f"CREATE TEMP TABLE person_extract_merge ON COMMIT DROP AS {newest}", {"extract_id": run.extract_id})
        conn.execute("ALTER TABLE person_extract_merge ADD PRIMARY KEY (marketo_id)")
        conn.execute("ANALYZE person_extract_merge")
        params = {"started_at": run.started_at}
        updated = conn.execute(
            f"""
            UPDATE marketo_person_extract e SET
                {", ".join(f"{c} = s.{c}" for c in _EXTRACT_CONTENT)}, changed_at = now()
            FROM person_extract_merge s
            WHERE e.marketo_id = s.marketo_id
              AND ({_columns(_EXTRACT_CONTENT, "e.")}) IS DISTINCT FROM ({_columns(_EXTRACT_CONTENT, "s.")})
              AND NOT coalesce(e.changed_at >= %(started_at)s AND s.marketo_updated_at < e.marketo_updated_at, false)
            """,
            params,
        ).rowcount
        inserted = conn.execute(
            f"""
            INSERT INTO marketo_person_extract ({_columns(EXTRACT_COLUMNS)})
            SELECT {_columns(EXTRACT_COLUMNS, "s.")} FROM person_extract_merge s
            WHERE NOT EXISTS (SELECT 1 FROM marketo_person_extract e WHERE e.marketo_id = s.marketo_id)
            """
        ).rowcount
        removed = conn.execute(
            """
            DELETE FROM marketo_person_extract e
            WHERE e.changed_at < %(started_at)s
              AND NOT EXISTS (SELECT 1 FROM person_extract_merge s WHERE s.marketo_id = e.marketo_id)
            """,
            params,
        ).rowcount
        conn.execute("DELETE FROM person_quarantine q USING person_extract_merge s WHERE q.marketo_id = s.marketo_id")
        forget_stale_quarantine(conn, run.started_at, marketo_ids=None)
        conn.execute(f"DELETE FROM {_STAGED} WHERE extract_id = %s", (run.extract_id,))
        conn.execute("UPDATE person_extract_run SET merged_at = now() WHERE extract_id = %s", (run.extract_id,))
        # The completion marker commits with the rows: the paced load and checks trust only this.
        record_extract_finished(conn, "full", run.started_at)
    return WriteCounts(inserted=inserted, updated=updated, removed=removed)


def mark_merged(conn: psycopg.Connection, run: ExtractRun, *, rows_read: int, rows_quarantined: int) -> None:
    """Close a one-window run whose rows went straight into marketo_person_extract (caller's transaction)."""
    conn.execute(
        "UPDATE person_extract_window SET rows_read = %s, rows_quarantined = %s, loaded_at = now() "
        "WHERE extract_id = %s",
        (rows_read, rows_quarantined, run.extract_id),
    )
    conn.execute("UPDATE person_extract_run SET merged_at = now() WHERE extract_id = %s", (run.extract_id,))


def _load_run(conn: psycopg.Connection, extract_id: int, *, resumed: bool) -> ExtractRun:
    started_at, span_from, span_until = conn.execute(
        "SELECT started_at, span_from, span_until FROM person_extract_run WHERE extract_id = %s", (extract_id,)
    ).fetchone()
    windows = [
        PlannedWindow(index, export_filter, export_id, loaded_at is not None)
        for index, export_filter, export_id, loaded_at in conn.execute(
            "SELECT window_index, export_filter, export_id, loaded_at FROM person_extract_window "
            "WHERE extract_id = %s ORDER BY window_index",
            (extract_id,),
        )
    ]
    return ExtractRun(extract_id, started_at, span_from, span_until, windows, resumed)


