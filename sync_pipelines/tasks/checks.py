"""Invariants of the Actions task table, checked after each sync."""

import dagster as dg

from sync_pipelines.count_checks import no_rows_check
from sync_pipelines.resources import ActionsDatabase
from sync_pipelines.tasks.assets import actions_tasks


@dg.asset_check(
    asset=actions_tasks,
    description=(
        "After a sync nothing is left waiting: no staged Salesforce change, no Actions deletion and no edit "
        "of a linked task still to send, except tasks in the quarantine (a warning: they need a fix)."
    ),
)
def tasks_in_step_with_salesforce(actions_db: ActionsDatabase) -> dg.AssetCheckResult:
    with actions_db.connection() as conn:
        staged, deletions, edits = conn.execute(
            """
            SELECT (SELECT count(*) FROM salesforce_task_change),
                   (SELECT count(*) FROM actions_task t WHERE t.deleted_at IS NOT NULL AND NOT EXISTS (
                        SELECT 1 FROM task_quarantine q WHERE q.source_key = 'actions:' || t.task_id)),
                   (SELECT count(*) FROM actions_task t WHERE t.deleted_at IS NULL AND t.salesforce_task_id IS NOT NULL
                        AND t.updated_at > coalesce(t.synced_version, '-infinity') AND NOT EXISTS (
                        SELECT 1 FROM task_quarantine q WHERE q.source_key = 'actions:' || t.task_id))
            """
        ).fetchone()
    return dg.AssetCheckResult(
        passed=staged == deletions == edits == 0,
        severity=dg.AssetCheckSeverity.WARN,
        metadata={"staged_changes": staged, "deletions_to_send": deletions, "edits_to_send": edits},
    )


salesforce_task_ids_unique = no_rows_check(
    asset=actions_tasks, name="salesforce_task_ids_unique", blocking=True,
    description="No Salesforce task is linked to two Actions tasks.",
    count_sql="SELECT count(*) FROM (SELECT salesforce_task_id FROM actions_task WHERE salesforce_task_id IS NOT NULL"
              " GROUP BY 1 HAVING count(*) > 1) d",
    metric="duplicated_salesforce_task_ids",
)
