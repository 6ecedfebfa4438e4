"""The Marketo emulator's answers conform to Marketo's official OpenAPI description (schemathesis).

Schemathesis generates requests for each operation the project relies on, from the Swagger 2.0 files in
shared/reference, sends them to the emulator over loopback HTTP, and checks status codes, content types
and response bodies against the documented schemas.
"""

from pathlib import Path

import hypothesis
import pytest
import schemathesis

from sync_pipelines_tests.fixtures.marketo import fetch_marketo_token

REFERENCE = Path(__file__).resolve().parents[3] / "shared" / "reference" / "marketo-openapi"
if not REFERENCE.exists():  # a clone of the project beside shared/, as CI runs it
    REFERENCE = Path(__file__).resolve().parents[2].parent / "shared" / "reference" / "marketo-openapi"

# The read operations the sync calls (the bulk file download is left out: real Marketo answers it with
# plain-text 404s before completion, which the description does not declare).
OPERATIONS = [
    ("GET", "/rest/v1/leads/describe.json"),
    ("GET", "/rest/v1/leads/describe2.json"),
    ("GET", "/rest/v1/leads.json"),
    ("GET", "/rest/v1/lead/{leadId}.json"),
    ("GET", "/rest/v1/activities/pagingtoken.json"),
    ("GET", "/rest/v1/activities/leadchanges.json"),
    ("GET", "/rest/v1/activities/deletedleads.json"),
    ("GET", "/rest/v1/activities.json"),
    ("GET", "/rest/v1/activities/types.json"),
    ("GET", "/bulk/v1/leads/export.json"),
    ("GET", "/bulk/v1/leads/export/{exportId}/status.json"),
]

pytestmark = pytest.mark.skipif(not REFERENCE.exists(), reason=f"Marketo OpenAPI files not found at {REFERENCE}")


def check_operation(operation, base_url: str, headers: dict) -> None:
    @hypothesis.settings(
        max_examples=12,
        deadline=None,
        derandomize=True,
        database=None,
        phases=[hypothesis.Phase.explicit, hypothesis.Phase.generate],
        suppress_health_check=list(hypothesis.HealthCheck),
    )
    @hypothesis.given(case=operation.as_strategy())
    def conforms(case):
        case.call_and_validate(base_url=base_url, headers=headers)

    conforms()


@pytest.mark.parametrize(("method", "path"), OPERATIONS, ids=[f"{m} {p}" for m, p in OPERATIONS])
def test_emulator_conforms_to_the_marketo_openapi(make_marketo_sandbox, method, path):
    # A generous rate limit: generated requests should exercise the operations, not the limiter.
    server = make_marketo_sandbox(calls_per_window=10_000)
    schema = schemathesis.openapi.from_path(REFERENCE / "swagger-mapi.json")
    operation = schema[path][method]
    check_operation(operation, server.url, {"Authorization": f"Bearer {fetch_marketo_token(server)}"})


def test_identity_endpoint_conforms_to_the_marketo_openapi(make_marketo_sandbox):
    server = make_marketo_sandbox()
    schema = schemathesis.openapi.from_path(REFERENCE / "swagger-identity.json")
    for method in ("GET", "POST"):
        operation = schema["/identity/oauth/token"][method]
        case = operation.Case(query={"grant_type": "client_credentials", "client_id": server.client_id, "client_secret": server.client_secret})
        case.call_and_validate(base_url=server.url)
