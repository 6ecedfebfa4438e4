"""SOQL through the client: seeded data, paging, escaping, refused queries."""

from __future__ import annotations

import pytest

from sync_pipelines.salesforce import SalesforceRequestError, quote, soql_in
from sync_pipelines.sandbox.seed import generate_people
from sync_pipelines_tests.fixtures.salesforce import QUERY_PAGE_SIZE, SANDBOX_SIZE


def _people():
    return generate_people(seed=42, size=SANDBOX_SIZE)


def test_seeded_leads_match_generate_people(salesforce_client):
    people = _people()
    expected = people[people.sfdcLeadId.notna()].set_index("sfdcLeadId")
    leads = {r["Id"]: r for r in salesforce_client.query(
        "SELECT Id, FirstName, LastName, Email, Phone, Company, OwnerId, HasOptedOutOfEmail FROM Lead")}
    assert set(leads) == set(expected.index)
    for lead_id, person in expected.iterrows():
        lead = leads[lead_id]
        assert (lead["FirstName"], lead["LastName"], lead["Email"]) == (person.firstName, person.lastName, person.email)
        assert (lead["Phone"], lead["Company"]) == (person.phone, person.company)
        assert lead["OwnerId"] == person.sfdcLeadOwnerId
        assert lead["HasOptedOutOfEmail"] == bool(person.unsubscribed)


def test_seeded_contacts_and_owners(salesforce_client):
    people = _people()
    contacts = {r["Id"]: r for r in salesforce_client.query("SELECT Id, Email, OwnerId FROM Contact")}
    expected = people[people.sfdcContactId.notna()]
    assert set(contacts) == set(expected.sfdcContactId)
    owners = {r["Id"] for r in salesforce_client.query("SELECT Id FROM User")}
    assert set(people.sfdcLeadOwnerId.dropna()) <= owners


def test_query_pages_through_next_records_url(salesforce_sandbox, salesforce_client):
    lead_count = int(_people().sfdcLeadId.notna().sum())
    assert lead_count > 2 * QUERY_PAGE_SIZE  # the test needs at least three pages
    ids = [r["Id"] for r in salesforce_client.query("SELECT Id FROM Lead ORDER BY Id")]
    assert len(ids) == len(set(ids)) == lead_count
    assert ids == sorted(ids)
    pages = -(-lead_count // QUERY_PAGE_SIZE)
    assert salesforce_sandbox.sandbox.api_calls == pages
    assert all("attributes" not in r for r in salesforce_client.query("SELECT Id FROM Lead LIMIT 3"))


def test_escaping_round_trips_hostile_names(salesforce_sandbox, salesforce_client):
    name = 'O\'Brien "x" \\ y\nnext'
    lead_id = salesforce_sandbox.sandbox.create("Lead", LastName=name, Company="ACME_100%")
    found = list(salesforce_client.query(f"SELECT Id, LastName FROM Lead WHERE LastName = {quote(name)}"))
    assert found == [{"Id": lead_id, "LastName": name}]
    by_in = list(salesforce_client.query(f"SELECT Id FROM Lead WHERE LastName IN {soql_in([name, 'nobody'])}"))
    assert [r["Id"] for r in by_in] == [lead_id]


def test_where_filters_nulls_booleans_and_or(salesforce_client):
    people = _people()
    owned = people[people.sfdcLeadId.notna() & people.sfdcLeadOwnerId.notna() & ~people.unsubscribed]
    rows = list(salesforce_client.query(
        "SELECT Id FROM Lead WHERE (OwnerId != null AND HasOptedOutOfEmail = false) "
        "AND (IsConverted = false OR IsConverted = true)"))
    assert {r["Id"] for r in rows} == set(owned.sfdcLeadId)


def test_mixed_and_or_without_parentheses_is_refused(salesforce_client):
    with pytest.raises(SalesforceRequestError) as raised:
        list(salesforce_client.query("SELECT Id FROM Lead WHERE OwnerId = null AND IsConverted = false OR "
                                     "HasOptedOutOfEmail = true"))
    assert (raised.value.status, raised.value.error_code) == (400, "MALFORMED_QUERY")


def test_unknown_field_is_invalid_field(salesforce_client):
    with pytest.raises(SalesforceRequestError) as raised:
        list(salesforce_client.query("SELECT Id, NoSuchField__c FROM Task"))
    assert raised.value.error_code == "INVALID_FIELD"
