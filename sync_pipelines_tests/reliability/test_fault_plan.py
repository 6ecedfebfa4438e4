"""The per-run fault plan: set from Python or the admin endpoint, seeded, and answered like the real services."""

import httpx
import pytest

from sync_pipelines.marketo.client import MarketoClient
from sync_pipelines.sandbox.faults import FaultPlan
from sync_pipelines_tests.fixtures.marketo import marketo_http_client


def test_a_plan_is_seeded_and_counts_what_it_injected():
    first, second = (FaultPlan({"5xx": 0.3, "606": 0.2}, seed=9) for _ in range(2))
    draws = [[plan.draw(["5xx", "606", "604"]) for _ in range(200)] for plan in (first, second)]
    assert draws[0] == draws[1] and {"5xx", "606", None} == set(draws[0])
    assert first.injected == {k: draws[0].count(k) for k in ("5xx", "606")}
    capped = FaultPlan({"5xx": 1.0}, max_faults=3)
    assert [capped.draw(["5xx"]) for _ in range(5)] == ["5xx"] * 3 + [None] * 2
    with pytest.raises(ValueError):
        FaultPlan({"999": 0.5})


@pytest.mark.parametrize("kind, code", [("601", "601"), ("602", "602"), ("604", "604"), ("606", "606"),
                                        ("607", "607"), ("615", "615")])
def test_marketo_answers_planned_errors_in_its_envelope(marketo_sandbox, kind, code):
    httpx.post(f"{marketo_sandbox.url}/sandbox/faults", json={"rates": {kind: 1.0}, "seed": 1}).raise_for_status()
    with marketo_http_client(marketo_sandbox) as http:
        body = http.get("/rest/v1/leads/describe.json").json()
    assert body["success"] is False and body["errors"][0]["code"] == code
    assert httpx.get(f"{marketo_sandbox.url}/sandbox/faults").json()["injected"] == {kind: 1}


def test_marketo_5xx_slow_answers_and_the_export_quota(marketo_sandbox):
    sandbox = marketo_sandbox.sandbox
    with marketo_http_client(marketo_sandbox) as http:
        sandbox.set_fault_plan(FaultPlan({"5xx": 1.0}))
        answer = http.get("/rest/v1/leads/describe.json")
        assert answer.status_code == 503 and "text/html" in answer.headers["content-type"]
        sandbox.set_fault_plan(FaultPlan({"slow": 1.0}, slow_seconds=0.3))
        assert http.get("/rest/v1/leads/describe.json").elapsed.total_seconds() >= 0.3
        sandbox.set_fault_plan(FaultPlan({"1029": 1.0}))
        assert http.get("/rest/v1/leads/describe.json").json()["success"]  # 1029 only where a job is queued
        job = http.post("/bulk/v1/leads/export/create.json",
                        json={"fields": ["id"], "filter": {"smartListId": 1}}).json()["result"][0]
        queued = http.post(f"/bulk/v1/leads/export/{job['exportId']}/enqueue.json").json()
        assert queued["errors"][0] == {"code": "1029", "message": "Export daily quota exceeded"}
    httpx.post(f"{marketo_sandbox.url}/sandbox/faults", json={}).raise_for_status()  # clears the plan
    assert sandbox.fault_plan is None


def test_marketo_export_job_ends_failed_and_the_client_says_so(marketo_sandbox):
    marketo_sandbox.sandbox.set_fault_plan(FaultPlan({"bulk_export_failed": 1.0}))
    with MarketoClient(marketo_sandbox.url, marketo_sandbox.client_id, marketo_sandbox.client_secret,
                       bulk_poll_max_seconds=0.05, window_seconds=2.0) as client:
        with pytest.raises(Exception, match="ended Failed"):
            list(client.export_leads_from_smart_list(["id"], 1))


def test_salesforce_planned_faults_from_the_admin_endpoint(salesforce_sandbox, salesforce_client):
    url, org = salesforce_sandbox.url, salesforce_sandbox.sandbox
    admin = httpx.Client(verify=salesforce_sandbox.ca_path)
    admin.post(f"{url}/sandbox/faults", json={"rates": {"INVALID_SESSION_ID": 1.0}, "max_faults": 1}).raise_for_status()
    assert len(list(salesforce_client.query("SELECT Id FROM User"))) > 0  # re-authenticated and replayed
    assert admin.get(f"{url}/sandbox/faults").json()["injected"] == {"INVALID_SESSION_ID": 1}

    for kind in ("UNABLE_TO_LOCK_ROW", "5xx"):  # transient: retried until the plan's budget is spent
        org.set_fault_plan(FaultPlan({kind: 1.0}, max_faults=2))
        assert len(list(salesforce_client.query("SELECT Id FROM User"))) > 0
        assert org.fault_plan.injected == {kind: 2}

    leads = [r["Id"] for r in org.records("Lead")][:20]
    org.set_fault_plan(FaultPlan({"partial_collection": 0.5}, seed=3, max_faults=4))
    results = salesforce_client.update_many("Lead", [{"Id": i, "Title": "partial"} for i in leads])
    assert all(r.success for r in results)  # the refused records were resubmitted alone
    assert org.fault_plan.injected == {"partial_collection": 4}
    assert all(org.get("Lead", i)["Title"] == "partial" for i in leads)
    admin.post(f"{url}/sandbox/faults", content=b"").raise_for_status()
    assert org.fault_plan is None
    admin.close()
