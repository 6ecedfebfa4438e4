"""The tables (and views) the sync's assets stand for: their columns with PostgreSQL types, and row counts.

One column list per table, made of the lists the SQL itself uses (store/people.py, store/unsubscribes.py,
store/tasks.py, store/activities.py), never written a second time. A column's type follows from its name: a name has one type
wherever it appears. sync_pipelines_tests/store/test_tables.py checks every list against the migrated
schema, so a migration that adds, drops or retypes a column fails there until the lists say so. The assets'
`dagster/column_schema` is made from these lists (sync_pipelines/table_metadata.py).
"""

from __future__ import annotations

import psycopg
from psycopg import sql

from sync_pipelines.store.activities import ACTIVITY_LOG_COLUMNS
from sync_pipelines.store.people import EXTRACT_COLUMNS, PERSON_COLUMNS, PERSON_SYNC_COLUMNS
from sync_pipelines.store.tasks import ACTIONS_TASK_COLUMNS, CHANGE_COLUMNS
from sync_pipelines.store.unsubscribes import MARKETO_STATUS_COLUMNS, SALESFORCE_STATE_COLUMNS

# The extract's columns plus the one the merge stamps when a field changes.
_EXTRACT_TABLE = [*EXTRACT_COLUMNS, "changed_at"]

TABLE_COLUMNS: dict[str, list[str]] = {
    "marketo_person_extract": _EXTRACT_TABLE,
    "sales_owned_people": _EXTRACT_TABLE,  # a view: SELECT * FROM marketo_person_extract WHERE <owned>
    "actions_person": [*PERSON_COLUMNS, *PERSON_SYNC_COLUMNS],
    "salesforce_unsubscribe_state": SALESFORCE_STATE_COLUMNS,
    "marketo_unsubscribe_status": MARKETO_STATUS_COLUMNS,
    "salesforce_task_change": CHANGE_COLUMNS,
    "actions_task": ACTIONS_TASK_COLUMNS,
    "command_center_tasks": ACTIONS_TASK_COLUMNS,  # a view over actions_task: the tasks due today and tomorrow
    "actions_sales_activity": ACTIVITY_LOG_COLUMNS,  # written by the Actions app; the sync observes it
}

# Types by column name (PostgreSQL's own spelling, as format_type writes it); a name ending in _at is a
# timestamp with time zone, any other name not listed is text.
_TYPES = {
    "marketo_id": "bigint",
    "activity_id": "bigint",
    "call_duration_seconds": "integer",
    "task_id": "bigint",
    "actions_task_id": "bigint",
    "unsubscribed": "boolean",
    "email_invalid": "boolean",
    "sf_opted_out": "boolean",
    "agreed_opted_out": "boolean",
    "is_deleted": "boolean",
    "completed": "boolean",
    "reminder_synced": "boolean",
    "due_date": "date",
    "modstamp": "timestamp with time zone",
    "sf_modstamp": "timestamp with time zone",
    "salesforce_modstamp": "timestamp with time zone",
    "synced_version": "timestamp with time zone",
}


def column_type(name: str) -> str:
    if name in _TYPES:
        return _TYPES[name]
    return "timestamp with time zone" if name.endswith("_at") else "text"


def table_columns(table: str) -> list[tuple[str, str]]:
    """(name, PostgreSQL type) of every column of `table`, in the order of its list."""
    return [(name, column_type(name)) for name in TABLE_COLUMNS[table]]


def row_count(conn: psycopg.Connection, table: str) -> int:
    """The rows of `table` as this connection sees them (inside a dry run's transaction: what it would be)."""
    if table not in TABLE_COLUMNS:
        raise ValueError(f"not a table of the sync's assets: {table}")
    (count,) = conn.execute(sql.SQL("SELECT count(*) FROM {}").format(sql.Identifier(table))).fetchone()
    return count
