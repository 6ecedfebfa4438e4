"""Benchmark: fan out N generated activities to the Marketo and Salesforce emulators; print calls and time.

    .venv/bin/python -m bench.activity_fanout 100000
Marketo's rate limit is lifted in the emulator and the client here, so the time measured is the sync's
own work; with the real limit (50 calls / 20 s for one integration) add 0.4 s per Marketo call.
"""

import sys
import tempfile
import time
import uuid

import dagster as dg
import psycopg

from bench.common import report
from sync_pipelines.activities.sandbox_activity import seed_activity_log
from sync_pipelines.resources import ActionsDatabase, MarketoResource
from sync_pipelines.sandbox.salesforce_app import serve_salesforce
from sync_pipelines.sandbox.salesforce_state import SalesforceSandboxConfig
from sync_pipelines.sandbox.servers import MarketoSandboxConfig, serve_marketo
from sync_pipelines_tests.activities.helpers import ACTIVITY_ASSETS, resources, sync_people
from sync_pipelines_tests.fixtures.database import _admin_url


def main(count: int) -> None:
    admin = _admin_url()
    name = f"bench_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    url = psycopg.conninfo.make_conninfo(admin, dbname=name)
    try:
        config = MarketoSandboxConfig(size=2000, calls_per_window=10**6, daily_quota=10**6)
        with serve_marketo(config) as marketo, serve_salesforce(SalesforceSandboxConfig(size=2000)) as salesforce:
            sync_people(marketo, url)
            with psycopg.connect(url, autocommit=True) as conn:
                seed_activity_log(conn, count)
            res = resources(marketo, salesforce, url)
            res["marketo"] = MarketoResource(base_url=marketo.url, client_id=marketo.client_id,
                                             client_secret=marketo.client_secret, calls_per_window=10**6)
            started = time.monotonic()
            result = dg.materialize(ACTIVITY_ASSETS, resources=res)
            elapsed = time.monotonic() - started
            meta = {e.asset_key.to_user_string(): {k: v.value for k, v in e.step_materialization_data.materialization.metadata.items()}
                    for e in result.get_asset_materialization_events()}
            m, s = meta["marketo_sales_activities"], meta["salesforce_activity_tasks"]
            report("activity_fanout", {
                "activities": count,
                "wall_seconds": round(elapsed, 1),
                "marketo_api_calls": m["marketo_api_calls"],
                "marketo_calls_per_1000": round(1000 * m["marketo_api_calls"] / count, 2),
                "salesforce_api_calls": s["salesforce_api_calls"],
                "salesforce_tasks": s["tasks_delivered"],
                "salesforce_calls_per_1000": round(1000 * s["salesforce_api_calls"] / count, 2),
                # Marketo allows 100 calls per 20 s: the inserts alone cannot take less than this.
                "marketo_rate_limit_floor_seconds": 20 * (m["marketo_api_calls"] // 100),
            })
    finally:
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 10_000)
