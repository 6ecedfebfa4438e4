"""The standard mapping, pinned field by field with literal expectations (not derived from the mapping
table in people/fields.py, so swapping two entries there fails here)."""

import dagster as dg
import psycopg

from sync_pipelines import people
from sync_pipelines.resources import ActionsDatabase
from sync_pipelines_tests.fixtures.marketo import marketo_resource


def test_each_marketo_field_lands_in_its_actions_column(marketo_sandbox, database_url):
    marketo_id = marketo_sandbox.sandbox.create_lead(
        firstName="Value-firstName", lastName="Value-lastName", sfdcContactId="003VALUECONTACT",
        sfdcLeadId="00QVALUELEAD", company="Value-company", title="Value-title", email="value-email@example.test",
        phone="+1 555 0100", linkedInProfileURL="https://www.linkedin.com/in/value", leadSource="Value-leadSource",
        sfdcLeadOwnerId="005VALUEOWNER", sfdcType="Contact",
    )
    resources = {"marketo": marketo_resource(marketo_sandbox), "actions_db": ActionsDatabase(url=database_url)}
    assert dg.materialize(people.ASSETS, resources=resources).success

    with psycopg.connect(database_url) as conn:
        row = conn.execute(
            "SELECT marketo_id, first_name, last_name, salesforce_contact_id, salesforce_lead_id, company, title,"
            " email, phone, linkedin_url, source FROM actions_person WHERE marketo_id = %s", (marketo_id,)
        ).fetchone()
        columns = [r[0] for r in conn.execute(
            "SELECT column_name FROM information_schema.columns WHERE table_name = 'actions_person'"
            " AND column_name NOT IN ('first_synced_at', 'last_synced_at', 'source_updated_at', 'row_hash')"
        )]
    assert row == (
        marketo_id,                           # id
        "Value-firstName",                    # firstName
        "Value-lastName",                     # lastName
        "003VALUECONTACT",                    # sfdcContactId
        "00QVALUELEAD",                       # sfdcLeadId
        "Value-company",                      # company
        "Value-title",                        # title
        "value-email@example.test",           # email
        "+1 555 0100",                        # phone
        "https://www.linkedin.com/in/value",  # linkedInProfileURL
        "Value-leadSource",                   # leadSource -> source
    )
    assert len(columns) == 11  # exactly the 11 fields of the mapping, plus sync metadata
