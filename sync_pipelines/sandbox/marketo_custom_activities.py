"""Custom activities in the Marketo sandbox: type management and POST /rest/v1/activities/external.json.

Follows api-notes section 6 and swagger-mapi.json (CustomActivityType*, CustomActivity):
- a type is created as a draft; attributes are added to the draft; approve makes the draft live
  (status draft / approved / approved with draft); only approved types accept activities;
- inserts take at most 300 activities per call and answer per record, in input order:
  {id, marketoGUID, status: "added"} or {status: "skipped", errors: [{code, message}]}
  (1004 lead not found, 1003 bad type or attribute, 1049 attributes over 65,536 bytes);
- inserted activities join the sandbox's activity log and read back through activities.json.
Sandbox choices where the docs say nothing: type ids start at 100001; 1027 = more than 10 types,
1028 = more than 20 secondary attributes; an unknown apiName answers 1003.
"""

from __future__ import annotations

import copy
import json
import threading
from datetime import datetime
from typing import TYPE_CHECKING, Any

from .marketo_fields import format_timestamp, parse_timestamp
from .marketo_errors import MarketoError

if TYPE_CHECKING:
    from .marketo_app import ApiCall
    from .marketo_bulk import BulkLeadExports
    from .marketo_state import MarketoSandbox

MAX_INSERT = 300
MAX_TYPES = 10
MAX_SECONDARY_ATTRIBUTES = 20
MAX_ATTRIBUTE_BYTES = 65_536
FIRST_TYPE_ID = 100_001
DATA_TYPES = frozenset({"string", "boolean", "integer", "float", "link", "email", "currency", "date",
                        "datetime", "phone", "text"})
_TYPE_REQUIRED = ("apiName", "name", "triggerName", "filterName", "primaryAttribute")


