"""deploy/dagster.yaml loads as a Dagster instance on PostgreSQL, with the production settings it promises."""

from __future__ import annotations

import shutil
import uuid
from pathlib import Path

import dagster as dg
import pytest
from dagster._core.run_coordinator import QueuedRunCoordinator

from sync_pipelines.definitions import defs
from sync_pipelines.paths import PROJECT_ROOT


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
    run = add_run(production_instance, dg.DagsterRunStatus.NOT_STARTED)
    assert production_instance.get_run_by_id(run.run_id).job_name == "person_sync_job"


def test_production_instance_limits_the_service_pools(production_instance):
    assert isinstance(production_instance.run_coordinator, QueuedRunCoordinator)
    concurrency = production_instance.get_concurrency_config()
    assert concurrency.run_queue_config.max_concurrent_runs == 8
    assert not concurrency.run_queue_config.tag_concurrency_limits  # pools replace the run-tag limits
    assert concurrency.pool_config.pool_granularity.value == "op"
    assert concurrency.pool_config.default_pool_limit == 2
    # The steps that call each service are in its pool, so the limit holds however a run is launched.
    pools = {
        key.to_user_string(): assets_def.op.pool
        for assets_def in defs.resolve_asset_graph().assets_defs if assets_def.is_executable
        for key in assets_def.keys
    }
    assert pools["marketo_person_extract"] == pools["marketo_sales_activities"] == "marketo"
    assert pools["salesforce_activity_tasks"] == pools["salesforce_unsubscribes"] == "salesforce"


def test_production_instance_monitors_runs_and_leaves_retries_to_the_steps(production_instance):
    assert not production_instance.run_retries_enabled  # one retry mechanism: the step's (quota.py)
    assert production_instance.run_monitoring_enabled
    assert production_instance.run_monitoring_start_timeout_seconds == 300
    assert production_instance.run_monitoring_cancel_timeout_seconds == 300
    assert production_instance.run_monitoring_max_runtime_seconds == 21600
    assert not production_instance.telemetry_enabled


def add_run(instance: dg.DagsterInstance, status: dg.DagsterRunStatus) -> dg.DagsterRun:
    """Record a run of person_sync_job in the instance's run storage."""
    return instance.add_run(dg.DagsterRun(job_name="person_sync_job", run_id=str(uuid.uuid4()), status=status))
