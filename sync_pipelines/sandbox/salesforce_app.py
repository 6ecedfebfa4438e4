"""The Salesforce emulator over HTTPS: a Starlette app on top of `SalesforceSandbox`.

It speaks the REST API that simple-salesforce uses (see reference/api-notes.md sections 8-13):
OAuth client-credentials at /services/oauth2/token, SOQL query/queryAll with nextRecordsUrl
paging, sObject CRUD and upsert by external id, getUpdated/getDeleted, sObject Collections,
describe and limits. Errors are JSON arrays `[{message, errorCode, fields}]` with real HTTP
codes, and every answer carries `Sforce-Limit-Info`. simple-salesforce only builds https URLs,
so `serve_salesforce` makes a throwaway CA and certificate with trustme at start.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import hmac
import json
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Awaitable, Callable, Iterator
from urllib.parse import parse_qsl

import trustme
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from sync_pipelines.sandbox import request_limits
from sync_pipelines.sandbox.faults import FaultPlan
from sync_pipelines.sandbox.request_limits import RequestLimits
from sync_pipelines.sandbox.lost_reply import LOST_REPLY, LostReply
from sync_pipelines.sandbox.salesforce_soql import SoqlError
from sync_pipelines.sandbox.salesforce_state import (
    SalesforceApiError,
    SalesforceSandbox,
    SalesforceSandboxConfig,
    to_json,
)

API_VERSIONS = ("58.0", "59.0", "60.0", "61.0", "62.0", "63.0")
_PREFIX = "/services/data/v{version}"
# From v46.0 an upsert that updates answers 200 with a body; older versions answer 204.
_UPSERT_BODY_SINCE = 46.0

Handler = Callable[[Request, SalesforceSandbox], Awaitable[Response]]
_WRITE_METHODS = frozenset({"POST", "PATCH", "PUT", "DELETE"})


async def _json_body(request: Request) -> Any:
    try:
        return await request.json()
    except ValueError:
        raise SalesforceApiError(400, "JSON_PARSER_ERROR", "The request body is not valid JSON") from None


def _record_json(sobject: str, record: dict[str, Any], version: str, fields: list[str] | None = None) -> dict:
    names = fields or list(record)
    return {"attributes": {"type": sobject, "url": f"/services/data/v{version}/sobjects/{sobject}/{record['Id']}"},
            **{name: to_json(record.get(name)) for name in names}}


def _api_path(request: Request) -> str:
    """The path after /services/data/vXX.X/ (used to match injected faults)."""
    parts = request.url.path.split("/", 4)
    return parts[4] if len(parts) > 4 else ""


def _api(handler: Handler, *, collection: bool = False) -> Callable[[Request], Awaitable[Response]]:
    """Wrap a handler with what every data API call shares: auth, counting, faults, error bodies."""

    async def endpoint(request: Request) -> Response:
        sandbox: SalesforceSandbox = request.app.state.sandbox
        try:
            auth = request.headers.get("authorization", "")
            if not (auth.startswith("Bearer ") and sandbox.session_valid(auth[len("Bearer "):])):
                raise SalesforceApiError(401, "INVALID_SESSION_ID", "Session expired or invalid")
            sandbox.begin_call(request.url.path, _api_path(request), collection)
            response = await handler(request, sandbox)
            if request.method in _WRITE_METHODS and sandbox.draw_fault(LOST_REPLY):
                return LostReply()  # the write ran; its answer is lost
        except SalesforceApiError as error:
            response = JSONResponse(error.body(), status_code=error.status)
        except SoqlError as error:
            response = JSONResponse([{"message": error.message, "errorCode": error.code, "fields": []}],
                                    status_code=400)
        response.headers["Sforce-Limit-Info"] = sandbox.limit_info()
        return response

    return endpoint


# ---------------------------------------------------------------- OAuth and discovery


async def token(request: Request) -> Response:
    """Client-credentials grant; credentials in the form body or HTTP Basic."""
    sandbox: SalesforceSandbox = request.app.state.sandbox
    # A urlencoded form, parsed by hand: Starlette's form parser needs python-multipart.
    form = dict(parse_qsl((await request.body()).decode("utf-8", "replace")))
    client_id, client_secret = form.get("client_id"), form.get("client_secret")
    auth = request.headers.get("authorization", "")
    if auth.startswith("Basic "):
        with contextlib.suppress(ValueError):
            client_id, _, client_secret = base64.b64decode(auth[6:]).decode().partition(":")
    if form.get("grant_type") != "client_credentials":
        return JSONResponse({"error": "unsupported_grant_type", "error_description": "grant type not supported"},
                            status_code=400)
    try:
        access_token = sandbox.issue_token(str(client_id or ""), str(client_secret or ""))
    except ValueError:
        return JSONResponse({"error": "invalid_client", "error_description": "invalid client credentials"},
                            status_code=400)
    issued_at = str(int(time.time() * 1000))
    instance_url = f"https://{request.url.netloc}"
    signature = hmac.new(sandbox.config.client_secret.encode(), f"{instance_url}{issued_at}".encode(),
                         hashlib.sha256).digest()
    return JSONResponse({
        "access_token": access_token,
        "instance_url": instance_url,
        "id": f"{instance_url}/id/{sandbox.config.organization_id}/{sandbox.integration_user_id}",
        "token_type": "Bearer",
        "issued_at": issued_at,
        "signature": base64.b64encode(signature).decode(),
    })


async def versions(request: Request) -> Response:
    return JSONResponse([{"label": f"v{v}", "url": f"/services/data/v{v}", "version": v} for v in API_VERSIONS])


async def userinfo(request: Request) -> Response:
    """The OAuth 2.0 UserInfo endpoint (GET {instance}/services/oauth2/userinfo, Bearer token): who the token
    belongs to, with the org's id. Not an API call (no limit is used). A bad token: 403 "Bad_OAuth_Token"."""
    sandbox: SalesforceSandbox = request.app.state.sandbox
    auth = request.headers.get("authorization", "")
    if not (auth.startswith("Bearer ") and sandbox.session_valid(auth[len("Bearer "):])):
        return Response("Bad_OAuth_Token", status_code=403, media_type="text/plain")
    instance_url = f"https://{request.url.netloc}"
    org, user = sandbox.config.organization_id, sandbox.integration_user_id
    return JSONResponse({
        "sub": f"{instance_url}/id/{org}/{user}",
        "user_id": user,
        "organization_id": org,
        "preferred_username": "integration@sandbox.example",
        "nickname": "integration",
        "name": "Sandbox Integration",
        "active": True,
        "user_type": "STANDARD",
        "language": "en_US",
        "locale": "en_US",
        "utcOffset": 0,
        "urls": {"rest": f"{instance_url}/services/data/v{{version}}/"},
    })


