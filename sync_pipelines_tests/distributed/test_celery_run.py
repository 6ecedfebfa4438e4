"""A real distributed run: person_sync_job and activity_fanout_job through the Celery executor, on two Celery
worker processes started here, end with the same Actions tables as the same jobs run in one process.

Each way gets fresh emulators (same seeds) and a fresh Actions database; the runs go through the `dagster` CLI
on an instance stored in PostgreSQL, as in a deployment. Skipped, saying why, where no broker answers at
127.0.0.1:5672 (`.ci/run` starts rabbitmq-server when it can).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import psycopg
import pytest

from sync_pipelines.sandbox.activity_log import seed_activity_log
from sync_pipelines.dry_run import DRY_RUN_TAG
from sync_pipelines.store.migrate import migrate_url
from sync_pipelines_tests.distributed.harness import Deployment, actions_end_state, broker_problem, served_emulators

ACTIVITIES = 120  # a small log: both destinations, several batches of neither
MARKETO_WRITES = ("/rest/v1/activities/external.json", "/rest/v1/activities/external/type.json")
_BROKER_PROBLEM = broker_problem()
pytestmark = pytest.mark.skipif(_BROKER_PROBLEM is not None, reason=f"Celery test skipped: {_BROKER_PROBLEM}")


@pytest.fixture
def make_database(postgres_admin_url: str) -> Iterator:
    """Factory of fresh, migrated Actions databases, dropped after the test."""
    names: list[str] = []

    def make() -> str:
        names.append(f"sync_celery_{uuid.uuid4().hex[:12]}")
        with psycopg.connect(postgres_admin_url, autocommit=True) as admin:
            admin.execute(f'CREATE DATABASE "{names[-1]}"')
        url = psycopg.conninfo.make_conninfo(postgres_admin_url, dbname=names[-1])
        migrate_url(url)
        return url

    yield make
    with psycopg.connect(postgres_admin_url, autocommit=True) as admin:
        for name in names:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def sync_people_then_activities(deployment: Deployment, database_url: str, executor: str, run_config=None) -> None:
    """person_sync_job (a full extract), the Actions app logs activities, activity_fanout_job."""
    people = deployment.run_job("person_sync_job", executor=executor, run_config=run_config)
    assert people.success, people.output[-4000:]
    with psycopg.connect(database_url, autocommit=True) as conn:
        assert seed_activity_log(conn, ACTIVITIES) == ACTIVITIES
    fanout = deployment.run_job("activity_fanout_job", executor=executor, run_config=run_config)
    assert fanout.success, fanout.output[-4000:]


def steps_run_by(deployment: Deployment, worker: str) -> int:
    """Steps (Celery tasks execute_plan) this worker finished, from its log."""
    log = (deployment.home / f"{worker}.log").read_text(errors="replace")
    return sum("execute_plan[" in line and "succeeded in" in line for line in log.splitlines())


def test_celery_run_ends_where_an_in_process_run_ends(tmp_path, make_database, dagster_storage_url):
    in_process_db, celery_db = make_database(), make_database()
    with served_emulators() as (_, _, services):
        local = Deployment.create(tmp_path / "in_process", dagster_storage_url=dagster_storage_url,
                                  database_url=in_process_db, services=services)
        sync_people_then_activities(local, in_process_db, "in_process")
    expected = actions_end_state(in_process_db)
    assert len(expected["actions_person"]) > 100 and len(expected["activity_delivery"]) > ACTIVITIES

    with served_emulators() as (marketo, _, services):
        distributed = Deployment.create(tmp_path / "celery", dagster_storage_url=dagster_storage_url,
                                        database_url=celery_db, services=services)
        with distributed.celery_workers(2) as workers:
            empty = actions_end_state(celery_db)
            # A dry run of several steps cannot share its rolled-back transaction across workers: refused
            # before any step starts, nothing written, nothing sent.
            dry = distributed.run_job("person_sync_job", executor="celery", run_config=distributed.celery_run_config(),
                                      tags={DRY_RUN_TAG: "true"})
            assert not dry.success and "Refused before any step started" in dry.output
            assert actions_end_state(celery_db) == empty
            assert marketo.sandbox.calls_by_path == {}, "the refused dry run made no Marketo call"

            sync_people_then_activities(distributed, celery_db, "celery", distributed.celery_run_config())
            assert all(steps_run_by(distributed, worker) > 0 for worker in workers), distributed.worker_logs()
        assert any(path in marketo.sandbox.calls_by_path for path in MARKETO_WRITES)
    distributed_state = actions_end_state(celery_db)
    assert [table for table in expected if distributed_state[table] != expected[table]] == []
    assert distributed_state == expected
