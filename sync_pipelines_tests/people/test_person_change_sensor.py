"""marketo_person_change_sensor against the Marketo emulator: run requests, run keys and the cursor."""

import json

import dagster as dg
import pytest

from sync_pipelines import people, store
from sync_pipelines.people.sensors import ChangeCursor, marketo_person_change_sensor
from sync_pipelines.resources import ActionsDatabase
from sync_pipelines.store.sync_control import start_sync, stop_sync
from sync_pipelines_tests.fixtures.marketo import marketo_resource

PERSON_ASSETS = people.ASSETS


# The sensor reads the admin's start switch before anything else (fixtures in conftest.py).
pytestmark = pytest.mark.usefixtures("started_database")


def tick(server, instance, cursor):
    resources = {"marketo": marketo_resource(server), "actions_db": ActionsDatabase()}
    with dg.build_sensor_context(cursor=cursor, instance=instance, resources=resources) as context:
        return marketo_person_change_sensor(context)


def test_the_sensor_waits_for_the_admin_to_start_the_sync(marketo_sandbox, instance, database_url):
    with store.connect(database_url) as conn:
        stop_sync(conn)
    result = tick(marketo_sandbox, instance, None)
    assert not result.run_requests and result.cursor is None  # nothing is followed before the start
    assert "make start-sync" in result.skip_reason.skip_message
    with store.connect(database_url) as conn:
        start_sync(conn)
    assert tick(marketo_sandbox, instance, None).cursor  # the first tick after the start begins following


def started_cursor(server, instance):
    result = tick(server, instance, None)
    assert not result.run_requests and result.cursor
    return result.cursor


def owned_and_unowned(server):
    leads = server.sandbox.leads()
    owned = leads.loc[leads["sfdcLeadOwnerId"].notna(), "id"].astype(int).tolist()
    unowned = leads.loc[leads["sfdcLeadOwnerId"].isna(), "id"].astype(int).tolist()
    return owned, unowned


def requested_ids(result):
    (request,) = result.run_requests
    assert request.run_key
    extract_ids = request.run_config["ops"]["marketo_person_extract"]["config"]["marketo_ids"]
    assert request.run_config["ops"]["actions_people"]["config"]["marketo_ids"] == extract_ids
    return extract_ids


def test_synced_field_change_requests_one_run_for_that_person(marketo_sandbox, instance):
    cursor = started_cursor(marketo_sandbox, instance)
    owned, _ = owned_and_unowned(marketo_sandbox)
    marketo_sandbox.sandbox.update_lead(owned[0], title="Head of Sync")
    result = tick(marketo_sandbox, instance, cursor)
    assert requested_ids(result) == [owned[0]]
    new_cursor = ChangeCursor.parse(result.cursor)
    assert new_cursor.lead_changes != ChangeCursor.parse(cursor).lead_changes

    # Nothing new: the next tick requests nothing and keeps its tokens.
    quiet = tick(marketo_sandbox, instance, result.cursor)
    assert not quiet.run_requests
    assert ChangeCursor.parse(quiet.cursor).tokens() == new_cursor.tokens()


def test_change_to_a_field_the_sync_does_not_read_requests_nothing(marketo_sandbox, instance):
    cursor = started_cursor(marketo_sandbox, instance)
    owned, _ = owned_and_unowned(marketo_sandbox)
    marketo_sandbox.sandbox.update_lead(owned[0], leadScore=99, city="Osaka")
    result = tick(marketo_sandbox, instance, cursor)
    assert not result.run_requests


def test_owner_changes_deletes_and_merges_each_request_their_people(marketo_sandbox, instance):
    cursor = started_cursor(marketo_sandbox, instance)
    owned, unowned = owned_and_unowned(marketo_sandbox)
    marketo_sandbox.sandbox.update_lead(owned[0], sfdcLeadOwnerId=None)
    marketo_sandbox.sandbox.update_lead(unowned[0], sfdcLeadOwnerId="005000000000NEWOWN")
    marketo_sandbox.sandbox.delete_lead(owned[1])
    marketo_sandbox.sandbox.merge_leads(owned[2], [owned[3]])
    result = tick(marketo_sandbox, instance, cursor)
    assert requested_ids(result) == sorted([owned[0], unowned[0], owned[1], owned[2], owned[3]])


def test_replayed_tick_asks_for_the_same_run_key(marketo_sandbox, instance):
    cursor = started_cursor(marketo_sandbox, instance)
    owned, _ = owned_and_unowned(marketo_sandbox)
    marketo_sandbox.sandbox.update_lead(owned[0], company="Replay KK")
    first = tick(marketo_sandbox, instance, cursor)
    replay = tick(marketo_sandbox, instance, cursor)  # same cursor, e.g. the daemon restarted mid-tick
    assert first.run_requests[0].run_key == replay.run_requests[0].run_key
    assert first.cursor == replay.cursor


def test_a_failed_run_is_not_requested_again(marketo_sandbox, instance):
    """Retries live in the steps (one mechanism): the sensor never re-requests, so a batch that keeps
    failing surfaces as a failed run instead of looping."""
    cursor = started_cursor(marketo_sandbox, instance)
    owned, _ = owned_and_unowned(marketo_sandbox)
    marketo_sandbox.sandbox.update_lead(owned[0], title="Retry Me")
    first = tick(marketo_sandbox, instance, cursor)
    assert requested_ids(first) == [owned[0]]

    job = dg.Definitions(jobs=[dg.JobDefinition(name="person_sync_job", graph_def=dg.GraphDefinition(name="g", node_defs=[]))]).resolve_job_def("person_sync_job")
    instance.report_run_failed(instance.create_run_for_job(job_def=job))
    after = tick(marketo_sandbox, instance, first.cursor)
    assert not after.run_requests


def test_a_cursor_of_the_previous_version_still_parses(marketo_sandbox, instance):
    cursor = json.loads(started_cursor(marketo_sandbox, instance))
    older = json.dumps({**cursor, "pending": [{"run_key": "people-changes-x", "marketo_ids": [1], "attempt": 1}]})
    assert ChangeCursor.parse(older).tokens() == ChangeCursor.parse(json.dumps(cursor)).tokens()


def test_one_tick_one_run_brings_the_change_to_actions(marketo_sandbox, instance, database_url):
    resources = {"marketo": marketo_resource(marketo_sandbox), "actions_db": ActionsDatabase(url=database_url)}
    assert dg.materialize(PERSON_ASSETS, resources=resources).success
    cursor = started_cursor(marketo_sandbox, instance)
    owned, _ = owned_and_unowned(marketo_sandbox)
    marketo_sandbox.sandbox.update_lead(owned[0], title="Incremental Officer")

    (request,) = tick(marketo_sandbox, instance, cursor).run_requests
    result = dg.materialize(PERSON_ASSETS, resources=resources, run_config=request.run_config)
    assert result.success
    import psycopg

    with psycopg.connect(database_url) as conn:
        (title,) = conn.execute("SELECT title FROM actions_person WHERE marketo_id = %s", (owned[0],)).fetchone()
    assert title == "Incremental Officer"
    extract = result.asset_materializations_for_node("marketo_person_extract")[0].metadata
    assert extract["mode"].value == "incremental" and extract["people_read"].value == 1