async def limits(request: Request, sandbox: SalesforceSandbox) -> Response:
    return JSONResponse(sandbox.limits())


# ---------------------------------------------------------------- SOQL


def _query_handler(include_deleted: bool) -> Handler:
    async def run(request: Request, sandbox: SalesforceSandbox) -> Response:
        soql = request.query_params.get("q")
        if not soql:
            raise SalesforceApiError(400, "MALFORMED_QUERY", "A query string (q) is required")
        return JSONResponse(sandbox.run_query(soql, include_deleted, request.path_params["version"]))

    return run


async def query_more(request: Request, sandbox: SalesforceSandbox) -> Response:
    cursor, _, offset = request.path_params["locator"].rpartition("-")
    if not offset.isdigit():
        raise SalesforceApiError(400, "INVALID_QUERY_LOCATOR", "invalid query locator")
    return JSONResponse(sandbox.query_page(cursor, int(offset), request.path_params["version"]))


# ---------------------------------------------------------------- sObject rows


async def create_record(request: Request, sandbox: SalesforceSandbox) -> Response:
    sobject = sandbox.spec(request.path_params["sobject"]).name
    record_id = sandbox.create_record(sobject, await _json_body(request))
    return JSONResponse({"id": record_id, "success": True, "errors": []}, status_code=201)


