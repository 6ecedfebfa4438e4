"""Deliver sellers' emails and calls to Salesforce: Tasks through the API, or emails by BCC mail.

API channel, per batch of 200 (one sObject Collections call):
  claim (pending -> sending, committed) -> upsert keyed by Actions_Activity_Id__c -> record.
  An in-doubt batch is verified with one SOQL query on Actions_Activity_Id__c: Tasks found are
  marked delivered, the others go back to pending. (Upsert alone would not make a resend safe:
  TaskSubtype cannot be updated, so re-upserting an existing email Task is refused.) So the upsert
  is never replayed blindly: an unanswered call (dropped connection, timeout, 5xx other than 503)
  leaves the batch 'sending' and is settled by that query at once; the run goes on with the next
  batch (and stops after MAX_UNANSWERED_IN_A_ROW unanswered calls in a row). A Task refused for a
  reason other than a row lock is looked up by its external id before it is quarantined: one that
  exists (an earlier, unanswered write made it) is delivered.
Bulk API threshold: collections cost 1 API call per 200 Tasks and answer synchronously per record;
Bulk API 2.0 costs about 6+ calls per job (create, upload, close, polls, success and failure results)
and minutes of queueing. It pays off only above ~10,000 Tasks in one run, where collections would
spend 50+ calls. The sensor-driven runs carry hundreds; even a 100,000-activity backfill needs about
500 calls, well inside an org's daily allowance. So collections only; the Bulk path is not built.
BCC channel: one SMTP session per batch of 50, one commit per message (at most one message in
doubt after a crash; it is resent with the same Message-ID, as SMTP cannot be asked what it got).
Dry run: every step but the upsert and the SMTP session; each batch is recorded as if Salesforce
(or the mail relay) had accepted every record, inside the run's rolled-back transaction.
"""

from __future__ import annotations

import smtplib
from dataclasses import dataclass

from datetime import datetime

import pandas as pd
import psycopg

from sync_pipelines.activities import crash_injection
from sync_pipelines.activities.bcc import bcc_message, message_id, send_bcc, smtp_connection
from sync_pipelines.activities.delivery_run import DeliveryCounts, DeliveryRun
from sync_pipelines.activities.settings import ActivitySettings
from sync_pipelines.activities.transforms import EXTERNAL_ID_FIELD, salesforce_tasks
from sync_pipelines.chunks import chunked
from sync_pipelines.salesforce.client import (
    COLLECTION_SIZE,
    RETRYABLE_CODES,
    SalesforceClient,
    parse_salesforce_datetime,
)
from sync_pipelines.salesforce.errors import SalesforceClientError, SalesforceUnanswered
from sync_pipelines.salesforce.soql import soql_in
from sync_pipelines.store import activities as store


API_BATCH = COLLECTION_SIZE  # one sObject Collections call per batch
BCC_BATCH = 50  # messages per SMTP session
MAX_ATTEMPTS = 5  # a Task still failing with a retryable code after this many runs of its batch is quarantined
CONVERTED_LEAD = "CANNOT_UPDATE_CONVERTED_LEAD"  # the Task named a Lead that was converted


@dataclass
class SalesforceDeliveryCounts(DeliveryCounts):
    pending_new: int = 0
    pending_api: int = 0  # of pending_new: by the API (calls, and emails of sellers in api mode)
    pending_bcc: int = 0  # of pending_new: emails of sellers in bcc mode when they logged them
    skipped_no_salesforce_id: int = 0
    skipped_by_settings: int = 0
    skipped_not_email_or_call: int = 0
    skipped_person_not_in_actions: int = 0
    tasks_delivered: int = 0
    emails_mailed: int = 0
    retried_later: int = 0
    in_doubt_batches: int = 0
    found_on_verify: int = 0
    resent_after_verify: int = 0
    refused_but_found: int = 0  # refused on a resend, found by external id: delivered, not quarantined
    redirected_to_contact: int = 0  # named a converted Lead: sent again on its ConvertedContactId
    requeued_after_person_change: int = 0


