"""Shared pieces of the reliability tests: resources for served emulators, runs, oracles from the seed."""

from __future__ import annotations

from typing import Any

import dagster as dg
import pandas as pd
import psycopg

from sync_pipelines.people.fields import SYNCED_FIELDS
from sync_pipelines.resources import ActionsDatabase, MarketoResource, SalesforceResource
from sync_pipelines.sandbox.seed import SANDBOX_CREATED_FROM

ACTIONS_COLUMNS = list(SYNCED_FIELDS.values())


def marketo_resource(served, **overrides: Any) -> MarketoResource:
    """MarketoResource on a served sandbox: one smart-list export job, fast polls, short backoff."""
    settings = dict(base_url=served.url, client_id=served.client_id, client_secret=served.client_secret,
                    bulk_poll_max_seconds=0.05, window_seconds=served.sandbox.config.window_seconds,
                    extract_since=SANDBOX_CREATED_FROM.isoformat(), smart_list_id=1)
    return MarketoResource(**{**settings, **overrides})


def salesforce_resource(running) -> SalesforceResource:
    return SalesforceResource(instance_url=running.url, client_id=running.client_id,
                              client_secret=running.client_secret, ca_bundle=running.ca_path)


def resources(database_url: str, marketo=None, salesforce=None) -> dict[str, Any]:
    found: dict[str, Any] = {"actions_db": ActionsDatabase(url=database_url)}
    if marketo is not None:
        found["marketo"] = marketo_resource(marketo)
    if salesforce is not None:
        found["salesforce"] = salesforce_resource(salesforce)
    return found


def materialization_metadata(result: dg.ExecuteInProcessResult) -> dict[str, dict]:
    """{asset name: {metadata key: value}} of a run's materializations."""
    return {
        event.asset_key.to_user_string(): {
            k: v.value for k, v in event.step_materialization_data.materialization.metadata.items()}
        for event in result.get_asset_materialization_events()
    }


def expected_actions_people(leads: pd.DataFrame) -> set[tuple]:
    """The Actions person rows the sync must produce from these Marketo leads (owned people, 11 fields)."""
    owned = leads[leads["sfdcLeadOwnerId"].notna() & (leads["sfdcLeadOwnerId"] != "")]
    rows = owned[list(SYNCED_FIELDS)].rename(columns=SYNCED_FIELDS)[ACTIONS_COLUMNS]
    return {tuple(None if pd.isna(v) or v == "" else v for v in row) for row in rows.itertuples(index=False)}


def actual_actions_people(database_url: str) -> set[tuple]:
    return set(fetch(database_url, f"SELECT {', '.join(ACTIONS_COLUMNS)} FROM actions_person"))


def fetch(database_url: str, sql: str, params: Any = ()) -> list[tuple]:
    with psycopg.connect(database_url) as conn:
        return conn.execute(sql, params).fetchall()
