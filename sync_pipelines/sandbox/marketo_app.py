"""The Marketo sandbox as a Starlette app: identity, REST leads/activities, Bulk Lead Extract, admin.

Every REST and bulk call goes through `_api`, which checks the Bearer token (600/601/602), counts
the call, applies injected faults and the limits (607 daily quota, 606 rate, 615 concurrency), runs
the handler in a worker thread and wraps its answer in Marketo's envelope. Admin routes under
/sandbox/ are not part of Marketo: no auth, not counted, not rate limited.
"""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

from . import marketo_custom_activities as custom_activities
from . import request_limits
from .request_limits import RequestLimits
from .faults import FaultPlan
from .lost_reply import LOST_REPLY, LostReply
from .marketo_bulk import BulkLeadExports
from .marketo_fields import (ACTIVITY_TYPE_IDS, ACTIVITY_TYPES, CHANGE_DATA_VALUE,
                             DEFAULT_LEAD_FIELDS, DELETE_LEAD, FILTER_TYPES,
                             LEAD_FIELDS, NEW_LEAD, format_timestamp, lead_records,
                             parse_timestamp)
from .marketo_errors import InjectedServerError, MarketoError
from .marketo_state import MarketoSandbox, ids_array

MAX_BATCH = 300
MAX_FILTER_VALUES = 300
MAX_FILTER_MATCHES = 1000
MAX_LEAD_IDS = 30
MAX_ACTIVITY_TYPES = 10


@dataclass
class ApiCall:
    """What a handler needs from a request: parameters, path parameters and the JSON body."""

    params: dict[str, list[str]]
    path_params: dict[str, Any]
    body: Any
    headers: dict[str, str]

    def get(self, name: str) -> str | None:
        values = self.params.get(name)
        return values[-1] if values else None

    def require(self, name: str) -> str:
        value = self.get(name)
        if not value:
            raise MarketoError("1003", f"{name} is required")
        return value

    def get_list(self, name: str) -> list[str]:
        """A list parameter, given comma-separated and/or repeated."""
        return [item.strip() for value in self.params.get(name, []) for item in value.split(",")
                if item.strip()]

    def batch_size(self) -> int:
        text = self.get("batchSize")
        try:
            size = int(text) if text else MAX_BATCH
        except ValueError:
            raise MarketoError("1003", "batchSize must be an integer") from None
        if not 1 <= size <= MAX_BATCH:
            raise MarketoError("1003", f"batchSize must be between 1 and {MAX_BATCH}")
        return size


Handler = Callable[[MarketoSandbox, BulkLeadExports, ApiCall], "dict | Response"]


def create_marketo_app(sandbox: MarketoSandbox) -> Starlette:
    """Build the ASGI app serving `sandbox` (one app per sandbox: it owns the export jobs)."""
    exports = BulkLeadExports(sandbox)

    def api(handler: Handler) -> Callable:
        async def endpoint(request: Request) -> Response:
            return await _api(sandbox, exports, handler, request)
        return endpoint

    routes = [
        Route("/identity/oauth/token", _identity(sandbox), methods=["GET", "POST"]),
        Route("/rest/v1/leads/describe.json", api(_describe), methods=["GET"]),
        Route("/rest/v1/leads/describe2.json", api(_describe2), methods=["GET"]),
        Route("/rest/v1/leads.json", api(_leads_by_filter), methods=["GET", "POST"]),
        Route("/rest/v1/lead/{lead_id}.json", api(_lead_by_id), methods=["GET"]),
        Route("/rest/v1/activities/pagingtoken.json", api(_paging_token), methods=["GET"]),
        Route("/rest/v1/activities/leadchanges.json", api(_lead_changes), methods=["GET", "POST"]),
        Route("/rest/v1/activities/deletedleads.json", api(_deleted_leads), methods=["GET"]),
        Route("/rest/v1/activities/types.json", api(_activity_types), methods=["GET"]),
        Route("/rest/v1/activities.json", api(_activities), methods=["GET", "POST"]),
        Route("/bulk/v1/leads/export/create.json", api(_export_create), methods=["POST"]),
        Route("/bulk/v1/leads/export.json", api(_export_list), methods=["GET"]),
        Route("/bulk/v1/leads/export/{export_id}/enqueue.json", api(_export_enqueue),
              methods=["POST"]),
        Route("/bulk/v1/leads/export/{export_id}/status.json", api(_export_status),
              methods=["GET"]),
        Route("/bulk/v1/leads/export/{export_id}/cancel.json", api(_export_cancel),
              methods=["POST"]),
        Route("/bulk/v1/leads/export/{export_id}/file.json", api(_export_file), methods=["GET"]),
        *[Route(path, api(handler), methods=methods) for path, handler, methods in custom_activities.ROUTES],
        *_admin_routes(sandbox),
    ]
    return Starlette(routes=routes, middleware=[Middleware(RequestLimits, limits=request_limits.MARKETO)])


