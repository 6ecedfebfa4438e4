"""How fresh actions_people is: a Marketo change reaches Actions within one change-sensor interval (the
tick that reads it) plus the run that applies it. That is its FreshnessPolicy.

Dagster judges freshness by the newest materialization, and a person sync materializes actions_people only
when Marketo changed. So a quiet tick vouches for it: when marketo_person_change_sensor reads no change to
the synced fields, no person_sync_job run is in progress and the newest finished one succeeded, it records
a materialization of actions_people marked `confirmed_unchanged` (with the row count, and no run), at
most once per CONFIRM_AFTER. When the sensor stops, its ticks fail or person syncs fail, the confirmations
stop and the asset turns late within the window: what the policy is there to show.
"""

import time
from datetime import timedelta

import dagster as dg

from sync_pipelines.conventions import CONFIRMED_UNCHANGED
from sync_pipelines.people.jobs import RUNS_IN_PROGRESS, person_sync_job
from sync_pipelines.resources import ActionsDatabase
from sync_pipelines.table_metadata import table_metadata

ACTIONS_PEOPLE = dg.AssetKey("actions_people")
CHANGE_SENSOR_INTERVAL = timedelta(seconds=30)  # marketo_person_change_sensor's minimum interval
# A change read by a tick is in Actions once its person_sync_job run has launched and finished: 0.7 s in
# the sandbox (1,000 changed people, bench.person_incremental_sync), longer where a run starts in a new
# process or pod, or waits in the queue for a concurrency-pool slot.
RUN_MARGIN = timedelta(minutes=2)
ACTIONS_PEOPLE_FRESHNESS = dg.FreshnessPolicy.time_window(fail_window=CHANGE_SENSOR_INTERVAL + RUN_MARGIN)
# A quiet tick confirms once the newest materialization is this old: the age then stays under one interval
# more (1.5 min), inside the 2.5 min window with a minute to spare for a late tick.
CONFIRM_AFTER = 2 * CHANGE_SENSOR_INTERVAL
_FINISHED = [dg.DagsterRunStatus.SUCCESS, dg.DagsterRunStatus.FAILURE, dg.DagsterRunStatus.CANCELED]


def _person_syncs_settled(instance: dg.DagsterInstance) -> bool:
    """No person sync that may still change Actions, and the newest one that ended succeeded."""
    job = dg.RunsFilter(job_name=person_sync_job.name, statuses=RUNS_IN_PROGRESS)
    if instance.get_runs(filters=job, limit=1):
        return False
    finished = instance.get_runs(filters=dg.RunsFilter(job_name=person_sync_job.name, statuses=_FINISHED), limit=1)
    return not finished or finished[0].status == dg.DagsterRunStatus.SUCCESS


def confirm_current(
    instance: dg.DagsterInstance, actions_db: ActionsDatabase, now: float | None = None
) -> list[dg.AssetMaterialization]:
    """For a tick that read no change in Marketo: the materialization that confirms actions_people current,
    or none when it is not due (newer than CONFIRM_AFTER, or never synced) or cannot be vouched for."""
    now = time.time() if now is None else now
    newest = instance.fetch_materializations(ACTIONS_PEOPLE, limit=1).records
    if not newest or now - newest[0].timestamp < CONFIRM_AFTER.total_seconds():
        return []
    if not _person_syncs_settled(instance):
        return []
    with actions_db.connection() as conn:
        table = table_metadata(conn, "actions_person")
    return [dg.AssetMaterialization(
        asset_key=ACTIONS_PEOPLE,
        description="No change to the synced fields in Marketo since the last person sync: Actions is current",
        metadata={CONFIRMED_UNCHANGED: True, "confirmed_by": "marketo_person_change_sensor", **table},
    )]
