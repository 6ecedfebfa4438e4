"""unsubscribe_after_person_sync_sensor: run the unsubscribe sync after each person sync.

A Dagster asset sensor on `actions_people`: a person sync materializes it only when that step succeeds,
and Dagster keeps the cursor (the storage id of the newest materialization answered). Several new ones
since the last tick are answered by one run, keyed by the newest, so a replayed tick asks for the same run
and Dagster starts it once. A dry run's materialization (metadata `dry_run: true`) and the change sensor's
confirmation that nothing changed (`confirmed_unchanged`) ask for nothing; a real one among the new ones
still does.

It does not look at the start switch (`make start-sync`): a person sync that ran, scheduled or launched
by hand, is followed; before the sync is started only a hand-launched one can have run.
"""

import dagster as dg

from sync_pipelines.conventions import CONFIRMED_UNCHANGED
from sync_pipelines.unsubscribes.jobs import unsubscribe_sync_job

ACTIONS_PEOPLE = dg.AssetKey("actions_people")
CHECK_INTERVAL_SECONDS = 30


def _changed_actions(record: dg.EventLogRecord) -> bool:
    """A materialization that may have changed Actions: any but a dry run's or a confirmation."""
    metadata = record.asset_materialization.metadata if record.asset_materialization else {}
    return not any(key in metadata and metadata[key].value is True for key in ("dry_run", CONFIRMED_UNCHANGED))


@dg.asset_sensor(
    asset_key=ACTIONS_PEOPLE,
    job=unsubscribe_sync_job,
    minimum_interval_seconds=CHECK_INTERVAL_SECONDS,
    default_status=dg.DefaultSensorStatus.RUNNING,
    description=(
        "Requests unsubscribe_sync_job after every successful person sync (a new actions_people "
        "materialization that is not a dry run), so a Marketo unsubscribe reaches the send check within one "
        "sync."
    ),
)
def unsubscribe_after_person_sync_sensor(context: dg.SensorEvaluationContext, newest: dg.EventLogEntry):
    # Dagster hands over only the newest materialization; the ones between it and the cursor tell whether
    # any of them was a real sync (one that lands during this tick waits for the next).
    answered = int(context.cursor) if context.cursor else None
    records = context.instance.fetch_materializations(
        dg.AssetRecordsFilter(asset_key=ACTIONS_PEOPLE, after_storage_id=answered), limit=1000, ascending=False
    ).records
    since = [record for record in records if record.timestamp <= newest.timestamp]
    real = [record for record in since if _changed_actions(record)]
    if not real:
        return dg.SkipReason("No person sync changed Actions since the last unsubscribe sync request")
    return dg.RunRequest(
        run_key=f"unsubscribes-after-actions-people-{since[0].storage_id}",
        tags={"sync_pipelines/trigger": "person_sync", "sync_pipelines/after_run": newest.run_id},
    )
