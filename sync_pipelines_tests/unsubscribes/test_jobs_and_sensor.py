"""The unsubscribe job, its schedule and the sensor that follows person syncs."""

import dagster as dg
import psycopg

from sync_pipelines import unsubscribes
from sync_pipelines.unsubscribes.sensors import unsubscribe_after_person_sync_sensor
from sync_pipelines_tests.unsubscribes.helpers import fetch, load_actions_people, person, run_unsubscribe_sync


def test_the_domain_defs_resolve_with_the_fixed_names():
    from sync_pipelines.resources import shared_resources

    repository = dg.Definitions.merge(unsubscribes.defs, dg.Definitions(resources=shared_resources())).get_repository_def()
    job = repository.get_job("unsubscribe_sync_job")
    assert {k.to_user_string() for k in job.asset_layer.executable_asset_keys} == {
        "salesforce_unsubscribes", "marketo_unsubscribe_status"}
    assert repository.get_schedule_def("unsubscribe_sync_schedule").cron_schedule == "*/15 * * * *"
    assert repository.get_sensor_def("unsubscribe_after_person_sync_sensor").job_name == "unsubscribe_sync_job"


def test_the_marketo_flags_derive_from_the_people_extract():
    deps = {key.to_user_string() for key in unsubscribes.marketo_unsubscribe_status.asset_deps[
        dg.AssetKey("marketo_unsubscribe_status")]}
    assert "marketo_person_extract" in deps


def _tick(instance: dg.DagsterInstance, cursor: str | None = None):
    """One evaluation as the sensor daemon runs it: Dagster's asset-sensor wrapper decides the cursor."""
    return unsubscribe_after_person_sync_sensor.evaluate_tick(dg.build_sensor_context(instance=instance, cursor=cursor))


def _person_sync(instance: dg.DagsterInstance, *, dry_run: bool = False, confirmation: bool = False) -> int:
    metadata = {"confirmed_unchanged": True} if confirmation else {"dry_run": dry_run}
    instance.report_runless_asset_event(dg.AssetMaterialization("actions_people", metadata=metadata))
    return instance.fetch_materializations(dg.AssetKey("actions_people"), limit=1).records[0].storage_id


def test_the_sensor_is_a_dagster_asset_sensor_on_actions_people():
    assert isinstance(unsubscribe_after_person_sync_sensor, dg.AssetSensorDefinition)
    assert unsubscribe_after_person_sync_sensor.asset_key == dg.AssetKey("actions_people")


def test_the_sensor_requests_one_run_per_new_person_sync_and_moves_its_cursor():
    with dg.DagsterInstance.ephemeral() as instance:
        first = _tick(instance)
        assert not first.run_requests and first.cursor is None

        _person_sync(instance)
        latest = _person_sync(instance)
        result = _tick(instance)
        assert [r.run_key for r in result.run_requests] == [f"unsubscribes-after-actions-people-{latest}"]
        assert result.run_requests[0].job_name in (None, "unsubscribe_sync_job")
        assert result.cursor == str(latest)

        # Nothing new since the cursor: no run and the cursor stays; a new person sync: one more run.
        again = _tick(instance, result.cursor)
        assert not again.run_requests and again.cursor in (None, result.cursor)
        newer = _person_sync(instance)
        later = _tick(instance, result.cursor)
        assert [r.run_key for r in later.run_requests] == [f"unsubscribes-after-actions-people-{newer}"]
        assert later.cursor == str(newer)


def test_a_dry_run_or_a_confirmation_requests_nothing_but_does_not_hide_a_real_sync_before_it():
    with dg.DagsterInstance.ephemeral() as instance:
        _person_sync(instance)
        cursor = _tick(instance).cursor
        _person_sync(instance, dry_run=True)
        confirmation = _person_sync(instance, confirmation=True)  # the change sensor: nothing changed
        skipped = _tick(instance, cursor)
        assert not skipped.run_requests and skipped.cursor == str(confirmation)

        # A real sync and then a dry run between two ticks: Dagster hands over only the dry one.
        real = _person_sync(instance)
        dry = _person_sync(instance, dry_run=True)
        result = _tick(instance, skipped.cursor)
        assert [r.run_key for r in result.run_requests] == [f"unsubscribes-after-actions-people-{dry}"]
        assert result.cursor == str(dry) and real < dry


def test_a_failed_push_keeps_the_cursor_and_the_rerun_delivers_the_opt_out(
        salesforce_sandbox, salesforce_clock, database_url):
    from sync_pipelines.actions_app import record_opt_out

    load_actions_people(database_url)
    run_unsubscribe_sync(salesforce_sandbox, database_url)
    cursors = fetch(database_url, "SELECT name, position FROM unsubscribe_sync_cursor ORDER BY name")
    marketo_id, contact_id = person(database_url, "Contact")
    with psycopg.connect(database_url) as conn:
        record_opt_out(conn, marketo_id, salesforce_clock.advance(minutes=1))
    salesforce_clock.advance(minutes=1)
    salesforce_sandbox.sandbox.update("Lead", person(database_url, "Lead")[1], Title="edited")  # a change to read

    salesforce_sandbox.sandbox.inject_errors("REQUEST_LIMIT_EXCEEDED", 1, path_prefix="composite/sobjects")
    from sync_pipelines.resources import ActionsDatabase
    from sync_pipelines.unsubscribes.assets import salesforce_unsubscribes
    from sync_pipelines_tests.unsubscribes.helpers import salesforce_resource

    failed = dg.materialize([salesforce_unsubscribes], raise_on_error=False, resources={
        "salesforce": salesforce_resource(salesforce_sandbox), "actions_db": ActionsDatabase(url=database_url)})
    assert not failed.success
    assert not salesforce_sandbox.sandbox.get("Contact", contact_id)["HasOptedOutOfEmail"]
    assert fetch(database_url, "SELECT name, position FROM unsubscribe_sync_cursor ORDER BY name") == cursors

    metadata = run_unsubscribe_sync(salesforce_sandbox, database_url)["salesforce_unsubscribes"]
    assert salesforce_sandbox.sandbox.get("Contact", contact_id)["HasOptedOutOfEmail"]
    assert metadata["opt_outs_to_salesforce"] == 1
    assert fetch(database_url, "SELECT count(*) FROM unsubscribe_event WHERE marketo_id = %s AND outcome = 'to_salesforce'",
                 (marketo_id,)) == [(1,)]
