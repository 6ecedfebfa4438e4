"""Every admin route of both emulators is documented with its body: in --help and in the sandbox README."""

from pathlib import Path

from starlette.routing import Route

from sync_pipelines.sandbox.__main__ import parse_args
from sync_pipelines.sandbox.admin import ADMIN_ENDPOINTS
from sync_pipelines.sandbox.marketo_app import create_marketo_app
from sync_pipelines.sandbox.marketo_state import MarketoSandbox, MarketoSandboxConfig
from sync_pipelines.sandbox.salesforce_app import create_app as create_salesforce_app
from sync_pipelines.sandbox.salesforce_state import SalesforceSandbox, SalesforceSandboxConfig

README = Path(__file__).resolve().parents[2] / "sync_pipelines" / "sandbox" / "README.md"


def _admin_routes(app, service: str) -> set[tuple[str, str, str]]:
    found = set()
    for route in app.routes:
        if isinstance(route, Route) and route.path.startswith("/sandbox/"):
            path = route.path.replace("{lead_id:int}", "{id}")
            found.update((service, method, path) for method in route.methods - {"HEAD"})
    return found


def test_every_admin_route_is_listed_with_its_body(capsys):
    marketo = create_marketo_app(MarketoSandbox(MarketoSandboxConfig(size=10)))
    salesforce = create_salesforce_app(SalesforceSandbox(SalesforceSandboxConfig(size=10)))
    served = _admin_routes(marketo, "marketo") | _admin_routes(salesforce, "salesforce")
    listed = {(endpoint.service, endpoint.method, endpoint.path) for endpoint in ADMIN_ENDPOINTS}
    assert served == listed
    assert all(endpoint.body and endpoint.answer for endpoint in ADMIN_ENDPOINTS)

    try:
        parse_args(["--help"])
    except SystemExit:
        pass
    help_text = capsys.readouterr().out
    readme = README.read_text()
    for endpoint in ADMIN_ENDPOINTS:
        assert f"{endpoint.method} {endpoint.path}" in help_text
        assert endpoint.body in help_text
        assert f"`{endpoint.method} {endpoint.path}`" in readme, f"{endpoint.method} {endpoint.path} missing in {README}"
