"""actions_activity_sensor: request activity_fanout_job when the Actions app logs new activities.

The cursor is the highest activity id seen. A tick that finds a higher one requests a run keyed by the
id range (a replayed tick asks for the same run) and observes actions_sales_activities' high-water
mark. The run delivers everything not yet delivered, not just the range: an activity whose transaction
committed late, under a lower id than the cursor, is picked up by the next run.
"""

import dagster as dg

from sync_pipelines.activities.jobs import activity_fanout_job
from sync_pipelines.resources import ActionsDatabase
from sync_pipelines.store.activities import log_high_water_mark


@dg.sensor(
    job=activity_fanout_job,
    minimum_interval_seconds=30,
    default_status=dg.DefaultSensorStatus.RUNNING,
    description=(
        "Follows the Actions activity log by its highest activity id and requests activity_fanout_job for "
        "each new range; records the log's high-water mark as an observation of actions_sales_activities."
    ),
)
def actions_activity_sensor(context: dg.SensorEvaluationContext, actions_db: ActionsDatabase):
    seen = int(context.cursor or 0)
    with actions_db.connection() as conn:
        high, logged = log_high_water_mark(conn)
    if high <= seen:
        # high < seen: the log was restored from an older backup; follow it from there.
        return dg.SensorResult(cursor=str(high), skip_reason=f"No activity logged after id {seen}")
    first = seen + 1
    observation = dg.AssetObservation(
        asset_key="actions_sales_activities",
        metadata={"high_water_mark": high, "activities_logged": logged, "new_ids_from": first},
    )
    request = dg.RunRequest(
        run_key=f"activities-{first}-{high}",
        tags={"sync_pipelines/trigger": "actions_activity_log", "sync_pipelines/activity_ids": f"{first}-{high}"},
    )
    return dg.SensorResult(run_requests=[request], cursor=str(high), asset_events=[observation])
