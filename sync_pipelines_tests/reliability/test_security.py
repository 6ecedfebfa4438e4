"""Nothing leaks: no personal data or credentials in the event log, run config or output; SOQL values are
escaped; TLS is verified."""

import ast
import re
import secrets
from pathlib import Path

import dagster as dg
import httpx
import pytest
from dagster._serdes import serialize_value

from sync_pipelines import people, tasks, unsubscribes
from sync_pipelines.marketo.client import MarketoClient
from sync_pipelines.resources import shared_resources
from sync_pipelines.salesforce import SalesforceClient
from sync_pipelines.salesforce.errors import SalesforceAuthError
from sync_pipelines.sandbox.marketo_app import create_marketo_app
from sync_pipelines.sandbox.marketo_state import MarketoSandbox, MarketoSandboxConfig
from sync_pipelines.sandbox.salesforce_app import make_tls_files, serve_salesforce
from sync_pipelines.sandbox.salesforce_state import SalesforceSandboxConfig
from sync_pipelines.sandbox.seed import generate_people
from sync_pipelines.sandbox.servers import serve, serve_marketo
from sync_pipelines_tests.reliability.chaos_harness import PersonScenario
from sync_pipelines_tests.fixtures.sellers import task_seller

PACKAGE = Path(__file__).resolve().parents[2] / "sync_pipelines"
MARKETO_SEED, SALESFORCE_SEED, SIZE = 4, 42, 200


def personal_values(seed: int, size: int) -> set[str]:
    """Emails, phones and names of the seeded people (names: full names, and last names long enough to
    mean a person rather than a common word)."""
    frame = generate_people(seed, size)
    values: set[str] = set()
    for row in frame.itertuples(index=False):
        first, last = (v if isinstance(v, str) else "" for v in (row.firstName, row.lastName))
        values |= {v for v in (row.email, row.phone) if isinstance(v, str) and len(v) >= 6}
        if first and last:
            values.add(f"{first} {last}")
        if len(last) >= 7:
            values.add(last)
    return values


def test_event_log_run_config_and_output_hold_no_personal_data_or_credentials(database_url, monkeypatch, capfd):
    marketo_secret, salesforce_secret = secrets.token_hex(16), secrets.token_hex(16)
    with serve_marketo(MarketoSandboxConfig(seed=MARKETO_SEED, size=SIZE, window_seconds=2.0,
                                            bulk_processing_seconds=0.05, client_secret=marketo_secret)) as marketo, \
            serve_salesforce(SalesforceSandboxConfig(seed=SALESFORCE_SEED, size=SIZE,
                                                     client_secret=salesforce_secret)) as salesforce:
        # Credentials only from the environment, as in production.
        for name, value in {"MARKETO_BASE_URL": marketo.url, "MARKETO_CLIENT_ID": marketo.client_id,
                            "MARKETO_CLIENT_SECRET": marketo_secret, "SALESFORCE_INSTANCE_URL": salesforce.url,
                            "SALESFORCE_CLIENT_ID": salesforce.client_id, "SALESFORCE_CLIENT_SECRET": salesforce_secret,
                            "SALESFORCE_CA_BUNDLE": salesforce.ca_path, "SYNC_DATABASE_URL": database_url}.items():
            monkeypatch.setenv(name, value)
        defs = dg.Definitions.merge(people.defs, unsubscribes.defs, tasks.defs,
                                    dg.Definitions(resources=shared_resources()))
        runs = [("person_sync_job", PersonScenario().run_config()),
                ("unsubscribe_sync_job", {}),
                ("task_sync_job", {})]
        task_seller(database_url, salesforce.sandbox.integration_user_id)  # the task sync runs for one seller
        with dg.DagsterInstance.ephemeral() as instance:
            run_ids = []
            for job_name, run_config in runs:
                result = defs.resolve_job_def(job_name).execute_in_process(run_config=run_config, instance=instance)
                assert result.success
                run_ids.append(result.run_id)
            records = [serialize_value(record) for run_id in run_ids for record in instance.all_logs(run_id)]
            run_configs = [serialize_value(instance.get_run_by_id(run_id)) for run_id in run_ids]
        tokens = set(marketo.sandbox._tokens) | set(salesforce.sandbox._sessions)
    output = capfd.readouterr()

    haystack = "\n".join([*records, *run_configs, output.out, output.err])
    assert len(records) > 50 and "ASSET_MATERIALIZATION" in haystack
    secrets_found = [s for s in [marketo_secret, salesforce_secret, *tokens] if s in haystack]
    assert not secrets_found, "a credential or access token reached the event log or output"
    values = personal_values(MARKETO_SEED, SIZE) | personal_values(SALESFORCE_SEED, SIZE)
    leaked = sorted(v for v in values if re.search(rf"(?<!\w){re.escape(v)}(?!\w)", haystack))
    assert not leaked, f"{len(leaked)} seeded personal values reached the event log or output"


