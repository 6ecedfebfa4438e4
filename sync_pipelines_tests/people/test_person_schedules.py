"""person_batch_schedule drains the backlog in batches; person_reconciliation_schedule repairs drift."""

from datetime import datetime, timedelta, timezone

import dagster as dg
import psycopg

from sync_pipelines import people, store
from sync_pipelines.people.schedules import PERSON_BATCH_SIZE, person_batch_schedule, person_reconciliation_schedule
from sync_pipelines.people.sensors import marketo_person_change_sensor
from sync_pipelines.resources import ActionsDatabase
from sync_pipelines.store.people import allow_person_writes
from sync_pipelines.store.sync_control import start_sync
from sync_pipelines_tests.fixtures.marketo import marketo_resource

PERSON_ASSETS = people.ASSETS


def count_people(database_url):
    with psycopg.connect(database_url) as conn:
        return conn.execute("SELECT count(*), count(DISTINCT marketo_id) FROM actions_person").fetchone()


def exactly_owned(server, wanted):
    """Give exactly `wanted` leads an owner (the seed gives about half of them one)."""
    leads = server.sandbox.leads()
    owned = leads.loc[leads["sfdcLeadOwnerId"].notna(), "id"].astype(int).tolist()
    unowned = leads.loc[leads["sfdcLeadOwnerId"].isna(), "id"].astype(int).tolist()
    for lead_id in owned[wanted:]:
        server.sandbox.update_lead(lead_id, sfdcLeadOwnerId=None)
    for lead_id in unowned[: max(0, wanted - len(owned))]:
        server.sandbox.update_lead(lead_id, sfdcLeadOwnerId="005000000000001AAA", sfdcType="Lead")
    return sorted((owned + unowned[: max(0, wanted - len(owned))])[:wanted])


def test_sensor_first_then_the_schedule_loads_10000_people_in_10_batches(make_marketo_sandbox, database_url):
    """The order that broke: on a new instance the change sensor runs first and its incremental run puts a
    few people in the extract; the paced load must still extract everyone and load them 1,000 per run."""
    server = make_marketo_sandbox(size=20_000, seed=3)
    owned = exactly_owned(server, 10_000)
    actions_db = ActionsDatabase(url=database_url)
    resources = {"marketo": marketo_resource(server, calls_per_window=100), "actions_db": actions_db}
    ticks = iter(datetime(2026, 11, 1, tzinfo=timezone.utc) + timedelta(minutes=2 * n) for n in range(1000))

    with dg.instance_for_test() as instance:  # an instance with a ref, as the daemon's schedule contexts have
        def schedule_tick():
            # A fresh context each time: nothing but the database carries over, as across a daemon restart.
            with dg.build_schedule_context(instance=instance, resources={"actions_db": actions_db},
                                           scheduled_execution_time=next(ticks)) as context:
                return person_batch_schedule(context)

        def sensor_tick(cursor):
            with dg.build_sensor_context(instance=instance, cursor=cursor, resources=resources) as context:
                result = marketo_person_change_sensor(context)
            for request in result.run_requests:
                assert dg.materialize(PERSON_ASSETS, resources=resources, run_config=request.run_config,
                                      instance=instance, tags=request.tags).success
            return result.cursor, len(result.run_requests)

        assert "make start-sync" in schedule_tick().skip_message  # nothing runs before the admin starts it
        with store.connect(database_url) as conn:
            start_sync(conn)

        cursor, _ = sensor_tick(None)  # the sensor starts following Marketo first
        server.sandbox.update_lead(owned[-1], title="Changed while the initial load waits")
        cursor, incremental_runs = sensor_tick(cursor)
        assert incremental_runs == 1
        early = count_people(database_url)[0]
        assert 0 < early < PERSON_BATCH_SIZE  # a few people are in the extract and in Actions already

        batches, loaded = 0, []
        while isinstance(request := schedule_tick(), dg.RunRequest):
            assert request.run_key and request.tags["sync_pipelines/trigger"] == "person_batch"
            selection = request.asset_selection or [asset.key for asset in PERSON_ASSETS]
            assert (request.asset_selection is None) == (batches == 0)  # one full extract, then batches only
            assert dg.materialize(PERSON_ASSETS, resources=resources, run_config=request.run_config,
                                  selection=selection, instance=instance, tags=request.tags).success
            batches += 1
            loaded.append(count_people(database_url)[0])
            cursor, _ = sensor_tick(cursor)  # the sensor keeps running between batches
        assert "complete" in request.skip_message
    assert count_people(database_url) == (10_000, 10_000)
    assert batches == 10
    assert loaded[:9] == [early + PERSON_BATCH_SIZE * n for n in range(1, 10)] and loaded[-1] == 10_000
    with psycopg.connect(database_url) as conn:
        assert conn.execute("SELECT count(*) FROM extract_run WHERE kind = 'full'").fetchone()[0] == 1


def test_nightly_compare_waits_for_the_switch_and_the_initial_load(marketo_sandbox, database_url):
    actions_db = ActionsDatabase(url=database_url)
    at = datetime(2026, 11, 2, 3, tzinfo=timezone.utc)

    def evaluate():
        with dg.build_schedule_context(resources={"actions_db": actions_db}, scheduled_execution_time=at) as context:
            return person_reconciliation_schedule(context)

    assert "make start-sync" in evaluate().skip_message
    with store.connect(database_url) as conn:
        start_sync(conn)
    assert "initial load" in evaluate().skip_message
    resources = {"marketo": marketo_resource(marketo_sandbox), "actions_db": actions_db}
    assert dg.materialize(PERSON_ASSETS, resources=resources).success  # the whole load at once
    request = evaluate()
    assert isinstance(request, dg.RunRequest) and request.run_key == f"person-reconciliation-{at.isoformat()}"


def test_reconciliation_repairs_a_direct_edit_and_a_missed_change(marketo_sandbox, database_url):
    resources = {"marketo": marketo_resource(marketo_sandbox), "actions_db": ActionsDatabase(url=database_url)}
    assert dg.materialize(PERSON_ASSETS, resources=resources).success
    leads = marketo_sandbox.sandbox.leads()
    owned = leads.loc[leads["sfdcLeadOwnerId"].notna(), "id"].astype(int).tolist()

    with psycopg.connect(database_url) as conn, conn.transaction():
        allow_person_writes(conn)  # an edit that got past the guard
        conn.execute("UPDATE actions_person SET company = 'Edited By Hand' WHERE marketo_id = %s", (owned[0],))
    marketo_sandbox.sandbox.update_lead(owned[1], company="Missed By The Sensor")

    # The nightly schedule runs the job without config: a full extract, every stored row compared.
    assert person_reconciliation_schedule.job_name == "person_sync_job"
    result = dg.materialize(PERSON_ASSETS, resources=resources)
    assert result.success
    with psycopg.connect(database_url) as conn:
        companies = dict(conn.execute(
            "SELECT marketo_id, company FROM actions_person WHERE marketo_id = ANY(%s)", ([owned[0], owned[1]],)
        ).fetchall())
    expected_first = leads.set_index("id").loc[owned[0], "company"]
    assert companies[owned[0]] == (None if expected_first is None else expected_first)
    assert companies[owned[1]] == "Missed By The Sensor"
    actions_metadata = result.asset_materializations_for_node("actions_people")[0].metadata
    assert actions_metadata["updated"].value == 2
