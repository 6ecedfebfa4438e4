"""One lone surrogate on the Marketo REST path quarantines that person and syncs the rest; a change batch whose
run keeps failing is re-requested a bounded number of times, then given up with an error in the tick's log."""

from __future__ import annotations

import json

import dagster as dg
import psycopg
from dagster._core.storage.tags import RUN_KEY_TAG

from sync_pipelines import people
from sync_pipelines.people.jobs import incremental_run_config
from sync_pipelines.people.sensors import MAX_BATCH_ATTEMPTS, marketo_person_change_sensor
from sync_pipelines.resources import ActionsDatabase
from sync_pipelines_tests.fixtures.marketo import marketo_resource


def _owned(server) -> list[int]:
    leads = server.sandbox.leads()
    return sorted(int(i) for i in leads.loc[leads["sfdcLeadOwnerId"].fillna("") != "", "id"])


def test_a_lone_surrogate_quarantines_that_person_and_syncs_the_others(marketo_sandbox, database_url):
    resources = {"marketo": marketo_resource(marketo_sandbox), "actions_db": ActionsDatabase(url=database_url)}
    assert dg.materialize(people.ASSETS, resources=resources).success
    bad, good = _owned(marketo_sandbox)[:2]
    marketo_sandbox.sandbox.update_lead(bad, title="Head of \ud800 Sales")
    marketo_sandbox.sandbox.update_lead(good, title="Chief Surrogate Officer")

    result = dg.materialize(people.ASSETS, resources=resources, run_config=incremental_run_config([bad, good]))
    assert result.success
    with psycopg.connect(database_url) as conn:
        reasons = conn.execute("SELECT reason FROM person_quarantine WHERE marketo_id = %s", (bad,)).fetchall()
        (title,) = conn.execute("SELECT title FROM actions_person WHERE marketo_id = %s", (good,)).fetchone()
    assert reasons == [("title is not valid UTF-8",)]
    assert title == "Chief Surrogate Officer"


def test_a_batch_that_keeps_failing_is_given_up_after_the_cap(marketo_sandbox):
    owned = _owned(marketo_sandbox)
    job = dg.Definitions(jobs=[dg.JobDefinition(name="person_sync_job", graph_def=dg.GraphDefinition(
        name="g", node_defs=[]))]).resolve_job_def("person_sync_job")
    with dg.DagsterInstance.ephemeral() as instance:
        def tick(cursor):
            context = dg.build_sensor_context(cursor=cursor, instance=instance,
                                              resources={"marketo": marketo_resource(marketo_sandbox)})
            return marketo_person_change_sensor(context)

        cursor = tick(None).cursor
        marketo_sandbox.sandbox.update_lead(owned[0], title="Always Failing")
        result = tick(cursor)
        for attempt in range(1, MAX_BATCH_ATTEMPTS + 1):
            (request,) = result.run_requests
            assert json.loads(result.cursor)["pending"][0]["attempt"] == attempt
            instance.report_run_failed(instance.create_run_for_job(job_def=job, tags={RUN_KEY_TAG: request.run_key}))
            result = tick(result.cursor)
        assert not result.run_requests
        assert json.loads(result.cursor)["pending"] == []
        reason = result.skip_reason.skip_message
        assert "Gave up on person batch" in reason and f"after {MAX_BATCH_ATTEMPTS} failed runs" in reason
