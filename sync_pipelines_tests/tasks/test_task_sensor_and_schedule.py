"""salesforce_task_change_sensor and task_sync_schedule: run requests, run keys and the cursor."""

from datetime import date, datetime

import dagster as dg
import pytest

from sync_pipelines.store import tasks as task_store
from sync_pipelines.tasks.schedules import task_sync_schedule
from sync_pipelines.tasks.sensors import salesforce_task_change_sensor


@pytest.fixture
def instance():
    with dg.DagsterInstance.ephemeral() as ephemeral:
        yield ephemeral


def tick(world, instance, cursor):
    with dg.build_sensor_context(cursor=cursor, instance=instance, resources=world.resources()) as context:
        return salesforce_task_change_sensor(context)


def test_sensor_skips_while_the_sync_is_off(world, instance):
    world.sf.create("Task", Subject="Changed", ActivityDate=date(2026, 7, 3))
    result = tick(world, instance, None)
    assert not result.run_requests and result.cursor is None


def test_sensor_requests_the_first_import_once_per_enable(world, instance):
    task_store.enable_task_sync(world.conn, world.now)
    result = tick(world, instance, None)
    (request,) = result.run_requests
    assert request.run_key == f"tasks-first-import-{world.now.isoformat()}"
    assert tick(world, instance, None).run_requests[0].run_key == request.run_key  # same key: one run


def test_sensor_requests_a_run_only_for_changes_the_sync_did_not_write(enabled_world, instance):
    world = enabled_world
    quiet = tick(world, instance, None)
    assert not quiet.run_requests
    start = quiet.cursor

    salesforce_id = world.sf.create("Task", Subject="New", ActivityDate=date(2026, 7, 3))
    stamp = world.sf_task(salesforce_id)["SystemModstamp"]
    world.advance(minutes=1)
    changed = tick(world, instance, start)
    (request,) = changed.run_requests
    assert request.run_key == f"salesforce-tasks-{stamp.isoformat()}"
    assert datetime.fromisoformat(changed.cursor) == stamp
    assert not tick(world, instance, changed.cursor).run_requests  # nothing newer

    # The sync pushes an Actions task: Salesforce changes, but only by the sync's own write.
    world.create(subject="From Actions", due_date=date(2026, 7, 3))
    world.advance(minutes=1)
    world.run()
    own_write = tick(world, instance, changed.cursor)
    assert not own_write.run_requests
    assert datetime.fromisoformat(own_write.cursor) > stamp  # the cursor still moves past it


def test_schedule_runs_the_job_only_while_enabled(world, instance):
    at = datetime(2026, 7, 1, 9, 10).astimezone()
    with dg.build_schedule_context(instance=instance, scheduled_execution_time=at,
                                   resources={"actions_db": world.resources()["actions_db"]}) as context:
        assert isinstance(task_sync_schedule(context), dg.SkipReason)
        task_store.enable_task_sync(world.conn, world.now)
        request = task_sync_schedule(context)
    assert isinstance(request, dg.RunRequest) and request.run_key == f"task-sync-{at.isoformat()}"


def test_task_definitions_resolve():
    from sync_pipelines import tasks
    from sync_pipelines.resources import shared_resources

    defs = dg.Definitions.merge(tasks.defs, dg.Definitions(resources=shared_resources()))
    job = defs.resolve_job_def("task_sync_job")
    assert {k.to_user_string() for k in job.asset_layer.executable_asset_keys} == {
        "salesforce_tasks", "actions_tasks", "command_center_tasks"}
    assert defs.resolve_sensor_def("salesforce_task_change_sensor")
    assert defs.resolve_schedule_def("task_sync_schedule")
