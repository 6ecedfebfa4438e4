"""Actions -> Salesforce: send the creates, edits, completions and deletions made in Actions.

Each write is keyed, so a rerun after a crash sends nothing twice: creates are upserts on
Actions_Task_Id__c (a retried create finds the task it made), edits go to the task's Id, and a deletion
of a task already gone counts as done. After each batch the sync stores the SystemModstamp its write
produced, which is how the next pull knows not to bring its own write back (no echo).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import pandas as pd
import psycopg

from sync_pipelines.salesforce import RecordResult, SalesforceClient
from sync_pipelines.store.tasks import (
    drop_task,
    pending_deletions,
    pending_pushes,
    quarantine_tasks,
    record_pushed,
)
from sync_pipelines.tasks.changes import modstamps
from sync_pipelines.tasks.fields import EXTERNAL_ID_FIELD
from sync_pipelines.tasks.transforms import QUARANTINE_COLUMNS, plan_push

# The task is gone in Salesforce: for a deletion that is success, for an edit the deletion wins.
GONE_CODES = frozenset({"ENTITY_IS_DELETED", "INVALID_CROSS_REFERENCE_KEY", "NOT_FOUND"})


@dataclass
class PushCounts:
    created: int = 0
    updated: int = 0
    deleted: int = 0
    dropped_deleted_in_salesforce: int = 0
    quarantined: int = 0


def push_actions_changes(conn: psycopg.Connection, client: SalesforceClient, first_enabled_at: datetime,
                         now: datetime) -> PushCounts:
    counts = PushCounts()
    _push_deletions(conn, client, now, counts)
    pending = pending_pushes(conn, first_enabled_at)
    if pending.empty:
        return counts
    payloads, bad = plan_push(pending)
    counts.quarantined += quarantine_tasks(conn, bad, "to_salesforce", now)
    failures: list[tuple[str, str, datetime]] = []
    written: list[tuple[int, str, datetime]] = []  # (task_id, Salesforce id, version pushed)
    for kind, send in (("create", _upsert), ("update", _update)):
        batch = payloads[payloads["kind"] == kind]
        if batch.empty:
            continue
        results = send(client, list(batch["payload"]))
        for task, result in zip(batch.to_dict("records"), results):
            if result.success:
                written.append((task["task_id"], result.id, task["version"]))
                counts.created += kind == "create"
                counts.updated += kind == "update"
            elif kind == "update" and result.error_code in GONE_CODES:
                drop_task(conn, task["task_id"])  # deleted in Salesforce meanwhile: the deletion wins
                counts.dropped_deleted_in_salesforce += 1
            else:
                failures.append((f"actions:{task['task_id']}", _reason(result), task["version"]))
    counts.quarantined += quarantine_tasks(conn, pd.DataFrame(failures, columns=QUARANTINE_COLUMNS),
                                           "to_salesforce", now)
    stamps = modstamps(client, [salesforce_id for _, salesforce_id, _ in written])
    for task_id, salesforce_id, version in written:
        record_pushed(conn, task_id, salesforce_id, version, stamps.get(salesforce_id))
    return counts


def _push_deletions(conn: psycopg.Connection, client: SalesforceClient, now: datetime, counts: PushCounts) -> None:
    deletions = pending_deletions(conn)
    for task_id, salesforce_id in deletions:
        if salesforce_id is None:
            drop_task(conn, task_id)  # never reached Salesforce: nothing to tell it
    linked = [(task_id, salesforce_id) for task_id, salesforce_id in deletions if salesforce_id is not None]
    if not linked:
        return
    results = client.delete_many([salesforce_id for _, salesforce_id in linked])
    failures = []
    for (task_id, _), result in zip(linked, results):
        if result.success or result.error_code in GONE_CODES:
            drop_task(conn, task_id)
            counts.deleted += 1
        else:
            failures.append((f"actions:{task_id}", _reason(result), None))
    counts.quarantined += quarantine_tasks(conn, pd.DataFrame(failures, columns=QUARANTINE_COLUMNS),
                                           "to_salesforce", now)


def _upsert(client: SalesforceClient, payloads: list[dict]) -> list[RecordResult]:
    return client.upsert_many("Task", EXTERNAL_ID_FIELD, payloads)


def _update(client: SalesforceClient, payloads: list[dict]) -> list[RecordResult]:
    return client.update_many("Task", payloads)


def _reason(result: RecordResult) -> str:
    """Why Salesforce refused a record: its error code (messages can quote the data, so they stay out)."""
    return f"Salesforce refused the task: {result.error_code or 'unknown error'}"
