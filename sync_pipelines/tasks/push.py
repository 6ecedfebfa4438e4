"""Actions -> Salesforce: send the creates, edits, completions and deletions made in Actions.

Each write is keyed, so a rerun after a crash sends nothing twice: creates are upserts on
Actions_Task_Id__c (a retried create finds the task it made), edits go to the task's Id, and a deletion
of a task already gone counts as done. After each batch the sync stores the SystemModstamp its write
produced, which is how the next pull knows not to bring its own write back (no echo).
A dry run calls no write endpoint: every record is counted as if Salesforce accepted it, and the
Actions-side bookkeeping of the real run is done in the run's rolled-back transaction.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

import pandas as pd
import psycopg

from sync_pipelines.conventions import SAMPLE_SIZE
from sync_pipelines.salesforce import RecordResult, SalesforceClient
from sync_pipelines.store.tasks import (
    CONTENT_COLUMNS,
    drop_task,
    pending_deletions,
    pending_pushes,
    quarantine_tasks,
    record_pushed,
)
from sync_pipelines.tasks.fields import EXTERNAL_ID_FIELD
from sync_pipelines.tasks.salesforce_reads import modstamps
from sync_pipelines.tasks.transforms import QUARANTINE_COLUMNS, plan_push

# The task is gone in Salesforce: for a deletion that is success, for an edit the deletion wins.
GONE_CODES = frozenset({"ENTITY_IS_DELETED", "INVALID_CROSS_REFERENCE_KEY", "NOT_FOUND"})
# Refusals that say nothing about the task itself: the same write may pass on the next run, so the task is
# offered again every run (attempts counted in task_quarantine) instead of waiting for its next change.
TRANSIENT_CODES = frozenset({"UNABLE_TO_LOCK_ROW", "SERVER_UNAVAILABLE", "QUERY_TIMEOUT", "REQUEST_LIMIT_EXCEEDED",
                             "API_TEMPORARILY_UNAVAILABLE", "REQUEST_RUNNING_TOO_LONG"})


@dataclass
class PushCounts:
    created: int = 0
    updated: int = 0
    deleted: int = 0
    dropped_deleted_in_salesforce: int = 0
    quarantined: int = 0
    retry_next_run: int = 0  # refused for a transient reason: offered again on the next run
    sample_task_ids: list[int] = field(default_factory=list)

    def note(self, task_ids: list[int]) -> None:
        self.sample_task_ids += task_ids[: SAMPLE_SIZE - len(self.sample_task_ids)]


def push_actions_changes(conn: psycopg.Connection, client: SalesforceClient, now: datetime, *,
                         dry_run: bool = False) -> PushCounts:
    """Send what Actions changed for the sellers whose task_sync setting pushes (store.tasks.pending_pushes)."""
    counts = PushCounts()
    _push_deletions(conn, client, now, counts, dry_run)
    pending = pending_pushes(conn)
    if pending.empty:
        return counts
    payloads, bad = plan_push(pending)
    counts.quarantined += quarantine_tasks(conn, bad, "to_salesforce", now)
    failures: list[tuple[str, str, datetime]] = []
    transient: list[tuple[str, str, datetime]] = []
    written: list[tuple[int, str, datetime, dict]] = []  # (task_id, Salesforce id, version pushed, its content)
    content = {row["task_id"]: {c: row[c] for c in CONTENT_COLUMNS} for row in pending.to_dict("records")}
    for kind, send in (("create", _upsert), ("update", _update)):
        batch = payloads[payloads["kind"] == kind]
        if batch.empty:
            continue
        counts.note([int(i) for i in batch["task_id"]])
        results = _accepted(list(batch["payload"])) if dry_run else send(client, list(batch["payload"]))
        for task, result in zip(batch.to_dict("records"), results):
            if result.success:
                written.append((task["task_id"], result.id, task["version"], content[task["task_id"]]))
                counts.created += kind == "create"
                counts.updated += kind == "update"
            elif kind == "update" and result.error_code in GONE_CODES:
                drop_task(conn, task["task_id"])  # deleted in Salesforce meanwhile: the deletion wins
                counts.dropped_deleted_in_salesforce += 1
            else:
                refused = (f"actions:{task['task_id']}", _reason(result), task["version"])
                (transient if result.error_code in TRANSIENT_CODES else failures).append(refused)
    counts.quarantined += quarantine_tasks(conn, pd.DataFrame(failures, columns=QUARANTINE_COLUMNS),
                                           "to_salesforce", now)
    counts.retry_next_run += quarantine_tasks(conn, pd.DataFrame(transient, columns=QUARANTINE_COLUMNS),
                                              "to_salesforce", now, transient=True)
    # A dry run wrote nothing: no modstamp to read back (a would-be create stays unlinked in its rollback).
    stamps = {} if dry_run else modstamps(client, [salesforce_id for _, salesforce_id, _, _ in written])
    for task_id, salesforce_id, version, pushed in written:
        record_pushed(conn, task_id, salesforce_id, version, stamps.get(salesforce_id), pushed)
    return counts


def _push_deletions(conn: psycopg.Connection, client: SalesforceClient, now: datetime, counts: PushCounts,
                    dry_run: bool) -> None:
    deletions = pending_deletions(conn)
    for task_id, salesforce_id in deletions:
        if salesforce_id is None:
            drop_task(conn, task_id)  # never reached Salesforce: nothing to tell it
    linked = [(task_id, salesforce_id) for task_id, salesforce_id in deletions if salesforce_id is not None]
    if not linked:
        return
    counts.note([task_id for task_id, _ in linked])
    ids = [salesforce_id for _, salesforce_id in linked]
    results = _accepted([{"Id": i} for i in ids]) if dry_run else client.delete_many(ids)
    failures = []
    for (task_id, _), result in zip(linked, results):
        if result.success or result.error_code in GONE_CODES:
            drop_task(conn, task_id)
            counts.deleted += 1
        else:
            failures.append((f"actions:{task_id}", _reason(result), None))
    counts.quarantined += quarantine_tasks(conn, pd.DataFrame(failures, columns=QUARANTINE_COLUMNS),
                                           "to_salesforce", now)


def _accepted(payloads: list[dict]) -> list[RecordResult]:
    """A dry run's stand-in for Salesforce's answer: every record accepted, under its Id when it has one
    (a create's Id exists only after a real send)."""
    return [RecordResult(id=payload.get("Id"), success=True) for payload in payloads]


def _upsert(client: SalesforceClient, payloads: list[dict]) -> list[RecordResult]:
    return client.upsert_many("Task", EXTERNAL_ID_FIELD, payloads)


def _update(client: SalesforceClient, payloads: list[dict]) -> list[RecordResult]:
    return client.update_many("Task", payloads)


def _reason(result: RecordResult) -> str:
    """Why Salesforce refused a record: its error code (messages can quote the data, so they stay out)."""
    return f"Salesforce refused the task: {result.error_code or 'unknown error'}"
