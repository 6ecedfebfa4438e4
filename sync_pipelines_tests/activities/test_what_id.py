"""A Contact's Task relates to the newest open Opportunity the Contact has a role in, else its Account."""

import psycopg

from sync_pipelines.sandbox.activity_log import seed_activity_log
from sync_pipelines_tests.activities.helpers import fan_out, log_activity, salesforce_tasks_by_activity, sync_people


def _expected_what_id(org, contact_id: str) -> str | None:
    """The documented rule, computed from the emulator's records (not through the sync)."""
    opportunity_ids = {r["OpportunityId"] for r in org.records("OpportunityContactRole") if r["ContactId"] == contact_id}
    open_ones = [o for o in org.records("Opportunity") if o["Id"] in opportunity_ids and not o["IsClosed"]]
    if open_ones:
        return max(open_ones, key=lambda o: (o["CreatedDate"], o["Id"]))["Id"]
    return org.get("Contact", contact_id)["AccountId"]


def test_contact_tasks_carry_the_documented_what_id_and_lead_tasks_none(marketo_sandbox, salesforce_sandbox, database_url):
    org = salesforce_sandbox.sandbox
    sync_people(marketo_sandbox, database_url)
    with psycopg.connect(database_url, autocommit=True) as conn:
        seed_activity_log(conn, 1, seed=2)  # the sellers
        contacts = dict(conn.execute("SELECT salesforce_contact_id, marketo_id FROM actions_person "
                                     "WHERE salesforce_contact_id IS NOT NULL").fetchall())
        (lead_person,) = conn.execute("SELECT marketo_id FROM actions_person WHERE salesforce_contact_id IS NULL "
                                      "AND salesforce_lead_id IS NOT NULL LIMIT 1").fetchone()
        # One Contact of each kind the emulator seeds: two open Opportunities, only a closed one, none.
        kinds = {}
        for contact_id in sorted(contacts):
            roles = {r["OpportunityId"] for r in org.records("OpportunityContactRole") if r["ContactId"] == contact_id}
            opportunities = [o for o in org.records("Opportunity") if o["Id"] in roles]
            kind = (sum(not o["IsClosed"] for o in opportunities), sum(o["IsClosed"] for o in opportunities))
            kinds.setdefault(kind, contact_id)
        assert {(2, 0), (0, 1), (0, 0)} <= set(kinds), kinds
        logged = {contact_id: log_activity(conn, contacts[contact_id], "Received Sales Call", call_outcome="Connected")
                  for contact_id in kinds.values()}
        lead_call = log_activity(conn, lead_person, "Received Sales Call", call_outcome="Connected")
    ok, _ = fan_out(marketo_sandbox, salesforce_sandbox, database_url)
    assert ok
    tasks = salesforce_tasks_by_activity(org)
    for contact_id, activity_id in logged.items():
        (task,) = tasks[str(activity_id)]
        assert task["WhoId"] == contact_id
        assert task["WhatId"] == _expected_what_id(org, contact_id)
    newest_open = _expected_what_id(org, kinds[(2, 0)])
    assert newest_open.startswith("006") and _expected_what_id(org, kinds[(0, 1)]).startswith("001")
    (lead_task,) = tasks[str(lead_call)]
    assert lead_task["WhatId"] is None
    with psycopg.connect(database_url) as conn:  # kept in Actions with the person
        kept = dict(conn.execute("SELECT contact_id, coalesce(open_opportunity_id, account_id) "
                                 "FROM salesforce_contact_context").fetchall())
    assert kept == {c: _expected_what_id(org, c) for c in logged}
