"""unsubscribe_after_person_sync_sensor: run the unsubscribe sync after each person sync.

A person sync that changed the Actions person table materializes `actions_people` (only when that step
succeeds). The sensor's cursor is the storage id of the latest materialization it has answered; several
new ones since the last tick are answered by one run, keyed by the newest, so a replayed tick asks for
the same run and Dagster starts it once.
"""

import dagster as dg

from sync_pipelines.unsubscribes.jobs import unsubscribe_sync_job

ACTIONS_PEOPLE = dg.AssetKey("actions_people")


@dg.sensor(
    job=unsubscribe_sync_job,
    minimum_interval_seconds=30,
    default_status=dg.DefaultSensorStatus.RUNNING,
    description=(
        "Requests unsubscribe_sync_job after every successful person sync (a new actions_people "
        "materialization), so a Marketo unsubscribe reaches the send check within one sync."
    ),
)
def unsubscribe_after_person_sync_sensor(context: dg.SensorEvaluationContext) -> dg.SensorResult:
    answered = int(context.cursor) if context.cursor else 0
    latest = context.instance.fetch_materializations(ACTIONS_PEOPLE, limit=1).records
    if not latest or latest[0].storage_id <= answered:
        return dg.SensorResult(skip_reason="No person sync since the last unsubscribe sync request")
    newest = latest[0]
    request = dg.RunRequest(
        run_key=f"unsubscribes-after-actions-people-{newest.storage_id}",
        tags={"sync_pipelines/trigger": "person_sync", "sync_pipelines/after_run": newest.run_id},
    )
    return dg.SensorResult(run_requests=[request], cursor=str(newest.storage_id))
