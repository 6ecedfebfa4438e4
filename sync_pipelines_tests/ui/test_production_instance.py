"""deploy/dagster.yaml loads as a Dagster instance on PostgreSQL, with the production settings it promises."""

from __future__ import annotations

import shutil
import uuid
from pathlib import Path

import dagster as dg
import pytest
from dagster._core.run_coordinator import QueuedRunCoordinator
from dagster._utils.tags import TagConcurrencyLimitsCounter  # what the daemon's dequeuer counts with

from sync_pipelines.paths import PROJECT_ROOT

SERVICE_TAG = "sync_pipelines/service"


@pytest.fixture
def production_instance(tmp_path: Path, dagster_storage_url: str, monkeypatch) -> dg.DagsterInstance:
    """A DagsterInstance whose home holds deploy/dagster.yaml, its storage in a fresh database."""
    shutil.copyfile(PROJECT_ROOT / "deploy" / "dagster.yaml", tmp_path / "dagster.yaml")
    monkeypatch.setenv("DAGSTER_POSTGRES_URL", dagster_storage_url)
    with dg.DagsterInstance.from_config(str(tmp_path)) as instance:
        yield instance


def test_production_instance_stores_runs_in_postgres(production_instance):
    assert type(production_instance.run_storage).__name__ == "PostgresRunStorage"
    assert type(production_instance.event_log_storage).__name__ == "PostgresEventLogStorage"
    assert type(production_instance.schedule_storage).__name__ == "PostgresScheduleStorage"
    run = add_run(production_instance, dg.DagsterRunStatus.NOT_STARTED, "marketo")
    assert production_instance.get_run_by_id(run.run_id).tags[SERVICE_TAG] == "marketo"


def test_production_instance_queues_runs_within_the_service_limits(production_instance):
    coordinator = production_instance.run_coordinator
    assert isinstance(coordinator, QueuedRunCoordinator)
    queue = production_instance.get_concurrency_config().run_queue_config
    assert {(limit["key"], limit["value"]): limit["limit"] for limit in queue.tag_concurrency_limits} == {
        (SERVICE_TAG, "marketo"): 2,
        (SERVICE_TAG, "salesforce"): 2,
    }

    # Two Marketo runs in progress: the dequeuer holds back a third, and lets a Salesforce run start.
    for _ in range(2):
        add_run(production_instance, dg.DagsterRunStatus.STARTED, "marketo")
    in_progress = production_instance.get_runs(dg.RunsFilter(statuses=[dg.DagsterRunStatus.STARTED]))
    counter = TagConcurrencyLimitsCounter(list(queue.tag_concurrency_limits), list(in_progress))
    assert counter.is_blocked(add_run(production_instance, dg.DagsterRunStatus.NOT_STARTED, "marketo"))
    assert not counter.is_blocked(add_run(production_instance, dg.DagsterRunStatus.NOT_STARTED, "salesforce"))


def test_production_instance_retries_and_monitors_runs(production_instance):
    assert production_instance.run_retries_enabled
    assert production_instance.run_retries_max_retries == 2
    assert production_instance.run_monitoring_enabled
    assert production_instance.run_monitoring_start_timeout_seconds == 300
    assert production_instance.run_monitoring_cancel_timeout_seconds == 300
    assert production_instance.run_monitoring_max_runtime_seconds == 21600
    assert not production_instance.telemetry_enabled


def add_run(instance: dg.DagsterInstance, status: dg.DagsterRunStatus, service: str) -> dg.DagsterRun:
    """Record a run of person_sync_job bound to `service` in the instance's run storage."""
    return instance.add_run(
        dg.DagsterRun(job_name="person_sync_job", run_id=str(uuid.uuid4()), status=status, tags={SERVICE_TAG: service})
    )
