"""person_batch_schedule drains the backlog in batches; person_reconciliation_schedule repairs drift."""

from datetime import datetime, timedelta, timezone

import dagster as dg
import psycopg

from sync_pipelines import people
from sync_pipelines.people.schedules import PERSON_BATCH_SIZE, person_batch_schedule, person_reconciliation_schedule
from sync_pipelines.resources import ActionsDatabase
from sync_pipelines.store.people import allow_person_writes
from sync_pipelines_tests.fixtures.marketo import marketo_resource

PERSON_ASSETS = people.ASSETS


def count_people(database_url):
    with psycopg.connect(database_url) as conn:
        return conn.execute("SELECT count(*), count(DISTINCT marketo_id) FROM actions_person").fetchone()


def run_request(request, resources):
    """Execute a schedule's RunRequest the way the daemon would: its config and asset selection."""
    selection = request.asset_selection or [asset.key for asset in PERSON_ASSETS]
    result = dg.materialize(PERSON_ASSETS, resources=resources, run_config=request.run_config, selection=selection)
    assert result.success
    return result


def test_batch_schedule_drains_a_10000_person_backlog_and_resumes_after_a_restart(make_marketo_sandbox, database_url):
    server = make_marketo_sandbox(size=20_000, seed=3)  # about 10,000 of them have an owner
    resources = {"marketo": marketo_resource(server, calls_per_window=100), "actions_db": ActionsDatabase(url=database_url)}
    owned = int(server.sandbox.leads()["sfdcLeadOwnerId"].notna().sum())
    assert owned >= 9_000

    ticks = iter(datetime(2026, 11, 1, tzinfo=timezone.utc) + timedelta(minutes=2 * n) for n in range(1000))

    def evaluate():
        # A fresh context each time: nothing but the database carries over, as across a daemon restart.
        with dg.build_schedule_context(
            resources={"actions_db": resources["actions_db"]}, scheduled_execution_time=next(ticks)
        ) as context:
            return person_batch_schedule(context)

    batches, loaded = 0, []
    while batches < 4:
        request = evaluate()
        assert isinstance(request, dg.RunRequest) and request.run_key
        run_request(request, resources)
        batches += 1
        loaded.append(count_people(database_url)[0])
    assert loaded == [PERSON_BATCH_SIZE * n for n in range(1, 5)]

    # "Restart": new contexts from here on; the schedule continues where it stopped.
    while not isinstance(request := evaluate(), dg.SkipReason):
        assert request.asset_selection == [dg.AssetKey("actions_people")]  # no second extract
        run_request(request, resources)
        batches += 1
    assert count_people(database_url) == (owned, owned)
    assert batches == -(-owned // PERSON_BATCH_SIZE)
    assert "complete" in request.skip_message


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
