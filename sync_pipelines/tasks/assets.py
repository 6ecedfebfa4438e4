"""Tasks: Salesforce task changes -> the Actions task table (both ways) -> the Command Center.

The sync is off until enabled (`enable_task_sync`, or `enable_sync: true` in the config of
salesforce_tasks). While off, every asset reports `sync_enabled: false` and touches nothing.
"""

import time
from datetime import datetime, timezone
from typing import Optional

import dagster as dg
import pandas as pd
from pydantic import Field

from sync_pipelines.conventions import OWNERS
from sync_pipelines import dry_run, pools
from sync_pipelines.mass_change import MassRemovalConfig, Removal, guard_removal
from sync_pipelines.pinning import pin_salesforce
from sync_pipelines.quota import stops_cleanly_on_quota
from sync_pipelines.resources import ActionsDatabase, SalesforceResource
from sync_pipelines.table_metadata import table_metadata, table_spec_metadata
from sync_pipelines.store.tasks import (
    CHANGE_COLUMNS,
    apply_pull,
    count_unpushed_preexisting,
    enable_task_sync,
    linked_salesforce_ids,
    quarantine_tasks,
    read_setting,
    read_staged_changes,
    read_state,
    stage_salesforce_changes,
    tasks_for_staged_changes,
)
from sync_pipelines.tasks.changes import (
    DELETED_REACH,
    all_tasks,
    live_task_ids,
    recently_deleted,
    tasks_changed_since,
)
from sync_pipelines.tasks.freshness import ACTIONS_TASKS_FRESHNESS
from sync_pipelines.tasks.push import push_actions_changes
from sync_pipelines.tasks.transforms import normalize_salesforce_tasks, plan_pull

# The cursor after an import that found no task at all: any later task is newer.
EMPTY_ORG_CURSOR = datetime(1970, 1, 1, tzinfo=timezone.utc)


class TaskClockConfig(dg.Config):
    """now: an ISO-8601 instant that replaces the Actions clock (tests, replays); empty means the wall clock."""

    now: Optional[str] = Field(default=None, description="ISO-8601 instant replacing the Actions clock")

    def clock(self) -> datetime:
        if not self.now:
            return datetime.now(timezone.utc)
        value = datetime.fromisoformat(self.now)
        return value if value.tzinfo else value.replace(tzinfo=timezone.utc)


class SalesforceTasksConfig(TaskClockConfig, MassRemovalConfig):
    """enable_sync: turn the task sync on before reading (the first time, this is the first enable).

    allow_mass_removal / max_removed_percent / max_removed_rows: the mass-change guard of a full compare.
    """

    enable_sync: bool = Field(default=False, description="Turn the task sync on (records the first-enable moment)")


def _disabled(conn, table: str, dry: bool) -> dg.MaterializeResult:
    return dry_run.result({"sync_enabled": False, **table_metadata(conn, table)}, dry_run=dry)


