"""Tasks: Salesforce task changes -> the Actions task table (both ways) -> the Command Center.

Per seller: the `task_sync` setting (org default, or the seller's own under "My Account";
store/settings.py) decides whose tasks sync; "don't sync" is the default. While no seller's tasks sync,
every asset reports `sync_enabled: false` and touches nothing.
"""

import time
from datetime import datetime, timedelta, timezone
from typing import Optional

import dagster as dg
import pandas as pd
from pydantic import Field

from sync_pipelines import dry_run, pools
from sync_pipelines.mass_change import MassRemovalConfig, Removal, guard_removal
from sync_pipelines.pinning import pin_salesforce
from sync_pipelines.quota import stops_cleanly_on_quota
from sync_pipelines.resources import ActionsDatabase, SalesforceResource
from sync_pipelines.table_metadata import table_metadata, table_spec_metadata
from sync_pipelines.store.task_sellers import SettingsApplied, apply_task_sync_settings, read_task_sellers
from sync_pipelines.store.tasks import (
    CHANGE_COLUMNS,
    apply_pull,
    count_unpushed_preexisting,
    linked_salesforce_ids,
    quarantine_tasks,
    read_staged_changes,
    read_state,
    stage_salesforce_changes,
    tasks_for_staged_changes,
)
from sync_pipelines.tasks.freshness import ACTIONS_TASKS_FRESHNESS
from sync_pipelines.tasks.push import push_actions_changes
from sync_pipelines.tasks.salesforce_reads import (
    DELETED_REACH,
    live_task_ids,
    recently_deleted,
    tasks_changed_since,
    tasks_touched_since,
)
from sync_pipelines.tasks.transforms import normalize_salesforce_tasks, plan_pull

# Where the Salesforce cursor starts when nobody pulled before: a little before the run's clock, in case
# Salesforce's clock lags ours (versions read twice are recognised by their SystemModstamp).
CLOCK_MARGIN = timedelta(minutes=5)


class TaskClockConfig(dg.Config):
    """now: an ISO-8601 instant that replaces the Actions clock (tests, replays); empty means the wall clock."""

    now: Optional[str] = Field(default=None, description="ISO-8601 instant replacing the Actions clock")

    def clock(self) -> datetime:
        if not self.now:
            return datetime.now(timezone.utc)
        value = datetime.fromisoformat(self.now)
        return value if value.tzinfo else value.replace(tzinfo=timezone.utc)


class SalesforceTasksConfig(TaskClockConfig, MassRemovalConfig):
    """allow_mass_removal / max_removed_percent / max_removed_rows: the mass-change guard of a full compare."""


def _disabled(conn, table: str, dry: bool, **metadata) -> dg.MaterializeResult:
    return dry_run.result({"sync_enabled": False, **metadata, **table_metadata(conn, table)}, dry_run=dry)


