"""salesforce_task_change_sensor: asks Salesforce for task changes since its cursor, runs task_sync_job."""

from datetime import datetime

import dagster as dg

from sync_pipelines.resources import ActionsDatabase, SalesforceResource
from sync_pipelines.store.sync_control import NOT_STARTED, sync_started_at
from sync_pipelines.store.tasks import read_setting, read_state
from sync_pipelines.tasks.changes import changed_since
from sync_pipelines.tasks.jobs import task_sync_job

# Changes looked at per tick; more are seen on the next ticks (the cursor stops at the last one seen).
CHANGES_PER_TICK = 200


def _echoes(conn, stamps: list[tuple[str, datetime]]) -> set[str]:
    """Ids whose SystemModstamp is the one the sync itself wrote or read: not changes to sync."""
    if not stamps:
        return set()
    rows = conn.execute(
        "SELECT salesforce_task_id, salesforce_modstamp FROM actions_task WHERE salesforce_task_id = ANY(%s)",
        ([task_id for task_id, _ in stamps],),
    ).fetchall()
    known = {task_id: stamp for task_id, stamp in rows}
    return {task_id for task_id, stamp in stamps if known.get(task_id) is not None
            and abs((known[task_id] - stamp).total_seconds()) < 0.001}


@dg.sensor(
    job=task_sync_job,
    minimum_interval_seconds=60,
    default_status=dg.DefaultSensorStatus.RUNNING,
    description=(
        "While the task sync is on, asks Salesforce for tasks changed since its cursor (a SystemModstamp, one "
        "small query) and requests task_sync_job, keyed by the newest change, only when some change is not "
        "the sync's own write. Before the first import it requests that import once."
    ),
)
def salesforce_task_change_sensor(
    context: dg.SensorEvaluationContext, salesforce: SalesforceResource, actions_db: ActionsDatabase
):
    with actions_db.connection() as conn:
        if sync_started_at(conn) is None:
            return dg.SensorResult(cursor=context.cursor, skip_reason=NOT_STARTED)
        setting, state = read_setting(conn), read_state(conn)
        if not setting.enabled:
            return dg.SensorResult(cursor=context.cursor, skip_reason="Task sync is off")
        since = datetime.fromisoformat(context.cursor) if context.cursor else state.salesforce_cursor
        if since is None:
            key = f"tasks-first-import-{setting.first_enabled_at.isoformat()}"
            return dg.SensorResult(run_requests=[dg.RunRequest(run_key=key, tags={"sync_pipelines/trigger": "enable"})])
        with salesforce.client() as client:
            stamps = changed_since(client, since, CHANGES_PER_TICK)
        echoes = _echoes(conn, stamps)
    if not stamps:
        return dg.SensorResult(cursor=since.isoformat(), skip_reason="No task changes in Salesforce")
    newest = max(stamp for _, stamp in stamps)
    if all(task_id in echoes for task_id, _ in stamps):
        return dg.SensorResult(cursor=newest.isoformat(), skip_reason="Only the sync's own writes changed")
    request = dg.RunRequest(run_key=f"salesforce-tasks-{newest.isoformat()}",
                            tags={"sync_pipelines/trigger": "salesforce_change"})
    return dg.SensorResult(run_requests=[request], cursor=newest.isoformat())
