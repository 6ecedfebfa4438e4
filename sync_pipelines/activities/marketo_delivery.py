"""Deliver logged activities to Marketo as custom activities, exactly once.

Per batch of up to 300 (the insert limit):
1. claim: the rows move pending -> sending under a new batch id, committed before the call;
2. insert: one POST activities/external.json;
3. record: per record, delivered (with the marketoGUID) or quarantined (1004 lead not found, bad
   attribute, ...) or back to pending (a transient per-record failure, at most MAX_ATTEMPTS times).
A batch found 'sending' at the start of a run, or whose insert went unanswered, is in doubt: its
activities are read back from Marketo (activities.json for the batch's people and our types, matched
by the actionsActivityId attribute). Those found are marked delivered; only the others are sent again.
A dry run does every step but the insert: each batch is recorded as if Marketo had added every record
(per-record refusals cannot be known without sending), inside the run's rolled-back transaction.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

import dagster as dg
import pandas as pd
import psycopg

from sync_pipelines.activities import crash_injection
from sync_pipelines.activities.delivery_run import DeliveryCounts, DeliveryRun
from sync_pipelines.activities.transforms import delivered_in_read_back, marketo_activities
from sync_pipelines.activities.types import ACTIVITY_TYPES
from sync_pipelines.marketo.client import MarketoClient
from sync_pipelines.marketo.custom_activities import MAX_INSERT, InsertInDoubt
from sync_pipelines.marketo.errors import MarketoError
from sync_pipelines.store import activities as store


MAX_ATTEMPTS = 5  # a record failing transiently this often is quarantined
TRANSIENT_RECORD_CODES = frozenset({"604", "606", "608", "611", "615", "713"})
# Read back from a little before the batch was claimed (Marketo takes whole seconds).
READ_BACK_MARGIN = timedelta(minutes=5)


@dataclass
class MarketoDeliveryCounts(DeliveryCounts):
    enqueued: int = 0
    requeued_after_person_change: int = 0
    batches: int = 0
    delivered: int = 0
    retried: int = 0
    in_doubt_batches: int = 0
    found_on_verify: int = 0
    resent_after_verify: int = 0


def approved_type_ids(client: MarketoClient, *, dry_run: bool = False) -> dict[str, int]:
    """Activity type name -> Marketo id of the 8 types; dg.Failure when one is missing or unapproved.

    dry_run: a missing type is one the dry run of marketo_sales_activity_types would have created;
    it gets the id 0 (nothing is sent in a dry run, so the id is never used).
    """
    by_api_name = {t.get("apiName"): t for t in client.custom_activities.list_types()}
    missing = [
        spec.name for spec in ACTIVITY_TYPES
        if by_api_name.get(spec.api_name, {}).get("status") not in ("approved", "approved with draft")
    ]
    if missing and not dry_run:
        raise dg.Failure(
            f"Marketo lacks approved custom activity types: {', '.join(missing)}. "
            "Materialize marketo_sales_activity_types first."
        )
    return {spec.name: 0 if spec.name in missing else int(by_api_name[spec.api_name]["id"]) for spec in ACTIVITY_TYPES}


class MarketoDelivery(DeliveryRun):
    """A delivery run to Marketo: custom activities inserted in batches (none in a dry run)."""

    destination = store.MARKETO

    def __init__(self, conn: psycopg.Connection, client: MarketoClient, type_ids: dict[str, int],
                 *, dry_run: bool = False):
        super().__init__(conn, dry_run=dry_run)
        self.client = client
        self.type_ids = type_ids
        self.counts = MarketoDeliveryCounts()

    def run(self) -> MarketoDeliveryCounts:
        with self.conn.transaction():
            self.counts.requeued_after_person_change = store.requeue_after_person_change(self.conn, store.MARKETO)
            self.counts.enqueued = store.enqueue_marketo(self.conn)
        for batch_id in store.in_doubt_batches(self.conn, store.MARKETO):
            self.verify(batch_id)
        while True:
            with self.conn.transaction():
                batch_id = store.claim_batch(self.conn, store.MARKETO, MAX_INSERT)
            if batch_id is None:
                return self.counts
            self.send(batch_id)

    def send(self, batch_id: str) -> None:
        self.counts.batches += 1
        rows = store.batch_rows(self.conn, store.MARKETO, batch_id)
        # A dry run records the batch as if Marketo added every record; the insert is not made.
        dry_run_delivered = self.send_prepared(batch_id, marketo_activities(rows, self.type_ids), self._insert)
        self.counts.delivered += dry_run_delivered  # not in one statement: a real send counts as it goes

    def _insert(self, batch_id: str, payloads: dict[int, dict], ids: list[int]) -> None:
        try:
            results = self.client.custom_activities.insert([payloads[i] for i in ids])
        except InsertInDoubt as exc:
            # Never sent again blindly: the read-back settles the batch, and only what is missing goes back.
            if self.settle_unanswered(batch_id, "Marketo insert", exc.code):
                raise
            return
        except MarketoError:
            with self.conn.transaction():  # refused before anything ran: nothing is in doubt
                store.release(self.conn, store.MARKETO, ids)
            raise
        self.answered()
        crash_injection.reached_after_send(store.MARKETO, batch_id)
        self._record(ids, results)

    def _record(self, ids: list[int], results: list[dict]) -> None:
        attempts = store.attempts(self.conn, store.MARKETO, ids)
        delivered, quarantined, retry = {}, {}, []
        for activity_id, result in zip(ids, results):
            if result.get("status") == "added":
                delivered[activity_id] = str(result.get("marketoGUID") or result.get("id"))
                continue
            error = (result.get("errors") or result.get("reasons") or [{}])[0]
            code, message = str(error.get("code", "unknown")), str(error.get("message", ""))
            if code in TRANSIENT_RECORD_CODES and attempts[activity_id] < MAX_ATTEMPTS:
                retry.append(activity_id)
            else:
                quarantined[activity_id] = f"Marketo {code}: {message}"
        with self.conn.transaction():
            self.counts.delivered += store.mark_delivered(self.conn, store.MARKETO, delivered)
            self.counts.quarantined += store.mark_quarantined(self.conn, store.MARKETO, quarantined)
            self.counts.retried += store.release(self.conn, store.MARKETO, retry)

    def verify(self, batch_id: str) -> None:
        """Read an in-doubt batch back from Marketo: found -> delivered, missing -> pending again."""
        self.counts.in_doubt_batches += 1
        rows = store.batch_rows(self.conn, store.MARKETO, batch_id)
        if rows.empty:
            return
        since = min(store.batch_started_at(self.conn, store.MARKETO, batch_id), pd.Timestamp(rows["occurred_at"].min()))
        activities = list(self.client.custom_activities.read_back(
            list(self.type_ids.values()), rows["marketo_id"].astype(int).tolist(), since - READ_BACK_MARGIN
        ))
        ids = set(rows["activity_id"].astype(int))
        found = delivered_in_read_back(activities, ids)
        missing = sorted(ids - set(found))
        with self.conn.transaction():
            store.mark_delivered(self.conn, store.MARKETO, found)
            store.release(self.conn, store.MARKETO, missing)
        self.counts.found_on_verify += len(found)
        self.counts.delivered += len(found)
        self.counts.resent_after_verify += len(missing)