# ----- plumbing -------------------------------------------------------------------------------

async def _api(sandbox: MarketoSandbox, exports: BulkLeadExports, handler: Handler,
               request: Request) -> Response:
    request_id = sandbox.new_request_id()
    call = await _read_call(request)
    try:
        sandbox.authorize(request.headers.get("authorization"))
        sandbox.log_call(request.method, request.url.path)
        with sandbox.admit(request.url.path):
            if request.method == "POST" and request.url.path.startswith("/rest/") and \
                    (call.get("_method") or "").upper() != "GET" and \
                    not request.url.path.startswith(custom_activities.WRITE_PATH_PREFIX):
                raise MarketoError("610", "Requested resource not found (sandbox: read-only)")
            if sandbox.config.latency_seconds:
                await asyncio.sleep(sandbox.config.latency_seconds)
            if sandbox.draw_fault("slow"):  # a slow answer from the fault plan
                await asyncio.sleep(sandbox.fault_plan.slow_seconds)
            answer = await run_in_threadpool(handler, sandbox, exports, call)
            if request.method == "POST" and request.url.path.startswith(custom_activities.WRITE_PATH_PREFIX) \
                    and sandbox.draw_fault(LOST_REPLY):
                return LostReply()  # the insert or type change ran; the answer is lost
    except MarketoError as error:
        # The official description requires `result` in every envelope, failures included.
        return JSONResponse({"requestId": request_id, "success": False, "warnings": [], "result": [],
                             "errors": [{"code": error.code, "message": error.message}]})
    except InjectedServerError:
        return HTMLResponse("<html><body><h1>503 Service Temporarily Unavailable</h1>"
                            "</body></html>", status_code=503)
    if isinstance(answer, Response):
        return answer
    return EscapingJSONResponse({"requestId": request_id, "success": True, "errors": [], "warnings": [],
                                 **answer})


class EscapingJSONResponse(JSONResponse):
    """JSON whose text escapes what UTF-8 cannot carry: a lone surrogate in a lead field goes out as the JSON
    escape \\ud800 (as JSON serialisers of UTF-16 strings do), instead of failing the whole response."""

    def render(self, content) -> bytes:
        try:
            return super().render(content)
        except UnicodeEncodeError:
            return json.dumps(content, ensure_ascii=True, allow_nan=False, separators=(",", ":")).encode("ascii")


async def _read_call(request: Request) -> ApiCall:
    """Query parameters, plus a form body when a long GET is sent as POST ?_method=GET."""
    params: dict[str, list[str]] = {}
    for key, value in request.query_params.multi_items():
        params.setdefault(key, []).append(value)
    raw = await request.body()
    body = None
    content_type = request.headers.get("content-type", "")
    if raw and "application/x-www-form-urlencoded" in content_type:
        for key, values in parse_qs(raw.decode(), keep_blank_values=True).items():
            params.setdefault(key, []).extend(values)
    elif raw:
        try:
            body = json.loads(raw)
        except ValueError:
            body = None  # handlers that need a body answer 609
    return ApiCall(params, dict(request.path_params), body, dict(request.headers))


def _identity(sandbox: MarketoSandbox) -> Callable:
    async def token(request: Request) -> Response:
        # Query string or (POST) form body: _read_call merges both.
        params = {name: values[-1] for name, values in (await _read_call(request)).params.items()}
        if params.get("grant_type") != "client_credentials":
            return JSONResponse({"error": "invalid_request",
                                 "error_description": "grant_type must be client_credentials"},
                                status_code=400)
        try:
            value, expires_in = sandbox.issue_token(params.get("client_id"),
                                                    params.get("client_secret"))
        except PermissionError:
            return JSONResponse({"error": "unauthorized",
                                 "error_description": "Bad client credentials"}, status_code=401)
        return JSONResponse({"access_token": value, "token_type": "bearer",
                             "expires_in": expires_in, "scope": "sandbox-api-user@example.com"})
    return token


def _page_answer(items: list[dict], position: int, more: bool) -> dict:
    return {"result": items, "nextPageToken": MarketoSandbox.encode_position(position),
            "moreResult": more}


