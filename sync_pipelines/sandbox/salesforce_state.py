"""In-memory Salesforce org for the emulator: records, sessions, limits, recycle bin, fault injection.

`SalesforceSandbox` is thread-safe (one re-entrant lock): the HTTPS app calls it from the server
thread while tests read and edit records from theirs. Values are stored as Python values
(datetime, date, bool, int, str); `to_json` turns them into the wire format Salesforce uses.
"""

from __future__ import annotations

import itertools
import secrets
import threading
from collections import Counter
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone
from typing import Any, Callable

import pandas as pd

from sync_pipelines.sandbox.faults import FaultPlan
from sync_pipelines.sandbox.salesforce_schema import OBJECTS, FieldSpec, ObjectSpec, derive_fields, describe
from sync_pipelines.sandbox.salesforce_soql import compile_query, matches, order_records, parse_datetime

RECYCLE_BIN_DAYS = 15
UPDATED_WINDOW_DAYS = 30
_CHECKSUM_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZ012345"
_BASE62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"


@dataclass
class SalesforceSandboxConfig:
    """Settings of one emulated org. `now` replaces the wall clock (tests move time with it)."""

    seed: int = 42
    size: int = 2000
    client_id: str = "sandbox-sf-client-id"
    client_secret: str = "sandbox-sf-client-secret"
    # The org's 18-character id (answered by /services/oauth2/userinfo and in the token's identity URL).
    organization_id: str = "00D5E0000000001EAA"
    session_ttl_seconds: int = 7200
    daily_request_limit: int = 100000
    query_page_size: int = 2000
    now: Callable[[], datetime] | None = None


class SalesforceApiError(Exception):
    """An error the service answers with: HTTP status + `[{message, errorCode, fields}]`."""

    def __init__(self, status: int, code: str, message: str, fields: list[str] | None = None):
        super().__init__(f"{code}: {message}")
        self.status = status
        self.code = code
        self.message = message
        self.fields = fields or []

    def body(self) -> list[dict[str, Any]]:
        return [{"message": self.message, "errorCode": self.code, "fields": self.fields}]


# ---------------------------------------------------------------- ids and values


_SEEDED_OPPORTUNITY_NUMBERS = 900_000_000  # id numbers of seeded Opportunities and roles (far from the counter's)


