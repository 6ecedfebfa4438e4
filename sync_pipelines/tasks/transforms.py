"""Pure transforms of the task sync (no I/O): Salesforce records in, typed changes out; the rules that
decide what each side gets.

The reconciliation rules (the product's behaviour, decided here and nowhere else):

- Matching: a Salesforce task belongs to the Actions task with its Id, or, for a task the sync created
  from Actions, the one named by its Actions_Task_Id__c (a create whose answer was lost in a crash).
- No echo: a Salesforce version whose SystemModstamp is the one the sync last read or wrote is not a
  change. A version whose content already equals the Actions task only records its SystemModstamp.
- Conflict (edited on both sides between two syncs): merged field by field against the last version both
  sides agreed on (the snapshot in actions_task_synced). A field that differs from the snapshot on one side
  only takes that side's value; a field changed on both sides takes the later side's (Salesforce
  LastModifiedDate against the Actions updated_at; Salesforce on an exact tie). Salesforce keeps no history
  per field, so "later" is per record on its side. Without a snapshot (a task linked before snapshots
  existed) every field counts as changed on both sides: the later record wins whole.
- Deletion wins over an edit on the other side: a deleted task is never brought back.
- Reminders: a Salesforce reminder is pulled only when its task was created or modified in the last
  24 hours (at the first enable, older tasks come in without their reminder so stale reminders do not
  fire; in steady state every change is recent, so reminders always follow).
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any

import pandas as pd

from sync_pipelines.store.tasks import CHANGE_COLUMNS, CONTENT_COLUMNS
from sync_pipelines.tasks.fields import (
    EXTERNAL_ID_FIELD,
    NOTES_MAX_LENGTH,
    PRIORITIES,
    STATUSES,
    SUBJECT_MAX_LENGTH,
    SYNCED_FIELDS,
)

REMINDER_WINDOW = timedelta(hours=24)

QUARANTINE_COLUMNS = ["source_key", "reason", "source_version"]
PLAN_COLUMNS = ["action", "task_id", "salesforce_task_id", *CONTENT_COLUMNS, "reminder_synced", "modstamp", "conflict"]
_TEXT_COLUMNS = ["subject", "status", "priority", "notes", "owner_id", "who_id"]


# ---------------------------------------------------------------- Salesforce records -> typed changes


def normalize_salesforce_tasks(records: list[dict[str, Any]]) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Type Salesforce Task records (as the REST API returns them) into change rows.

    Returns (clean, quarantined). clean has CHANGE_COLUMNS: due_date as a date, reminder_at,
    last_modified_at and modstamp as UTC timestamps, reminder_at NULL when IsReminderSet is false,
    actions_task_id only when Actions_Task_Id__c holds an Actions task id (an integer). quarantined has
    one row per unusable record (no Id, a bad date, text PostgreSQL cannot store) with the reasons.
    """
    clean_rows, bad_rows = [], []
    for record in records:
        row, problems = _typed_change(record)
        if problems:
            key = f"salesforce:{record.get('Id')}" if record.get("Id") else "salesforce:?"
            bad_rows.append((key, "; ".join(problems), row.get("modstamp")))
        else:
            clean_rows.append(row)
    clean = pd.DataFrame(clean_rows, columns=CHANGE_COLUMNS)
    for column in ("reminder_at", "last_modified_at", "modstamp"):
        clean[column] = pd.to_datetime(clean[column], utc=True)
    clean["actions_task_id"] = clean["actions_task_id"].astype("Int64")
    clean["is_deleted"] = clean["is_deleted"].astype(bool)
    return clean, pd.DataFrame(bad_rows, columns=QUARANTINE_COLUMNS)


def _typed_change(record: dict[str, Any]) -> tuple[dict[str, Any], list[str]]:
    problems: list[str] = []
    row: dict[str, Any] = {"salesforce_task_id": record.get("Id") or None, "is_deleted": bool(record.get("IsDeleted"))}
    if not row["salesforce_task_id"]:
        problems.append("no Id")
    for field, column in SYNCED_FIELDS.items():
        row[column] = record.get(field)
    for column in _TEXT_COLUMNS:
        if isinstance(row[column], str) and "\x00" in row[column]:
            problems.append(f"{column} contains a NUL byte")
    row["due_date"] = _parse(date.fromisoformat, row["due_date"], "ActivityDate", problems)
    reminder = _parse(_parse_datetime, record.get("ReminderDateTime"), "ReminderDateTime", problems)
    row["reminder_at"] = reminder if record.get("IsReminderSet") else None
    row["last_modified_at"] = _parse(_parse_datetime, record.get("LastModifiedDate"), "LastModifiedDate", problems)
    row["modstamp"] = _parse(_parse_datetime, record.get("SystemModstamp"), "SystemModstamp", problems)
    if row["modstamp"] is None and "SystemModstamp is not valid" not in problems:
        problems.append("no SystemModstamp")
    external = str(record.get(EXTERNAL_ID_FIELD) or "")
    # Only ids the sync wrote (Actions task ids) link records; another value is someone else's key.
    row["actions_task_id"] = int(external) if external.isdigit() else None
    return row, problems


