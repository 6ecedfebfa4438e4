"""The emulator's single-record REST surface, driven by simple-salesforce directly."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from simple_salesforce import Salesforce, format_external_id
from sync_pipelines.salesforce.client import SalesforceHttpSession
from simple_salesforce.exceptions import (
    SalesforceExpiredSession,
    SalesforceMalformedRequest,
    SalesforceResourceNotFound,
)


@pytest.fixture
def sf(salesforce_sandbox) -> Iterator[Salesforce]:
    session = SalesforceHttpSession()  # its close() really closes the sockets
    session.verify = salesforce_sandbox.ca_path
    session.trust_env = False
    token = session.post(f"{salesforce_sandbox.url}/services/oauth2/token", auth=(
        salesforce_sandbox.client_id, salesforce_sandbox.client_secret), data={"grant_type": "client_credentials"})
    assert token.status_code == 200  # HTTP Basic credentials work too
    body = token.json()
    assert body["token_type"] == "Bearer" and body["instance_url"] == salesforce_sandbox.url
    yield Salesforce(session_id=body["access_token"], instance_url=body["instance_url"], session=session,
                     version="62.0")
    session.close()


def test_single_record_lifecycle(sf, salesforce_sandbox):
    lead_id = salesforce_sandbox.sandbox.records("Lead")[0]["Id"]
    created = sf.Task.create({"Subject": "Follow up", "WhoId": lead_id, "ActivityDate": "2026-07-03",
                              "Actions_Task_Id__c": "ext 1"})
    task_id = created["id"]
    assert task_id.startswith("00T") and len(task_id) == 18 and created["success"]
    task = sf.Task.get(task_id)
    assert task["attributes"]["type"] == "Task" and task["ActivityDate"] == "2026-07-03"
    assert task["IsClosed"] is False and task["Status"] == "Not Started"
    assert sf.Task.update(task_id, {"Status": "Completed"}) == 204
    assert sf.Task.get(task_id[:15])["IsClosed"] is True  # 15-char ids work too
    assert sf.Task.get(format_external_id("Actions_Task_Id__c", "ext 1"))["Id"] == task_id
    assert sf.Task.upsert("Actions_Task_Id__c/ext 1", {"Subject": "Renamed"}) == 200  # v46+: 200 with body
    assert sf.Task.upsert("Actions_Task_Id__c/ext 2", {"Subject": "New", "WhoId": lead_id}) == 201
    assert sf.Task.delete(task_id) == 204
    with pytest.raises(SalesforceResourceNotFound):
        sf.Task.get(task_id)


def test_errors_are_arrays_with_real_codes(sf, salesforce_sandbox):
    with pytest.raises(SalesforceMalformedRequest) as raised:
        sf.Task.create({"Subject": "x", "WhoId": "0035g0000999999AAE"})
    assert raised.value.content[0]["errorCode"] == "INVALID_CROSS_REFERENCE_KEY"
    with pytest.raises(SalesforceMalformedRequest) as raised:
        sf.Task.create({"NoSuchField": 1})
    assert raised.value.content[0] == {"message": "No such column 'NoSuchField' on sobject of type Task",
                                       "errorCode": "INVALID_FIELD", "fields": ["NoSuchField"]}
    with pytest.raises(SalesforceMalformedRequest) as raised:
        sf.Lead.create({"LastName": "Only"})
    assert raised.value.content[0]["errorCode"] == "REQUIRED_FIELD_MISSING"
    salesforce_sandbox.sandbox.inject_errors("UNABLE_TO_LOCK_ROW", count=1, path_prefix="sobjects/Task")
    with pytest.raises(SalesforceMalformedRequest) as raised:
        sf.Task.create({"Subject": "locked"})
    assert raised.value.content[0]["errorCode"] == "UNABLE_TO_LOCK_ROW"
    salesforce_sandbox.sandbox.expire_sessions()
    with pytest.raises(SalesforceExpiredSession):
        sf.limits()


def test_limit_header_describe_and_versions(sf, salesforce_sandbox):
    describe = sf.Task.describe()
    fields = {f["name"]: f for f in describe["fields"]}
    assert describe["keyPrefix"] == "00T"
    assert fields["TaskSubtype"]["createable"] and not fields["TaskSubtype"]["updateable"]
    assert fields["Actions_Activity_Id__c"]["externalId"] and fields["Actions_Activity_Id__c"]["unique"]
    sf.limits()
    assert sf.api_usage["api-usage"].used == 2 and sf.api_usage["api-usage"].total == 100000
    versions = sf.session.get(f"{salesforce_sandbox.url}/services/data/").json()
    assert {"62.0", "59.0"} <= {v["version"] for v in versions}


def test_all_or_none_rolls_back(sf, salesforce_sandbox):
    lead_id = salesforce_sandbox.sandbox.records("Lead")[0]["Id"]
    records = [{"attributes": {"type": "Task"}, "Subject": "ok", "WhoId": lead_id},
               {"attributes": {"type": "Task"}, "Subject": "bad", "WhoId": "00Q5g0000999999AAE"}]
    results = sf.restful("composite/sobjects", method="POST", json={"allOrNone": True, "records": records})
    assert [r["errors"][0]["statusCode"] for r in results] == ["ALL_OR_NONE_OPERATION_ROLLED_BACK",
                                                               "INVALID_CROSS_REFERENCE_KEY"]
    assert salesforce_sandbox.sandbox.records("Task") == []
    with pytest.raises(SalesforceMalformedRequest):
        sf.restful("composite/sobjects", method="POST", json={"allOrNone": False, "records": records * 101})
