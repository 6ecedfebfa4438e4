"""Shared set-up of the activity tests: people synced into Actions, a generated log, the resources."""

from __future__ import annotations

from datetime import datetime, timezone

import dagster as dg
import pandas as pd
import psycopg

from sync_pipelines import actions_app
from sync_pipelines import activities, people
from sync_pipelines.activities.settings import ActivitySettings
from sync_pipelines.resources import ActionsDatabase, SalesforceResource
from sync_pipelines_tests.fixtures.marketo import marketo_resource

PERSON_ASSETS = people.ASSETS
ACTIVITY_ASSETS = activities.ASSETS
UNKNOWN_LEAD = 9_999_999  # a Marketo id no sandbox lead has


def resources(marketo, salesforce, database_url, settings: ActivitySettings | None = None) -> dict:
    return {
        "marketo": marketo_resource(marketo),
        "salesforce": SalesforceResource(
            instance_url=salesforce.url, client_id=salesforce.client_id, client_secret=salesforce.client_secret,
            ca_bundle=salesforce.ca_path,
        ),
        "actions_db": ActionsDatabase(url=database_url),
        "activity_settings": settings or ActivitySettings(),
    }


def sync_people(marketo, database_url) -> None:
    """Run the real person sync so that Actions holds the sandbox's owned people.

    It runs in incremental mode over every lead id (one REST call) rather than as a Bulk Extract:
    same rows, a fraction of the time.
    """
    ids = [int(i) for i in marketo.sandbox.leads()["id"]]
    scoped = {"config": {"marketo_ids": ids}}
    result = dg.materialize(PERSON_ASSETS, resources={"marketo": marketo_resource(marketo),
                                                      "actions_db": ActionsDatabase(url=database_url)},
                            run_config={"ops": {"marketo_person_extract": scoped, "actions_people": scoped}})
    assert result.success


def fan_out(marketo, salesforce, database_url, settings: ActivitySettings | None = None,
            selection: list | None = None, raise_on_error: bool = True) -> tuple[bool, dict]:
    """Materialize the activity assets; returns (success, {asset: metadata})."""
    result = dg.materialize(
        ACTIVITY_ASSETS, selection=selection, resources=resources(marketo, salesforce, database_url, settings),
        raise_on_error=raise_on_error,
    )
    metadata = {
        event.asset_key.to_user_string(): {k: v.value for k, v in event.step_materialization_data.materialization.metadata.items()}
        for event in result.get_asset_materialization_events()
    }
    return result.success, metadata


def log_activity(conn: psycopg.Connection, marketo_id: int, activity_type: str, **fields) -> int:
    """Append one activity as the Actions app would (seller-001 must exist); returns its id."""
    row = {"marketo_id": marketo_id, "activity_type": activity_type, "seller_id": "seller-001",
           "occurred_at": datetime(2026, 6, 30, 12, 0, tzinfo=timezone.utc), **fields}
    with conn.transaction():
        actions_app.write_activities(conn, pd.DataFrame([row]))
    return int(conn.execute("SELECT max(activity_id) FROM actions_sales_activity").fetchone()[0])


def logged(database_url) -> pd.DataFrame:
    with psycopg.connect(database_url) as conn, conn.cursor() as cursor:
        cursor.execute("SELECT a.*, p.salesforce_contact_id, p.salesforce_lead_id FROM actions_sales_activity a "
                       "LEFT JOIN actions_person p USING (marketo_id) ORDER BY activity_id")
        return pd.DataFrame(cursor.fetchall(), columns=[c.name for c in cursor.description])


def states(database_url, destination: str) -> dict[int, tuple[str, str | None]]:
    with psycopg.connect(database_url) as conn:
        rows = conn.execute("SELECT activity_id, state, reason FROM activity_delivery WHERE destination = %s",
                            (destination,)).fetchall()
    return {int(a): (s, r) for a, s, r in rows}


def marketo_custom_activities(sandbox) -> list[dict]:
    """Every custom activity the Marketo sandbox holds (read from its state, not through our client)."""
    custom_ids = sandbox.custom_activity_types.approved_ids()
    found, _, _ = sandbox.scan_activities(0, 10**9, lambda a: a["activityTypeId"] in custom_ids)
    return found


def actions_id_of(activity: dict) -> int:
    return int(next(a["value"] for a in activity["attributes"] if a["apiName"] == "actionsActivityId"))


def salesforce_tasks_by_activity(sandbox) -> dict[str, list[dict]]:
    tasks: dict[str, list[dict]] = {}
    for task in sandbox.records("Task"):
        if task.get("Actions_Activity_Id__c"):
            tasks.setdefault(task["Actions_Activity_Id__c"], []).append(task)
    return tasks
