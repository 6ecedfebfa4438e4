"""Schedules of the unsubscribe domain."""

import dagster as dg

from sync_pipelines.unsubscribes.jobs import unsubscribe_sync_job

unsubscribe_sync_schedule = dg.ScheduleDefinition(
    name="unsubscribe_sync_schedule",
    job=unsubscribe_sync_job,
    cron_schedule="*/15 * * * *",
    description=(
        "Every 15 minutes: Salesforce opt-out changes reach Actions and Actions opt-outs reach Salesforce, "
        "even when no person sync ran (a Salesforce-only change has no other trigger)."
    ),
)
