"""One lone surrogate on the Marketo REST path no longer fails its batch: that value is repaired (U+FFFD, listed
in person_repair, as for a bulk file) and the batch syncs; a change batch whose
run keeps failing is re-requested a bounded number of times, then given up with an error in the tick's log."""

from __future__ import annotations


import dagster as dg
import psycopg

from sync_pipelines import people, store
from sync_pipelines.people.jobs import incremental_run_config
from sync_pipelines.people.sensors import marketo_person_change_sensor
from sync_pipelines.people.transforms import NOT_UTF8_REPLACED
from sync_pipelines.resources import ActionsDatabase
from sync_pipelines.store.sync_control import start_sync
from sync_pipelines_tests.fixtures.marketo import marketo_resource


def _owned(server) -> list[int]:
    leads = server.sandbox.leads()
    return sorted(int(i) for i in leads.loc[leads["sfdcLeadOwnerId"].fillna("") != "", "id"])


def test_a_lone_surrogate_is_repaired_and_the_batch_syncs(marketo_sandbox, database_url):
    resources = {"marketo": marketo_resource(marketo_sandbox), "actions_db": ActionsDatabase(url=database_url)}
    assert dg.materialize(people.ASSETS, resources=resources).success
    bad, good = _owned(marketo_sandbox)[:2]
    marketo_sandbox.sandbox.update_lead(bad, title="Head of \ud800 Sales")
    marketo_sandbox.sandbox.update_lead(good, title="Chief Surrogate Officer")

    result = dg.materialize(people.ASSETS, resources=resources, run_config=incremental_run_config([bad, good]))
    assert result.success
    with psycopg.connect(database_url) as conn:
        repairs = conn.execute("SELECT field, repair FROM person_repair WHERE marketo_id = %s", (bad,)).fetchall()
        titles = dict(conn.execute("SELECT marketo_id, title FROM actions_person WHERE marketo_id = ANY(%s)",
                                   ([bad, good],)).fetchall())
    # Repaired like an undecodable byte of a bulk file (U+FFFD, the repair listed), not withheld.
    assert repairs == [("title", NOT_UTF8_REPLACED)]
    assert titles[bad].startswith("Head of \ufffd") and titles[bad].endswith(" Sales")
    assert titles[good] == "Chief Surrogate Officer"


def test_a_batch_that_keeps_failing_never_loops(marketo_sandbox, database_url):
    """The one retry mechanism is the step's (quota.py): the sensor never re-requests a failed batch, so a
    batch that keeps failing surfaces as a failed run instead of being re-run every tick."""
    with store.connect(database_url) as conn:
        start_sync(conn)  # the admin's "initiate data sync": the sensor follows changes from then on
    owned = _owned(marketo_sandbox)
    job = dg.Definitions(jobs=[dg.JobDefinition(name="person_sync_job", graph_def=dg.GraphDefinition(
        name="g", node_defs=[]))]).resolve_job_def("person_sync_job")
    with dg.DagsterInstance.ephemeral() as instance:
        def tick(cursor):
            resources = {"marketo": marketo_resource(marketo_sandbox), "actions_db": ActionsDatabase(url=database_url)}
            with dg.build_sensor_context(cursor=cursor, instance=instance, resources=resources) as context:
                return marketo_person_change_sensor(context)

        cursor = tick(None).cursor
        marketo_sandbox.sandbox.update_lead(owned[0], title="Always Failing")
        result = tick(cursor)
        (request,) = result.run_requests
        instance.report_run_failed(instance.create_run_for_job(job_def=job, tags={"sync_pipelines/trigger": "test"}))
        for _ in range(3):
            result = tick(result.cursor)
            assert not result.run_requests
