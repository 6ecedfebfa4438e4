"""The mass-change guard on the Actions person table: a short or empty extract is refused before anything is
applied, an operator's deliberate override applies and is recorded, and the dry run shows the same figures."""

from __future__ import annotations

import dagster as dg
import pytest

from sync_pipelines import people
from sync_pipelines.dry_run import DRY_RUN_TAG
from sync_pipelines.mass_change import OVERRIDE_TAG, Removal, exceeds_limit
from sync_pipelines.resources import ActionsDatabase
from sync_pipelines.sandbox.servers import MarketoSandboxConfig, serve_marketo
from sync_pipelines_tests.fixtures.database import table_snapshot
from sync_pipelines_tests.fixtures.marketo import marketo_resource

SANDBOX = MarketoSandboxConfig(seed=11, size=160, bulk_processing_seconds=0.05, window_seconds=2.0)
GUARDED_TABLES = ["actions_person"]


@pytest.fixture
def marketo():
    with serve_marketo(SANDBOX) as served:
        yield served


def _run(marketo, database_url, instance, run_config=None, tags=None) -> dg.ExecuteInProcessResult:
    return dg.materialize(people.ASSETS, instance=instance, run_config=run_config, raise_on_error=False, tags=tags,
                          resources={"marketo": marketo_resource(marketo), "actions_db": ActionsDatabase(url=database_url)})


def _metadata(result, asset: str) -> dict:
    for event in result.get_asset_materialization_events():
        if event.asset_key.to_user_string() == asset:
            return {k: v.value for k, v in event.step_materialization_data.materialization.metadata.items()}
    raise AssertionError(f"{asset} was not materialized")


def _failure(result) -> str:
    return "\n".join(event.event_specific_data.error.message for event in result.all_events
                     if event.event_type_value == "STEP_FAILURE")


def _owned_ids(marketo) -> list[int]:
    leads = marketo.sandbox.leads()
    return sorted(int(i) for i in leads.loc[leads["sfdcLeadOwnerId"].fillna("") != "", "id"])


def test_a_30_percent_short_extract_is_refused_with_nothing_changed_then_applied_by_override(marketo, database_url):
    with dg.DagsterInstance.ephemeral() as instance:
        assert _run(marketo, database_url, instance).success
        owned = _owned_ids(marketo)
        before = table_snapshot(database_url, GUARDED_TABLES)
        assert before["actions_person"][0] == len(owned)
        short = owned[: int(len(owned) * 0.3)]
        for lead_id in short:  # the extract comes back 30% short
            marketo.sandbox.delete_lead(lead_id)

        refused = _run(marketo, database_url, instance)
        assert not refused.success
        message = _failure(refused)
        assert f"would remove {len(short)} of {len(owned)} Actions people" in message
        assert "allow_mass_removal" in message
        assert table_snapshot(database_url, GUARDED_TABLES) == before  # nothing applied

        dry = _run(marketo, database_url, instance, tags={DRY_RUN_TAG: "true"})
        assert dry.success
        figures = _metadata(dry, "actions_people")
        assert (figures["mass_removal_guard"], figures["guard_would_remove"], figures["guard_current_rows"]) == (
            "refused", len(short), len(owned))
        assert table_snapshot(database_url, GUARDED_TABLES) == before

        allowed = _run(marketo, database_url, instance,
                       {"ops": {"actions_people": {"config": {"allow_mass_removal": True}}}})
        assert allowed.success
        applied = _metadata(allowed, "actions_people")
        assert applied["removed"] == len(short) and applied["mass_removal_override"] is True
        assert instance.get_run_by_id(allowed.run_id).tags[OVERRIDE_TAG] == "actions_people"
        assert table_snapshot(database_url, GUARDED_TABLES)["actions_person"][0] == len(owned) - len(short)


def test_an_empty_extract_is_refused_when_actions_has_people(marketo, database_url):
    with dg.DagsterInstance.ephemeral() as instance:
        assert _run(marketo, database_url, instance).success
        before = table_snapshot(database_url, GUARDED_TABLES)
        for lead_id in marketo.sandbox.leads()["id"]:
            marketo.sandbox.delete_lead(int(lead_id))
        refused = _run(marketo, database_url, instance)
        assert not refused.success
        assert f"would remove {before['actions_person'][0]} of {before['actions_person'][0]} Actions people (100.0%)" \
            in _failure(refused)
        assert table_snapshot(database_url, GUARDED_TABLES) == before


@pytest.mark.parametrize(("current", "removing", "refused"), [
    (1000, 50, False), (1000, 51, True), (100_000, 500, False), (100_000, 501, True), (0, 0, False), (10, 0, False),
    (40, 10, False), (40, 11, True),  # up to 10 rows pass whatever their share (tiny tables)...
    (3, 3, True), (1, 1, True),  # ...but never all of them: an empty extract or org
])
def test_the_limit_is_5_percent_beyond_10_rows_or_500_rows_and_never_everything(current, removing, refused):
    assert exceeds_limit(Removal("rows", current, removing), 5.0, 500, 10) is refused