def _requested_fields(sandbox: MarketoSandbox, call: ApiCall, default: tuple[str, ...] | None = None) -> list[str]:
    fields = call.get_list("fields")
    if not fields:
        if default is None:
            raise MarketoError("1003", "fields is required")
        return list(default)
    for name in fields:
        if not sandbox.has_lead_field(name):
            raise MarketoError("1006", f"Field '{name}' not found")
    return fields


def _lead_id_set(call: ApiCall) -> set[int] | None:
    values = call.get_list("leadIds")
    if len(values) > MAX_LEAD_IDS:
        raise MarketoError("1003", f"leadIds exceeds the limit of {MAX_LEAD_IDS}")
    if call.get("listId"):
        raise MarketoError("1003", "Static list not found (the sandbox has no static lists)")
    return set(ids_array(values).tolist()) if values else None


def _activity_json(activity: dict, fields: set[str] | None = None) -> dict:
    record = {**activity, "activityDate": format_timestamp(activity["activityDate"])}
    if fields is not None:
        record["fields"] = [f for f in activity.get("fields", []) if f["name"] in fields]
        record.pop("primaryAttributeValue", None)
        record.pop("primaryAttributeValueId", None)
    else:
        record.pop("fields", None)
    return record


# ----- leads ----------------------------------------------------------------------------------

def _describe(sandbox: MarketoSandbox, exports: BulkLeadExports, call: ApiCall) -> dict:
    return {"result": [{
        "id": f.id, "displayName": f.display_name, "dataType": f.data_type,
        **({"length": f.length} if f.length else {}),
        "rest": {"name": f.name, "readOnly": not f.updateable},
        "soap": {"name": f.name[0].upper() + f.name[1:], "readOnly": not f.updateable},
    } for f in LEAD_FIELDS if sandbox.has_lead_field(f.name)]}


def _describe2(sandbox: MarketoSandbox, exports: BulkLeadExports, call: ApiCall) -> dict:
    searchable = [[name] for name in sorted(FILTER_TYPES) if sandbox.has_lead_field(name)]
    return {"result": [{
        "name": "API Lead",
        "searchableFields": searchable,
        "fields": [{"name": f.name, "displayName": f.display_name, "dataType": f.data_type,
                    **({"length": f.length} if f.length else {}),
                    "updateable": f.updateable, "crmManaged": f.crm_managed}
                   for f in LEAD_FIELDS if sandbox.has_lead_field(f.name)],
    }]}


def _leads_by_filter(sandbox: MarketoSandbox, exports: BulkLeadExports, call: ApiCall) -> dict:
    filter_type = call.require("filterType")
    if filter_type not in FILTER_TYPES:
        raise MarketoError("1011", f"Field '{filter_type}' cannot be used as a filter")
    values = call.get_list("filterValues")
    if not values:
        raise MarketoError("1003", "filterValues is required")
    if len(values) > MAX_FILTER_VALUES:
        raise MarketoError("1003", f"filterValues exceeds the limit of {MAX_FILTER_VALUES}")
    fields = _requested_fields(sandbox, call, DEFAULT_LEAD_FIELDS)
    batch_size = call.batch_size()
    token = call.get("nextPageToken")
    offset = MarketoSandbox.decode_position(token) if token else 0
    with sandbox.lock:
        leads = sandbox.lead_frame()
        if filter_type == "id":
            mask = leads.index.isin(ids_array(values))
        elif filter_type in leads.columns:
            mask = leads[filter_type].isin(values).to_numpy()
        else:
            mask = None
        matched = leads.loc[mask] if mask is not None else leads.iloc[0:0]
        if len(matched) > MAX_FILTER_MATCHES:
            raise MarketoError("1003", "Too many results match the filter")
        result = lead_records(matched.iloc[offset:offset + batch_size], fields)
    answer: dict = {"result": result, "moreResult": offset + batch_size < len(matched)}
    if answer["moreResult"]:
        answer["nextPageToken"] = MarketoSandbox.encode_position(offset + batch_size)
    return answer


def _lead_by_id(sandbox: MarketoSandbox, exports: BulkLeadExports, call: ApiCall) -> dict:
    fields = _requested_fields(sandbox, call, DEFAULT_LEAD_FIELDS)
    try:
        lead_id = int(call.path_params["lead_id"])
    except ValueError:
        raise MarketoError("1003", "Invalid value for leadId") from None
    with sandbox.lock:
        leads = sandbox.lead_frame()
        rows = leads.loc[[lead_id]] if lead_id in leads.index else leads.iloc[0:0]
        return {"result": lead_records(rows, fields)}


