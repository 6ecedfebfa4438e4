"""salesforce_task_change_sensor and task_sync_schedule: run requests, run keys and the cursor."""

from datetime import date, datetime

import dagster as dg
import pytest

from sync_pipelines.store.sync_control import NOT_STARTED, stop_sync
from sync_pipelines.tasks.schedules import task_sync_schedule
from sync_pipelines.tasks.sensors import read_cursor, salesforce_task_change_sensor


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


def test_sensor_requests_a_run_when_a_seller_turns_task_sync_on(world, instance):
    world.enable()
    result = tick(world, instance, None)
    (request,) = result.run_requests
    assert request.run_key.startswith("tasks-settings-") and request.tags["sync_pipelines/trigger"] == "settings"
    assert tick(world, instance, None).run_requests[0].run_key == request.run_key  # same key: one run
    world.run()  # the run applies the setting and imports
    assert not tick(world, instance, None).run_requests


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
    assert request.run_key == f"tasks-salesforce-{stamp.isoformat()}-actions-none"
    assert read_cursor(changed.cursor)["salesforce"] == stamp
    assert not tick(world, instance, changed.cursor).run_requests  # nothing newer
    world.run()

    # Another user's task changes in Salesforce: not a seller's, not a change to sync.
    other = next(r["Id"] for r in world.sf.records("User") if r["Id"] != world.owner_id)
    world.sf.create("Task", Subject="Someone else's", ActivityDate=date(2026, 7, 3), OwnerId=other)
    world.advance(minutes=1)
    assert not tick(world, instance, changed.cursor).run_requests


def test_sensor_requests_a_run_for_an_actions_edit_without_any_salesforce_change(enabled_world, instance):
    world = enabled_world
    start = tick(world, instance, None).cursor
    task_id = world.create(subject="From Actions", due_date=date(2026, 7, 3))
    created = tick(world, instance, start)
    (request,) = created.run_requests
    assert request.tags["sync_pipelines/trigger"] == "actions_change"
    assert read_cursor(created.cursor)["actions"] == world.actions_task(task_id)["updated_at"]
    assert not tick(world, instance, created.cursor).run_requests  # the same change: asked once

    world.advance(minutes=1)
    world.run()  # pushed: nothing waits any more, and the sync's own write is not a change
    pushed = tick(world, instance, created.cursor)
    assert not pushed.run_requests

    world.advance(minutes=1)
    world.edit(task_id, subject="Edited in Actions")
    edited = tick(world, instance, pushed.cursor)
    (request,) = edited.run_requests
    assert request.run_key.endswith(f"-actions-{world.now.isoformat()}")
    assert read_cursor(edited.cursor)["actions"] == world.now


def test_sensor_and_schedule_skip_until_the_sync_is_started(enabled_world, instance):
    world = enabled_world
    stop_sync(world.conn)
    world.create(subject="Waits for the switch", due_date=date(2026, 7, 3))
    result = tick(world, instance, None)
    assert not result.run_requests and result.skip_reason.skip_message == NOT_STARTED
    at = datetime(2026, 7, 1, 9, 10).astimezone()
    with dg.build_schedule_context(instance=instance, scheduled_execution_time=at,
                                   resources={"actions_db": world.resources()["actions_db"]}) as context:
        assert task_sync_schedule(context).skip_message == NOT_STARTED


def test_schedule_runs_the_job_only_while_enabled(world, instance):
    at = datetime(2026, 7, 1, 9, 10).astimezone()
    with dg.build_schedule_context(instance=instance, scheduled_execution_time=at,
                                   resources={"actions_db": world.resources()["actions_db"]}) as context:
        assert isinstance(task_sync_schedule(context), dg.SkipReason)
        world.enable()
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
