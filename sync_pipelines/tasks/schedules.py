"""The task sync's schedule: a steady pass that also carries Actions-side changes to Salesforce."""

import dagster as dg

from sync_pipelines.resources import ActionsDatabase
from sync_pipelines.start_switch import until_sync_started
from sync_pipelines.store.task_sellers import read_task_sellers, task_sync_settings_due
from sync_pipelines.tasks.freshness import TASK_SYNC_CRON
from sync_pipelines.tasks.jobs import task_sync_job


@dg.schedule(
    job=task_sync_job,
    cron_schedule=TASK_SYNC_CRON,
    # RUNNING by default: the sync switch and the task_sync setting decide, not a toggle per schedule.
    default_status=dg.DefaultScheduleStatus.RUNNING,
    description=(
        "Runs task_sync_job every 10 minutes (TASK_SYNC_CRON) while some seller's task sync is on: Actions "
        "edits reach Salesforce, and Salesforce changes the sensor missed are read. Skips while it is off."
    ),
)
@until_sync_started
def task_sync_schedule(context: dg.ScheduleEvaluationContext, actions_db: ActionsDatabase):
    with actions_db.connection() as conn:
        # A setting not applied yet counts: the run applies it (a first enable imports).
        enabled = any(s.pushes for s in read_task_sellers(conn)) or bool(
            task_sync_settings_due(conn, context.scheduled_execution_time))
    if not enabled:
        return dg.SkipReason("Task sync is off for every seller (do not sync to Salesforce tasks)")
    # One run per tick: a replayed tick is deduplicated by its run key.
    return dg.RunRequest(run_key=f"task-sync-{context.scheduled_execution_time.isoformat()}",
                         tags={"sync_pipelines/trigger": "schedule"})
