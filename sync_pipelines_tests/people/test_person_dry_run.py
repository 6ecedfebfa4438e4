"""A dry run of the person sync reports the counts of the real run after it, and writes nothing."""

import dagster as dg

from sync_pipelines import people, store
from sync_pipelines.dry_run import DRY_RUN_TAG
from sync_pipelines.resources import ActionsDatabase
from sync_pipelines_tests.fixtures.database import table_snapshot
from sync_pipelines_tests.fixtures.marketo import marketo_resource

PERSON_ASSETS = people.ASSETS
DRY_RUN = {DRY_RUN_TAG: "true"}
COUNTS = ("inserted", "updated", "removed")


def snapshot(database_url):
    return table_snapshot(database_url, ("marketo_person_extract", "actions_person", "person_quarantine"))


def counts(result):
    return {
        node: {name: result.asset_materializations_for_node(node)[0].metadata[name].value for name in COUNTS}
        for node in ("marketo_person_extract", "actions_people")
    }


def test_dry_run_writes_nothing_and_predicts_the_real_run(marketo_sandbox, database_url):
    resources = {"marketo": marketo_resource(marketo_sandbox), "actions_db": ActionsDatabase(url=database_url)}
    store.connect(database_url).close()  # the schema, so that "before" can be read

    # On an empty database (the initial sync), then after changes in Marketo.
    for change in (None, "changes"):
        if change:
            leads = marketo_sandbox.sandbox.leads()
            owned = leads.loc[leads["sfdcLeadOwnerId"].notna(), "id"].astype(int).tolist()
            marketo_sandbox.sandbox.update_lead(owned[0], title="Dry Run Officer")
            marketo_sandbox.sandbox.update_lead(owned[1], sfdcLeadOwnerId=None)
            marketo_sandbox.sandbox.delete_lead(owned[2])
        before = snapshot(database_url)
        dry = dg.materialize(PERSON_ASSETS, resources=resources, tags=DRY_RUN)
        assert dry.success
        assert snapshot(database_url) == before  # nothing committed
        for event in dry.get_asset_materialization_events():  # every result labelled dry
            assert event.materialization.tags[DRY_RUN_TAG] == "true"
            assert event.materialization.metadata["dry_run"].value is True
        assert dry.dagster_run.tags[DRY_RUN_TAG] == "true"  # the run itself shows as dry

        real = dg.materialize(PERSON_ASSETS, resources=resources)
        assert real.success
        assert counts(dry) == counts(real)
        assert counts(real)["actions_people"] != {"inserted": 0, "updated": 0, "removed": 0}