@dg.asset(
    pool=pools.SALESFORCE,
    group_name="tasks",
    kinds={"salesforce", "postgres"},
    owners=OWNERS,
    metadata=table_spec_metadata("salesforce_task_change"),
    description=(
        "Salesforce tasks changed or deleted since the last applied cursor, staged in salesforce_task_change. "
        "The first run after the first enable imports every to-do task; after a re-enable it also sweeps the "
        "deletions of the past 15 days (getDeleted) and, beyond that reach, compares ids in full. The cursor "
        "itself moves only when actions_tasks has applied the changes."
    ),
)
@stops_cleanly_on_quota
def salesforce_tasks(
    context: dg.AssetExecutionContext,
    config: SalesforceTasksConfig,
    salesforce: SalesforceResource,
    actions_db: ActionsDatabase,
) -> dg.MaterializeResult:
    dry = actions_db.dry_run
    now, clock = config.clock(), time.monotonic()
    with actions_db.connection() as conn:
        if config.enable_sync and enable_task_sync(conn, now):
            context.log.info("Task sync enabled")
        setting, state = read_setting(conn), read_state(conn)
        if not setting.enabled:
            return _disabled(conn, "salesforce_task_change", dry)
        initial = state.salesforce_cursor is None
        overdue = state.last_pulled_at is not None and state.last_pulled_at < now - DELETED_REACH
        sweep = not initial and (state.deletion_sweep_due or overdue)
        with salesforce.client() as client:
            pin_salesforce(conn, client)
            records = all_tasks(client) if initial else tasks_changed_since(client, state.salesforce_cursor)
            changes, bad = normalize_salesforce_tasks(records)
            swept = full_compare = 0
            guard: dict = {}
            if sweep:
                deleted, earliest = recently_deleted(client, now)
                swept = len(deleted)
                gone = _deletions([(r["id"], r["deletedDate"]) for r in deleted])
                # Deletions older than getDeleted reaches (15 days, less if the recycle bin was emptied) are
                # invisible to it: when the sync last pulled before that, compare every linked id instead.
                # A linked task Salesforce no longer has was deleted there, and leaves Actions too.
                if state.last_pulled_at is None or earliest > state.last_pulled_at:
                    linked = linked_salesforce_ids(conn)
                    missing = sorted(set(linked) - live_task_ids(client, linked))
                    full_compare = len(missing)
                    # The mass-change guard, before anything is staged: a wrong or fake org has none of them.
                    guard = guard_removal(context, config, Removal("linked Actions tasks", len(linked), full_compare),
                                          dry_run=dry)
                    gone = pd.concat([gone, _deletions([(i, now) for i in missing])], ignore_index=True)
                changes = pd.concat([changes, gone], ignore_index=True) if not gone.empty else changes
            api_calls = client.api_calls
        # The cursor to commit once applied: the newest version read (a quarantined one included: it is
        # retried when it changes again, with a newer SystemModstamp).
        high_water = _latest_modstamp(records) or state.salesforce_cursor or EMPTY_ORG_CURSOR
        quarantined = quarantine_tasks(conn, bad, "to_actions", now)
        staged = stage_salesforce_changes(conn, changes, mode="initial" if initial else "incremental",
                                          high_water=high_water, sweep=sweep)
        table = table_metadata(conn, "salesforce_task_change")
    return dry_run.result(
        {
            "sync_enabled": True,
            "mode": "initial" if initial else "incremental",
            "tasks_read": len(records),
            "changes_staged": staged,
            "deleted_in_salesforce": int(changes["is_deleted"].sum()),
            "deletion_sweep": sweep,
            "deletions_from_get_deleted": swept,
            "deletions_from_full_compare": full_compare,
            **guard,
            "quarantined": quarantined,
            "salesforce_api_calls": api_calls,
            "duration_seconds": round(time.monotonic() - clock, 3),
            **table,
        },
        dry_run=dry,
    )


def _latest_modstamp(records: list[dict]) -> datetime | None:
    stamps = pd.to_datetime([r.get("SystemModstamp") for r in records], utc=True, errors="coerce", format="ISO8601")
    return None if stamps.isna().all() else stamps.max().to_pydatetime()


def _deletions(pairs: list[tuple[str, datetime]]) -> pd.DataFrame:
    """Change rows for tasks deleted in Salesforce (known only by id)."""
    frame = pd.DataFrame(
        [{"salesforce_task_id": task_id, "is_deleted": True, "modstamp": at, "last_modified_at": at}
         for task_id, at in pairs],
        columns=CHANGE_COLUMNS,
    )
    frame["is_deleted"] = frame["is_deleted"].astype(bool)
    for column in ("reminder_at", "last_modified_at", "modstamp"):
        frame[column] = pd.to_datetime(frame[column], utc=True)
    frame["actions_task_id"] = frame["actions_task_id"].astype("Int64")
    return frame