def salesforce_id(prefix: str, number: int) -> str:
    """An 18-character id: key prefix + base62 counter (15 chars) + the case-safe checksum."""
    body = "".join(_BASE62[(number // 62**i) % 62] for i in reversed(range(10)))
    short = f"{prefix}5E{body}"
    suffix = ""
    for chunk in range(3):
        bits = sum(1 << i for i, ch in enumerate(short[chunk * 5 : chunk * 5 + 5]) if ch.isupper())
        suffix += _CHECKSUM_ALPHABET[bits]
    return short + suffix


def _key(record_id: str) -> str:
    """Records are keyed by the 15-char case-sensitive id, so 15- and 18-char forms both match."""
    return record_id[:15]


def _is_id(value: Any) -> bool:
    return isinstance(value, str) and len(value) in (15, 18) and value.isalnum()


def format_datetime(value: datetime) -> str:
    """Salesforce wire format: 2024-05-01T09:30:00.000+0000."""
    value = value.astimezone(timezone.utc)
    return value.strftime("%Y-%m-%dT%H:%M:%S.") + f"{value.microsecond // 1000:03d}+0000"


def to_json(value: Any) -> Any:
    """A stored value as Salesforce returns it in JSON."""
    if isinstance(value, datetime):
        return format_datetime(value)
    if isinstance(value, date):
        return value.isoformat()
    return value


def _clean(value: Any) -> Any:
    """A pandas cell as a plain Python value (NA -> None)."""
    if value is None or (not isinstance(value, (list, dict)) and pd.isna(value)):
        return None
    if isinstance(value, pd.Timestamp):
        stamp = value.to_pydatetime()
        return stamp if stamp.tzinfo else stamp.replace(tzinfo=timezone.utc)
    return value.item() if hasattr(value, "item") else value


def _coerce(spec: FieldSpec, value: Any) -> Any:
    """Check and convert one incoming field value; raise a 400 error as Salesforce would."""
    if value is None:
        if not spec.nillable:
            raise SalesforceApiError(400, "REQUIRED_FIELD_MISSING", f"Required fields are missing: [{spec.name}]",
                                     [spec.name])
        return None
    try:
        if spec.type == "boolean":
            if not isinstance(value, bool):
                raise TypeError
            return value
        if spec.type == "int":
            if isinstance(value, bool) or not isinstance(value, (int, float)) or int(value) != value:
                raise TypeError
            return int(value)
        if spec.type == "date":
            if isinstance(value, datetime):
                raise TypeError
            return value if isinstance(value, date) else date.fromisoformat(value)
        if spec.type == "datetime":
            return value.astimezone(timezone.utc) if isinstance(value, datetime) else parse_datetime(value)
        if not isinstance(value, str):
            raise TypeError
    except (TypeError, ValueError, AttributeError):
        raise SalesforceApiError(400, "JSON_PARSER_ERROR", f"Cannot deserialize value for field {spec.name}",
                                 [spec.name]) from None
    if spec.length and len(value) > spec.length:
        raise SalesforceApiError(400, "STRING_TOO_LONG", f"{spec.name}: data value too large (max length={spec.length})",
                                 [spec.name])
    if spec.restricted_picklist and value not in spec.picklist:
        raise SalesforceApiError(400, "INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST",
                                 f"{spec.name}: bad value for restricted picklist field", [spec.name])
    return value


@dataclass
class _Injection:
    code: str
    remaining: int
    path_prefix: str | None

    def applies_to(self, path: str, api_path: str) -> bool:
        if self.path_prefix is None:
            return True
        prefix = self.path_prefix
        return path.startswith(prefix) or api_path.startswith(prefix.lstrip("/"))


@dataclass
class _Deletion:
    sobject: str
    record_id: str
    deleted_at: datetime


@dataclass
class _State:
    """Everything a rolled-back allOrNone request must restore."""

    tables: dict[str, dict[str, dict[str, Any]]] = field(default_factory=lambda: {name: {} for name in OBJECTS})
    deletions: list[_Deletion] = field(default_factory=list)

    def copy(self) -> "_State":
        return _State({name: dict(table) for name, table in self.tables.items()}, list(self.deletions))


# ---------------------------------------------------------------- the org


class SalesforceSandbox:
    """An emulated Salesforce org seeded from `generate_people(seed, size)`."""

    def __init__(self, config: SalesforceSandboxConfig | None = None):
        self.config = config or SalesforceSandboxConfig()
        self._lock = threading.RLock()
        self._state = _State()
        # unique field values of live records -> record key, per object and field: writes check
        # uniqueness and upserts find their record without scanning the table (which is quadratic)
        self._unique_index: dict[str, dict[str, dict[Any, str]]] = {}
        self._ids = itertools.count(1)
        self._sessions: dict[str, datetime] = {}
        self._injections: list[_Injection] = []
        self._cursors: dict[str, list[dict[str, Any]]] = {}
        self.api_calls = 0
        self.calls_by_path: Counter[str] = Counter()
        self.started_at = self.now()
        self.integration_user_id: str | None = None
        self.integration_user_id = self._insert("User", {"FirstName": "Sandbox", "LastName": "Integration",
                                                         "Username": "integration@sandbox.invalid"})
        self._seed()

    # -- clock
    def now(self) -> datetime:
        """The org's current time (aware UTC, millisecond precision like SystemModstamp)."""
        value = self.config.now() if self.config.now else datetime.now(timezone.utc)
        value = value.astimezone(timezone.utc)
        return value.replace(microsecond=value.microsecond // 1000 * 1000)

    # -- seed
    def _seed(self) -> None:
        from sync_pipelines.sandbox.seed import generate_people  # the colleague's deterministic people

        people = generate_people(seed=self.config.seed, size=self.config.size)
        owners: set[str] = set()
        for row in people.to_dict("records"):
            person = {k: _clean(v) for k, v in row.items()}
            created = person.get("createdAt") if isinstance(person.get("createdAt"), datetime) else self.started_at
            updated = person.get("updatedAt") if isinstance(person.get("updatedAt"), datetime) else created
            common = {
                "FirstName": person.get("firstName"),
                "LastName": person.get("lastName"),
                "Email": person.get("email"),
                "Phone": person.get("phone"),
                "Title": person.get("title"),
                "LeadSource": person.get("leadSource"),
                "OwnerId": person.get("sfdcLeadOwnerId"),
                "HasOptedOutOfEmail": bool(person.get("unsubscribed")),
                "IsDeleted": False,
                "CreatedDate": created,
                "LastModifiedDate": updated,
                "SystemModstamp": updated,
            }
            if person.get("sfdcContactId"):
                contact = {**common, "Id": person["sfdcContactId"], "AccountId": person.get("sfdcAccountId")}
                self._put("Contact", contact)
            if person.get("sfdcLeadId"):
                lead = {**common, "Id": person["sfdcLeadId"], "Company": person.get("company"),
                        "IsConverted": bool(person.get("sfdcContactId")),
                        "ConvertedContactId": person.get("sfdcContactId")}
                self._put("Lead", lead)
            if person.get("sfdcLeadOwnerId"):
                owners.add(person["sfdcLeadOwnerId"])
        self._seed_accounts_and_opportunities(people)
        for number, owner_id in enumerate(sorted(owners), start=1):
            self._put("User", {"Id": owner_id, "FirstName": "Sales", "LastName": f"User {number}",
                               "Username": f"sales.user{number}@sandbox.invalid", "Email": None, "IsActive": True,
                               "IsDeleted": False, "CreatedDate": self.started_at,
                               "LastModifiedDate": self.started_at, "SystemModstamp": self.started_at})

    def _seed_accounts_and_opportunities(self, people: pd.DataFrame) -> None:
        """An Account for every Contact's AccountId, and Opportunities with Contact Roles. By the
        Contact's position among Contacts with an Account (sorted by id): 0 mod 6: two open
        Opportunities (an older and a newer one); 3 mod 6: one open; 1 mod 3: only a closed (won)
        one; 2 mod 3: none. Their ids come from a range of their own (later records keep theirs)."""
        contacts = people[people["sfdcContactId"].notna() & people["sfdcAccountId"].notna()]
        for account_id, company in contacts.groupby("sfdcAccountId")["company"].first().items():
            self._put("Account", {"Id": account_id, "Name": _clean(company) or "Sandbox Account", "OwnerId": None,
                                  "IsDeleted": False, "CreatedDate": self.started_at,
                                  "LastModifiedDate": self.started_at, "SystemModstamp": self.started_at})
        numbers = itertools.count(_SEEDED_OPPORTUNITY_NUMBERS)
        ordered = contacts.sort_values("sfdcContactId")
        for position, (contact_id, account_id) in enumerate(zip(ordered["sfdcContactId"], ordered["sfdcAccountId"])):
            stages = {0: ["Qualification", "Proposal/Price Quote"], 3: ["Negotiation/Review"]}.get(
                position % 6, ["Closed Won"] if position % 3 == 1 else [])
            for age, stage in enumerate(reversed(stages)):  # the last stage listed is the newest
                created = self.started_at - timedelta(days=30 * (age + 1) + position % 7)
                opportunity_id = salesforce_id("006", next(numbers))
                self._put("Opportunity", {
                    "Id": opportunity_id, "Name": f"Sandbox deal {opportunity_id[-6:]}", "AccountId": account_id,
                    "StageName": stage, "CloseDate": (created + timedelta(days=90)).date(), "OwnerId": None,
                    "IsDeleted": False, "CreatedDate": created, "LastModifiedDate": created, "SystemModstamp": created})
                self._put("OpportunityContactRole", {
                    "Id": salesforce_id("00K", next(numbers)), "OpportunityId": opportunity_id,
                    "ContactId": contact_id, "Role": "Decision Maker", "IsPrimary": True, "IsDeleted": False,
                    "CreatedDate": created, "LastModifiedDate": created, "SystemModstamp": created})

    def _put(self, sobject: str, record: dict[str, Any]) -> None:
        derive_fields(sobject, record)
        self._state.tables[sobject][_key(record["Id"])] = record
        self._index(sobject, record)

    def _index(self, sobject: str, record: dict[str, Any], *, remove: bool = False) -> None:
        """Add (or remove) a live record's unique field values to the unique index."""
        for fspec in self.spec(sobject).fields.values():
            value = record.get(fspec.name)
            if not fspec.unique or value is None:
                continue
            values = self._unique_index.setdefault(sobject, {}).setdefault(fspec.name, {})
            if remove:
                if values.get(value) == _key(record["Id"]):
                    del values[value]
            elif not record["IsDeleted"]:
                values[value] = _key(record["Id"])

    def _rebuild_unique_index(self) -> None:
        self._unique_index = {}
        for sobject, table in self._state.tables.items():
            for record in table.values():
                self._index(sobject, record)

    # -- sessions
    def issue_token(self, client_id: str | None, client_secret: str | None) -> str:
        """Client-credentials grant; raises ValueError on wrong credentials."""
        if not (secrets.compare_digest(client_id or "", self.config.client_id)
                and secrets.compare_digest(client_secret or "", self.config.client_secret)):
            raise ValueError("invalid client credentials")
        token = "00D5E0000000001!" + secrets.token_urlsafe(48)
        with self._lock:
            self._sessions[token] = self.now()
        return token

    def session_valid(self, token: str) -> bool:
        with self._lock:
            issued = self._sessions.get(token)
        return issued is not None and self.now() - issued < timedelta(seconds=self.config.session_ttl_seconds)

    def expire_sessions(self) -> None:
        """Invalidate every access token (the next API call answers 401 INVALID_SESSION_ID)."""
        with self._lock:
            self._sessions.clear()

    # -- limits and faults
    def inject_errors(self, error_code: str, count: int = 1, path_prefix: str | None = None) -> None:
        """Make the next `count` matching calls (or records, for UNABLE_TO_LOCK_ROW in collections) fail.

        error_code: REQUEST_LIMIT_EXCEEDED (403), INVALID_SESSION_ID (401), UNABLE_TO_LOCK_ROW
        (per record in collections, else 400) or "5xx" (503 SERVER_UNAVAILABLE). `path_prefix`
        matches the URL path or the part after /services/data/vXX.X/ (e.g. "composite/sobjects").
        """
        with self._lock:
            self._injections.append(_Injection(error_code, count, path_prefix))

    def clear_injections(self) -> None:
        """Forget the injected faults not yet used (the service is healthy again)."""
        with self._lock:
            self._injections.clear()

    def _take_injection(self, path: str, api_path: str, accept: Callable[[str], bool]) -> str | None:
        with self._lock:
            for injection in self._injections:
                if injection.remaining > 0 and accept(injection.code) and injection.applies_to(path, api_path):
                    injection.remaining -= 1
                    return injection.code
        return None

    def begin_call(self, path: str, api_path: str, is_collection: bool) -> None:
        """Count one API call and raise the error it must answer with, if any."""
        with self._lock:
            used = self.api_calls
            if used >= self.config.daily_request_limit:
                raise SalesforceApiError(403, "REQUEST_LIMIT_EXCEEDED", "TotalRequests Limit exceeded.")
            self.api_calls += 1
            self.calls_by_path[path] += 1
        per_record_lock = lambda code: not (is_collection and code == "UNABLE_TO_LOCK_ROW")  # noqa: E731
        code = self._take_injection(path, api_path, per_record_lock) or self._planned_call_fault(is_collection)
        if code == "REQUEST_LIMIT_EXCEEDED":
            raise SalesforceApiError(403, code, "TotalRequests Limit exceeded.")
        if code == "INVALID_SESSION_ID":
            raise SalesforceApiError(401, code, "Session expired or invalid")
        if code == "UNABLE_TO_LOCK_ROW":
            raise SalesforceApiError(400, code, "unable to obtain exclusive access to this record")
        if code is not None:
            raise SalesforceApiError(503, "SERVER_UNAVAILABLE", "Server temporarily unavailable")

    # -- fault plan (per run, seeded random; see faults.py)
    fault_plan: FaultPlan | None = None

    def set_fault_plan(self, plan: FaultPlan | None) -> None:
        """Inject random faults from now on (None: none). Replaces any earlier plan."""
        with self._lock:
            self.fault_plan = plan

    def draw_fault(self, *kinds: str) -> str | None:
        """Ask the fault plan whether one of `kinds` happens now."""
        plan = self.fault_plan
        return plan.draw(kinds) if plan is not None else None

    def _planned_call_fault(self, is_collection: bool) -> str | None:
        kinds = ["REQUEST_LIMIT_EXCEEDED", "INVALID_SESSION_ID", "5xx"]
        if not is_collection:  # in a collection, lock errors are per record ("partial_collection")
            kinds.append("UNABLE_TO_LOCK_ROW")
        code = self.draw_fault(*kinds)
        if code == "INVALID_SESSION_ID":  # as when a session times out: every token stops working
            self.expire_sessions()
        return code

    def limit_info(self) -> str:
        """The Sforce-Limit-Info header value."""
        return f"api-usage={self.api_calls}/{self.config.daily_request_limit}"

    def limits(self) -> dict[str, Any]:
        limit = self.config.daily_request_limit
        return {"DailyApiRequests": {"Max": limit, "Remaining": max(limit - self.api_calls, 0)}}

    # -- lookups
    def spec(self, sobject: str) -> ObjectSpec:
        for name, spec in OBJECTS.items():
            if name.lower() == sobject.lower():
                return spec
        raise SalesforceApiError(404, "NOT_FOUND", f"The requested resource does not exist: sObject type '{sobject}'")

    def _locate(self, record_id: str) -> tuple[str, dict[str, Any]] | None:
        if not _is_id(record_id):
            return None
        for sobject, table in self._state.tables.items():
            record = table.get(_key(record_id))
            if record is not None:
                return sobject, record
        return None

    def _live(self, sobject: str, record_id: str) -> dict[str, Any]:
        found = self._locate(record_id)
        if found is None or found[0] != sobject:
            raise SalesforceApiError(404, "NOT_FOUND", "The requested resource does not exist")
        if found[1]["IsDeleted"]:
            raise SalesforceApiError(404, "ENTITY_IS_DELETED", "entity is deleted")
        return found[1]

    def find_by_external_id(self, sobject: str, field_name: str, value: str) -> list[dict[str, Any]]:
        spec = self.spec(sobject)
        fspec = spec.fields.get(field_name)
        if fspec is None or not (fspec.external_id or fspec.name == "Id"):
            raise SalesforceApiError(400, "NOT_FOUND", f"Provided external ID field does not exist or is not "
                                                       f"accessible: {field_name}")
        with self._lock:
            if fspec.unique:
                holder = self._unique_index.get(spec.name, {}).get(fspec.name, {}).get(value)
                return [dict(self._state.tables[spec.name][holder])] if holder is not None else []
            return [dict(r) for r in self._state.tables[spec.name].values()
                    if not r["IsDeleted"] and r.get(field_name) == value]

    # -- writes (all raise SalesforceApiError with status 400 for record-level problems)
    def _check_fields(self, spec: ObjectSpec, fields: dict[str, Any], creating: bool) -> dict[str, Any]:
        clean: dict[str, Any] = {}
        for name, value in fields.items():
            if name == "attributes":
                continue
            fspec = spec.fields.get(name) or next(
                (f for f in spec.fields.values() if f.name.lower() == name.lower()), None)
            if fspec is None:
                raise SalesforceApiError(400, "INVALID_FIELD",
                                         f"No such column '{name}' on sobject of type {spec.name}", [name])
            if not (fspec.createable if creating else fspec.updateable):
                raise SalesforceApiError(400, "INVALID_FIELD_FOR_INSERT_UPDATE",
                                         f"Unable to create/update fields: {fspec.name}. Please check the security "
                                         f"settings of this field and verify that it is read/write for your "
                                         f"profile or permission set.", [fspec.name])
            clean[fspec.name] = self._check_reference(fspec, _coerce(fspec, value))
        return clean

    def _check_reference(self, fspec: FieldSpec, value: Any) -> Any:
        if fspec.type != "reference" or value is None:
            return value
        if not _is_id(value):
            raise SalesforceApiError(400, "MALFORMED_ID", f"{fspec.name}: id value of incorrect type: {value}",
                                     [fspec.name])
        known = [name for name in fspec.reference_to if name in OBJECTS]
        if not known:
            return value  # Accounts, Opportunities... are not emulated: accept any well-formed id
        found = self._locate(value)
        if found is None or found[0] not in known or found[1]["IsDeleted"]:
            raise SalesforceApiError(400, "INVALID_CROSS_REFERENCE_KEY", "invalid cross reference id", [fspec.name])
        if found[0] == "Lead" and found[1].get("IsConverted") and fspec.name == "WhoId":
            raise SalesforceApiError(400, "CANNOT_UPDATE_CONVERTED_LEAD", "cannot reference converted lead",
                                     [fspec.name])
        return found[1]["Id"]

    def _check_unique(self, spec: ObjectSpec, record: dict[str, Any]) -> None:
        for fspec in spec.fields.values():
            value = record.get(fspec.name)
            if not fspec.unique or value is None:
                continue
            holder = self._unique_index.get(spec.name, {}).get(fspec.name, {}).get(value)
            if holder is not None and holder != _key(record["Id"]):
                other = self._state.tables[spec.name][holder]
                raise SalesforceApiError(400, "DUPLICATE_VALUE", f"duplicate value found: {fspec.name} "
                                         f"duplicates value on record with id: {other['Id']}", [fspec.name])

    def _new_id(self, spec: ObjectSpec) -> str:
        while True:
            candidate = salesforce_id(spec.key_prefix, next(self._ids))
            if self._locate(candidate) is None:
                return candidate

    def _insert(self, sobject: str, fields: dict[str, Any]) -> str:
        with self._lock:
            spec = self.spec(sobject)
            clean = self._check_fields(spec, fields, creating=True)
            record: dict[str, Any] = {name: None for name in spec.fields}
            record.update(spec.defaults)
            if "OwnerId" in spec.fields:
                record["OwnerId"] = self.integration_user_id  # records belong to the API user by default
            record.update(clean)
            missing = [name for name in spec.required if not record.get(name)]
            if missing:
                raise SalesforceApiError(400, "REQUIRED_FIELD_MISSING", f"Required fields are missing: {missing}",
                                         missing)
            now = self.now()
            record.update(Id=self._new_id(spec), IsDeleted=False, CreatedDate=now, LastModifiedDate=now,
                          SystemModstamp=now)
            derive_fields(spec.name, record)
            self._check_unique(spec, record)
            self._state.tables[spec.name][_key(record["Id"])] = record
            self._index(spec.name, record)
            return record["Id"]

    def _modify(self, sobject: str, record_id: str, fields: dict[str, Any]) -> None:
        with self._lock:
            spec = self.spec(sobject)
            current = self._live(spec.name, record_id)
            clean = self._check_fields(spec, fields, creating=False)
            now = self.now()
            record = {**current, **clean, "LastModifiedDate": now, "SystemModstamp": now}
            derive_fields(spec.name, record)
            self._check_unique(spec, record)
            # Replace rather than mutate, so an allOrNone snapshot still holds the old record.
            self._state.tables[spec.name][_key(record_id)] = record
            self._index(spec.name, current, remove=True)
            self._index(spec.name, record)

    def _remove(self, record_id: str) -> str:
        with self._lock:
            found = self._locate(record_id)
            if found is None:
                raise SalesforceApiError(404, "NOT_FOUND", "The requested resource does not exist")
            sobject, current = found
            if current["IsDeleted"]:
                raise SalesforceApiError(404, "ENTITY_IS_DELETED", "entity is deleted")
            now = self.now()
            self._state.tables[sobject][_key(record_id)] = {**current, "IsDeleted": True, "SystemModstamp": now}
            self._index(sobject, current, remove=True)
            self._state.deletions.append(_Deletion(sobject, current["Id"], now))
            return current["Id"]

    def _purge_recycle_bin(self) -> None:
        """Deleted records are kept 15 days, then gone for good (also from queryAll)."""
        cutoff = self.now() - timedelta(days=RECYCLE_BIN_DAYS)
        expired = [d for d in self._state.deletions if d.deleted_at < cutoff]
        for deletion in expired:
            self._state.tables[deletion.sobject].pop(_key(deletion.record_id), None)
        self._state.deletions = [d for d in self._state.deletions if d.deleted_at >= cutoff]

    # -- the REST operations
    def create_record(self, sobject: str, fields: dict[str, Any]) -> str:
        return self._insert(sobject, fields)

    def update_record(self, sobject: str, record_id: str, fields: dict[str, Any]) -> None:
        self._modify(sobject, record_id, fields)

    def delete_record(self, sobject: str | None, record_id: str) -> str:
        with self._lock:
            found = self._locate(record_id)
            if sobject is not None and (found is None or found[0] != self.spec(sobject).name):
                raise SalesforceApiError(404, "NOT_FOUND", "The requested resource does not exist")
            return self._remove(record_id)

    def upsert_record(self, sobject: str, field_name: str, value: str, fields: dict[str, Any]) -> tuple[str, bool]:
        """Upsert by external id; returns (id, created). Several matches -> 300."""
        with self._lock:
            spec = self.spec(sobject)
            existing = self.find_by_external_id(spec.name, field_name, value)
            body = {k: v for k, v in fields.items() if k.lower() != field_name.lower()}
            if len(existing) > 1:
                raise SalesforceApiError(300, "MULTIPLE_RECORDS", f"more than one record found for {field_name}")
            if existing:
                self._modify(spec.name, existing[0]["Id"], body)
                return existing[0]["Id"], False
            return self._insert(spec.name, {**body, field_name: value}), True

    def get_record(self, sobject: str, record_id: str) -> dict[str, Any]:
        with self._lock:
            return dict(self._live(self.spec(sobject).name, record_id))

    def collection(self, operations: list[tuple[str | None, Callable[[], dict[str, Any]]]],
                   all_or_none: bool, path: str, api_path: str) -> list[dict[str, Any]]:
        """Run an sObject Collections request: per-record results in input order.

        Each operation is (record id if known, callable returning the success result).
        With allOrNone, one failure rolls back every record of the request.
        """
        if len(operations) > 200:
            raise SalesforceApiError(400, "EXCEEDED_ID_LIMIT", "record limit reached. cannot submit more than 200 "
                                                                "records into this call")
        with self._lock:
            snapshot = self._state.copy()
            results: list[dict[str, Any]] = []
            for record_id, operation in operations:
                try:
                    if self._take_injection(path, api_path, lambda code: code == "UNABLE_TO_LOCK_ROW") or \
                            self.draw_fault("partial_collection"):
                        raise SalesforceApiError(400, "UNABLE_TO_LOCK_ROW",
                                                 "unable to obtain exclusive access to this record")
                    results.append(operation())
                except SalesforceApiError as error:
                    failure: dict[str, Any] = {"success": False, "errors": [
                        {"statusCode": error.code, "message": error.message, "fields": error.fields}]}
                    if record_id:
                        failure["id"] = record_id
                    results.append(failure)
            if all_or_none and not all(r["success"] for r in results):
                self._state = snapshot
                self._rebuild_unique_index()
                rolled_back = {"statusCode": "ALL_OR_NONE_OPERATION_ROLLED_BACK", "fields": [],
                               "message": "Record rolled back because not all records were valid and the request "
                                          "was using AllOrNone header"}
                results = [r if not r["success"] else {"success": False, "errors": [rolled_back]} for r in results]
            return results

    def run_query(self, soql: str, include_deleted: bool, version: str) -> dict[str, Any]:
        """Run SOQL and return its first page; further pages come from `query_page`."""
        with self._lock:
            self._purge_recycle_bin()
            objects = {name: {f.name: f.type for f in spec.fields.values()} for name, spec in OBJECTS.items()}
            query = compile_query(soql, objects, self.now().date())
            rows = [r for r in self._state.tables[query.sobject].values()
                    if (include_deleted or not r["IsDeleted"]) and matches(r, query.where)]
            rows = order_records(rows, query.order_by)[: query.limit]
            records = [
                {"attributes": {"type": query.sobject,
                                "url": f"/services/data/v{version}/sobjects/{query.sobject}/{r['Id']}"},
                 **{name: to_json(r.get(name)) for name in query.fields}}
                for r in rows
            ]
            cursor = "01g5E" + secrets.token_hex(6)
            self._cursors[cursor] = records
            return self.query_page(cursor, 0, version)

    def query_page(self, cursor: str, offset: int, version: str) -> dict[str, Any]:
        with self._lock:
            records = self._cursors.get(cursor)
            if records is None or offset < 0 or offset > len(records):
                raise SalesforceApiError(400, "INVALID_QUERY_LOCATOR", "invalid query locator")
            end = offset + self.config.query_page_size
            page: dict[str, Any] = {"totalSize": len(records), "done": end >= len(records),
                                    "records": records[offset:end]}
            if end < len(records):
                page["nextRecordsUrl"] = f"/services/data/v{version}/query/{cursor}-{end}"
            else:
                self._cursors.pop(cursor, None)
            return page

    # -- replication (getUpdated / getDeleted)
    def _window(self, start: str, end: str) -> tuple[datetime, datetime]:
        try:
            begin, finish = parse_datetime(start), parse_datetime(end)
        except ValueError:
            raise SalesforceApiError(400, "INVALID_REPLICATION_DATE", "start and end must be ISO-8601 datetimes "
                                                                      "with a time zone") from None
        # Seconds are truncated (SOAP getUpdated/getDeleted docs); the end never passes "now".
        begin = begin.replace(second=0, microsecond=0)
        finish = min(finish, self.now()).replace(second=0, microsecond=0)
        if begin >= finish:
            raise SalesforceApiError(400, "INVALID_REPLICATION_DATE", "startDate must chronologically precede endDate")
        return begin, finish

    def updated_ids(self, sobject: str, start: str, end: str) -> dict[str, Any]:
        with self._lock:
            spec = self.spec(sobject)
            begin, finish = self._window(start, end)
            if begin < self.now() - timedelta(days=UPDATED_WINDOW_DAYS):
                raise SalesforceApiError(400, "INVALID_REPLICATION_DATE", "startDate cannot be more than 30 days ago")
            ids = [r["Id"] for r in self._state.tables[spec.name].values()
                   if not r["IsDeleted"] and begin <= r["SystemModstamp"] < finish]
            return {"ids": ids, "latestDateCovered": format_datetime(finish)}

    def deleted_records(self, sobject: str, start: str, end: str) -> dict[str, Any]:
        with self._lock:
            spec = self.spec(sobject)
            self._purge_recycle_bin()
            begin, finish = self._window(start, end)
            earliest = max(self.started_at, self.now() - timedelta(days=RECYCLE_BIN_DAYS)).replace(second=0,
                                                                                                 microsecond=0)
            deleted = [{"id": d.record_id, "deletedDate": format_datetime(d.deleted_at)}
                       for d in self._state.deletions
                       if d.sobject == spec.name and begin <= d.deleted_at < finish]
            return {"deletedRecords": deleted, "earliestDateAvailable": format_datetime(earliest),
                    "latestDateCovered": format_datetime(finish)}

    def describe(self, sobject: str) -> dict[str, Any]:
        return describe(self.spec(sobject))

    # -- Python helpers for tests (no API call is counted)
    def records(self, sobject: str, include_deleted: bool = False) -> list[dict[str, Any]]:
        """Copies of the records of one object (Python values)."""
        with self._lock:
            self._purge_recycle_bin()
            return [dict(r) for r in self._state.tables[self.spec(sobject).name].values()
                    if include_deleted or not r["IsDeleted"]]

    def get(self, sobject: str, record_id: str) -> dict[str, Any] | None:
        """One live record, or None."""
        try:
            return self.get_record(sobject, record_id)
        except SalesforceApiError:
            return None

    def create(self, sobject: str, **fields: Any) -> str:
        """Create a record as a Salesforce user would; returns its id."""
        return self._insert(sobject, fields)

    def update(self, sobject: str, record_id: str, **fields: Any) -> None:
        """Edit a record as a Salesforce user would (bumps LastModifiedDate and SystemModstamp)."""
        self._modify(sobject, record_id, fields)

    def convert_lead(self, lead_id: str) -> str:
        """Convert a Lead as a Salesforce user does (Lead Convert): a new Contact with the Lead's name and
        email, and the Lead marked IsConverted with ConvertedContactId (fields no API call may set).
        From then on a Task naming the Lead as WhoId is refused with CANNOT_UPDATE_CONVERTED_LEAD."""
        with self._lock:
            lead = self._live("Lead", lead_id)
            contact_id = self._insert("Contact", {name: lead.get(name) for name in ("FirstName", "LastName", "Email")
                                                  if lead.get(name) is not None})
            now = self.now()
            converted = {**lead, "IsConverted": True, "ConvertedContactId": contact_id, "LastModifiedDate": now,
                         "SystemModstamp": now}
            self._state.tables["Lead"][_key(lead_id)] = converted
            self._index("Lead", lead, remove=True)
            self._index("Lead", converted)
            return contact_id

    def delete(self, sobject: str, record_id: str) -> None:
        """Move a record to the recycle bin (visible to getDeleted for 15 days)."""
        self.delete_record(sobject, record_id)
