"""The Actions app's side of the contract: the writes the app makes to the tables the sync reads.

The sync never calls these. The Actions app does the same writes (in its own code, in its own language),
and the sandbox, the tests and the benchmarks call these functions to play the app. Each function is the
reference for what the app must write: which table, which columns, which key makes a retry harmless.

- Sellers and their activity log (`actions_seller`, `actions_sales_activity`): the contract in
  sync_pipelines/activities/README.md. A `source_key` makes logging an activity idempotent.
- Opt-outs and re-subscribes (`actions_unsubscribe` plus its audit event): sync_pipelines/unsubscribes/README.md.
- Tasks (`actions_task`): created, edited, completed and deleted in Actions; every write moves `updated_at`,
  which is how the sync sees a change to push. The seller's time zone decides their Command Center's days.
- Settings (`actions_setting_change`): an admin's org default or a seller's own choice, append-only.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

import pandas as pd
import psycopg
from psycopg import sql

from sync_pipelines.store.copy import copy_frame
from sync_pipelines.store.settings import normalize_value
from sync_pipelines.store.unsubscribes import SOURCES, insert_events


# --- sellers and the activity log --------------------------------------------------------------


def write_sellers(conn: psycopg.Connection, sellers: pd.DataFrame) -> int:
    """Insert sellers that are not there yet (keyed by seller_id)."""
    existing = {row[0] for row in conn.execute("SELECT seller_id FROM actions_seller")}
    return copy_frame(conn, "actions_seller", sellers[~sellers["seller_id"].isin(existing)])


def write_activities(conn: psycopg.Connection, activities: pd.DataFrame) -> int:
    """Append activities to the log (as the Actions app does); ids come from the frame or the sequence."""
    written = copy_frame(conn, "actions_sales_activity", activities)
    if "activity_id" in activities.columns and written:
        # Explicit ids: move the sequence past them so that app-assigned ids never collide.
        conn.execute(
            "SELECT setval(pg_get_serial_sequence('actions_sales_activity', 'activity_id'), "
            "(SELECT max(activity_id) FROM actions_sales_activity))"
        )
    return written


def log_activity(conn: psycopg.Connection, activity: Mapping[str, object]) -> int:
    """Log one activity as the Actions app does; returns its activity_id.

    With a `source_key` (the app's own id of the activity), logging it again returns the first row's
    id and writes nothing: an app that lost its COMMIT acknowledgement retries safely.
    """
    columns = list(activity)
    inserted = conn.execute(
        sql.SQL("INSERT INTO actions_sales_activity ({}) VALUES ({}) "
                "ON CONFLICT (source_key) DO NOTHING RETURNING activity_id").format(
            sql.SQL(", ").join(map(sql.Identifier, columns)), sql.SQL(", ").join(sql.Placeholder() * len(columns))),
        [activity[column] for column in columns],
    ).fetchone()
    if inserted:
        return int(inserted[0])
    (existing,) = conn.execute("SELECT activity_id FROM actions_sales_activity WHERE source_key = %s",
                               (activity["source_key"],)).fetchone()
    return int(existing)


# --- opt-outs -----------------------------------------------------------------------------------


def record_opt_out(conn: psycopg.Connection, marketo_id: int, at: datetime, source: str = "actions") -> None:
    """Record that a person opted out of email (the Actions app calls this). A repeated opt-out refreshes
    last_opt_out_at: it is a newer opt-out, which an older re-subscribe elsewhere cannot undo."""
    _record(conn, marketo_id, True, at, source)


def record_resubscribe(conn: psycopg.Connection, marketo_id: int, at: datetime, source: str = "actions") -> None:
    """Record that a person opted back in. It reaches Salesforce only if newer than Salesforce's opt-out."""
    _record(conn, marketo_id, False, at, source)


def _record(conn: psycopg.Connection, marketo_id: int, opted_out: bool, at: datetime, source: str) -> None:
    if source not in SOURCES:
        raise ValueError(f"source must be one of {SOURCES}")
    with conn.transaction():
        conn.execute(
            """
            INSERT INTO actions_unsubscribe (marketo_id, opted_out, source, changed_at, last_opt_out_at, last_opt_out_source)
            VALUES (%(id)s, %(out)s, %(source)s, %(at)s, CASE WHEN %(out)s THEN %(at)s END,
                    CASE WHEN %(out)s THEN %(source)s END)
            ON CONFLICT (marketo_id) DO UPDATE SET
                opted_out = EXCLUDED.opted_out, source = EXCLUDED.source, changed_at = EXCLUDED.changed_at,
                last_opt_out_at = coalesce(EXCLUDED.last_opt_out_at, actions_unsubscribe.last_opt_out_at),
                last_opt_out_source = coalesce(EXCLUDED.last_opt_out_source, actions_unsubscribe.last_opt_out_source),
                recorded_at = now()
            """,
            {"id": marketo_id, "out": opted_out, "source": source, "at": at},
        )
        insert_events(conn, [(marketo_id, source, opted_out, at, "recorded", None)])


# --- tasks and the seller's time zone ----------------------------------------------------------


def create_task(conn: psycopg.Connection, now: datetime, **fields: Any) -> int:
    """A task created in Actions (fields: any content column, marketo_id); returns its task id."""
    columns = ["origin", "created_at", "updated_at", *fields]
    with conn.transaction():
        (task_id,) = conn.execute(
            f"INSERT INTO actions_task ({', '.join(columns)}) VALUES ({', '.join(['%s'] * len(columns))})"
            " RETURNING task_id",
            ["actions", now, now, *fields.values()],
        ).fetchone()
    return task_id


def edit_task(conn: psycopg.Connection, task_id: int, now: datetime, **fields: Any) -> None:
    """An edit in Actions (fields: content columns)."""
    assignments = ", ".join(f"{name} = %s" for name in fields)
    with conn.transaction():
        conn.execute(
            f"UPDATE actions_task SET {assignments}, updated_at = %s WHERE task_id = %s AND deleted_at IS NULL",
            [*fields.values(), now, task_id],
        )


def complete_task(conn: psycopg.Connection, task_id: int, now: datetime) -> None:
    edit_task(conn, task_id, now, status="Completed")


def delete_task(conn: psycopg.Connection, task_id: int, now: datetime) -> None:
    """A deletion in Actions: the row stays marked until the sync has deleted the task in Salesforce."""
    with conn.transaction():
        conn.execute("UPDATE actions_task SET deleted_at = %s, updated_at = %s WHERE task_id = %s", (now, now, task_id))


def set_seller_time_zone(conn: psycopg.Connection, seller_id: str, time_zone: str) -> None:
    """The seller's IANA time zone (e.g. Asia/Tokyo): what today and tomorrow mean in their Command Center.
    The Actions app's write; an unknown zone is refused (a check on actions_seller)."""
    with conn.transaction():
        updated = conn.execute("UPDATE actions_seller SET time_zone = %s WHERE seller_id = %s",
                               (time_zone, seller_id)).rowcount
    if not updated:
        raise ValueError(f"unknown seller: {seller_id!r}")


# --- settings ----------------------------------------------------------------------------------


def record_setting_change(
    conn: psycopg.Connection,
    setting: str,
    value: Any,
    *,
    seller_id: str | None = None,
    changed_at: datetime | None = None,
) -> int:
    """Record an admin's (seller_id None: the org default) or a seller's change; returns its change_id.
    The Actions app's writer; the log is append-only."""
    stored = normalize_value(setting, value)
    row = conn.execute(
        "INSERT INTO actions_setting_change (seller_id, setting, value, changed_at)"
        " VALUES (%s, %s, %s, coalesce(%s, now())) RETURNING change_id",
        (seller_id, setting, stored, changed_at),
    ).fetchone()
    return row[0]
