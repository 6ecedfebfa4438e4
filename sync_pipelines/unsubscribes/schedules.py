"""Schedules of the unsubscribe domain."""

import dagster as dg

from sync_pipelines.resources import ActionsDatabase
from sync_pipelines.start_switch import until_sync_started
from sync_pipelines.unsubscribes.jobs import unsubscribe_sync_job


@dg.schedule(
    job=unsubscribe_sync_job,
    cron_schedule="*/15 * * * *",
    # RUNNING by default: the admin's one switch (make start-sync) decides, not a toggle per schedule.
    default_status=dg.DefaultScheduleStatus.RUNNING,
    description=(
        "Every 15 minutes: Salesforce opt-out changes reach Actions and Actions opt-outs reach Salesforce, "
        "even when no person sync ran (a Salesforce-only change has no other trigger). Skips until the sync "
        "is started."
    ),
)
@until_sync_started
def unsubscribe_sync_schedule(context: dg.ScheduleEvaluationContext, actions_db: ActionsDatabase):
    return dg.RunRequest(
        run_key=f"unsubscribes-{context.scheduled_execution_time.isoformat()}",
        tags={"sync_pipelines/trigger": "schedule"},
    )
