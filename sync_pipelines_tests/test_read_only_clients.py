"""A dry run's clients are read-only: every Marketo and Salesforce write raises before anything is sent,
while reads work. (The writers already skip their writes in a dry run; this is the second line.)"""

from __future__ import annotations

import pytest

from sync_pipelines.marketo.client import MarketoClient
from sync_pipelines.marketo.errors import MarketoReadOnlyError
from sync_pipelines.salesforce import SalesforceClient
from sync_pipelines.salesforce.errors import SalesforceReadOnlyError

MARKETO_WRITE_PATHS = ("/rest/v1/activities/external.json", "/rest/v1/activities/external/type.json")


def test_a_read_only_marketo_client_sends_no_write(marketo_sandbox):
    with MarketoClient(marketo_sandbox.url, marketo_sandbox.client_id, marketo_sandbox.client_secret,
                       read_only=True) as client:
        api = client.custom_activities
        assert api.list_types() == []  # a read goes through
        writes = [
            lambda: api.create_type({"apiName": "salesEmailSent_c", "name": "Sales Email Sent"}),
            lambda: api.create_attributes("salesEmailSent_c", [{"apiName": "subject", "dataType": "string"}]),
            lambda: api.approve_type("salesEmailSent_c"),
            lambda: api.insert([{"leadId": 1, "activityTypeId": 100001, "primaryAttributeValue": "x"}]),
        ]
        for write in writes:
            with pytest.raises(MarketoReadOnlyError, match="a dry run sends nothing"):
                write()
    sent = marketo_sandbox.sandbox.calls_by_path
    assert not [path for path in sent if path in MARKETO_WRITE_PATHS or path.endswith(("create.json", "approve.json"))]


def test_a_read_only_salesforce_client_sends_no_write(salesforce_sandbox):
    with SalesforceClient(salesforce_sandbox.url, client_id=salesforce_sandbox.client_id,
                          client_secret=salesforce_sandbox.client_secret, ca_bundle=salesforce_sandbox.ca_path,
                          read_only=True) as client:
        lead_id = next(iter(client.query("SELECT Id FROM Lead LIMIT 1")))["Id"]  # a read goes through
        writes = [
            lambda: client.update_many("Lead", [{"Id": lead_id, "HasOptedOutOfEmail": True}]),
            lambda: client.upsert_many("Task", "Actions_Task_Id__c", [{"Actions_Task_Id__c": "1", "Subject": "x"}]),
            lambda: client.delete_many([lead_id]),
        ]
        for write in writes:
            with pytest.raises(SalesforceReadOnlyError, match="a dry run sends nothing"):
                write()
    assert not [path for path in salesforce_sandbox.sandbox.calls_by_path
                if "/composite/" in path or "/sobjects/" in path]
