"""The seed data is deterministic and has the mix the sync must cope with."""

import re

import pandas as pd
import pytest

from sync_pipelines.sandbox.seed import (SANDBOX_CREATED_FROM, SANDBOX_CREATED_UNTIL,
                                         generate_people)

JAPANESE = re.compile(r"[\u3040-\u30ff\u4e00-\u9fff]")


@pytest.fixture(scope="module")
def people() -> pd.DataFrame:
    return generate_people(seed=42, size=2000)


def test_same_seed_same_frame_and_other_seed_differs(people):
    pd.testing.assert_frame_equal(people, generate_people(seed=42, size=2000))
    assert not people.equals(generate_people(seed=7, size=2000))


def test_columns_dtypes_and_ids(people):
    assert people["id"].dtype == "int64"
    assert people["id"].iloc[0] == 1001
    assert people["id"].is_unique and people["id"].is_monotonic_increasing
    assert (people["id"].diff().dropna() > 1).any(), "ids should have gaps"
    for column in ["firstName", "email", "phone", "sfdcLeadOwnerId"]:
        assert people[column].dtype == object
    assert people["phone"].isna().any()
    assert people["phone"].map(lambda v: v is None or isinstance(v, str)).all()
    assert people["unsubscribed"].dtype == bool and people["emailInvalid"].dtype == bool
    assert str(people["createdAt"].dt.tz) == "UTC"
    assert people["createdAt"].min() >= SANDBOX_CREATED_FROM
    assert people["updatedAt"].max() <= SANDBOX_CREATED_UNTIL
    assert (people["updatedAt"] >= people["createdAt"]).all()


def test_owner_and_salesforce_mix(people):
    owned = people["sfdcLeadOwnerId"].notna()
    assert 0.45 < owned.mean() < 0.55
    assert people.loc[owned, "sfdcLeadOwnerId"].nunique() == 20
    assert people["sfdcLeadOwnerId"].dropna().str.match(r"^005\w{15}$").all()
    leads = owned & (people["sfdcType"] == "Lead")
    contacts = owned & (people["sfdcType"] == "Contact")
    assert 0.55 < leads.sum() / owned.sum() < 0.65
    assert (leads | contacts)[owned].all()
    assert people.loc[leads, "sfdcLeadId"].str.match(r"^00Q\w{15}$").all()
    assert people.loc[contacts, "sfdcContactId"].str.match(r"^003\w{15}$").all()
    assert people.loc[contacts, "sfdcAccountId"].str.match(r"^001\w{15}$").all()
    unowned = people[~owned]
    assert unowned["sfdcLeadId"].notna().any(), "some unowned people keep a lead id"
    assert (unowned["sfdcLeadId"].isna() & unowned["sfdcContactId"].isna()).any()


def test_names_duplicates_and_missing_values(people):
    japanese = people["lastName"].str.contains(JAPANESE)
    assert 0.2 < japanese.mean() < 0.4
    assert people["lastName"].str.contains(r"[\u30a0-\u30ff]").any(), "some katakana names"
    duplicated = people["email"].duplicated(keep=False)
    assert 0.02 < duplicated.mean() < 0.04
    assert people.loc[duplicated].groupby("email")["id"].nunique().min() >= 2
    for column in ["phone", "title", "company", "linkedInProfileURL", "leadSource"]:
        assert 0.06 < people[column].isna().mean() < 0.14, column


def test_hostile_values_are_present(people):
    text = pd.concat([people["firstName"], people["lastName"], people["company"],
                      people["title"]]).dropna()
    assert text.str.contains("'").any() and text.str.contains('"').any()
    assert text.str.contains(",").any() and text.str.contains("\n").any()
    assert text.str.contains("[\U0001F300-\U0001FAFF]").any(), "emoji"
    assert text.str.contains("[éëüø]").any(), "accents"
    assert (people["title"].dropna().str.len() > 200).any()


def test_large_frames_generate_with_unique_ids():
    # How fast is the bench's business (no timing asserts in tests: they fail on a loaded machine).
    frame = generate_people(seed=1, size=200_000)
    assert len(frame) == 200_000 and frame["id"].is_unique