class CustomActivityTypes:
    """The custom activity types of one sandbox: a live (approved) and/or a draft version each."""

    def __init__(self) -> None:
        self._lock = threading.RLock()
        self._types: dict[str, dict[str, Any]] = {}  # apiName -> {"id", "live", "draft", "createdAt"}

    # ----- reads ------------------------------------------------------------------------------

    def approved_ids(self) -> frozenset[int]:
        with self._lock:
            return frozenset(entry["id"] for entry in self._types.values() if entry["live"])

    def live_by_id(self, type_id: int) -> dict | None:
        with self._lock:
            for entry in self._types.values():
                if entry["id"] == type_id and entry["live"]:
                    return entry["live"]
            return None

    def describe(self, api_name: str, draft: bool = False) -> dict:
        with self._lock:
            entry = self._entry(api_name)
            version = entry["draft"] if draft else (entry["live"] or entry["draft"])
            if version is None:
                raise MarketoError("1003", f"Activity type '{api_name}' has no draft")
            return self._json(entry, version)

    def list(self) -> list[dict]:
        """The types list as the docs' example answers it: each type without its `attributes`
        (only describe.json gives those)."""
        with self._lock:
            listed = [self._json(entry, entry["live"] or entry["draft"]) for entry in self._types.values()]
        for entry in listed:
            entry.pop("attributes", None)
        return listed

    def standard_json(self) -> list[dict]:
        """Approved types in the shape of /activities/types.json (which does not flag custom types)."""
        with self._lock:
            return [{
                "id": entry["id"], "name": live["name"], "description": live.get("description", ""),
                "primaryAttribute": {"name": live["primaryAttribute"]["name"],
                                     "dataType": live["primaryAttribute"]["dataType"]},
                "attributes": [{"name": a["name"], "dataType": a["dataType"]} for a in live["attributes"]],
            } for entry in self._types.values() if (live := entry["live"])]

    # ----- writes -----------------------------------------------------------------------------

    def create(self, body: Any, now: datetime) -> dict:
        if not isinstance(body, dict):
            raise MarketoError("609", "Invalid JSON")
        missing = [name for name in _TYPE_REQUIRED if not body.get(name)]
        if missing:
            raise MarketoError("1003", f"Missing required field(s): {', '.join(missing)}")
        primary = _checked_attribute(body["primaryAttribute"])
        with self._lock:
            if body["apiName"] in self._types:
                raise MarketoError("1003", f"Activity type with apiName '{body['apiName']}' already exists")
            if len(self._types) >= MAX_TYPES:
                raise MarketoError("1027", f"Maximum of {MAX_TYPES} custom activity types reached")
            version = {key: body[key] for key in ("apiName", "name", "triggerName", "filterName")}
            version.update(description=body.get("description", ""), primaryAttribute={**primary, "isPrimary": True},
                           attributes=[], updatedAt=format_timestamp(now))
            entry = {"id": FIRST_TYPE_ID + len(self._types), "live": None, "draft": version,
                     "createdAt": format_timestamp(now)}
            self._types[body["apiName"]] = entry
            return self._json(entry, version)

    def add_attributes(self, api_name: str, body: Any, now: datetime) -> dict:
        attributes = body.get("attributes") if isinstance(body, dict) else None
        if not isinstance(attributes, list) or not attributes:
            raise MarketoError("1003", "attributes is required")
        checked = [_checked_attribute(a) for a in attributes]
        with self._lock:
            entry = self._entry(api_name)
            draft = entry["draft"] or copy.deepcopy(entry["live"])
            known = {a["apiName"] for a in draft["attributes"]} | {draft["primaryAttribute"]["apiName"]}
            clash = [a["apiName"] for a in checked if a["apiName"] in known]
            if clash:
                raise MarketoError("1003", f"Attribute(s) already exist: {', '.join(clash)}")
            if len(draft["attributes"]) + len(checked) > MAX_SECONDARY_ATTRIBUTES:
                raise MarketoError("1028", f"Maximum of {MAX_SECONDARY_ATTRIBUTES} attributes reached")
            draft["attributes"] = [*draft["attributes"], *checked]
            draft["updatedAt"] = format_timestamp(now)
            entry["draft"] = draft
            return self._json(entry, draft)

    def approve(self, api_name: str, now: datetime) -> dict:
        with self._lock:
            entry = self._entry(api_name)
            if entry["draft"] is None:
                raise MarketoError("1003", f"Activity type '{api_name}' has no draft to approve")
            entry["live"], entry["draft"] = entry["draft"], None
            entry["live"]["updatedAt"] = format_timestamp(now)
            return self._json(entry, entry["live"])

    # ----- helpers ----------------------------------------------------------------------------

    def _entry(self, api_name: str) -> dict:
        entry = self._types.get(api_name)
        if entry is None:
            raise MarketoError("1003", f"Activity type '{api_name}' not found")
        return entry

    @staticmethod
    def _json(entry: dict, version: dict) -> dict:
        if entry["live"] and entry["draft"]:
            status = "approved with draft"
        else:
            status = "approved" if entry["live"] else "draft"
        return {"id": entry["id"], **copy.deepcopy(version), "status": status, "createdAt": entry["createdAt"]}


def _checked_attribute(attribute: Any) -> dict:
    if not isinstance(attribute, dict) or not attribute.get("apiName") or not attribute.get("name"):
        raise MarketoError("1003", "Each attribute needs apiName and name")
    data_type = attribute.get("dataType", "string")
    if data_type not in DATA_TYPES:
        raise MarketoError("1003", f"Invalid dataType '{data_type}'")
    return {"apiName": str(attribute["apiName"]), "name": str(attribute["name"]), "dataType": data_type,
            **({"description": attribute["description"]} if attribute.get("description") else {})}


# ----- inserting activities ---------------------------------------------------------------------

def insert_activities(sandbox: MarketoSandbox, body: Any) -> list[dict]:
    """Insert up to 300 custom activities; one result per input, in order."""
    items = body.get("input") if isinstance(body, dict) else None
    if not isinstance(items, list) or not items:
        raise MarketoError("609", "Invalid JSON: input is required")
    if len(items) > MAX_INSERT:
        raise MarketoError("1003", f"input exceeds the limit of {MAX_INSERT}")
    return [_insert_one(sandbox, item) for item in items]


