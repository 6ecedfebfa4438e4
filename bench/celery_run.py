"""Benchmark: person_sync_job and activity_fanout_job in one process vs through the Celery executor on two
local workers (each --concurrency 1); prints each job's wall time both ways.

    .venv/bin/python -m bench.celery_run [--people 300] [--activities 120]

The same set-up as sync_pipelines_tests/distributed/test_celery_run.py: fresh emulators on loopback (same
seeds each way), a fresh Actions database each way, Dagster's storage in PostgreSQL, the runs through
`dagster job execute` (so each figure includes the CLI's start, about the same both ways). Needs the broker
at 127.0.0.1:5672. Figures only; nothing is asserted.
"""

from __future__ import annotations

import argparse
import tempfile
import uuid
from contextlib import contextmanager
from pathlib import Path

import psycopg

from bench.common import LOCAL_SERVER, fresh_database, report
from sync_pipelines.sandbox.activity_log import seed_activity_log
from sync_pipelines_tests.distributed.harness import Deployment, broker_problem, served_emulators
from sync_pipelines_tests.ui.webserver import sqlalchemy_postgres_url


@contextmanager
def dagster_storage():
    name = f"sync_bench_dagster_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(LOCAL_SERVER, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield sqlalchemy_postgres_url(psycopg.conninfo.make_conninfo(LOCAL_SERVER, dbname=name))
    finally:
        with psycopg.connect(LOCAL_SERVER, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def both_jobs(deployment: Deployment, database_url: str, executor: str, activities: int, run_config=None) -> dict:
    people = deployment.run_job("person_sync_job", executor=executor, run_config=run_config)
    if not people.success:
        raise RuntimeError(people.output[-3000:])
    with psycopg.connect(database_url, autocommit=True) as conn:
        seed_activity_log(conn, activities)
    fanout = deployment.run_job("activity_fanout_job", executor=executor, run_config=run_config)
    if not fanout.success:
        raise RuntimeError(fanout.output[-3000:])
    return {f"{executor}_person_sync_job_seconds": round(people.seconds, 1),
            f"{executor}_activity_fanout_job_seconds": round(fanout.seconds, 1)}


def main(people: int, activities: int) -> None:
    problem = broker_problem()
    if problem:
        raise SystemExit(problem)
    figures: dict = {"people": people, "activities": activities, "celery_workers": 2}
    with tempfile.TemporaryDirectory(prefix="bench_celery_") as home, dagster_storage() as storage:
        for executor in ("in_process", "celery"):
            with fresh_database() as database_url, served_emulators(people) as (_, _, services):
                deployment = Deployment.create(Path(home) / executor, dagster_storage_url=storage,
                                               database_url=database_url, services=services)
                if executor == "in_process":
                    figures.update(both_jobs(deployment, database_url, executor, activities))
                    continue
                with deployment.celery_workers(2):
                    figures.update(both_jobs(deployment, database_url, executor, activities,
                                             deployment.celery_run_config()))
    report("celery_run", figures)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--people", type=int, default=300)
    parser.add_argument("--activities", type=int, default=120)
    arguments = parser.parse_args()
    main(arguments.people, arguments.activities)