# ---------------------------------------------------------------- SOQL is built only with soql.quote / soql_in

SAFE_CALLS = {"quote", "soql_in"}


def _is_safe(node: ast.expr) -> bool:
    """A value allowed inside a SOQL f-string: an escaping call, a module constant (UPPER_CASE), a join of a
    constant field list, or the object name of a loop over the OBJECTS constant."""
    if isinstance(node, ast.Call):
        func = node.func
        name = func.id if isinstance(func, ast.Name) else func.attr if isinstance(func, ast.Attribute) else ""
        if name in SAFE_CALLS or name == "int":  # an int() cannot carry a quote
            return True
        if name == "join" and len(node.args) == 1 and _is_safe(node.args[0]):
            return True
        return False
    if isinstance(node, ast.Name):
        return node.id.lstrip("_").isupper() or node.id == "sobject"
    if isinstance(node, ast.Attribute):
        return node.attr.lstrip("_").isupper()
    return False


def soql_fstrings() -> list[tuple[str, int, ast.JoinedStr]]:
    """Every f-string of the modules that use the Salesforce client whose text reads like SOQL
    (SELECT ... FROM <Object>): PostgreSQL's tables are lower case, Salesforce objects capitalised."""
    found = []
    for path in PACKAGE.rglob("*.py"):
        source = path.read_text()
        # The emulators parse SOQL rather than build it; modules without the Salesforce client build SQL.
        if "sandbox" in path.parts or "sync_pipelines.salesforce" not in source:
            continue
        for node in ast.walk(ast.parse(source)):
            if isinstance(node, ast.JoinedStr):
                text = "".join(p.value if isinstance(p, ast.Constant) else "{}" for p in node.values)
                if re.search(r"\bSELECT\b", text) and re.search(r"\bFROM\s+(\{\}|[A-Z][A-Za-z_]*\b)", text):
                    found.append((str(path.relative_to(PACKAGE)), node.lineno, node))
    return found


def test_every_value_in_a_soql_string_goes_through_the_soql_module():
    fstrings = soql_fstrings()
    assert len(fstrings) >= 5  # the task, unsubscribe and activity queries are all found
    unsafe = [f"{path}:{line}: {ast.unparse(value.value)}" for path, line, node in fstrings
              for value in node.values if isinstance(value, ast.FormattedValue) and not _is_safe(value.value)]
    assert not unsafe, unsafe


def test_the_soql_check_catches_an_unescaped_value():
    (node,) = [n for n in ast.walk(ast.parse('f"SELECT Id FROM Task WHERE Subject = \'{subject}\'"'))
               if isinstance(n, ast.JoinedStr)]
    assert not _is_safe(node.values[1].value)


# ---------------------------------------------------------------- TLS


def test_a_salesforce_client_without_the_sandbox_ca_refuses_to_connect():
    with serve_salesforce(SalesforceSandboxConfig(size=5)) as running:
        with pytest.raises(SalesforceAuthError, match="SSLError"):
            SalesforceClient(running.url, client_id=running.client_id, client_secret=running.client_secret)
        assert running.sandbox.api_calls == 0


def test_the_marketo_client_verifies_tls_for_https_urls(tmp_path):
    tls = make_tls_files(tmp_path)  # a certificate from a CA the client does not trust
    sandbox = MarketoSandbox(MarketoSandboxConfig(size=5))
    with serve(create_marketo_app(sandbox), ssl_certfile=tls.cert_path, ssl_keyfile=tls.key_path) as running:
        client = MarketoClient(running.url, sandbox.config.client_id, sandbox.config.client_secret,
                               max_retries=0, retry_backoff_seconds=0.01)
        with client, pytest.raises(Exception) as raised:
            client.lead_fields()
        assert "unreachable (ConnectError)" in str(raised.value)  # the handshake was refused...
        assert sandbox.api_calls == 0
        # ...because the certificate is not trusted: the same server answers a client that trusts its CA.
        assert httpx.get(f"{running.url}/sandbox/stats", verify=tls.ca_path).status_code == 200
