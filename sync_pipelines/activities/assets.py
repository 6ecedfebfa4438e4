"""Activities: the Actions activity log fans out to Marketo (custom activities) and Salesforce (Tasks/BCC)."""

import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict
from datetime import datetime, timezone

import dagster as dg
import psycopg

from sync_pipelines import dry_run, pools
from sync_pipelines.activities.marketo_delivery import MarketoDelivery, approved_type_ids
from sync_pipelines.activities.salesforce_delivery import SalesforceDelivery
from sync_pipelines.activities.settings import ActivitySettings
from sync_pipelines.activities.type_setup import ensure_activity_types
from sync_pipelines.pinning import pin_marketo, pin_salesforce
from sync_pipelines.resources import ActionsDatabase, MarketoResource, SalesforceResource
from sync_pipelines.store import activities as store
from sync_pipelines.table_metadata import table_spec_metadata
from sync_pipelines.store.settings import effective_settings

ACTIVITY_SETTINGS = ("log_emails", "log_calls", "email_logging_mode")


@contextmanager
def _delivering(conn: psycopg.Connection, destination: str, *, dry_run: bool) -> Iterator[None]:
    """Hold the destination's delivery lock for the block (one delivery run at a time per destination)."""
    if not dry_run:  # a dry run sends nothing, so it needs no journal: it stays in the run's transaction
        conn.autocommit = True  # every step commits on its own: the delivery state is the journal
    with store.delivery_lock(conn, destination) as acquired:
        if not acquired:
            raise dg.Failure(f"Another run is delivering activities to {destination.title()}; try again when it ends.")
        yield


def _delivery_metadata(counts: object, sample: list[int], totals: dict[str, int]) -> dict[str, object]:
    """What both deliveries report: this run's counts, a sample of ids, and the totals per delivery state."""
    return {**asdict(counts), "sample_activity_ids": dg.MetadataValue.json(sample),
            **{f"total_{state}": count for state, count in totals.items()}}


actions_sales_activities = dg.AssetSpec(
    key="actions_sales_activities",
    kinds={"postgres"},
    metadata=table_spec_metadata("actions_sales_activity"),
    description=(
        "The sales activity log that the Actions app writes (actions_sales_activity, with actions_seller): "
        "one row per email sent/opened/clicked/replied/bounced, call, or sales campaign change. External: "
        "the sync only reads it; actions_activity_sensor records its high-water mark as an observation. "
        "Contract: sync_pipelines/activities/README.md."
    ),
)


@dg.asset(
    pool=pools.MARKETO,
    kinds={"marketo"},
    description=(
        "The 8 custom activity types of sales activities in Marketo (Sales Email Sent ... Removed from Sales "
        "Campaign), each with its attributes and an Actions Activity ID attribute, approved. Idempotent: a "
        "second run only reads: the types list, and each type's describe (the list carries no attributes)."
    ),
)
def marketo_sales_activity_types(
    context: dg.AssetExecutionContext,
    marketo: MarketoResource,
    actions_db: ActionsDatabase,  # the org pin: types are only created in the pinned instance
) -> dg.MaterializeResult:
    with marketo.client() as client:
        with actions_db.connection() as conn:
            pin_marketo(conn, client)
        counts = ensure_activity_types(client.custom_activities, dry_run=marketo.dry_run)
        calls = client.calls_used
    context.log.info(f"Activity types: {asdict(counts)} ({calls} Marketo calls)")
    return dry_run.result({**asdict(counts), "marketo_api_calls": calls}, dry_run=marketo.dry_run)


@dg.asset(
    pool=pools.MARKETO,
    kinds={"marketo", "postgres"},
    # actions_people: each activity's person (and the Marketo lead it is logged on) comes from there
    deps=[actions_sales_activities, marketo_sales_activity_types, dg.AssetKey("actions_people")],
    description=(
        "Every logged activity delivered once to Marketo as a custom activity, 300 per call. Each activity "
        "has a delivery state (pending -> sending -> delivered | quarantined); a batch left 'sending' by a "
        "crash is read back from Marketo before anything is resent. Unknown leads and bad attributes are "
        "quarantined with the reason."
    ),
)
def marketo_sales_activities(
    context: dg.AssetExecutionContext, marketo: MarketoResource, actions_db: ActionsDatabase,
) -> dg.MaterializeResult:
    dry = marketo.dry_run
    clock = time.monotonic()
    with marketo.client() as client, actions_db.connection() as conn:
        with _delivering(conn, store.MARKETO, dry_run=dry):
            pin_marketo(conn, client)
            delivery = MarketoDelivery(conn, client, approved_type_ids(client, dry_run=dry), dry_run=dry)
            counts = delivery.run()
            totals = store.delivery_counts(conn, store.MARKETO)
        calls = client.calls_used
    context.log.info(f"Marketo delivery: {asdict(counts)}; totals {totals}; {calls} Marketo calls")
    return dry_run.result(
        {
            **_delivery_metadata(counts, delivery.sample, totals),
            "marketo_api_calls": calls,
        },
        dry_run=dry,
        started=clock,
    )


@dg.asset(
    pool=pools.SALESFORCE,
    kinds={"salesforce", "postgres"},
    # actions_people: the Salesforce Lead/Contact id a Task is logged on comes from the person table
    deps=[actions_sales_activities, dg.AssetKey("actions_people")],
    description=(
        "Sellers' sent emails and calls delivered once to Salesforce: completed Tasks (Email/Call subtype) on "
        "the person's Contact or Lead, upserted 200 per call by Actions_Activity_Id__c, or, in bcc mode, each "
        "email mailed to the seller's Email-to-Salesforce address. What is logged follows each seller's settings "
        "as they stood when the activity was logged (org defaults from activity_settings). "
        "People without a Salesforce id are skipped and counted."
    ),
)
def salesforce_activity_tasks(
    context: dg.AssetExecutionContext,
    salesforce: SalesforceResource,
    actions_db: ActionsDatabase,
    activity_settings: ActivitySettings,
) -> dg.MaterializeResult:
    dry = salesforce.dry_run
    clock = time.monotonic()
    with salesforce.client() as client, actions_db.connection() as conn:
        with _delivering(conn, store.SALESFORCE, dry_run=dry):
            pin_salesforce(conn, client)
            delivery = SalesforceDelivery(conn, client, activity_settings, dry_run=dry)
            counts = delivery.run()
            seller_settings = effective_settings(conn, datetime.now(timezone.utc), settings=ACTIVITY_SETTINGS,
                                                 environ=activity_settings.org_defaults())
            totals = store.delivery_counts(conn, store.SALESFORCE)
        calls = client.api_calls
    context.log.info(f"Salesforce delivery: {asdict(counts)}; totals {totals}; {calls} Salesforce calls")
    return dry_run.result(
        {
            **_delivery_metadata(counts, delivery.sample, totals),
            # The org defaults; each activity follows its seller's settings as of its logged_at.
            "org_default_email_logging_mode": activity_settings.email_logging_mode,
            "org_default_log_emails": activity_settings.log_emails,
            "org_default_log_calls": activity_settings.log_calls,
            "seller_settings_now": dg.MetadataValue.json(seller_settings),
            "salesforce_api_calls": calls,
        },
        dry_run=dry,
        started=clock,
    )