async def get_record(request: Request, sandbox: SalesforceSandbox) -> Response:
    sobject = sandbox.spec(request.path_params["sobject"]).name
    record = sandbox.get_record(sobject, request.path_params["record_id"])
    fields = request.query_params.get("fields")
    version = request.path_params["version"]
    return JSONResponse(_record_json(sobject, record, version, fields.split(",") if fields else None))


async def update_record(request: Request, sandbox: SalesforceSandbox) -> Response:
    sandbox.update_record(request.path_params["sobject"], request.path_params["record_id"],
                          await _json_body(request))
    return Response(status_code=204)


async def delete_record(request: Request, sandbox: SalesforceSandbox) -> Response:
    sandbox.delete_record(request.path_params["sobject"], request.path_params["record_id"])
    return Response(status_code=204)


async def get_by_external_id(request: Request, sandbox: SalesforceSandbox) -> Response:
    sobject = sandbox.spec(request.path_params["sobject"]).name
    found = sandbox.find_by_external_id(sobject, request.path_params["field"], request.path_params["value"])
    if not found:
        raise SalesforceApiError(404, "NOT_FOUND", "The requested resource does not exist")
    if len(found) > 1:
        return JSONResponse([f"/services/data/v{request.path_params['version']}/sobjects/{sobject}/{r['Id']}"
                             for r in found], status_code=300)
    return JSONResponse(_record_json(sobject, found[0], request.path_params["version"]))


async def upsert_by_external_id(request: Request, sandbox: SalesforceSandbox) -> Response:
    params = request.path_params
    record_id, created = sandbox.upsert_record(params["sobject"], params["field"], params["value"],
                                               await _json_body(request))
    body = {"id": record_id, "success": True, "errors": [], "created": created}
    if created:
        return JSONResponse(body, status_code=201)
    if float(params["version"]) < _UPSERT_BODY_SINCE:
        return Response(status_code=204)
    return JSONResponse(body, status_code=200)


async def describe(request: Request, sandbox: SalesforceSandbox) -> Response:
    return JSONResponse(sandbox.describe(request.path_params["sobject"]))


async def updated(request: Request, sandbox: SalesforceSandbox) -> Response:
    start, end = request.query_params.get("start", ""), request.query_params.get("end", "")
    return JSONResponse(sandbox.updated_ids(request.path_params["sobject"], start, end))


async def deleted(request: Request, sandbox: SalesforceSandbox) -> Response:
    start, end = request.query_params.get("start", ""), request.query_params.get("end", "")
    return JSONResponse(sandbox.deleted_records(request.path_params["sobject"], start, end))


# ---------------------------------------------------------------- sObject Collections


def _records_of(body: Any) -> tuple[list[dict[str, Any]], bool]:
    if not isinstance(body, dict) or not isinstance(body.get("records"), list):
        raise SalesforceApiError(400, "JSON_PARSER_ERROR", "Expected an object with a records array")
    return body["records"], bool(body.get("allOrNone", False))


def _record_type(record: dict[str, Any]) -> str:
    sobject = (record.get("attributes") or {}).get("type")
    if not sobject:
        raise SalesforceApiError(400, "INVALID_TYPE", "Must send a concrete entity type.")
    return sobject


def _fields(record: dict[str, Any], *drop: str) -> dict[str, Any]:
    return {k: v for k, v in record.items() if k != "attributes" and k.lower() not in drop}


async def collection_create(request: Request, sandbox: SalesforceSandbox) -> Response:
    records, all_or_none = _records_of(await _json_body(request))

    def create(record: dict[str, Any]) -> dict[str, Any]:
        return {"id": sandbox.create_record(_record_type(record), _fields(record)), "success": True, "errors": []}

    operations = [(None, lambda r=record: create(r)) for record in records]
    return JSONResponse(sandbox.collection(operations, all_or_none, request.url.path, _api_path(request)))


async def collection_update(request: Request, sandbox: SalesforceSandbox) -> Response:
    records, all_or_none = _records_of(await _json_body(request))

    def update(record: dict[str, Any]) -> dict[str, Any]:
        record_id = record.get("id") or record.get("Id")
        if not record_id:
            raise SalesforceApiError(400, "MISSING_ARGUMENT", "Id not specified in an update call")
        sandbox.update_record(_record_type(record), record_id, _fields(record, "id"))
        return {"id": record_id, "success": True, "errors": []}

    operations = [(r.get("id") or r.get("Id"), lambda r=r: update(r)) for r in records]
    return JSONResponse(sandbox.collection(operations, all_or_none, request.url.path, _api_path(request)))


