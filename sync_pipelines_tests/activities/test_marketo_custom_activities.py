"""The Marketo emulator's custom-activity endpoints, through the project's client and raw HTTP."""

from datetime import datetime, timezone

from sync_pipelines.activities.type_setup import ensure_activity_types
from sync_pipelines.activities.types import TYPES_BY_NAME
from sync_pipelines.marketo.client import MarketoClient
from sync_pipelines.sandbox.faults import FaultPlan
from sync_pipelines_tests.fixtures.marketo import marketo_http_client


def _client(server) -> MarketoClient:
    return MarketoClient(server.url, server.client_id, server.client_secret,
                         window_seconds=server.sandbox.config.window_seconds, retry_backoff_seconds=0.01)


def test_type_lifecycle_insert_limits_per_record_status_and_read_back(marketo_sandbox):
    with _client(marketo_sandbox) as client:
        api = client.custom_activities
        first = ensure_activity_types(api)
        assert (first.types_created, first.types_approved) == (8, 8)
        again = ensure_activity_types(api)
        assert (again.types_created, again.attributes_added, again.types_approved) == (0, 0, 0)

        spec = TYPES_BY_NAME["Sales Email Sent"]
        described = api.describe_type(spec.api_name)
        assert described["status"] == "approved"
        assert {a["apiName"] for a in described["attributes"]} == {a.api_name for a in spec.attributes}
        type_id = described["id"]
        listed = client._api.get("/rest/v1/activities/types.json", {})["result"]
        assert type_id in {t["id"] for t in listed}  # also listed by types.json

        lead = int(marketo_sandbox.sandbox.leads()["id"].iloc[0])
        since = datetime.now(timezone.utc)
        item = {"leadId": lead, "activityDate": "2026-06-30T12:00:00Z", "activityTypeId": type_id,
                "primaryAttributeValue": "Hello", "attributes": [{"apiName": "actionsActivityId", "value": "77"}]}
        results = api.insert([item, {**item, "leadId": 9_999_999},
                              {**item, "attributes": [{"apiName": "noSuchAttribute", "value": "x"}]}])
        assert results[0]["status"] == "added" and results[0]["marketoGUID"]
        assert results[1] == {"status": "skipped", "errors": [{"code": "1004", "message": "Lead not found"}]}
        assert results[2]["status"] == "skipped" and results[2]["errors"][0]["code"] == "1003"

        (back,) = list(api.read_back([type_id], [lead], since))
        assert back["marketoGUID"] == results[0]["marketoGUID"] and back["activityDate"] == "2026-06-30T12:00:00Z"
        assert {"name": "Actions Activity ID", "apiName": "actionsActivityId", "value": "77"} in back["attributes"]

    with marketo_http_client(marketo_sandbox) as http:
        too_many = http.post("/rest/v1/activities/external.json", json={"input": [item] * 301}).json()
        assert too_many["success"] is False and too_many["errors"][0]["code"] == "1003"
        # Writes stay refused elsewhere: the sandbox's lead API is read-only.
        assert http.post("/rest/v1/leads.json", json={"input": []}).json()["errors"][0]["code"] == "610"


def test_type_setup_settles_lost_answers_by_reading_the_types_again(marketo_sandbox):
    """The create, attribute and approve calls run but their answers are lost: nothing is sent twice (a
    replayed create would be refused as "already exists"); the next pass reads the types and goes on."""
    sandbox = marketo_sandbox.sandbox
    sandbox.set_fault_plan(FaultPlan({"lost_reply": 1.0}, max_faults=4))
    with _client(marketo_sandbox) as client:
        first = ensure_activity_types(client.custom_activities)
        assert sandbox.fault_plan.injected["lost_reply"] == 4 and first.unanswered_writes == 4
        writes = [path for method, path in sandbox.call_log if method == "POST"]
        # One create, one attribute add and one approval per type: no write was sent twice.
        assert len(writes) == 8 * 3 and writes.count("/rest/v1/activities/external/type.json") == 8
        assert len({path for path in writes if not path.endswith("/type.json")}) == 8 * 2
        again = ensure_activity_types(client.custom_activities)
        assert (again.types_created, again.attributes_added, again.types_approved, again.types_already_current) \
            == (0, 0, 0, 8)
        for spec in TYPES_BY_NAME.values():
            described = client.custom_activities.describe_type(spec.api_name)
            assert described["status"] == "approved"
            assert {a["apiName"] for a in described["attributes"]} == {a.api_name for a in spec.attributes}
