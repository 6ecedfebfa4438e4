"""salesforce_task_change_sensor: looks at both sides' task changes since its cursor, runs task_sync_job.

Its cursor (JSON) holds two marks: `salesforce`, the newest SystemModstamp seen among the syncing sellers'
Salesforce tasks, and `actions`, the newest version seen among the Actions tasks waiting to be sent
(store.tasks.actions_change_mark). A run is requested when either moves, so an Actions edit reaches
Salesforce within the sensor's interval without waiting for a Salesforce change.
"""

from __future__ import annotations

import hashlib
import json
from datetime import datetime, timezone

import dagster as dg

from sync_pipelines.resources import ActionsDatabase, SalesforceResource
from sync_pipelines.start_switch import until_sync_started
from sync_pipelines.store.task_sellers import read_task_sellers, task_sync_settings_due
from sync_pipelines.store.tasks import actions_change_mark, read_state
from sync_pipelines.tasks.jobs import task_sync_job
from sync_pipelines.tasks.salesforce_reads import changed_since

# Changes looked at per tick; more are seen on the next ticks (the cursor stops at the last one seen).
CHANGES_PER_TICK = 200


def read_cursor(cursor: str | None) -> dict[str, datetime | None]:
    """The sensor's two marks (a cursor of older code, a bare SystemModstamp, is the Salesforce mark)."""
    if not cursor:
        return {"salesforce": None, "actions": None}
    raw = json.loads(cursor) if cursor.startswith("{") else {"salesforce": cursor}
    return {side: datetime.fromisoformat(raw[side]) if raw.get(side) else None for side in ("salesforce", "actions")}


def write_cursor(marks: dict[str, datetime | None]) -> str:
    return json.dumps({side: mark.isoformat() if mark else None for side, mark in marks.items()}, sort_keys=True)


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


def _settings_request(due: list[tuple[str, str]]) -> dg.RunRequest:
    """A run that applies changed task_sync settings (a first enable imports); keyed by what changed."""
    digest = hashlib.sha256(json.dumps(due).encode()).hexdigest()[:16]
    return dg.RunRequest(run_key=f"tasks-settings-{digest}", tags={"sync_pipelines/trigger": "settings"})


@dg.sensor(
    job=task_sync_job,
    minimum_interval_seconds=60,
    default_status=dg.DefaultSensorStatus.RUNNING,
    description=(
        "While some seller's task sync is on: requests task_sync_job when a task_sync setting changed (a first "
        "enable imports), when the syncing sellers' Salesforce tasks changed other than by the sync's own "
        "writes (one small query), or when an Actions task waits to be sent. Run key = the newest change of "
        "each side; the cursor holds both marks."
    ),
)
@until_sync_started
def salesforce_task_change_sensor(
    context: dg.SensorEvaluationContext, salesforce: SalesforceResource, actions_db: ActionsDatabase
):
    marks = read_cursor(context.cursor)
    with actions_db.connection() as conn:
        due = task_sync_settings_due(conn, datetime.now(timezone.utc))
        if due:
            return dg.SensorResult(run_requests=[_settings_request(due)], cursor=context.cursor)
        sellers = read_task_sellers(conn)
        if not any(seller.pushes for seller in sellers):
            return dg.SensorResult(cursor=context.cursor, skip_reason="Task sync is off for every seller")
        owners = [seller.owner_id for seller in sellers if seller.pulls and not seller.import_due]
        since = marks["salesforce"] or read_state(conn).salesforce_cursor
        stamps = []
        if owners and since is not None:
            with salesforce.client() as client:
                stamps = changed_since(client, since, owners, CHANGES_PER_TICK)
        echoes = _echoes(conn, stamps)
        actions_mark = actions_change_mark(conn)
    newest = max([stamp for _, stamp in stamps], default=since)
    salesforce_changed = any(task_id not in echoes for task_id, _ in stamps)
    actions_changed = actions_mark is not None and (marks["actions"] is None or actions_mark > marks["actions"])
    cursor = write_cursor({"salesforce": newest, "actions": actions_mark or marks["actions"]})
    if not (salesforce_changed or actions_changed):
        reason = "Only the sync's own writes changed" if stamps else "No task changes on either side"
        return dg.SensorResult(cursor=cursor, skip_reason=reason)
    key = f"tasks-salesforce-{newest.isoformat() if newest else 'none'}-actions-{actions_mark.isoformat() if actions_mark else 'none'}"
    trigger = "salesforce_change" if salesforce_changed else "actions_change"
    return dg.SensorResult(run_requests=[dg.RunRequest(run_key=key, tags={"sync_pipelines/trigger": trigger})],
                           cursor=cursor)