async def collection_delete(request: Request, sandbox: SalesforceSandbox) -> Response:
    ids = [i for i in request.query_params.get("ids", "").split(",") if i]
    all_or_none = request.query_params.get("allOrNone", "false").lower() == "true"

    def delete(record_id: str) -> dict[str, Any]:
        try:
            return {"id": sandbox.delete_record(None, record_id), "success": True, "errors": []}
        except SalesforceApiError as error:
            # Inside a collection a bad id is a lookup failure, not a missing URL.
            code = "INVALID_CROSS_REFERENCE_KEY" if error.code == "NOT_FOUND" else error.code
            message = "invalid cross reference id" if error.code == "NOT_FOUND" else error.message
            raise SalesforceApiError(400, code, message) from None

    operations = [(i, lambda i=i: delete(i)) for i in ids]
    return JSONResponse(sandbox.collection(operations, all_or_none, request.url.path, _api_path(request)))


async def collection_upsert(request: Request, sandbox: SalesforceSandbox) -> Response:
    records, all_or_none = _records_of(await _json_body(request))
    sobject = sandbox.spec(request.path_params["sobject"]).name
    field = request.path_params["field"]

    def upsert(record: dict[str, Any]) -> dict[str, Any]:
        value = next((v for k, v in record.items() if k.lower() == field.lower()), None)
        if value in (None, ""):
            raise SalesforceApiError(400, "MISSING_ARGUMENT", f"{field} not specified", [field])
        record_id, created = sandbox.upsert_record(sobject, field, str(value), _fields(record, field.lower()))
        return {"id": record_id, "success": True, "errors": [], "created": created}

    operations = [(None, lambda r=r: upsert(r)) for r in records]
    return JSONResponse(sandbox.collection(operations, all_or_none, request.url.path, _api_path(request)))


# ---------------------------------------------------------------- admin (sandbox only, not Salesforce API)


async def set_faults(request: Request) -> Response:
    """POST /sandbox/faults: set the fault plan (see sandbox/faults.py); an empty body clears it."""
    sandbox: SalesforceSandbox = request.app.state.sandbox
    try:
        raw = await request.body()
        sandbox.set_fault_plan(FaultPlan.from_json(json.loads(raw) if raw else None))
    except (ValueError, TypeError) as error:
        return JSONResponse({"error": str(error)}, status_code=400)
    return JSONResponse({"ok": True})


async def fault_counts(request: Request) -> Response:
    """GET /sandbox/faults: the plan and the faults it injected so far."""
    plan = request.app.state.sandbox.fault_plan
    return JSONResponse(plan.summary() if plan is not None else {"rates": {}, "injected": {}})


# ---------------------------------------------------------------- routing


def _routes(path: str, handler: Handler, methods: list[str], *, collection: bool = False) -> list[Route]:
    """The same endpoint with and without a trailing slash (simple-salesforce uses both)."""
    endpoint = _api(handler, collection=collection)
    full = _PREFIX + path
    return [Route(full, endpoint, methods=methods), Route(full + "/", endpoint, methods=methods)]


