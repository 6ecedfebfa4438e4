"""The task tables: the task sync's keyed writes (whose tasks sync: store/task_sellers.py; the Actions app's own
task writes: actions_app.py).

Every sync write is keyed (Actions task id, Salesforce task id), so a rerun after a crash rewrites
nothing that is already right. The Salesforce cursor moves in the same transaction as the changes it
covers (`apply_pull`).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

import pandas as pd
import psycopg

from sync_pipelines.store.copy import copy_frame
from sync_pipelines.store.task_sellers import PUSHING_OWNERS_SQL

# The content both sides edit, by Actions column name (tasks/fields.py maps them to Salesforce fields).
CONTENT_COLUMNS = ["subject", "due_date", "status", "priority", "notes", "owner_id", "who_id", "reminder_at"]
# A staged Salesforce change (the salesforce_task_change table).
CHANGE_COLUMNS = ["salesforce_task_id", "actions_task_id", "is_deleted", *CONTENT_COLUMNS, "last_modified_at",
                  "modstamp"]
_TASK_COLUMNS = ["task_id", "salesforce_task_id", *CONTENT_COLUMNS, "updated_at", "deleted_at", "synced_version",
                 "salesforce_modstamp", "reminder_synced"]
# Every column of actions_task: the ones the sync reads and writes, and the ones the Actions app fills.
ACTIONS_TASK_COLUMNS = [*_TASK_COLUMNS, "completed", "marketo_id", "origin", "created_at"]
# The last version both sides agreed on (actions_task_synced), as columns synced_<name> beside the task's.
SNAPSHOT_COLUMNS = [f"synced_{column}" for column in CONTENT_COLUMNS]


# ---------------------------------------------------------------- the sync state and staged changes


@dataclass(frozen=True)
class TaskSyncState:
    salesforce_cursor: datetime | None
    last_pulled_at: datetime | None
    deletion_sweep_due: bool
    staged_mode: str | None
    staged_high_water: datetime | None
    staged_sweep: bool


def read_state(conn: psycopg.Connection) -> TaskSyncState:
    row = conn.execute(
        "SELECT salesforce_cursor, last_pulled_at, deletion_sweep_due, staged_mode, staged_high_water, staged_sweep"
        " FROM task_sync_state"
    ).fetchone()
    return TaskSyncState(*row)


def stage_salesforce_changes(conn: psycopg.Connection, changes: pd.DataFrame, *, mode: str,
                             high_water: datetime | None, sweep: bool, imported_sellers: list[str] = ()) -> int:
    """Replace the staged changes with these (one row per Salesforce task, the latest version wins).

    Staging is replaced, not appended: the cursor has not moved, so a rerun reads the same changes again.
    """
    latest = changes.sort_values("modstamp").drop_duplicates("salesforce_task_id", keep="last")
    with conn.transaction():
        conn.execute("DELETE FROM salesforce_task_change")
        copy_frame(conn, "salesforce_task_change", latest)
        conn.execute(
            "UPDATE task_sync_state SET staged_mode = %s, staged_high_water = %s, staged_sweep = %s",
            (mode, high_water, sweep),
        )
        # The sellers whose first-enable (or catch-up) import is among the staged changes.
        conn.execute("UPDATE task_sync_seller SET import_staged = (seller_id = ANY(%s))", (list(imported_sellers),))
    return len(latest)


def read_staged_changes(conn: psycopg.Connection) -> pd.DataFrame:
    return _frame(conn, f"SELECT {', '.join(CHANGE_COLUMNS)} FROM salesforce_task_change", CHANGE_COLUMNS)


def tasks_for_staged_changes(conn: psycopg.Connection) -> pd.DataFrame:
    """The Actions tasks the staged changes concern (by Salesforce id or by the Actions id they carry), with
    their last-synced snapshot (SNAPSHOT_COLUMNS, and has_snapshot false when there is none)."""
    snapshot = ", ".join(f"s.{c} AS synced_{c}" for c in CONTENT_COLUMNS)
    return _frame(
        conn,
        f"SELECT {', '.join('t.' + c for c in _TASK_COLUMNS)}, {snapshot}, s.task_id IS NOT NULL"
        " FROM actions_task t LEFT JOIN actions_task_synced s USING (task_id) WHERE EXISTS ("
        " SELECT 1 FROM salesforce_task_change c"
        " WHERE c.salesforce_task_id = t.salesforce_task_id OR c.actions_task_id = t.task_id)",
        [*_TASK_COLUMNS, *SNAPSHOT_COLUMNS, "has_snapshot"],
    )


def linked_salesforce_ids(conn: psycopg.Connection) -> list[str]:
    """Salesforce ids of the Actions tasks that are linked and not deleted (the full compare's subject)."""
    return [row[0] for row in conn.execute(
        "SELECT salesforce_task_id FROM actions_task WHERE salesforce_task_id IS NOT NULL AND deleted_at IS NULL")]


@dataclass(frozen=True)
class PullCounts:
    inserted: int = 0
    updated: int = 0
    deleted: int = 0
    acknowledged: int = 0
    echoes_skipped: int = 0
    conflicts_salesforce_won: int = 0
    conflicts_actions_won: int = 0
    conflicts_merged: int = 0  # fields from both sides kept (the merged version is pushed next)


def apply_pull(conn: psycopg.Connection, plan: pd.DataFrame, now: datetime, state: TaskSyncState) -> PullCounts:
    """Apply a pull plan (transforms.plan_pull) and move the cursor past it, in one transaction."""
    rows = plan.to_dict("records")
    by_action = {action: [r for r in rows if r["action"] == action] for action in set(plan["action"])}
    with conn.transaction(), conn.cursor() as cursor:
        _apply_plan(cursor, by_action, now)
        # The versions both sides now agree on: the snapshot the next conflict is merged against.
        _remember_synced(cursor, [r["salesforce_task_id"] for action in ("insert", "update", "acknowledge")
                                  for r in by_action.get(action, [])])
        # Salesforce tasks that loaded cleanly leave the quarantine.
        conn.execute("DELETE FROM task_quarantine q USING salesforce_task_change c"
                     " WHERE q.source_key = 'salesforce:' || c.salesforce_task_id")
        conn.execute("DELETE FROM salesforce_task_change")
        conn.execute(
            "UPDATE task_sync_state SET salesforce_cursor = coalesce(staged_high_water, salesforce_cursor),"
            " last_pulled_at = %s, deletion_sweep_due = deletion_sweep_due AND NOT staged_sweep,"
            " staged_mode = NULL, staged_high_water = NULL, staged_sweep = false",
            (now,),
        )
        conn.execute("UPDATE task_sync_seller SET import_since = NULL, import_staged = false WHERE import_staged")
    conflicts = plan[plan["conflict"].astype(bool)]
    return PullCounts(
        inserted=len(by_action.get("insert", [])),
        updated=len(by_action.get("update", [])) + len(by_action.get("merge", [])),
        deleted=len(by_action.get("delete", [])),
        acknowledged=len(by_action.get("acknowledge", [])),
        echoes_skipped=len(by_action.get("skip", [])),
        conflicts_salesforce_won=int((conflicts["action"] == "update").sum()),
        conflicts_actions_won=int((conflicts["action"] == "keep_actions").sum()),
        conflicts_merged=int((conflicts["action"] == "merge").sum()),
    )


def _apply_plan(cursor: psycopg.Cursor, by_action: dict[str, list[dict[str, Any]]], now: datetime) -> None:
    _run(cursor, """
        INSERT INTO actions_task (subject, due_date, status, priority, notes, owner_id, who_id, reminder_at,
                                  marketo_id, salesforce_task_id, origin, created_at, updated_at,
                                  synced_version, salesforce_modstamp, reminder_synced)
        SELECT %(subject)s, %(due_date)s, coalesce(%(status)s, 'Not Started'), coalesce(%(priority)s, 'Normal'),
               %(notes)s, %(owner_id)s, %(who_id)s, %(reminder_at)s,
               (SELECT p.marketo_id FROM actions_person p WHERE %(who_id)s IN
                   (p.salesforce_contact_id, p.salesforce_lead_id) ORDER BY p.marketo_id LIMIT 1),
               %(salesforce_task_id)s, 'salesforce', %(now)s, %(now)s, %(now)s, %(modstamp)s, %(reminder_synced)s
        ON CONFLICT (salesforce_task_id) DO NOTHING
        """, by_action.get("insert", []), now)
    _run(cursor, """
        UPDATE actions_task SET subject = %(subject)s, due_date = %(due_date)s,
            status = coalesce(%(status)s, 'Not Started'), priority = coalesce(%(priority)s, 'Normal'),
            notes = %(notes)s, owner_id = %(owner_id)s, who_id = %(who_id)s, reminder_at = %(reminder_at)s,
            marketo_id = CASE WHEN who_id IS NOT DISTINCT FROM %(who_id)s THEN marketo_id ELSE
                (SELECT p.marketo_id FROM actions_person p WHERE %(who_id)s IN
                    (p.salesforce_contact_id, p.salesforce_lead_id) ORDER BY p.marketo_id LIMIT 1) END,
            salesforce_task_id = %(salesforce_task_id)s, updated_at = %(now)s,
            -- a merge keeps fields of Actions that Salesforce lacks: still to push (synced_version stays)
            synced_version = CASE WHEN %(push_after)s THEN synced_version ELSE %(now)s END,
            salesforce_modstamp = %(modstamp)s, reminder_synced = %(reminder_synced)s
        WHERE task_id = %(task_id)s
        """, [{**r, "push_after": False} for r in by_action.get("update", [])]
             + [{**r, "push_after": True} for r in by_action.get("merge", [])], now)
    _run(cursor, "DELETE FROM actions_task WHERE task_id = %(task_id)s", by_action.get("delete", []), now)
    _run(cursor, """
        UPDATE actions_task SET salesforce_task_id = %(salesforce_task_id)s, salesforce_modstamp = %(modstamp)s,
            synced_version = updated_at, reminder_synced = reminder_synced OR %(reminder_synced)s
        WHERE task_id = %(task_id)s
        """, by_action.get("acknowledge", []), now)
    _run(cursor, "UPDATE actions_task SET salesforce_task_id = %(salesforce_task_id)s WHERE task_id = %(task_id)s",
         by_action.get("link", []), now)


def _remember_synced(cursor: psycopg.Cursor, salesforce_ids: list[str]) -> None:
    if salesforce_ids:
        cursor.execute(_SNAPSHOT_UPSERT + " WHERE salesforce_task_id = ANY(%s)" + _SNAPSHOT_CONFLICT,
                       (salesforce_ids,))


_SNAPSHOT_UPSERT = (f"INSERT INTO actions_task_synced (task_id, {', '.join(CONTENT_COLUMNS)})"
                    f" SELECT task_id, {', '.join(CONTENT_COLUMNS)} FROM actions_task")
_SNAPSHOT_CONFLICT = (" ON CONFLICT (task_id) DO UPDATE SET "
                      + ", ".join(f"{c} = EXCLUDED.{c}" for c in CONTENT_COLUMNS))


def _run(cursor: psycopg.Cursor, statement: str, rows: list[dict[str, Any]], now: datetime) -> None:
    if rows:
        cursor.executemany(statement, [{**{k: _db_value(v) for k, v in row.items()}, "now": now} for row in rows])


def _db_value(value: Any) -> Any:
    if value is None or value is pd.NaT or (not isinstance(value, (str, date, datetime)) and pd.isna(value)):
        return None
    if isinstance(value, pd.Timestamp):
        return value.to_pydatetime()
    return value.item() if hasattr(value, "item") else value


# ---------------------------------------------------------------- pushes (Actions -> Salesforce)


# A task of a seller whose Actions tasks are pushed: linked already, or made in Actions at or after the
# seller's first enable (tasks that existed before are never pushed). SQL on actions_task t.
_PUSHABLE = f"""
    EXISTS (SELECT 1 FROM ({PUSHING_OWNERS_SQL}) o WHERE o.owner_id = t.owner_id
            AND (t.salesforce_task_id IS NOT NULL OR (t.origin = 'actions' AND t.created_at >= o.first_enabled_at)))
"""
# Waiting to be sent: a deletion, a create, or an edit since the version known to equal Salesforce, and not
# refused at this version for a permanent reason (a transient refusal is retried every run).
_WAITING = """
    (t.deleted_at IS NOT NULL OR t.salesforce_task_id IS NULL
     OR t.updated_at > coalesce(t.synced_version, '-infinity'))
    AND NOT EXISTS (SELECT 1 FROM task_quarantine q
                    WHERE q.source_key = 'actions:' || t.task_id AND q.source_version = t.updated_at
                      AND NOT q.transient)
"""


def pending_pushes(conn: psycopg.Connection) -> pd.DataFrame:
    """Actions tasks to create or update in Salesforce (not deleted, not quarantined at this version).

    Only the tasks of sellers whose task_sync setting pushes (store/task_sellers.py). create: made in Actions
    on or after the seller's first enable and not yet in Salesforce. update: linked, and edited since the
    version known to equal Salesforce. The person's Salesforce id fills in the WhoId when the app linked only
    the Actions person.
    """
    columns = ["task_id", "kind", "salesforce_task_id", *CONTENT_COLUMNS, "reminder_synced", "updated_at"]
    content = ", ".join("t.who_id" if c == "who_id" else f"t.{c}" for c in CONTENT_COLUMNS)
    content = content.replace(
        "t.who_id", "coalesce(t.who_id, p.salesforce_contact_id, p.salesforce_lead_id) AS who_id")
    return _frame(
        conn,
        f"""
        SELECT t.task_id, CASE WHEN t.salesforce_task_id IS NULL THEN 'create' ELSE 'update' END,
               t.salesforce_task_id, {content}, t.reminder_synced, t.updated_at
        FROM actions_task t LEFT JOIN actions_person p ON p.marketo_id = t.marketo_id
        WHERE t.deleted_at IS NULL AND {_PUSHABLE} AND {_WAITING}
        ORDER BY t.task_id
        """,
        columns,
    )


def pending_deletions(conn: psycopg.Connection) -> list[tuple[int, str | None]]:
    """(task_id, salesforce_task_id) of tasks deleted in Actions and still waiting for the sync: every
    unlinked one (nothing to tell Salesforce), the linked ones of sellers whose tasks are pushed."""
    return list(conn.execute(
        f"SELECT task_id, salesforce_task_id FROM actions_task t WHERE t.deleted_at IS NOT NULL"
        f" AND (t.salesforce_task_id IS NULL OR {_PUSHABLE}) ORDER BY task_id"))


def actions_change_mark(conn: psycopg.Connection) -> datetime | None:
    """The newest version among the Actions tasks waiting to be sent to Salesforce (None: nothing waits).
    The task sensor requests a run when it moves past the mark it last saw."""
    (mark,) = conn.execute(
        f"SELECT max(t.updated_at) FROM actions_task t WHERE {_PUSHABLE} AND {_WAITING}").fetchone()
    return mark


def count_unpushed_preexisting(conn: psycopg.Connection) -> int:
    """Tasks of syncing sellers made in Actions before their first enable: they stay in Actions only."""
    (count,) = conn.execute(
        f"SELECT count(*) FROM actions_task t JOIN ({PUSHING_OWNERS_SQL}) o ON o.owner_id = t.owner_id"
        " WHERE t.salesforce_task_id IS NULL AND t.deleted_at IS NULL AND t.created_at < o.first_enabled_at"
    ).fetchone()
    return count


def record_pushed(conn: psycopg.Connection, task_id: int, salesforce_task_id: str, version: datetime,
                  modstamp: datetime | None, content: dict[str, Any]) -> None:
    """Remember what the sync wrote: the Salesforce id, the Actions version now equal in Salesforce, the
    SystemModstamp of that write (so the next pull does not bring it back as a change), and the content
    written (the snapshot the next conflict is merged against)."""
    with conn.transaction():
        conn.execute(
            "UPDATE actions_task SET salesforce_task_id = %s, synced_version = %s,"
            " salesforce_modstamp = coalesce(%s, salesforce_modstamp), reminder_synced = true WHERE task_id = %s",
            (salesforce_task_id, version, modstamp, task_id),
        )
        conn.execute(
            f"INSERT INTO actions_task_synced (task_id, {', '.join(CONTENT_COLUMNS)})"
            f" VALUES (%s, {', '.join(['%s'] * len(CONTENT_COLUMNS))})" + _SNAPSHOT_CONFLICT,
            [task_id, *(_db_value(content[c]) for c in CONTENT_COLUMNS)],
        )
        conn.execute("DELETE FROM task_quarantine WHERE source_key = %s", (f"actions:{task_id}",))


def drop_task(conn: psycopg.Connection, task_id: int) -> None:
    """Remove a task whose deletion both sides now agree on."""
    with conn.transaction():
        conn.execute("DELETE FROM actions_task WHERE task_id = %s", (task_id,))
        conn.execute("DELETE FROM task_quarantine WHERE source_key = %s", (f"actions:{task_id}",))


def quarantine_tasks(conn: psycopg.Connection, bad: pd.DataFrame, direction: str, now: datetime, *,
                     transient: bool = False) -> int:
    """Record tasks that cannot be synced (source_key, reason, source_version); returns the count.

    transient: the refusal may pass on the next run (pending_pushes offers the task again every run);
    attempts counts the refusals of one entry."""
    if bad.empty:
        return 0
    rows = [(row["source_key"], direction, row["reason"], _db_value(row["source_version"]), now, now, transient)
            for row in bad.to_dict("records")]
    with conn.transaction(), conn.cursor() as cursor:
        cursor.executemany(
            """
            INSERT INTO task_quarantine (source_key, direction, reason, source_version, first_seen_at, last_seen_at,
                                         transient)
            VALUES (%s, %s, %s, %s, %s, %s, %s)
            ON CONFLICT (source_key) DO UPDATE SET reason = EXCLUDED.reason,
                source_version = EXCLUDED.source_version, last_seen_at = EXCLUDED.last_seen_at,
                transient = EXCLUDED.transient, attempts = task_quarantine.attempts + 1
            """,
            rows,
        )
    return len(rows)


def _frame(conn: psycopg.Connection, query: str, columns: list[str], params: Any = None) -> pd.DataFrame:
    rows = conn.execute(query, params).fetchall()
    frame = pd.DataFrame(rows, columns=columns, dtype=object)
    return frame