def _skipped(code: str, message: str) -> dict:
    return {"status": "skipped", "errors": [{"code": code, "message": message}]}


def _insert_one(sandbox: MarketoSandbox, item: Any) -> dict:
    if not isinstance(item, dict):
        return _skipped("1003", "Invalid activity")
    live = sandbox.custom_activity_types.live_by_id(item.get("activityTypeId"))
    if live is None:
        return _skipped("1003", "Invalid activityTypeId")
    try:
        activity_date = parse_timestamp(str(item.get("activityDate"))).to_pydatetime()
    except ValueError:
        return _skipped("1003", "Invalid activityDate")
    primary = item.get("primaryAttributeValue")
    if primary in (None, ""):
        return _skipped("1003", "primaryAttributeValue is required")
    names = {a["apiName"]: a["name"] for a in live["attributes"]}
    by_display = {a["name"]: a["apiName"] for a in live["attributes"]}
    attributes = []
    for attribute in item.get("attributes") or []:
        api_name = attribute.get("apiName") or by_display.get(attribute.get("name"))
        if api_name not in names:
            return _skipped("1003", f"Attribute '{attribute.get('apiName') or attribute.get('name')}' not found")
        attributes.append({"name": names[api_name], "apiName": api_name, "value": attribute.get("value")})
    if len(json.dumps(attributes).encode()) > MAX_ATTRIBUTE_BYTES:
        return _skipped("1049", "Attribute payload exceeds 65536 bytes")
    try:
        lead_id = int(item.get("leadId"))
    except (TypeError, ValueError):
        return _skipped("1004", "Lead not found")
    record = sandbox.record_external_activity(lead_id, int(item["activityTypeId"]), activity_date,
                                              str(primary), attributes)
    if record is None:
        return _skipped("1004", "Lead not found")
    return {"id": record["id"], "marketoGUID": record["marketoGUID"], "status": "added"}


# ----- handlers (wired into marketo_app) --------------------------------------------------------

def list_types(sandbox: MarketoSandbox, exports: BulkLeadExports, call: ApiCall) -> dict:
    return {"result": sandbox.custom_activity_types.list()}


def describe_type(sandbox: MarketoSandbox, exports: BulkLeadExports, call: ApiCall) -> dict:
    draft = (call.get("draft") or "").lower() == "true"
    return {"result": [sandbox.custom_activity_types.describe(call.path_params["api_name"], draft)]}


def create_type(sandbox: MarketoSandbox, exports: BulkLeadExports, call: ApiCall) -> dict:
    return {"result": [sandbox.custom_activity_types.create(call.body, sandbox.now())]}


def create_attributes(sandbox: MarketoSandbox, exports: BulkLeadExports, call: ApiCall) -> dict:
    types = sandbox.custom_activity_types
    return {"result": [types.add_attributes(call.path_params["api_name"], call.body, sandbox.now())]}


def approve_type(sandbox: MarketoSandbox, exports: BulkLeadExports, call: ApiCall) -> dict:
    return {"result": [sandbox.custom_activity_types.approve(call.path_params["api_name"], sandbox.now())]}


def insert(sandbox: MarketoSandbox, exports: BulkLeadExports, call: ApiCall) -> dict:
    return {"result": insert_activities(sandbox, call.body)}


# (path, handler, methods): the routes marketo_app registers.
ROUTES = (
    ("/rest/v1/activities/external/types.json", list_types, ["GET"]),
    ("/rest/v1/activities/external/type.json", create_type, ["POST"]),
    ("/rest/v1/activities/external/type/{api_name}/describe.json", describe_type, ["GET"]),
    ("/rest/v1/activities/external/type/{api_name}/attributes/create.json", create_attributes, ["POST"]),
    ("/rest/v1/activities/external/type/{api_name}/approve.json", approve_type, ["POST"]),
    ("/rest/v1/activities/external.json", insert, ["POST"]),
)
WRITE_PATH_PREFIX = "/rest/v1/activities/external"
INSERT_PATH = "/rest/v1/activities/external.json"