@dg.asset(
    pool=pools.SALESFORCE,
    kinds={"salesforce", "postgres"},
    metadata=table_spec_metadata("salesforce_task_change"),
    description=(
        "Salesforce tasks of the syncing sellers changed or deleted since the last applied cursor, staged in "
        "salesforce_task_change. First applies each seller's task_sync setting (org default or the seller's "
        "own); a seller who starts pulling has their tasks created or updated in the 24 hours before the "
        "enable imported (after a pause: those changed since). A re-enable also sweeps the deletions of the "
        "past 15 days (getDeleted) and, beyond that reach, compares ids in full. The cursor itself moves only "
        "when actions_tasks has applied the changes."
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
        applied = apply_task_sync_settings(conn, now)
        sellers, state = read_task_sellers(conn), read_state(conn)
        settings = _settings_metadata(applied, sellers)
        if not any(seller.pushes for seller in sellers):
            return _disabled(conn, "salesforce_task_change", dry, **settings)
        steady = [s.owner_id for s in sellers if s.pulls and not s.import_due]
        imports = [s for s in sellers if s.import_due]
        overdue = state.last_pulled_at is not None and state.last_pulled_at < now - DELETED_REACH
        sweep = state.salesforce_cursor is not None and (state.deletion_sweep_due or overdue)
        since = state.salesforce_cursor or now - CLOCK_MARGIN
        with salesforce.client() as client:
            pin_salesforce(conn, client)
            # Changes first, then the imports: a change an import misses is newer than the cursor kept.
            records = tasks_changed_since(client, since, steady) if steady else []
            imported = [r for s in imports for r in tasks_touched_since(client, s.owner_id, s.import_since)]
            changes, bad = normalize_salesforce_tasks(records + imported)
            gone, sweep_metadata = (_deletion_sweep(context, config, conn, client, state, now, dry) if sweep
                                    else (pd.DataFrame(columns=CHANGE_COLUMNS), {}))
            api_calls = client.api_calls
        changes = pd.concat([changes, gone], ignore_index=True) if not gone.empty else changes
        # The cursor to commit once applied: the newest version read (a quarantined one included: it is
        # retried when it changes again, with a newer SystemModstamp). With nobody pulling steadily there is
        # nothing to catch up on: the cursor starts a little before now (Salesforce's clock may lag ours).
        high_water = (_latest_modstamp(records) or since) if steady else now - CLOCK_MARGIN
        quarantined = quarantine_tasks(conn, bad, "to_actions", now)
        mode = "initial" if imports else "incremental"
        staged = stage_salesforce_changes(conn, changes, mode=mode, high_water=high_water, sweep=sweep,
                                          imported_sellers=[s.seller_id for s in imports])
        table = table_metadata(conn, "salesforce_task_change")
    return dry_run.result(
        {
            "sync_enabled": True, "mode": mode, **settings,
            "sellers_imported": len(imports),
            "tasks_read": len(records) + len(imported),
            "tasks_imported": len(imported),
            "changes_staged": staged,
            "deleted_in_salesforce": int(changes["is_deleted"].sum()),
            "deletion_sweep": sweep,
            "deletions_from_get_deleted": sweep_metadata.pop("swept", 0),
            "deletions_from_full_compare": sweep_metadata.pop("full_compare", 0),
            **sweep_metadata,
            "quarantined": quarantined,
            "salesforce_api_calls": api_calls,
            **table,
        },
        dry_run=dry,
        started=clock,
    )


def _settings_metadata(applied: SettingsApplied, sellers: list) -> dict:
    """What this run applied of the task_sync setting (seller ids are Actions ids, not personal data)."""
    return {
        "sellers_pushing": sum(s.pushes for s in sellers),
        "sellers_pulling": sum(s.pulls for s in sellers),
        "sellers_enabled_now": dg.MetadataValue.json(applied.enabled),
        "sellers_disabled_now": dg.MetadataValue.json(applied.disabled),
    }


def _deletion_sweep(context, config: SalesforceTasksConfig, conn, client, state, now: datetime,
                    dry: bool) -> tuple[pd.DataFrame, dict]:
    """Salesforce deletions the cursor cannot see (after a re-enable, or a long pause): getDeleted's 15 days,
    and beyond them a full compare of the linked ids."""
    deleted, earliest = recently_deleted(client, now)
    gone = _deletions([(r["id"], r["deletedDate"]) for r in deleted])
    metadata: dict = {"swept": len(deleted)}
    # Deletions older than getDeleted reaches (15 days, less if the recycle bin was emptied) are
    # invisible to it: when the sync last pulled before that, compare every linked id instead.
    # A linked task Salesforce no longer has was deleted there, and leaves Actions too.
    if state.last_pulled_at is None or earliest > state.last_pulled_at:
        linked = linked_salesforce_ids(conn)
        missing = sorted(set(linked) - live_task_ids(client, linked))
        metadata["full_compare"] = len(missing)
        # The mass-change guard, before anything is staged: a wrong or fake org has none of them.
        metadata |= guard_removal(context, config, Removal("linked Actions tasks", len(linked), len(missing)),
                                  dry_run=dry)
        gone = pd.concat([gone, _deletions([(i, now) for i in missing])], ignore_index=True)
    return gone, metadata


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
    kinds={"salesforce", "postgres"},
    deps=[salesforce_tasks, dg.AssetKey("actions_people")],  # tasks are linked to Actions people
    metadata=table_spec_metadata("actions_task"),
    freshness_policy=ACTIONS_TASKS_FRESHNESS,
    description=(
        "The Actions task table after two-way reconciliation: staged Salesforce changes are applied (the "
        "cursor moves in the same transaction), then Actions creates, edits, completions and deletions are "
        "sent to Salesforce, for the sellers whose task_sync setting syncs. Conflicts merge field by field: "
        "a field changed on one side since the last synced version takes that side's value, one changed on "
        "both the later side's (Salesforce LastModifiedDate vs Actions updated_at; Salesforce on a tie); a "
        "deletion wins over an edit. The sync's own writes are not sent back. A seller's tasks made in "
        "Actions before their first enable stay in Actions."
    ),
)
@stops_cleanly_on_quota
def actions_tasks(
    config: TaskClockConfig, salesforce: SalesforceResource, actions_db: ActionsDatabase
) -> dg.MaterializeResult:
    dry = actions_db.dry_run
    now, clock = config.clock(), time.monotonic()
    with actions_db.connection() as conn:
        sellers, state = read_task_sellers(conn), read_state(conn)
        if not any(seller.pushes for seller in sellers):
            return _disabled(conn, "actions_task", dry)
        if any(seller.import_due and not seller.import_staged for seller in sellers):
            raise dg.Failure("A seller's first-enable import has not been read yet: materialize salesforce_tasks first.")
        pulled = None
        if state.staged_mode is not None:
            plan = plan_pull(read_staged_changes(conn), tasks_for_staged_changes(conn), now)
            pulled = apply_pull(conn, plan, now, state)
        with salesforce.client() as client:
            pin_salesforce(conn, client)
            pushed = push_actions_changes(conn, client, now, dry_run=dry)
            api_calls = client.api_calls
        total, quarantined, most_attempts = conn.execute(
            "SELECT (SELECT count(*) FROM actions_task WHERE deleted_at IS NULL), (SELECT count(*) FROM task_quarantine),"
            " (SELECT coalesce(max(attempts), 0) FROM task_quarantine WHERE transient)"
        ).fetchone()
        preexisting = count_unpushed_preexisting(conn)
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
            **table,
        },
        dry_run=dry,
        started=clock,
    )


