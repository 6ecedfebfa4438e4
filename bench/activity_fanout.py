"""Benchmark: fan out N generated activities to the Marketo and Salesforce emulators; print calls and time.

    .venv/bin/python -m bench.activity_fanout 100000

The emulators run in their own process, as the real services would. Marketo's rate limit is lifted in
the emulator and the client here, so the time measured is the sync's own work; with the real limit (100
calls / 20 s) the Marketo inserts alone take at least `marketo_rate_limit_floor_seconds`.
"""

import sys
import time

import dagster as dg
import psycopg

from bench.common import fresh_database, report, sandbox_marketo, sandbox_process
from sync_pipelines import activities, people
from sync_pipelines.sandbox.activity_log import seed_activity_log
from sync_pipelines.activities.settings import ActivitySettings
from sync_pipelines.resources import ActionsDatabase, SalesforceResource

PEOPLE = 2000
UNLIMITED = str(10**9)


def sandbox_resources(sandbox: dict, database_url: str) -> dict:
    return {
        "marketo": sandbox_marketo(sandbox, calls_per_window=10**6),
        "salesforce": SalesforceResource(
            instance_url=sandbox["salesforce_url"], client_id=sandbox["salesforce_client_id"],
            client_secret=sandbox["salesforce_client_secret"], ca_bundle=sandbox["salesforce_ca_bundle"],
        ),
        "actions_db": ActionsDatabase(url=database_url),
        "activity_settings": ActivitySettings(),
    }


def main(count: int) -> None:
    options = ("--calls-per-window", UNLIMITED, "--daily-quota", UNLIMITED)
    with sandbox_process(PEOPLE, 42, *options) as sandbox, fresh_database() as database_url:
        resources = sandbox_resources(sandbox, database_url)
        person_resources = {name: resources[name] for name in ("marketo", "actions_db")}
        assert dg.materialize(people.ASSETS, resources=person_resources).success  # the owned people in Actions
        with psycopg.connect(database_url, autocommit=True) as conn:
            seed_activity_log(conn, count)
        instance = dg.DagsterInstance.ephemeral()  # before the clock, as in the person benchmark
        started = time.monotonic()
        result = dg.materialize(activities.ASSETS, resources=resources, instance=instance)
        elapsed = time.monotonic() - started
        assert result.success
    meta = {
        event.asset_key.to_user_string(): {k: v.value for k, v in event.step_materialization_data.materialization.metadata.items()}
        for event in result.get_asset_materialization_events()
    }
    marketo, salesforce = meta["marketo_sales_activities"], meta["salesforce_activity_tasks"]
    report("activity_fanout", {
        "activities": count,
        "wall_seconds": round(elapsed, 1),
        "marketo_api_calls": marketo["marketo_api_calls"],
        "marketo_calls_per_1000": round(1000 * marketo["marketo_api_calls"] / count, 2),
        "salesforce_api_calls": salesforce["salesforce_api_calls"],
        "salesforce_tasks": salesforce["tasks_delivered"],
        "salesforce_calls_per_1000": round(1000 * salesforce["salesforce_api_calls"] / count, 2),
        # Marketo allows 100 calls per 20 s: the inserts alone cannot take less than this.
        "marketo_rate_limit_floor_seconds": 20 * (marketo["marketo_api_calls"] // 100),
    })


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 10_000)
