"""Schedules of the people domain: the paced initial load and the nightly full compare."""

import os

import dagster as dg

from sync_pipelines.environment import positive_int_setting
from sync_pipelines.people.jobs import person_sync_job
from sync_pipelines.resources import ActionsDatabase
from sync_pipelines.store.people import person_backlog

# The original product loads a new Actions instance at about 1,000 people per interval; both are
# configurable from the environment. `make dev` users can load everything at once instead by
# materializing the people group from the UI (no limit).
PERSON_BATCH_SIZE = positive_int_setting("PERSON_BATCH_SIZE", 1000)
PERSON_BATCH_CRON = os.environ.get("PERSON_BATCH_CRON", "*/2 * * * *")


@dg.schedule(
    job=person_sync_job,
    cron_schedule=PERSON_BATCH_CRON,
    description=(
        f"Paced initial sync: each tick loads the next {PERSON_BATCH_SIZE} people of the backlog (owned people "
        "in the extract not yet in Actions). The first tick extracts Marketo; the schedule skips once the "
        "backlog is empty. Progress shows as initial_sync_progress_percent on actions_people."
    ),
)
def person_batch_schedule(context: dg.ScheduleEvaluationContext, actions_db: ActionsDatabase):
    with actions_db.connection() as conn:
        (extracted,) = conn.execute("SELECT EXISTS (SELECT 1 FROM marketo_person_extract)").fetchone()
        backlog = person_backlog(conn)
    tick = context.scheduled_execution_time.isoformat()  # one run per tick; a replayed tick is deduplicated
    batch = {"ops": {"actions_people": {"config": {"new_people_limit": PERSON_BATCH_SIZE}}}}
    if not extracted:
        return dg.RunRequest(run_key=f"person-batch-{tick}", run_config=batch)
    if backlog == 0:
        return dg.SkipReason("Initial sync complete: every owned person is in Actions")
    return dg.RunRequest(
        run_key=f"person-batch-{tick}",
        run_config=batch,
        asset_selection=[dg.AssetKey("actions_people")],  # the extract is there; just load the next batch
    )


person_reconciliation_schedule = dg.ScheduleDefinition(
    name="person_reconciliation_schedule",
    job=person_sync_job,
    cron_schedule="0 3 * * *",
    description=(
        "Nightly full compare: a full Marketo extract, then every Actions person is recompared with it, "
        "repairing missed changes and edits made outside the sync. The drift found is the inserted, "
        "updated and removed counts of that run."
    ),
)