@dg.asset(
    kinds={"postgres"},
    deps=[actions_tasks],
    metadata=table_spec_metadata("command_center_tasks"),
)
def command_center_tasks(config: TaskClockConfig, actions_db: ActionsDatabase) -> dg.MaterializeResult:
    """The Command Center: tasks due today and tomorrow, each in its seller's time zone
    (actions_seller.time_zone of the seller whose Salesforce user owns the task; UTC when no seller does).
    The command_center_tasks view shows them; every task is synced underneath whatever its due date.
    """
    now = config.clock()
    with actions_db.connection() as conn:
        due_today, due_tomorrow, completed, with_reminder = conn.execute(
            """
            SELECT count(*) FILTER (WHERE c.due_date = task_owner_today(c.owner_id, %(now)s)),
                   count(*) FILTER (WHERE c.due_date > task_owner_today(c.owner_id, %(now)s)),
                   count(*) FILTER (WHERE c.completed), count(*) FILTER (WHERE c.reminder_at IS NOT NULL)
            FROM command_center_tasks_at(%(now)s) c
            """,
            {"now": now},
        ).fetchone()
        time_zones = [row[0] for row in conn.execute(
            "SELECT DISTINCT s.time_zone FROM actions_seller s JOIN task_sync_seller ts USING (seller_id)"
            " WHERE ts.mode <> 'dont_sync' ORDER BY 1")]
        # The view reads the database clock; the rows at this asset's clock are the two days' tasks.
        table = table_metadata(conn, "command_center_tasks", rows=due_today + due_tomorrow)
    return dry_run.result(
        {
            "time_zones": dg.MetadataValue.json(time_zones),
            "utc_today": now.date().isoformat(),
            "due_today": due_today,
            "due_tomorrow": due_tomorrow,
            "completed": completed,
            "with_reminder": with_reminder,
            **table,
        },
        dry_run=actions_db.dry_run,
    )
