"""The people assets end to end: Marketo emulator over loopback HTTP -> real PostgreSQL."""

import dagster as dg
import pandas as pd
import psycopg
import pytest

from sync_pipelines import people
from sync_pipelines.people.fields import SYNCED_FIELDS
from sync_pipelines.resources import ActionsDatabase, MarketoResource
from sync_pipelines.sandbox.servers import MarketoSandboxConfig
from sync_pipelines.sandbox.seed import SANDBOX_CREATED_FROM, generate_people
from sync_pipelines.sandbox.servers import serve_marketo

SEED, SIZE = 7, 400
# A short rate-limit window keeps the tests quick while the client still has to respect it.
SANDBOX_CONFIG = MarketoSandboxConfig(seed=SEED, size=SIZE, bulk_processing_seconds=0.05, window_seconds=2.0)
PERSON_ASSETS = people.ASSETS
ACTIONS_COLUMNS = list(SYNCED_FIELDS.values())


@pytest.fixture(scope="module")
def marketo():
    with serve_marketo(SANDBOX_CONFIG) as served:
        yield served


def resources(marketo, database_url, smart_list_id=None):
    return {
        "marketo": MarketoResource(
            base_url=marketo.url,
            client_id=marketo.client_id,
            client_secret=marketo.client_secret,
            bulk_poll_max_seconds=0.05,
            window_seconds=SANDBOX_CONFIG.window_seconds,
            extract_since=SANDBOX_CREATED_FROM.isoformat(),
            smart_list_id=smart_list_id,
        ),
        "actions_db": ActionsDatabase(url=database_url),
    }


def expected_actions_people(leads: pd.DataFrame) -> set[tuple]:
    """Computed straight from the seed: owned people, the 11 fields under their Actions names."""
    owned = leads[leads["sfdcLeadOwnerId"].notna() & (leads["sfdcLeadOwnerId"] != "")]
    rows = owned[list(SYNCED_FIELDS)].rename(columns=SYNCED_FIELDS)[ACTIONS_COLUMNS]
    return {tuple(None if pd.isna(v) or v == "" else v for v in row) for row in rows.itertuples(index=False)}


def actual_actions_people(database_url) -> set[tuple]:
    with psycopg.connect(database_url) as conn:
        return set(conn.execute(f"SELECT {', '.join(ACTIONS_COLUMNS)} FROM actions_person").fetchall())


def materialize(marketo, database_url, run_config=None):
    result = dg.materialize(PERSON_ASSETS, resources=resources(marketo, database_url), run_config=run_config)
    assert result.success
    return {
        event.asset_key.to_user_string(): {k: v.value for k, v in event.step_materialization_data.materialization.metadata.items()}
        for event in result.get_asset_materialization_events()
    }


@pytest.mark.parametrize("smart_list_id", [1, 2])
def test_a_smart_list_extract_gives_the_same_people(marketo, database_url, smart_list_id):
    # 1 is All People; 2 holds only the people with an owner, so the export reads half as many rows.
    expected = expected_actions_people(generate_people(SEED, SIZE))
    result = dg.materialize(PERSON_ASSETS, resources=resources(marketo, database_url, smart_list_id))
    assert result.success
    assert actual_actions_people(database_url) == expected
    read = result.asset_materializations_for_node("marketo_person_extract")[0].metadata["people_read"].value
    assert read == (SIZE if smart_list_id == 1 else len(expected))


def test_initial_sync_equals_the_owned_people_of_the_seed(marketo, database_url):
    seed = generate_people(SEED, SIZE)
    expected = expected_actions_people(seed)
    metadata = materialize(marketo, database_url)

    assert actual_actions_people(database_url) == expected
    assert metadata["actions_people"]["inserted"] == len(expected)
    assert metadata["sales_owned_people"]["people_qualified"] == len(expected)
    owned_emails = seed.loc[seed["sfdcLeadOwnerId"].fillna("") != "", "email"].dropna().str.lower()
    owned_emails = owned_emails[owned_emails != ""]
    sharing = owned_emails.duplicated(keep=False).sum()
    assert sharing > 0 and metadata["sales_owned_people"]["people_sharing_an_email"] == sharing
    assert metadata["marketo_person_extract"]["people_read"] >= SIZE  # windows may overlap, never fewer
    assert metadata["marketo_person_extract"]["marketo_api_calls"] > 0

    owned = seed[seed["sfdcLeadOwnerId"].notna()]
    # The seed's awkward cases really are in the synced set, and survive byte for byte.
    assert owned["email"].duplicated(keep=False).any(), "seed should share emails between owned people"
    assert owned["firstName"].str.contains(r"[\u3040-\u30ff\u4e00-\u9fff]", na=False).any()
    with psycopg.connect(database_url) as conn:
        (shared,) = conn.execute(
            "SELECT count(*) FROM actions_person WHERE email IN "
            "(SELECT email FROM actions_person GROUP BY email HAVING count(*) > 1)"
        ).fetchone()
    assert shared > 0  # duplicates by email are separate Actions people


def test_second_full_run_changes_nothing(marketo, database_url):
    materialize(marketo, database_url)
    metadata = materialize(marketo, database_url)
    assert (metadata["actions_people"]["inserted"], metadata["actions_people"]["updated"], metadata["actions_people"]["removed"]) == (0, 0, 0)


def test_incremental_run_follows_changes_for_just_the_given_people(database_url):
    with serve_marketo(SANDBOX_CONFIG) as marketo:
        materialize(marketo, database_url)
        leads = marketo.sandbox.leads()
        owned_ids = leads.loc[leads["sfdcLeadOwnerId"].notna(), "id"].tolist()
        unowned_ids = leads.loc[leads["sfdcLeadOwnerId"].isna(), "id"].tolist()
        changed, loses_owner, deleted, gains_owner = owned_ids[0], owned_ids[1], owned_ids[2], unowned_ids[0]

        marketo.sandbox.update_lead(changed, title="Chief Sync Officer")
        marketo.sandbox.update_lead(loses_owner, sfdcLeadOwnerId=None)
        marketo.sandbox.update_lead(gains_owner, sfdcLeadOwnerId="005000000000NEWOWN")
        marketo.sandbox.delete_lead(deleted)

        ids = [int(changed), int(loses_owner), int(deleted), int(gains_owner)]
        metadata = materialize(
            marketo, database_url, {"ops": {"marketo_person_extract": {"config": {"marketo_ids": ids}}}}
        )
        assert actual_actions_people(database_url) == expected_actions_people(marketo.sandbox.leads())
        assert metadata["marketo_person_extract"]["mode"] == "incremental"
        assert metadata["actions_people"]["removed"] == 2
        assert metadata["actions_people"]["inserted"] == 1
        assert metadata["actions_people"]["updated"] == 1