def _parse(parse, value: Any, name: str, problems: list[str]) -> Any:
    if value in (None, ""):
        return None
    try:
        return parse(value)
    except (TypeError, ValueError):
        problems.append(f"{name} is not valid")
        return None


def _parse_datetime(text: str) -> datetime:
    """Salesforce's 2024-05-01T09:30:00.000+0000 (or any ISO-8601 with an offset) as aware UTC."""
    text = text.replace("Z", "+00:00")
    if len(text) > 5 and text[-5] in "+-" and text[-3] != ":":
        text = text[:-2] + ":" + text[-2:]
    value = datetime.fromisoformat(text)
    if value.tzinfo is None:
        raise ValueError("no time zone")
    return pd.Timestamp(value).tz_convert("UTC").to_pydatetime()


# ---------------------------------------------------------------- Salesforce -> Actions: the pull plan


def plan_pull(changes: pd.DataFrame, tasks: pd.DataFrame, now: datetime) -> pd.DataFrame:
    """Decide, for each Salesforce change, what happens to the Actions task table.

    changes: CHANGE_COLUMNS. tasks: the Actions rows concerned (task_id, salesforce_task_id, the content
    columns, updated_at, deleted_at, synced_version, salesforce_modstamp, reminder_synced).
    Returns PLAN_COLUMNS, one row per change; action is one of:
      insert        a new task from Salesforce
      update        Salesforce's version replaces the Actions content (no Actions edit, or a conflict whose
                    merge took every field from Salesforce)
      merge         a conflict that keeps fields from both sides: Actions takes the merged content, which is
                    pushed next
      delete        deleted in Salesforce: the Actions task goes
      acknowledge   both sides already agree: record the Salesforce id and SystemModstamp only
      link          the task is deleted in Actions: record its Salesforce id so the deletion is pushed
      keep_actions  a conflict Actions won: its version is pushed next
      skip          nothing to do (an echo of the sync's own write, or a deletion of an unknown task)
    """
    by_salesforce_id = {row["salesforce_task_id"]: row for row in _records(tasks) if row["salesforce_task_id"]}
    by_task_id = {row["task_id"]: row for row in _records(tasks)}
    plan = []
    for change in _records(changes):
        current = by_salesforce_id.get(change["salesforce_task_id"])
        if current is None and change["actions_task_id"] is not None:
            current = by_task_id.get(change["actions_task_id"])
        plan.append(_decide(change, current, now))
    frame = pd.DataFrame(plan, columns=PLAN_COLUMNS)
    frame["task_id"] = frame["task_id"].astype("Int64")
    return frame


def _decide(change: dict[str, Any], current: dict[str, Any] | None, now: datetime) -> dict[str, Any]:
    recent = change["last_modified_at"] is not None and change["last_modified_at"] >= now - REMINDER_WINDOW
    pulled = {column: change[column] for column in CONTENT_COLUMNS}
    if not recent:
        # An old reminder is not pulled: keep what Actions has (nothing, for a new task).
        pulled["reminder_at"] = current["reminder_at"] if current else None
    base = {"salesforce_task_id": change["salesforce_task_id"], "modstamp": change["modstamp"], "conflict": False,
            "task_id": current["task_id"] if current else None,
            "reminder_synced": recent or bool(current and current["reminder_synced"]), **pulled}

    if current is None:
        return {**base, "action": "skip" if change["is_deleted"] else "insert"}
    if change["is_deleted"]:
        return {**base, "action": "delete"}
    if current["deleted_at"] is not None:
        # Deleted in Actions: the deletion wins; it only needs the Salesforce id to be pushed.
        return {**base, "action": "link" if current["salesforce_task_id"] is None else "skip"}
    if current["salesforce_modstamp"] is not None and _same(current["salesforce_modstamp"], change["modstamp"]):
        return {**base, "action": "skip"}  # the version the sync itself read or wrote: no echo
    if all(_same(current[column], pulled[column]) for column in CONTENT_COLUMNS):
        return {**base, "action": "acknowledge"}
    edited_in_actions = current["synced_version"] is None or current["updated_at"] > current["synced_version"]
    if not edited_in_actions:
        return {**base, "action": "update"}
    merged = merge_fields(current, pulled, change["last_modified_at"])
    if all(_same(merged[column], pulled[column]) for column in CONTENT_COLUMNS):
        action = "update"
    elif all(_same(merged[column], current[column]) for column in CONTENT_COLUMNS):
        action = "keep_actions"
    else:
        action = "merge"
    return {**base, **merged, "action": action, "conflict": True}


