"""The run-level dry run on an executor with a process per step (`multiprocess`; no broker needed): a dry run
of several steps is refused before any step starts, one of a single step runs and writes nothing."""

from __future__ import annotations

import dagster as dg
import pytest

from sync_pipelines.dry_run import DRY_RUN_TAG
from sync_pipelines.executors import dry_run_refusal
from sync_pipelines_tests.distributed.harness import Deployment, actions_end_state, served_emulators

DRY = {DRY_RUN_TAG: "true"}


def test_only_a_dry_run_of_several_steps_on_several_processes_is_refused():
    steps = ["marketo_person_extract", "sales_owned_people"]
    assert dry_run_refusal(DRY, steps, one_process=True) is None
    assert dry_run_refusal(DRY, steps[:1], one_process=False) is None
    assert dry_run_refusal({}, steps, one_process=False) is None
    assert dry_run_refusal({DRY_RUN_TAG: "false"}, steps, one_process=False) is None
    refusal = dry_run_refusal(DRY, steps, one_process=False)
    assert "2 steps (marketo_person_extract, sales_owned_people)" in refusal
    assert "SYNC_EXECUTOR=in_process" in refusal


@pytest.mark.parametrize("value", ["yes", "1", "dry"])
def test_a_dry_run_tag_that_is_neither_true_nor_false_is_refused(value):
    with pytest.raises(dg.Failure, match="must be 'true' or 'false'"):
        dry_run_refusal({DRY_RUN_TAG: value}, ["a", "b"], one_process=False)


def test_multiprocess_refuses_a_dry_job_and_runs_a_dry_step(tmp_path, database_url, dagster_storage_url, monkeypatch):
    with served_emulators() as (marketo, _, services):
        deployment = Deployment.create(tmp_path, dagster_storage_url=dagster_storage_url, database_url=database_url,
                                       services=services)
        before = actions_end_state(database_url)
        refused = deployment.run_job("person_sync_job", executor="multiprocess", tags=DRY)
        assert not refused.success and "Refused before any step started" in refused.output, refused.output[-3000:]
        assert marketo.sandbox.calls_by_path == {}, "nothing ran: no Marketo call"

        one_step = deployment.run_job("person_sync_job", executor="multiprocess", tags=DRY,
                                      ops="marketo_person_extract")
        assert one_step.success, one_step.output[-3000:]
        assert sum(marketo.sandbox.calls_by_path.values()) > 0  # it read Marketo
        assert actions_end_state(database_url) == before, "the dry step committed nothing"

    # As the UI shows it: the run carries the tag, its materialization is labelled dry.
    monkeypatch.setenv("DAGSTER_POSTGRES_URL", dagster_storage_url)
    with dg.DagsterInstance.from_config(str(tmp_path)) as instance:
        record = instance.fetch_materializations(dg.AssetKey("marketo_person_extract"), limit=1).records[0]
        assert record.asset_materialization.tags[DRY_RUN_TAG] == "true"
        assert record.asset_materialization.metadata["dry_run"].value is True
        assert instance.get_run_by_id(record.run_id).tags[DRY_RUN_TAG] == "true"