class SalesforceDelivery(DeliveryRun):
    """A delivery run to Salesforce: Tasks upserted through the API, email by BCC (none in a dry run)."""

    destination = store.SALESFORCE

    def __init__(self, conn: psycopg.Connection, client: SalesforceClient | None, settings: ActivitySettings,
                 *, dry_run: bool = False):
        super().__init__(conn, dry_run=dry_run)
        self.client = client
        self.settings = settings
        self.counts = SalesforceDeliveryCounts()
        self._context: dict[str, tuple[str | None, str | None]] = {}  # per run: Contact -> (Account, open Opportunity)

    def run(self) -> SalesforceDeliveryCounts:
        with self.conn.transaction():
            self.counts.requeued_after_person_change = store.requeue_after_person_change(self.conn, store.SALESFORCE)
            enqueued = store.enqueue_salesforce(self.conn, self.settings.org_defaults())
        self.counts.pending_new = enqueued.pop("pending")
        for name, value in enqueued.items():
            setattr(self.counts, name, value)
        for batch_id in store.in_doubt_batches(self.conn, store.SALESFORCE):
            self.verify(batch_id)
        for channel, size, send in (("api", API_BATCH, self.send_tasks), ("bcc", BCC_BATCH, self.send_mail)):
            while True:
                with self.conn.transaction():
                    batch_id = store.claim_batch(self.conn, store.SALESFORCE, size, channel)
                if batch_id is None:
                    break
                send(batch_id)
        return self.counts

    # --- API channel --------------------------------------------------------------------------

    def send_tasks(self, batch_id: str) -> None:
        rows = self._with_what_ids(store.batch_rows(self.conn, store.SALESFORCE, batch_id))
        # A dry run records the batch as if Salesforce accepted every Task; the upsert is not made.
        dry_run_delivered = self.send_prepared(batch_id, salesforce_tasks(rows), self._upsert_tasks)
        self.counts.tasks_delivered += dry_run_delivered  # not in one statement: a real send counts as it goes

    def _upsert_tasks(self, batch_id: str, payloads: dict[int, dict], ids: list[int]) -> None:
        try:
            results = self._client().upsert_many("Task", EXTERNAL_ID_FIELD, [payloads[i] for i in ids],
                                                  replay_unanswered=False)
        except SalesforceUnanswered as exc:
            # The upsert may have run: settle the batch by reading back, never by sending it again.
            if self.settle_unanswered(batch_id, "Salesforce Task upsert", exc.cause):
                raise
            return
        except SalesforceClientError:
            # Whether the call ran is unknown: settle the batch now, then stop the run.
            self.verify(batch_id)
            raise
        self.answered()
        crash_injection.reached_after_send(store.SALESFORCE, batch_id)
        self._settle(ids, results, payloads)

    def _settle(self, ids: list[int], results: list, payloads: dict[int, dict]) -> None:
        """Record each Task's answer: delivered, retried later (row lock, converted Lead) or quarantined."""
        attempts = store.attempts(self.conn, store.SALESFORCE, ids)
        delivered, quarantined, retry = {}, {}, []
        converted: dict[int, str] = {}  # activity id -> the converted Lead it named
        for activity_id, result in zip(ids, results):
            if result.success:
                delivered[activity_id] = result.id
            elif result.error_code == CONVERTED_LEAD and attempts[activity_id] < MAX_ATTEMPTS:
                converted[activity_id] = payloads[activity_id]["WhoId"]
            elif result.error_code in RETRYABLE_CODES and attempts[activity_id] < MAX_ATTEMPTS:
                retry.append(activity_id)  # still locked after the client's own retries: claim again
            else:
                quarantined[activity_id] = f"Salesforce {result.error_code}: {result.message}"
        if converted:
            retry += self._redirect_converted(converted, quarantined)
        # "Already there" in any form (a refused update of a create-only field, a duplicate external id):
        # a Task that exists under the activity's external id is delivered, whatever the refusal said.
        existing = self._existing_tasks(list(quarantined))
        for activity_id in existing:
            del quarantined[activity_id]
        delivered.update(existing)
        self.counts.refused_but_found += len(existing)
        with self.conn.transaction():
            self.counts.tasks_delivered += store.mark_delivered(self.conn, store.SALESFORCE, delivered)
            self.counts.quarantined += store.mark_quarantined(self.conn, store.SALESFORCE, quarantined)
            self.counts.retried_later += store.release(self.conn, store.SALESFORCE, retry)

    def _redirect_converted(self, converted: dict[int, str], quarantined: dict[int, str]) -> list[int]:
        """Activities logged on a converted Lead go to the Contact it became: remembered, and the ids are sent
        again in this run. A Lead without a Contact is quarantined (into `quarantined`)."""
        contacts = self._converted_contacts(sorted(set(converted.values())))
        quarantined.update({i: f"Salesforce {CONVERTED_LEAD}: the converted Lead has no Contact"
                            for i, lead in converted.items() if lead not in contacts})
        self.counts.redirected_to_contact += sum(lead in contacts for lead in converted.values())
        with self.conn.transaction():
            store.record_converted_leads(self.conn, contacts)
        return [i for i, lead in converted.items() if lead in contacts]

    # --- BCC channel --------------------------------------------------------------------------

    def send_mail(self, batch_id: str) -> None:
        rows = store.batch_rows(self.conn, store.SALESFORCE, batch_id)
        messages, bad = {}, {}
        for _, row in rows.iterrows():
            try:
                messages[int(row["activity_id"])] = bcc_message(row)
            except ValueError as exc:
                bad[int(row["activity_id"])] = f"cannot build the BCC message: {exc}"
        self.to_send(messages, bad)
        if self.dry_run:  # recorded as if the relay accepted every message; no SMTP session is opened
            self.counts.emails_mailed += self.record_dry_run({i: message_id(i) for i in messages})
            return
        s = self.settings
        attempts = store.attempts(self.conn, store.SALESFORCE, list(messages))
        sent: list[int] = []
        try:
            with smtp_connection(s.smtp_host, s.smtp_port, starttls=s.smtp_starttls, username=s.smtp_username,
                                 password=s.smtp_password, timeout=s.smtp_timeout_seconds) as smtp:
                for activity_id, message in messages.items():
                    try:
                        send_bcc(smtp, message)
                    except (smtplib.SMTPRecipientsRefused, smtplib.SMTPSenderRefused,
                            smtplib.SMTPDataError) as exc:
                        if _smtp_code(exc) < 500 and attempts[activity_id] < MAX_ATTEMPTS:  # 4xx: try again
                            self._release([activity_id])
                            sent.append(activity_id)
                            continue
                        with self.conn.transaction():
                            self.counts.quarantined += store.mark_quarantined(
                                self.conn, store.SALESFORCE, {activity_id: f"SMTP refused: {_smtp_code(exc)}"})
                        sent.append(activity_id)
                        continue
                    crash_injection.reached_after_send(store.SALESFORCE, batch_id)
                    with self.conn.transaction():
                        store.mark_delivered(self.conn, store.SALESFORCE, {activity_id: message_id(activity_id)})
                    self.counts.emails_mailed += 1
                    sent.append(activity_id)
        except (smtplib.SMTPException, OSError):
            # The message being sent is in doubt and stays 'sending'; the ones not reached go back.
            untouched = [i for i in messages if i not in sent][1:]
            self._release(untouched)
            raise

    def _release(self, activity_ids: list[int]) -> None:
        with self.conn.transaction():
            self.counts.retried_later += store.release(self.conn, store.SALESFORCE, activity_ids)

    # --- in-doubt batches ---------------------------------------------------------------------

    def verify(self, batch_id: str) -> None:
        """API batches: Tasks found by external id are delivered, the rest pending. BCC: resend."""
        self.counts.in_doubt_batches += 1
        rows = store.batch_rows(self.conn, store.SALESFORCE, batch_id)
        if rows.empty:
            return
        api_ids = [int(i) for i, channel in zip(rows["activity_id"], rows["channel"]) if channel == "api"]
        bcc_ids = [int(i) for i, channel in zip(rows["activity_id"], rows["channel"]) if channel == "bcc"]
        found = self._existing_tasks(api_ids)
        missing = [i for i in api_ids if i not in found] + bcc_ids
        with self.conn.transaction():
            store.mark_delivered(self.conn, store.SALESFORCE, found)
            store.release(self.conn, store.SALESFORCE, missing)
        self.counts.found_on_verify += len(found)
        self.counts.tasks_delivered += len(found)
        self.counts.resent_after_verify += len(missing)

    def _with_what_ids(self, rows: pd.DataFrame) -> pd.DataFrame:
        """The batch rows with `what_id`: what each Contact's Task relates to (what_id_rule)."""
        contacts = [c if isinstance(c, str) and c else (v if isinstance(v, str) and v else None)
                    for c, v in zip(rows["salesforce_contact_id"], rows["converted_contact_id"])]
        unknown = sorted({c for c in contacts if c} - set(self._context))
        if unknown:
            context = self._contact_context(unknown)
            self._context.update(context)
            with self.conn.transaction():
                store.record_contact_context(self.conn, context)
        rows = rows.copy()
        rows["what_id"] = [what_id_rule(*self._context[c]) if c else None for c in contacts]
        return rows

    def _contact_context(self, contact_ids: list[str]) -> dict[str, tuple[str | None, str | None]]:
        """Contact id -> (AccountId, newest open Opportunity with a Contact Role for the Contact)."""
        accounts: dict[str, str | None] = dict.fromkeys(contact_ids)
        roles: dict[str, set[str]] = {c: set() for c in contact_ids}
        for chunk in chunked(contact_ids, API_BATCH):
            for contact in self._client().query(f"SELECT Id, AccountId FROM Contact WHERE Id IN {soql_in(chunk)}"):
                accounts[contact["Id"]] = contact.get("AccountId")
            for role in self._client().query(
                    f"SELECT ContactId, OpportunityId FROM OpportunityContactRole WHERE ContactId IN {soql_in(chunk)}"):
                roles.setdefault(role["ContactId"], set()).add(role["OpportunityId"])
        opportunity_ids = sorted(set().union(*roles.values())) if roles else []
        opened: dict[str, tuple[datetime, str]] = {}
        for chunk in chunked(opportunity_ids, API_BATCH):
            soql = f"SELECT Id, CreatedDate FROM Opportunity WHERE IsClosed = false AND Id IN {soql_in(chunk)}"
            for opportunity in self._client().query(soql):
                opened[opportunity["Id"]] = (parse_salesforce_datetime(opportunity["CreatedDate"]), opportunity["Id"])
        newest = {c: max((opened[o] for o in ids if o in opened), default=(None, None))[1] for c, ids in roles.items()}
        return {c: (accounts.get(c), newest.get(c)) for c in contact_ids}

    def _converted_contacts(self, lead_ids: list[str]) -> dict[str, str]:
        """Lead id -> ConvertedContactId for those of the Leads that are converted."""
        found: dict[str, str] = {}
        for chunk in chunked(lead_ids, API_BATCH):
            soql = f"SELECT Id, ConvertedContactId FROM Lead WHERE IsConverted = true AND Id IN {soql_in(chunk)}"
            for lead in self._client().query(soql):
                if lead.get("ConvertedContactId"):
                    found[lead["Id"]] = lead["ConvertedContactId"]
        return found

    def _existing_tasks(self, activity_ids: list[int]) -> dict[int, str]:
        """Activity id -> Task id of the Tasks that exist under these activities' external ids."""
        found: dict[int, str] = {}
        for chunk in chunked([str(i) for i in activity_ids], API_BATCH):
            soql = f"SELECT Id, {EXTERNAL_ID_FIELD} FROM Task WHERE {EXTERNAL_ID_FIELD} IN {soql_in(chunk)}"
            for task in self._client().query(soql):
                found[int(task[EXTERNAL_ID_FIELD])] = task["Id"]
        return found

    def _client(self) -> SalesforceClient:
        if self.client is None:
            raise RuntimeError("a Salesforce client is needed for API-channel deliveries")
        return self.client


def what_id_rule(account_id: str | None, open_opportunity_id: str | None) -> str | None:
    """WhatId of a Contact's Task: the newest open Opportunity (by CreatedDate, then Id) on which the
    Contact has a Contact Role, else the Contact's Account, else none. A Lead's Task has no WhatId."""
    return open_opportunity_id or account_id


def _smtp_code(exc: smtplib.SMTPException) -> int:
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        return min(code for code, _ in exc.recipients.values())
    return int(getattr(exc, "smtp_code", 550))