# ----- activities -----------------------------------------------------------------------------

def _paging_token(sandbox: MarketoSandbox, exports: BulkLeadExports, call: ApiCall) -> dict:
    try:
        since = parse_timestamp(call.require("sinceDatetime")).to_pydatetime()
    except ValueError:
        raise MarketoError("1003", "sinceDatetime must be ISO-8601 with a zone") from None
    return {"nextPageToken": MarketoSandbox.encode_position(sandbox.activity_position(since))}


def _lead_changes(sandbox: MarketoSandbox, exports: BulkLeadExports, call: ApiCall) -> dict:
    position = MarketoSandbox.decode_position(call.require("nextPageToken"))
    fields = set(_requested_fields(sandbox, call))
    lead_ids = _lead_id_set(call)

    def accept(activity: dict) -> bool:
        if lead_ids is not None and activity["leadId"] not in lead_ids:
            return False
        if activity["activityTypeId"] == NEW_LEAD:
            return True
        return activity["activityTypeId"] == CHANGE_DATA_VALUE and any(
            change["name"] in fields for change in activity["fields"])

    found, position, more = sandbox.scan_activities(position, call.batch_size(), accept)
    return _page_answer([_activity_json(a, fields) for a in found], position, more)


def _deleted_leads(sandbox: MarketoSandbox, exports: BulkLeadExports, call: ApiCall) -> dict:
    position = MarketoSandbox.decode_position(call.require("nextPageToken"))
    found, position, more = sandbox.scan_activities(
        position, call.batch_size(), lambda a: a["activityTypeId"] == DELETE_LEAD)
    return _page_answer([_activity_json(a) for a in found], position, more)


def _activities(sandbox: MarketoSandbox, exports: BulkLeadExports, call: ApiCall) -> dict:
    position = MarketoSandbox.decode_position(call.require("nextPageToken"))
    type_values = call.get_list("activityTypeIds")
    if not type_values:
        raise MarketoError("1003", "activityTypeIds is required")
    if len(type_values) > MAX_ACTIVITY_TYPES:
        raise MarketoError("1003", f"activityTypeIds exceeds the limit of {MAX_ACTIVITY_TYPES}")
    type_ids = set(ids_array(type_values).tolist())
    unknown = type_ids - ACTIVITY_TYPE_IDS - sandbox.custom_activity_types.approved_ids()
    if unknown:
        raise MarketoError("1003", f"Invalid activityTypeIds: {sorted(unknown)}")
    lead_ids = _lead_id_set(call)
    found, position, more = sandbox.scan_activities(
        position, call.batch_size(),
        lambda a: a["activityTypeId"] in type_ids and (lead_ids is None or a["leadId"] in lead_ids))
    return _page_answer([_activity_json(a) for a in found], position, more)


def _activity_types(sandbox: MarketoSandbox, exports: BulkLeadExports, call: ApiCall) -> dict:
    return {"result": [*ACTIVITY_TYPES, *sandbox.custom_activity_types.standard_json()]}


# ----- bulk lead extract ----------------------------------------------------------------------

def _export_create(sandbox: MarketoSandbox, exports: BulkLeadExports, call: ApiCall) -> dict:
    if not isinstance(call.body, dict):
        raise MarketoError("609", "Invalid JSON: expected an object with fields and filter")
    return {"result": [exports.create(call.body).to_json()]}


def _export_enqueue(sandbox: MarketoSandbox, exports: BulkLeadExports, call: ApiCall) -> dict:
    return {"result": [exports.enqueue(call.path_params["export_id"]).to_json()]}


def _export_status(sandbox: MarketoSandbox, exports: BulkLeadExports, call: ApiCall) -> dict:
    return {"result": [exports.status(call.path_params["export_id"]).to_json()]}


def _export_cancel(sandbox: MarketoSandbox, exports: BulkLeadExports, call: ApiCall) -> dict:
    return {"result": [exports.cancel(call.path_params["export_id"]).to_json()]}


def _export_list(sandbox: MarketoSandbox, exports: BulkLeadExports, call: ApiCall) -> dict:
    statuses = set(call.get_list("status")) or None
    batch_size = call.batch_size()
    token = call.get("nextPageToken")
    offset = MarketoSandbox.decode_position(token) if token else 0
    jobs = exports.list_jobs(statuses)
    answer: dict = {"result": [job.to_json() for job in jobs[offset:offset + batch_size]]}
    if offset + batch_size < len(jobs):
        answer["nextPageToken"] = MarketoSandbox.encode_position(offset + batch_size)
    return answer


