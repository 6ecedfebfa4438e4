"""actions_activity_sensor: request activity_fanout_job when the Actions app logs new activities.

The cursor (log_cursor.LogCursor) is the highest activity id seen plus the id ranges below it that had
no visible row yet. A tick that finds a higher id requests a run keyed by the new id range; a tick that
finds rows inside a remembered gap (a transaction that committed a lower id after a higher one was
seen) requests a run keyed by those late ids (one run covers both). A replayed tick asks for the same run. The cursor moves
only with the run request that covers the change. The run delivers everything not yet delivered.
"""

import time

import dagster as dg

from sync_pipelines.activities.jobs import activity_fanout_job
from sync_pipelines.activities.log_cursor import LogCursor, advanced
from sync_pipelines.resources import ActionsDatabase
from sync_pipelines.start_switch import until_sync_started
from sync_pipelines.store.activities import ids_in_ranges, log_gaps_between, log_high_water_mark
from sync_pipelines.table_metadata import table_metadata


@dg.sensor(
    job=activity_fanout_job,
    minimum_interval_seconds=30,
    default_status=dg.DefaultSensorStatus.RUNNING,
    description=(
        "Follows the Actions activity log by its highest activity id, and the ids below it not yet seen "
        "(late commits), and requests activity_fanout_job for each new range or late arrival; records the "
        "log's high-water mark as an observation of actions_sales_activities. Skips until the sync is "
        "started (make start-sync); what was logged before then is delivered on the first tick after."
    ),
)
@until_sync_started
def actions_activity_sensor(context: dg.SensorEvaluationContext, actions_db: ActionsDatabase):
    cursor = LogCursor.parse(context.cursor)
    with actions_db.connection() as conn:
        high, logged = log_high_water_mark(conn)
        table = table_metadata(conn, "actions_sales_activity", rows=logged)
        if high < cursor.high:
            # The log was restored from an older backup: follow it from there.
            return dg.SensorResult(cursor=LogCursor(high=high).dump(),
                                   skip_reason=f"The log's highest id {high} is below the cursor's {cursor.high}")
        new_gaps = log_gaps_between(conn, cursor.high, high) if high > cursor.high else []
        late = ids_in_ranges(conn, [(first, last) for first, last, _ in cursor.gaps])
    following = advanced(cursor, high, new_gaps, late, int(time.time()))
    if high <= cursor.high and not late:
        return dg.SensorResult(cursor=following.dump(), skip_reason=f"No activity logged after id {cursor.high}"
                               + (f" nor in {len(cursor.gaps)} gaps below it" if cursor.gaps else ""))
    # One run for everything this tick saw (two would only queue behind each other's delivery lock).
    parts = [f"{cursor.high + 1}-{high}"] if high > cursor.high else []
    if late:
        parts.append(f"late-{min(late)}-{max(late)}-{len(late)}")
    request = dg.RunRequest(
        run_key="activities-" + "-".join(parts),
        tags={"sync_pipelines/trigger": "actions_activity_log", "sync_pipelines/activity_ids": ",".join(parts)},
    )
    observation = dg.AssetObservation(
        asset_key="actions_sales_activities",
        metadata={"high_water_mark": high, "activities_logged": logged, "new_ids_from": cursor.high + 1,
                  "late_commits": len(late), "gaps_followed": len(following.gaps), **table},
    )
    return dg.SensorResult(run_requests=[request], cursor=following.dump(), asset_events=[observation])
