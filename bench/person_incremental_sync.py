"""Incremental person sync: N changed people, from the sensor tick that sees them to the Actions table.

    .venv/bin/python -m bench.person_incremental_sync [--size 100000] [--changed 1000]

After an initial sync, N owned people get a new title in the sandbox; then one tick of
marketo_person_change_sensor and the run it requests. Prints the tick's and the run's Marketo API calls,
the tick time, the run time, and the time from the start of the tick to the change being in Actions.
"""

from __future__ import annotations

import argparse
import time

import dagster as dg
import httpx
import psycopg

from bench.common import fresh_database, report, sandbox_marketo, sandbox_process
from sync_pipelines import people
from sync_pipelines.people.sensors import marketo_person_change_sensor
from sync_pipelines.resources import ActionsDatabase
from sync_pipelines.store.sync_control import start_sync


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=100_000)
    parser.add_argument("--changed", type=int, default=1_000)
    args = parser.parse_args()
    with sandbox_process(args.size) as sandbox, fresh_database() as database_url, dg.DagsterInstance.ephemeral() as instance:
        marketo = sandbox_marketo(sandbox)
        resources = {"marketo": marketo, "actions_db": ActionsDatabase(url=database_url)}
        assert dg.materialize(people.ASSETS, resources=resources).success
        with psycopg.connect(database_url, autocommit=True) as conn:
            start_sync(conn)  # the sensor follows Marketo once the admin has started the sync
        with dg.build_sensor_context(instance=instance, resources=resources) as sensor_context:
            cursor = marketo_person_change_sensor(sensor_context).cursor

        with psycopg.connect(database_url) as conn:
            changed_ids = [row[0] for row in conn.execute("SELECT marketo_id FROM actions_person ORDER BY marketo_id LIMIT %s", (args.changed,))]
        with httpx.Client(base_url=sandbox["marketo_url"], trust_env=False) as admin:
            for marketo_id in changed_ids:
                admin.patch(f"/sandbox/leads/{marketo_id}", json={"title": "Changed For The Benchmark"}).raise_for_status()

        def api_calls() -> int:
            return httpx.get(f"{sandbox['marketo_url']}/sandbox/stats", trust_env=False).json()["api_calls"]

        calls_before_tick = api_calls()
        tick_started = time.monotonic()
        with dg.build_sensor_context(cursor=cursor, instance=instance, resources=resources) as sensor_context:
            tick = marketo_person_change_sensor(sensor_context)
        tick_seconds = time.monotonic() - tick_started
        tick_calls = api_calls() - calls_before_tick
        (request,) = tick.run_requests
        run_started = time.monotonic()
        result = dg.materialize(people.ASSETS, resources=resources, run_config=request.run_config)
        run_seconds = time.monotonic() - run_started
        total_seconds = time.monotonic() - tick_started
        assert result.success
        with psycopg.connect(database_url) as conn:
            (updated,) = conn.execute("SELECT count(*) FROM actions_person WHERE title = 'Changed For The Benchmark'").fetchone()
        extract = result.asset_materializations_for_node("marketo_person_extract")[0].metadata
        figures = {
            "size": args.size,
            "changed_people": args.changed,
            "people_updated_in_actions": updated,
            "tick_seconds": round(tick_seconds, 2),
            "run_seconds": round(run_seconds, 2),
            "tick_start_to_actions_seconds": round(total_seconds, 2),
            "run_marketo_api_calls": extract["marketo_api_calls"].value,
            "tick_marketo_api_calls": tick_calls,
        }
    report("person_incremental_sync", figures)


if __name__ == "__main__":
    main()