def create_app(sandbox: SalesforceSandbox) -> Starlette:
    """The emulator's ASGI app around `sandbox` (serve it over TLS: clients only speak https)."""
    routes = [
        Route("/services/oauth2/token", token, methods=["POST"]),
        Route("/services/oauth2/userinfo", userinfo, methods=["GET", "POST"]),
        Route("/services/data", versions, methods=["GET"]),
        Route("/services/data/", versions, methods=["GET"]),
        Route("/sandbox/faults", set_faults, methods=["POST"]),
        Route("/sandbox/faults", fault_counts, methods=["GET"]),
        *_routes("/limits", limits, ["GET"]),
        *_routes("/query", _query_handler(include_deleted=False), ["GET"]),
        *_routes("/queryAll", _query_handler(include_deleted=True), ["GET"]),
        *_routes("/query/{locator}", query_more, ["GET"]),
        *_routes("/queryAll/{locator}", query_more, ["GET"]),
        *_routes("/composite/sobjects", collection_create, ["POST"], collection=True),
        *_routes("/composite/sobjects", collection_update, ["PATCH"], collection=True),
        *_routes("/composite/sobjects", collection_delete, ["DELETE"], collection=True),
        *_routes("/composite/sobjects/{sobject}/{field}", collection_upsert, ["PATCH"], collection=True),
        *_routes("/sobjects/{sobject}", create_record, ["POST"]),
        *_routes("/sobjects/{sobject}/describe", describe, ["GET"]),
        *_routes("/sobjects/{sobject}/updated", updated, ["GET"]),
        *_routes("/sobjects/{sobject}/deleted", deleted, ["GET"]),
        *_routes("/sobjects/{sobject}/{record_id}", get_record, ["GET"]),
        *_routes("/sobjects/{sobject}/{record_id}", update_record, ["PATCH"]),
        *_routes("/sobjects/{sobject}/{record_id}", delete_record, ["DELETE"]),
        *_routes("/sobjects/{sobject}/{field}/{value:path}", get_by_external_id, ["GET"]),
        *_routes("/sobjects/{sobject}/{field}/{value:path}", upsert_by_external_id, ["PATCH"]),
    ]
    app = Starlette(routes=routes, middleware=[Middleware(RequestLimits, limits=request_limits.SALESFORCE)])
    app.state.sandbox = sandbox
    return app


# ---------------------------------------------------------------- TLS and serving


@dataclass(frozen=True)
class TlsFiles:
    """PEM files for one emulator run: clients trust `ca_path`; the server uses cert + key."""

    ca_path: str
    cert_path: str
    key_path: str


def make_tls_files(directory: str | Path) -> TlsFiles:
    """A fresh CA and a leaf certificate for 127.0.0.1 and localhost, written under `directory`."""
    directory = Path(directory)
    ca = trustme.CA()
    leaf = ca.issue_cert("127.0.0.1", "localhost")
    files = TlsFiles(str(directory / "ca.pem"), str(directory / "cert.pem"), str(directory / "key.pem"))
    ca.cert_pem.write_to_path(files.ca_path)
    leaf.private_key_pem.write_to_path(files.key_path)
    with open(files.cert_path, "wb") as chain:
        for blob in leaf.cert_chain_pems:
            chain.write(blob.bytes())
    return files


@dataclass(frozen=True)
class RunningSalesforce:
    """A served emulator: where it listens, the CA to trust, its credentials, its state."""

    url: str
    ca_path: str
    client_id: str
    client_secret: str
    sandbox: SalesforceSandbox


@contextlib.contextmanager
def serve_salesforce(config: SalesforceSandboxConfig | None = None, *, port: int = 0,
                     tls_dir: str | Path | None = None) -> Iterator[RunningSalesforce]:
    """Serve a fresh emulator over HTTPS on 127.0.0.1 (port 0 = any free port) until the block ends.

    The CA and certificate go to `tls_dir` (created if needed; e.g. under .sync_data for the
    standalone sandbox, so other processes can read the CA), else to a temporary directory.
    """
    from sync_pipelines.sandbox.servers import serve  # the shared uvicorn-in-a-thread helper

    sandbox = SalesforceSandbox(config)
    with contextlib.ExitStack() as stack:
        if tls_dir is None:
            tls_dir = stack.enter_context(tempfile.TemporaryDirectory(prefix="sandbox-sf-tls-"))
        Path(tls_dir).mkdir(parents=True, exist_ok=True)
        tls = make_tls_files(tls_dir)
        server = stack.enter_context(serve(create_app(sandbox), port=port, ssl_certfile=tls.cert_path,
                                           ssl_keyfile=tls.key_path))
        url = "https://" + server.url.split("://", 1)[1].rstrip("/")
        yield RunningSalesforce(url, tls.ca_path, sandbox.config.client_id, sandbox.config.client_secret, sandbox)
