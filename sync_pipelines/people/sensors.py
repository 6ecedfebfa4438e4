"""marketo_person_change_sensor: follow Marketo's lead changes and sync just the people they touch.

The cursor (JSON in context.cursor) holds one paging token per Marketo feed (lead changes, deleted leads,
merges). Dagster saves the cursor together with the tick's run requests, so a token advances only with a
run request that covers its changes. A failed step is retried inside its run (quota.py: transient
failures only, never a quota stop); a run that still fails stays failed in the UI and is not requested
again here, so a batch that keeps failing surfaces instead of looping. The nightly
person_reconciliation_schedule repairs the people of such a batch, or launch person_sync_job for them.
A tick that reads no change may confirm actions_people current (people/freshness.py).
"""

import hashlib
import json
from dataclasses import asdict, dataclass, fields
from datetime import datetime, timedelta, timezone

import dagster as dg

from sync_pipelines.marketo.errors import MarketoError
from sync_pipelines.people.changes import MERGE_LEADS, ids_from_deleted_leads, ids_from_lead_changes, ids_from_merges
from sync_pipelines.people.fields import WATCHED_FIELDS
from sync_pipelines.people.freshness import CHANGE_SENSOR_INTERVAL, confirm_current
from sync_pipelines.people.jobs import incremental_run_config, person_sync_job
from sync_pipelines.resources import ActionsDatabase, MarketoResource
from sync_pipelines.start_switch import until_sync_started

FIELD_NOT_FOUND = "1006"  # Marketo: a requested field does not exist on the instance

# Pages read per feed per tick (300 activities each): keeps a tick far inside Dagster's sensor timeout;
# a larger backlog continues on the next tick.
MAX_PAGES_PER_FEED = 20
# On the first tick, look back this far so that changes made while the initial sync ran are not missed.
FIRST_TICK_LOOKBACK = timedelta(hours=1)


@dataclass
class ChangeCursor:
    lead_changes: str
    deleted_leads: str
    merges: str

    @classmethod
    def parse(cls, text: str | None) -> "ChangeCursor | None":
        if not text:
            return None
        known = {f.name for f in fields(cls)}  # a cursor written by an older version may hold more keys
        return cls(**{key: value for key, value in json.loads(text).items() if key in known})

    def tokens(self) -> tuple[str, str, str]:
        return self.lead_changes, self.deleted_leads, self.merges

    def dump(self) -> str:
        return json.dumps(asdict(self), sort_keys=True)


def _read_feed(pages, extract_ids) -> tuple[set[int], str | None]:
    ids, token = set(), None
    for number, page in enumerate(pages, start=1):
        ids |= extract_ids(page.records)
        token = page.next_token
        if number >= MAX_PAGES_PER_FEED:
            break
    return ids, token


def _read_lead_changes(client, token: str) -> tuple[set[int], str | None]:
    """Changes to the watched fields. An instance without one of them (a support field; the extract fails on
    a missing synced field) answers 1006: the describe then says which it has, and only those are asked."""
    try:
        return _read_feed(client.lead_changes(token, WATCHED_FIELDS), ids_from_lead_changes)
    except MarketoError as error:
        if error.code != FIELD_NOT_FOUND:
            raise
    known = client.lead_fields()
    watched = [name for name in WATCHED_FIELDS if name in known]
    return _read_feed(client.lead_changes(token, watched), ids_from_lead_changes)


def _run_request(marketo_ids: list[int], run_key: str) -> dg.RunRequest:
    return dg.RunRequest(
        run_key=run_key,
        run_config=incremental_run_config(marketo_ids),
        tags={"sync_pipelines/trigger": "marketo_change"},
    )


@dg.sensor(
    job=person_sync_job,
    minimum_interval_seconds=int(CHANGE_SENSOR_INTERVAL.total_seconds()),
    default_status=dg.DefaultSensorStatus.RUNNING,
    description=(
        "Reads Marketo lead changes (synced fields and owner), new, deleted and merged leads from paging "
        "tokens kept in the cursor, and requests person_sync_job for just the people they touch. A change "
        "to a field the sync does not read requests nothing; a tick that reads no change confirms actions_people "
        "current (its freshness) while no person sync is pending or failed. A failed run is not requested again (its steps "
        "retry transient failures themselves); the nightly reconciliation repairs what it missed. Skips until "
        "the sync is started (make start-sync)."
    ),
)
@until_sync_started
def marketo_person_change_sensor(
    context: dg.SensorEvaluationContext, marketo: MarketoResource, actions_db: ActionsDatabase
):
    cursor = ChangeCursor.parse(context.cursor)
    with marketo.client() as client:
        if cursor is None:
            start = client.paging_token(datetime.now(timezone.utc) - FIRST_TICK_LOOKBACK)
            return dg.SensorResult(cursor=ChangeCursor(start, start, start).dump(), skip_reason="Started following Marketo changes")
        changed, lead_token = _read_lead_changes(client, cursor.lead_changes)
        deleted, deleted_token = _read_feed(client.deleted_leads(cursor.deleted_leads), ids_from_deleted_leads)
        merged, merge_token = _read_feed(client.activities(cursor.merges, [MERGE_LEADS]), ids_from_merges)

    new_cursor = ChangeCursor(lead_token or cursor.lead_changes, deleted_token or cursor.deleted_leads,
                              merge_token or cursor.merges)
    marketo_ids = sorted(changed | deleted | merged)
    if marketo_ids:
        # The key names the token range read: a replayed tick over the same range asks for the same run.
        span = json.dumps([cursor.tokens(), new_cursor.tokens()])
        run_key = f"people-changes-{hashlib.sha256(span.encode()).hexdigest()[:20]}"
        return dg.SensorResult(run_requests=[_run_request(marketo_ids, run_key)], cursor=new_cursor.dump())
    return dg.SensorResult(cursor=new_cursor.dump(), skip_reason="No changes to synced fields in Marketo",
                           asset_events=confirm_current(context.instance, actions_db))