@dg.asset(
    pool=pools.SALESFORCE,
    group_name="tasks",
    kinds={"salesforce", "postgres"},
    owners=OWNERS,
    deps=[salesforce_tasks, dg.AssetKey("actions_people")],  # tasks are linked to Actions people
    metadata=table_spec_metadata("actions_task"),
    freshness_policy=ACTIONS_TASKS_FRESHNESS,
    description=(
        "The Actions task table after two-way reconciliation: staged Salesforce changes are applied (the "
        "cursor moves in the same transaction), then Actions creates, edits, completions and deletions are "
        "sent to Salesforce. Conflicts: last modification wins, whole record (Salesforce LastModifiedDate vs "
        "Actions updated_at; Salesforce on a tie); a deletion wins over an edit. The sync's own writes are "
        "not sent back. Tasks made in Actions before the first enable stay in Actions."
    ),
)
@stops_cleanly_on_quota
def actions_tasks(
    config: TaskClockConfig, salesforce: SalesforceResource, actions_db: ActionsDatabase
) -> dg.MaterializeResult:
    dry = actions_db.dry_run
    now, clock = config.clock(), time.monotonic()
    with actions_db.connection() as conn:
        setting, state = read_setting(conn), read_state(conn)
        if not setting.enabled:
            return _disabled(conn, "actions_task", dry)
        if state.salesforce_cursor is None and state.staged_mode is None:
            raise dg.Failure("The first-enable import has not been read yet: materialize salesforce_tasks first.")
        pulled = None
        if state.staged_mode is not None:
            plan = plan_pull(read_staged_changes(conn), tasks_for_staged_changes(conn), now)
            pulled = apply_pull(conn, plan, now, state)
        with salesforce.client() as client:
            pin_salesforce(conn, client)
            pushed = push_actions_changes(conn, client, setting.first_enabled_at, now, dry_run=dry)
            api_calls = client.api_calls
        total, quarantined, most_attempts = conn.execute(
            "SELECT (SELECT count(*) FROM actions_task WHERE deleted_at IS NULL), (SELECT count(*) FROM task_quarantine),"
            " (SELECT coalesce(max(attempts), 0) FROM task_quarantine WHERE transient)"
        ).fetchone()
        preexisting = count_unpushed_preexisting(conn, setting.first_enabled_at)
        table = table_metadata(conn, "actions_task")
    pull_metadata = {f"pulled_{name}": value for name, value in vars(pulled).items()} if pulled else {}
    return dry_run.result(
        {
            "sync_enabled": True,
            **pull_metadata,
            "pushed_created": pushed.created,
            "pushed_updated": pushed.updated,
            "pushed_deleted": pushed.deleted,
            "dropped_deleted_in_salesforce": pushed.dropped_deleted_in_salesforce,
            "quarantined_now": pushed.quarantined,
            "retry_next_run": pushed.retry_next_run,
            "retry_most_attempts": most_attempts,
            "quarantined_total": quarantined,
            "actions_tasks": total,
            "kept_in_actions_only_preexisting": preexisting,
            "sample_pushed_task_ids": dg.MetadataValue.json(pushed.sample_task_ids),
            "salesforce_api_calls": api_calls,
            "duration_seconds": round(time.monotonic() - clock, 3),
            **table,
        },
        dry_run=dry,
    )


@dg.asset(
    group_name="tasks",
    kinds={"postgres"},
    owners=OWNERS,
    deps=[actions_tasks],
    metadata=table_spec_metadata("command_center_tasks"),
    description=(
        "The Command Center: tasks due today and tomorrow in the user's time zone (task_sync_setting.time_zone, "
        "default UTC; set it with set_task_time_zone). The command_center_tasks view shows them; every task "
        "is synced underneath whatever its due date."
    ),
)
def command_center_tasks(config: TaskClockConfig, actions_db: ActionsDatabase) -> dg.MaterializeResult:
    now = config.clock()
    with actions_db.connection() as conn:
        time_zone, today, due_today, due_tomorrow, completed, with_reminder = conn.execute(
            """
            SELECT s.time_zone, (%(now)s AT TIME ZONE s.time_zone)::date,
                   count(c.task_id) FILTER (WHERE c.due_date = (%(now)s AT TIME ZONE s.time_zone)::date),
                   count(c.task_id) FILTER (WHERE c.due_date > (%(now)s AT TIME ZONE s.time_zone)::date),
                   count(c.task_id) FILTER (WHERE c.completed),
                   count(c.task_id) FILTER (WHERE c.reminder_at IS NOT NULL)
            FROM task_sync_setting s LEFT JOIN command_center_tasks_at(%(now)s) c ON true
            GROUP BY s.time_zone
            """,
            {"now": now},
        ).fetchone()
        # The view reads the database clock; the rows at this asset's clock are the two days' tasks.
        table = table_metadata(conn, "command_center_tasks", rows=due_today + due_tomorrow)
    return dry_run.result(
        {
            "time_zone": time_zone,
            "today": today.isoformat(),
            "due_today": due_today,
            "due_tomorrow": due_tomorrow,
            "completed": completed,
            "with_reminder": with_reminder,
            **table,
        },
        dry_run=actions_db.dry_run,
    )
