"""Schedules of the people domain: the paced initial load and the nightly full compare.

Both are RUNNING by default, like the sensors: the admin's one switch (sync_control, `make start-sync`)
is what starts the sync, so nobody has to find and toggle each schedule. Until it is on they skip and say
why. After it: the paced load runs until every owned person is in Actions, then the nightly compare
takes over (before that it would load everyone at once and undo the pacing).
"""

import os

import dagster as dg

from sync_pipelines.environment import positive_int_setting
from sync_pipelines.people.jobs import RUNS_IN_PROGRESS, person_sync_job
from sync_pipelines.resources import ActionsDatabase
from sync_pipelines.start_switch import until_sync_started
from sync_pipelines.store.extract_runs import last_full_extract_finished
from sync_pipelines.store.people import person_backlog

# The original product loads a new Actions instance at about 1,000 people per interval; both are
# configurable from the environment. `make dev` users can load everything at once instead by
# materializing the people group from the UI (no limit).
PERSON_BATCH_SIZE = positive_int_setting("PERSON_BATCH_SIZE", 1000)
PERSON_BATCH_CRON = os.environ.get("PERSON_BATCH_CRON", "*/2 * * * *")
BATCH_TAG = {"sync_pipelines/trigger": "person_batch"}


def _batch_in_progress(context: dg.ScheduleEvaluationContext) -> bool:
    """A batch run still queued or running: a long first extract must not be requested again each tick."""
    runs = context.instance.get_runs(filters=dg.RunsFilter(tags=BATCH_TAG, statuses=RUNS_IN_PROGRESS), limit=1)
    return bool(runs)


@dg.schedule(
    job=person_sync_job,
    cron_schedule=PERSON_BATCH_CRON,
    default_status=dg.DefaultScheduleStatus.RUNNING,
    description=(
        f"Paced initial sync: once the sync is started, each tick loads the next {PERSON_BATCH_SIZE} people "
        "of the backlog (owned people in the extract not yet in Actions). Until a full extract has finished "
        "(the extract_run marker), a tick runs the full extract with the first batch. Skips once the backlog "
        "is empty. Progress shows as initial_sync_progress_percent on actions_people."
    ),
)
@until_sync_started
def person_batch_schedule(context: dg.ScheduleEvaluationContext, actions_db: ActionsDatabase):
    with actions_db.connection() as conn:
        extracted = last_full_extract_finished(conn) is not None
        backlog = person_backlog(conn) if extracted else None
    if extracted and backlog == 0:
        return dg.SkipReason("Initial sync complete: every owned person is in Actions")
    if _batch_in_progress(context):
        return dg.SkipReason("The previous batch run is still in progress")
    tick = context.scheduled_execution_time.isoformat()  # one run per tick; a replayed tick is deduplicated
    batch = {"ops": {"actions_people": {"config": {"new_people_limit": PERSON_BATCH_SIZE}}}}
    if not extracted:
        return dg.RunRequest(run_key=f"person-batch-{tick}", run_config=batch,
                             tags=BATCH_TAG)
    return dg.RunRequest(
        run_key=f"person-batch-{tick}",
        run_config=batch,
        asset_selection=[dg.AssetKey("actions_people")],  # the full extract is there; just load the next batch
        tags=BATCH_TAG,
    )


@dg.schedule(
    job=person_sync_job,
    cron_schedule="0 3 * * *",
    default_status=dg.DefaultScheduleStatus.RUNNING,
    description=(
        "Nightly full compare: a full Marketo extract, then every Actions person is recompared with it, "
        "repairing missed changes and edits made outside the sync. The drift found is the inserted, "
        "updated and removed counts of that run. Skips until the sync is started and the paced initial "
        "load has finished."
    ),
)
@until_sync_started
def person_reconciliation_schedule(context: dg.ScheduleEvaluationContext, actions_db: ActionsDatabase):
    with actions_db.connection() as conn:
        if last_full_extract_finished(conn) is None or person_backlog(conn) > 0:
            return dg.SkipReason("The paced initial load (person_batch_schedule) has not finished yet")
    return dg.RunRequest(
        run_key=f"person-reconciliation-{context.scheduled_execution_time.isoformat()}",
        tags={"sync_pipelines/trigger": "nightly_compare"},
    )
