"""A dry run of the task sync changes nothing in PostgreSQL or Salesforce, and reports the counts of the real
run right after it (the same clock for both)."""

from datetime import date

import dagster as dg

from sync_pipelines import actions_app
from sync_pipelines.dry_run import DRY_RUN_TAG
from sync_pipelines.store.task_sellers import read_task_sellers
from sync_pipelines.tasks.jobs import task_sync_run_config
from sync_pipelines_tests.tasks.conftest import TASK_ASSETS
from sync_pipelines_tests.fixtures.database import table_snapshot

DUE = date(2026, 7, 3)
WRITERS = ("salesforce_tasks", "actions_tasks")
# What differs between a dry and a real run by design: the flag itself, the calls it did not make, timing.
NOT_COMPARED = {"dry_run", "salesforce_api_calls", "duration_seconds"}
TABLES = ("actions_task", "actions_task_synced", "task_sync_seller", "task_sync_state", "salesforce_task_change",
          "task_quarantine")


def database_snapshot(database_url) -> dict:
    return table_snapshot(database_url, TABLES)


def salesforce_snapshot(world) -> dict:
    # The REST write endpoints (sObject Collections and single records); the sync reads through SOQL queries.
    writes = {path: count for path, count in world.sf.calls_by_path.items()
              if "/composite/" in path or "/sobjects/" in path}
    return {"tasks": world.sf.records("Task", include_deleted=True), "write_calls": writes}


def sync(world, *, dry_run: bool) -> dict[str, dict]:
    run_config = task_sync_run_config(world.now.isoformat())
    result = dg.materialize(TASK_ASSETS, resources=world.resources(), run_config=run_config,
                            tags={DRY_RUN_TAG: "true"} if dry_run else None)
    assert result.success
    events = result.get_asset_materialization_events()
    assert {event.materialization.tags.get(DRY_RUN_TAG) for event in events} == {"true" if dry_run else None}
    metadata = {
        event.asset_key.to_user_string(): {k: v.value for k, v in event.materialization.metadata.items()}
        for event in result.get_asset_materialization_events()
    }
    assert all(values["dry_run"] is dry_run for values in metadata.values())
    return {asset: {k: v for k, v in values.items() if k not in NOT_COMPARED} for asset, values in metadata.items()}


def dry_then_real(world, *, enable: bool = False) -> dict[str, dict]:
    """Dry run (asserting it changed nothing anywhere), then the real run with the same counts; returns them."""
    if enable:
        world.enable()  # the seller's choice, recorded by the Actions app
    before = database_snapshot(world.database_url), salesforce_snapshot(world)
    dry = sync(world, dry_run=True)
    assert (database_snapshot(world.database_url), salesforce_snapshot(world)) == before, "nothing written anywhere"
    real = sync(world, dry_run=False)
    assert dry == real
    return real


def test_dry_run_writes_nothing_and_predicts_the_real_run(world):
    sf_ids = [world.sf.create("Task", Subject=f"Call back {n}", ActivityDate=DUE, WhoId=world.who_id) for n in range(3)]
    world.create(subject="Made before the sync", due_date=DUE)
    world.advance(minutes=5)

    # The first enable: even the sync's record of it (task_sync_seller) is rolled back by the dry run.
    first = dry_then_real(world, enable=True)
    assert first["salesforce_tasks"]["mode"] == "initial"
    assert first["actions_tasks"]["pulled_inserted"] == 3
    assert [s.pushes for s in read_task_sellers(world.conn)] == [True]

    # Changes on both sides: an Actions create, edit and delete, a Salesforce edit.
    world.advance(minutes=5)
    created = world.create(subject="Made after enabling", due_date=DUE, who_id=world.who_id)
    edited, deleted = (world.actions_by_salesforce_id(i)["task_id"] for i in sf_ids[:2])
    world.edit(edited, subject="Call back, edited in Actions")
    actions_app.delete_task(world.conn, deleted, world.now)
    world.sf.update("Task", sf_ids[2], Subject="Edited in Salesforce")
    world.advance(minutes=1)

    changes = dry_then_real(world)
    pushed = changes["actions_tasks"]
    assert (pushed["pushed_created"], pushed["pushed_updated"], pushed["pushed_deleted"]) == (1, 1, 1)
    assert pushed["pulled_updated"] == 1
    assert sorted(pushed["sample_pushed_task_ids"]) == sorted([created, edited, deleted])
