"""marketo_person_change_sensor: follow Marketo's lead changes and sync just the people they touch.

The cursor (JSON in context.cursor) holds one paging token per Marketo feed (lead changes, deleted leads,
merges) and the batches whose runs have not yet succeeded. Dagster saves the cursor together with the
tick's run requests, so a token advances only with a run request that covers its changes; a batch whose
run failed is requested again on the next tick, so a failed run loses nothing.
"""

import hashlib
import json
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta, timezone

import dagster as dg
from dagster._core.storage.tags import RUN_KEY_TAG

from sync_pipelines.people.changes import MERGE_LEADS, ids_from_deleted_leads, ids_from_lead_changes, ids_from_merges
from sync_pipelines.people.fields import WATCHED_FIELDS
from sync_pipelines.people.jobs import incremental_run_config, person_sync_job
from sync_pipelines.resources import ActionsDatabase, MarketoResource
from sync_pipelines.store.sync_control import NOT_STARTED, sync_started_at

# Pages read per feed per tick (300 activities each): keeps a tick far inside Dagster's sensor timeout;
# a larger backlog continues on the next tick.
MAX_PAGES_PER_FEED = 20
# Runs of one change batch before the sensor gives up on it (and says so in the tick's log).
MAX_BATCH_ATTEMPTS = 5
# On the first tick, look back this far so that changes made while the initial sync ran are not missed.
FIRST_TICK_LOOKBACK = timedelta(hours=1)


@dataclass
class ChangeCursor:
    lead_changes: str
    deleted_leads: str
    merges: str
    pending: list[dict] = field(default_factory=list)  # [{"run_key", "marketo_ids", "attempt"}]

    @classmethod
    def parse(cls, text: str | None) -> "ChangeCursor | None":
        return cls(**json.loads(text)) if text else None

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


def _run_request(marketo_ids: list[int], run_key: str) -> dg.RunRequest:
    return dg.RunRequest(
        run_key=run_key,
        run_config=incremental_run_config(marketo_ids),
        tags={"sync_pipelines/trigger": "marketo_change"},
    )


def _retry_failed_batches(
    context: dg.SensorEvaluationContext, pending: list[dict]
) -> tuple[list[dict], list[dg.RunRequest], list[str]]:
    """Keep batches whose run has not succeeded yet; request failed ones again under a new run key.

    A batch that failed MAX_BATCH_ATTEMPTS times is given up with an error in the tick's log (a batch that
    always fails would otherwise be re-run every tick, for ever); the nightly full compare repairs its people.
    Returns (still pending, run requests, what was given up).
    """
    still_pending, requests, given_up = [], [], []
    for batch in pending:
        runs = context.instance.get_runs(filters=dg.RunsFilter(tags={RUN_KEY_TAG: batch["run_key"]}), limit=1)
        status = runs[0].status if runs else None
        if status == dg.DagsterRunStatus.SUCCESS:
            continue
        if status in (dg.DagsterRunStatus.FAILURE, dg.DagsterRunStatus.CANCELED):
            if batch["attempt"] >= MAX_BATCH_ATTEMPTS:
                given_up.append(
                    f"Gave up on person batch {batch['run_key'].split('#')[0]} ({len(batch['marketo_ids'])} people) "
                    f"after {batch['attempt']} failed runs (last: {runs[0].run_id}); person_reconciliation_schedule "
                    "repairs these people, or rerun person_sync_job for them once the cause is fixed."
                )
                context.log.error(given_up[-1])
                continue
            attempt = batch["attempt"] + 1
            batch = {**batch, "attempt": attempt, "run_key": f"{batch['run_key'].split('#')[0]}#{attempt}"}
            requests.append(_run_request(batch["marketo_ids"], batch["run_key"]))
        still_pending.append(batch)
    return still_pending, requests, given_up


@dg.sensor(
    job=person_sync_job,
    minimum_interval_seconds=30,
    default_status=dg.DefaultSensorStatus.RUNNING,
    description=(
        "Reads Marketo lead changes (synced fields and owner), new, deleted and merged leads from paging "
        "tokens kept in the cursor, and requests person_sync_job for just the people they touch. A change "
        "to a field the sync does not read requests nothing. Failed runs are requested again. Skips until "
        "the sync is started (make start-sync)."
    ),
)
def marketo_person_change_sensor(
    context: dg.SensorEvaluationContext, marketo: MarketoResource, actions_db: ActionsDatabase
):
    with actions_db.connection() as conn:
        started = sync_started_at(conn) is not None
    if not started:
        # The cursor stays as it is: the first tick after the start looks back from then.
        return dg.SensorResult(cursor=context.cursor, skip_reason=NOT_STARTED)
    cursor = ChangeCursor.parse(context.cursor)
    with marketo.client() as client:
        if cursor is None:
            start = client.paging_token(datetime.now(timezone.utc) - FIRST_TICK_LOOKBACK)
            return dg.SensorResult(cursor=ChangeCursor(start, start, start).dump(), skip_reason="Started following Marketo changes")
        changed, lead_token = _read_feed(client.lead_changes(cursor.lead_changes, WATCHED_FIELDS), ids_from_lead_changes)
        deleted, deleted_token = _read_feed(client.deleted_leads(cursor.deleted_leads), ids_from_deleted_leads)
        merged, merge_token = _read_feed(client.activities(cursor.merges, [MERGE_LEADS]), ids_from_merges)

    pending, requests, given_up = _retry_failed_batches(context, cursor.pending)
    new_cursor = ChangeCursor(
        lead_token or cursor.lead_changes, deleted_token or cursor.deleted_leads, merge_token or cursor.merges, pending
    )
    marketo_ids = sorted(changed | deleted | merged)
    if marketo_ids:
        # The key names the token range read: a replayed tick over the same range asks for the same run.
        span = json.dumps([cursor.tokens(), new_cursor.tokens()])
        run_key = f"people-changes-{hashlib.sha256(span.encode()).hexdigest()[:20]}"
        new_cursor.pending.append({"run_key": run_key, "marketo_ids": marketo_ids, "attempt": 1})
        requests.append(_run_request(marketo_ids, run_key))
    if not requests:
        return dg.SensorResult(cursor=new_cursor.dump(),
                               skip_reason=" ".join(given_up) or "No changes to synced fields in Marketo")
    return dg.SensorResult(run_requests=requests, cursor=new_cursor.dump())
