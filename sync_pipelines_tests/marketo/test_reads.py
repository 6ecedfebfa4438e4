"""Describe, Get Leads and the paging-token feeds of MarketoClient against the Marketo sandbox."""

from __future__ import annotations

import logging
from datetime import datetime, timedelta, timezone

import pandas as pd
import pytest

from sync_pipelines.marketo import MarketoClient, MarketoSchemaError
from sync_pipelines.sandbox.servers import MarketoSandboxConfig, serve_marketo

PEOPLE_FIELDS = [
    "firstName", "lastName", "sfdcContactId", "sfdcLeadId", "id", "company", "title", "email", "phone",
    "linkedInProfileURL", "leadSource", "sfdcLeadOwnerId", "sfdcType",
]


@pytest.fixture
def mk():
    with serve_marketo(MarketoSandboxConfig(size=1200)) as server:
        yield server


@pytest.fixture
def client(mk):
    with MarketoClient(mk.url, mk.client_id, mk.client_secret, calls_per_window=100, retry_backoff_seconds=0.01) as c:
        yield c


def test_lead_fields_describe_the_schema_and_are_cached(client, mk):
    fields = client.lead_fields()
    assert fields["email"]["dataType"] == "email"
    assert fields["id"]["readOnly"] is True
    assert fields["firstName"]["readOnly"] is False
    client.lead_fields()
    assert mk.sandbox.calls_by_path["/rest/v1/leads/describe.json"] == 1


def test_require_lead_fields_names_every_missing_field(client):
    client.require_lead_fields(PEOPLE_FIELDS)
    with pytest.raises(MarketoSchemaError) as caught:
        client.require_lead_fields([*PEOPLE_FIELDS, "sfdcContactOwnerId", "leadOwnerId"])
    assert "sfdcContactOwnerId" in str(caught.value)
    assert "leadOwnerId" in str(caught.value)


def test_get_leads_chunks_ids_by_300(client, mk):
    people = mk.sandbox.leads()
    ids = people["id"].tolist()[:700] + [999_999_999]  # one id that matches nothing
    frame = client.get_leads("id", ids, ["id", "firstName", "title", "sfdcLeadId"])
    assert mk.sandbox.calls_by_path["/rest/v1/leads.json"] == 3
    assert list(frame.columns) == ["id", "firstName", "title", "sfdcLeadId"]
    expected = people.set_index("id").loc[ids[:700], ["firstName", "title", "sfdcLeadId"]]
    got = frame.set_index("id").loc[ids[:700]]
    for column in expected.columns:  # missing values come back as NA, odd characters intact
        assert [None if pd.isna(v) else v for v in got[column]] == [
            None if pd.isna(v) else v for v in expected[column]
        ]


def test_get_leads_follows_pages(client, mk):
    people = mk.sandbox.leads()
    counts = people["sfdcLeadOwnerId"].value_counts()
    owners = counts.index[: int((counts.cumsum() <= 300).sum()) + 1].tolist()  # just over 300 leads
    expected = people[people["sfdcLeadOwnerId"].isin(owners)]
    assert 300 < len(expected) <= 1000  # more than one page, under Marketo's 1000-match cap
    frame = client.get_leads("sfdcLeadOwnerId", owners, ["id", "sfdcLeadOwnerId"])
    assert sorted(frame["id"]) == sorted(expected["id"])
    assert mk.sandbox.calls_by_path["/rest/v1/leads.json"] == 2


def test_long_queries_switch_to_post_with_method_get(client, mk, caplog):
    caplog.set_level(logging.INFO, logger="httpx")
    people = mk.sandbox.leads()
    emails = people["email"].dropna().unique().tolist()[:300]
    frame = client.get_leads("email", emails, ["id", "email"])
    assert set(frame["email"]) == set(emails)
    assert any("POST" in r.getMessage() and "/rest/v1/leads.json" in r.getMessage() for r in caplog.records)
    assert not any("@" in r.getMessage() for r in caplog.records)  # no emails in the request log


def test_get_leads_with_no_match_is_an_empty_frame(client):
    frame = client.get_leads("id", [999_999_999], ["id", "email"])
    assert frame.empty and list(frame.columns) == ["id", "email"]


def test_lead_changes_and_deleted_leads_follow_sandbox_edits(client, mk):
    token = client.paging_token(datetime.now(timezone.utc) - timedelta(minutes=5))
    people = mk.sandbox.leads()
    changed_id, deleted_id, loser_id = (int(i) for i in people["id"].iloc[:3])
    mk.sandbox.update_lead(changed_id, title="Head of Sales\r\nAPAC")
    new_id = mk.sandbox.create_lead(firstName="Zoë", email="zoe@example.com")
    mk.sandbox.delete_lead(deleted_id)
    mk.sandbox.merge_leads(new_id, [loser_id])

    changes = [r for page in client.lead_changes(token, ["title", "email"]) for r in page.records]
    title_change = next(r for r in changes if r["leadId"] == changed_id)
    assert title_change["fields"][0]["name"] == "title"
    assert title_change["fields"][0]["newValue"] == "Head of Sales\r\nAPAC"
    assert any(r["leadId"] == new_id and r["activityTypeId"] == 12 for r in changes)

    deleted_pages = list(client.deleted_leads(token))
    assert [r["leadId"] for p in deleted_pages for r in p.records] == [deleted_id]
    assert deleted_pages[-1].next_token  # what a sensor persists as its cursor

    merges = [r for p in client.activities(token, [32]) for r in p.records]
    assert [r["leadId"] for r in merges] == [new_id]


def test_feeds_page_until_more_result_is_false(client, mk):
    token = client.paging_token(datetime.now(timezone.utc) - timedelta(minutes=5))
    ids = [int(i) for i in mk.sandbox.leads()["id"].iloc[:320]]
    for lead_id in ids:
        mk.sandbox.update_lead(lead_id, leadSource="Paged Source")
    pages = list(client.lead_changes(token, ["leadSource"]))
    assert len(pages) >= 2
    assert sorted(r["leadId"] for p in pages for r in p.records) == sorted(ids)