_RANGE = re.compile(r"^bytes=(\d*)-(\d*)$")


def _export_file(sandbox: MarketoSandbox, exports: BulkLeadExports, call: ApiCall) -> Response:
    content = exports.file(call.path_params["export_id"])
    if content is None:
        return PlainTextResponse("File not found: the export job is not completed",
                                 status_code=404)
    headers = {"Accept-Ranges": "bytes"}
    range_header = call.headers.get("range")
    if not range_header:
        return Response(content, media_type="text/csv; charset=utf-8", headers=headers)
    match = _RANGE.match(range_header.strip())
    total = len(content)
    if match is None or match.groups() == ("", ""):
        return PlainTextResponse("Invalid Range", status_code=416,
                                 headers={"Content-Range": f"bytes */{total}"})
    first, last = match.groups()
    if first == "":  # suffix range: the last N bytes
        start, end = max(0, total - int(last)), total - 1
    else:
        start, end = int(first), min(int(last), total - 1) if last else total - 1
    if start >= total or start > end:
        return PlainTextResponse("Range not satisfiable", status_code=416,
                                 headers={"Content-Range": f"bytes */{total}"})
    headers["Content-Range"] = f"bytes {start}-{end}/{total}"
    return Response(content[start:end + 1], status_code=206,
                    media_type="text/csv; charset=utf-8", headers=headers)


# ----- admin (sandbox only) -------------------------------------------------------------------

def _admin_routes(sandbox: MarketoSandbox) -> list[Route]:
    """Routes that drive the sandbox in tests and demos; they are not Marketo API."""

    async def admin(request: Request, action: Callable[[Any], Any], status_code: int = 200
                    ) -> Response:
        raw = await request.body()
        try:
            body = json.loads(raw) if raw else {}
            answer = await run_in_threadpool(action, body)
        except KeyError as error:
            return JSONResponse({"error": str(error.args[0])}, status_code=404)
        except (ValueError, TypeError) as error:
            return JSONResponse({"error": str(error)}, status_code=400)
        return JSONResponse(answer if answer is not None else {"ok": True},
                            status_code=status_code)

    async def create_lead(request: Request) -> Response:
        return await admin(request, lambda body: {"id": sandbox.create_lead(**body)}, 201)

    async def update_lead(request: Request) -> Response:
        lead_id = request.path_params["lead_id"]
        return await admin(request, lambda body: sandbox.update_lead(lead_id, **body))

    async def delete_lead(request: Request) -> Response:
        lead_id = request.path_params["lead_id"]
        return await admin(request, lambda body: sandbox.delete_lead(lead_id))

    async def merge_leads(request: Request) -> Response:
        return await admin(request, lambda body: sandbox.merge_leads(
            int(body["winnerId"]), [int(i) for i in body["loserIds"]]))

    async def expire_tokens(request: Request) -> Response:
        return await admin(request, lambda body: sandbox.expire_tokens())

    async def inject_errors(request: Request) -> Response:
        return await admin(request, lambda body: sandbox.inject_errors(
            str(body["code"]), int(body.get("count", 1)), body.get("pathPrefix")))

    async def stats(request: Request) -> Response:
        return JSONResponse(sandbox.stats())

    async def set_faults(request: Request) -> Response:
        return await admin(request, lambda body: sandbox.set_fault_plan(FaultPlan.from_json(body)))

    async def fault_counts(request: Request) -> Response:
        plan = sandbox.fault_plan
        return JSONResponse(plan.summary() if plan is not None else {"rates": {}, "injected": {}})

    return [
        Route("/sandbox/leads", create_lead, methods=["POST"]),
        Route("/sandbox/leads/merge", merge_leads, methods=["POST"]),
        Route("/sandbox/leads/{lead_id:int}", update_lead, methods=["PATCH"]),
        Route("/sandbox/leads/{lead_id:int}", delete_lead, methods=["DELETE"]),
        Route("/sandbox/tokens/expire", expire_tokens, methods=["POST"]),
        Route("/sandbox/errors", inject_errors, methods=["POST"]),
        Route("/sandbox/stats", stats, methods=["GET"]),
        Route("/sandbox/faults", set_faults, methods=["POST"]),
        Route("/sandbox/faults", fault_counts, methods=["GET"]),
    ]
