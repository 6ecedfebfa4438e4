"""Helpers of the unsubscribe tests: an Actions person table from the seed, resources, one sync run."""

from __future__ import annotations

from datetime import datetime, timezone

import dagster as dg
import pandas as pd
import psycopg

from sync_pipelines import store
from sync_pipelines.unsubscribes import assets as unsubscribe_assets
from sync_pipelines.people.fields import EXTRACT_FIELDS
from sync_pipelines.people.transforms import normalize_extract
from sync_pipelines.resources import ActionsDatabase, SalesforceResource
from sync_pipelines.sandbox.seed import generate_people
from sync_pipelines.store.people import ExtractLoad, sync_actions_people

SEED, SIZE = 42, 300  # the Salesforce fixture's org is seeded with the same people


def load_actions_people(database_url: str) -> None:
    """Fill the extract and the Actions person table from the seed, as a person sync would (no Marketo)."""
    rejected = load_raw_people(database_url, generate_people(SEED, SIZE)[list(EXTRACT_FIELDS)])
    assert rejected.empty


def load_raw_people(database_url: str, raw: pd.DataFrame) -> pd.DataFrame:
    """Run Marketo-shaped rows through the person sync's transform and writers; returns the rejected rows."""
    clean, rejected = normalize_extract(raw)
    now = datetime.now(timezone.utc)
    with store.connect(database_url) as conn, conn.transaction():
        extract = ExtractLoad(conn)
        extract.load([clean])
        extract.merge(scope_ids=None)
        sync_actions_people(conn, now)
    return rejected


def salesforce_resource(running) -> SalesforceResource:
    return SalesforceResource(instance_url=running.url, client_id=running.client_id,
                              client_secret=running.client_secret, ca_bundle=running.ca_path)


def run_unsubscribe_sync(running, database_url: str, resources: dict | None = None) -> dict[str, dict]:
    """Materialize the unsubscribe assets once; returns {asset: metadata}."""
    result = dg.materialize(
        [unsubscribe_assets.salesforce_unsubscribes, unsubscribe_assets.marketo_unsubscribe_status],
        resources={"salesforce": salesforce_resource(running), "actions_db": ActionsDatabase(url=database_url),
                   **(resources or {})},
    )
    assert result.success
    return {
        event.asset_key.to_user_string(): {k: v.value for k, v in event.step_materialization_data.materialization.metadata.items()}
        for event in result.get_asset_materialization_events()
    }


def fetch(database_url: str, sql: str, params=()) -> list[tuple]:
    with psycopg.connect(database_url) as conn:
        return conn.execute(sql, params).fetchall()


def person(database_url: str, kind: str) -> tuple[int, str]:
    """(marketo_id, record id) of a person whose Salesforce record is a `kind` ("Contact"/"Lead"), not opted out."""
    column = "salesforce_contact_id" if kind == "Contact" else "salesforce_lead_id"
    other = "TRUE" if kind == "Contact" else "p.salesforce_contact_id IS NULL"
    rows = fetch(
        database_url,
        f"SELECT p.marketo_id, p.{column} FROM actions_person p JOIN marketo_person_extract e USING (marketo_id) "
        f"WHERE p.{column} IS NOT NULL AND {other} AND NOT e.unsubscribed ORDER BY p.marketo_id LIMIT 1",
    )
    return rows[0]