def merge_fields(current: dict[str, Any], pulled: dict[str, Any], salesforce_modified_at: datetime | None
                 ) -> dict[str, Any]:
    """The content of a task edited on both sides: each field from the side that changed it since the last
    synced snapshot (current's synced_<column>), the later side's when both did (see the module's rules)."""
    salesforce_later = salesforce_modified_at is not None and salesforce_modified_at >= current["updated_at"]
    merged = {}
    for column in CONTENT_COLUMNS:
        ours, theirs = current[column], pulled[column]
        if current.get("has_snapshot"):
            base = current[f"synced_{column}"]
            changed_here, changed_there = not _same(ours, base), not _same(theirs, base)
        else:
            changed_here = changed_there = True
        take_theirs = changed_there and (salesforce_later or not changed_here)
        merged[column] = theirs if take_theirs else ours
    return merged


def _records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    """Rows as dicts of plain Python values (missing values as None, timestamps as datetimes)."""
    return [{key: _plain(value) for key, value in row.items()} for row in frame.to_dict("records")]


def _plain(value: Any) -> Any:
    if value is None or value is pd.NaT or (not isinstance(value, (str, date, datetime)) and pd.isna(value)):
        return None
    if isinstance(value, pd.Timestamp):
        return value.to_pydatetime()
    return value.item() if hasattr(value, "item") else value


def _same(left: Any, right: Any) -> bool:
    left, right = _plain(left), _plain(right)
    if isinstance(left, datetime) and isinstance(right, datetime):
        # Salesforce keeps milliseconds; PostgreSQL microseconds.
        return abs((left - right).total_seconds()) < 0.001
    return left == right


# ---------------------------------------------------------------- Actions -> Salesforce: the push payloads


def plan_push(pending: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Salesforce payloads for Actions tasks to create or update.

    pending: task_id, kind ('create' or 'update'), salesforce_task_id, the content columns,
    reminder_synced, updated_at. Returns (payloads, quarantined): payloads has task_id, kind,
    version (the updated_at being pushed) and payload (the Task fields); quarantined has the tasks
    Salesforce would refuse (a status or priority outside the org's picklist, text too long or with NUL).
    """
    rows, bad = [], []
    for task in _records(pending):
        problems = _push_problems(task)
        if problems:
            bad.append((f"actions:{task['task_id']}", "; ".join(problems), task["updated_at"]))
            continue
        payload: dict[str, Any] = {field: task[column] for field, column in SYNCED_FIELDS.items()}
        payload["ActivityDate"] = task["due_date"].isoformat() if task["due_date"] else None
        if task["owner_id"] is None:
            del payload["OwnerId"]  # Salesforce then keeps (or gives) the API user as owner
        # A Salesforce reminder the sync never pulled (the 24-hour rule) is left alone unless Actions sets one.
        if task["reminder_synced"] or task["reminder_at"] is not None:
            payload["IsReminderSet"] = task["reminder_at"] is not None
            payload["ReminderDateTime"] = _iso(task["reminder_at"])
        if task["kind"] == "create":
            payload[EXTERNAL_ID_FIELD] = str(task["task_id"])
        else:
            payload["Id"] = task["salesforce_task_id"]
        rows.append((task["task_id"], task["kind"], task["updated_at"], payload))
    return (pd.DataFrame(rows, columns=["task_id", "kind", "version", "payload"]),
            pd.DataFrame(bad, columns=QUARANTINE_COLUMNS))


def _push_problems(task: dict[str, Any]) -> list[str]:
    problems = []
    if task["status"] not in STATUSES:
        problems.append("status is not a Salesforce task status")
    if task["priority"] not in PRIORITIES:
        problems.append("priority is not a Salesforce task priority")
    if task["subject"] and len(task["subject"]) > SUBJECT_MAX_LENGTH:
        problems.append(f"subject is longer than {SUBJECT_MAX_LENGTH} characters")
    if task["notes"] and len(task["notes"]) > NOTES_MAX_LENGTH:
        problems.append(f"notes are longer than {NOTES_MAX_LENGTH} characters")
    for column in _TEXT_COLUMNS:
        if isinstance(task[column], str) and "\x00" in task[column]:
            problems.append(f"{column} contains a NUL byte")
    return problems


def _iso(value: datetime | None) -> str | None:
    return value.isoformat(timespec="milliseconds") if value is not None else None
