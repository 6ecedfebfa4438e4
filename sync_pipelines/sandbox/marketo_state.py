"""The Marketo sandbox's in-memory state: leads, activity log, tokens, limits and injected faults.

Leads live in one pandas DataFrame indexed by id (1,000,000 rows stay cheap); every change goes
through a method here, which also writes the activity log the REST activity endpoints page over.
All methods are thread-safe: Starlette runs handlers in a thread pool.
"""

from __future__ import annotations

import base64
import bisect
import collections
import secrets
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np
import pandas as pd

from .faults import MARKETO_FAULT_MESSAGES, FaultPlan, marketo_kinds_for
from .marketo_custom_activities import CustomActivityTypes
from .marketo_errors import InjectedServerError, MarketoError
from .marketo_fields import (CHANGE_DATA_VALUE, DELETE_LEAD, FIELDS_BY_NAME, MERGE_LEADS,
                             NEW_LEAD, coerce_value, to_change_text)
from .seed import SANDBOX_SEED, SANDBOX_SIZE, generate_people

# Marketo resets daily counters (API quota, bulk export bytes) at midnight US Central.
MARKETO_DAY_ZONE = ZoneInfo("America/Chicago")
NOT_COUNTED_CODES = frozenset({"600", "601", "602"})


@dataclass
class MarketoSandboxConfig:
    """Knobs of one sandbox instance; defaults follow Marketo's documented limits."""

    seed: int = SANDBOX_SEED
    size: int = SANDBOX_SIZE
    client_id: str = "sandbox-client-id"
    client_secret: str = "sandbox-client-secret"
    token_ttl_seconds: float = 3600
    calls_per_window: int = 100
    window_seconds: float = 20.0
    max_concurrent: int = 10
    daily_quota: int = 50_000
    # Export job timing: a job stays Queued at least bulk_queued_seconds (longer while both processing
    # slots are taken), then Processing for bulk_processing_seconds plus bulk_seconds_per_1000_rows per
    # thousand rows it exports. Short defaults for the demo; tests and benchmarks turn them up.
    bulk_queued_seconds: float = 0.0
    bulk_processing_seconds: float = 0.2
    bulk_seconds_per_1000_rows: float = 0.0
    bulk_daily_export_bytes: int = 500 * 1024 * 1024
    # Sandbox-only: extra delay inside every counted API call (slow answers; keeps calls in flight).
    latency_seconds: float = 0.0
    # Lead fields this instance does not have (an instance without e.g. the LinkedIn field): absent from the
    # describe endpoints, and refused where a request names them (1006 on REST, 1003 on a bulk export).
    absent_lead_fields: tuple[str, ...] = ()


@dataclass
class _Token:
    value: str
    client_id: str
    expires_at: float  # time.monotonic()


@dataclass
class _InjectedFault:
    code: str
    remaining: int
    path_prefix: str | None


@dataclass
class _Usage:
    """Counters that decide 606/607/615."""

    day: Any = None
    daily_calls: int = 0
    recent_calls: collections.deque = field(default_factory=collections.deque)
    in_flight: int = 0


class MarketoSandbox:
    """State of one emulated Marketo instance, with the admin operations tests use directly."""

    def has_lead_field(self, name: str) -> bool:
        """Whether this instance has the lead field `name` (a REST name)."""
        return name in FIELDS_BY_NAME and name not in self.config.absent_lead_fields

    def __init__(self, config: MarketoSandboxConfig | None = None,
                 clock: Callable[[], datetime] | None = None):
        self.config = config or MarketoSandboxConfig()
        self.lock = threading.RLock()
        self._clock = clock or (lambda: datetime.now(UTC))
        self._last_now = datetime.min.replace(tzinfo=UTC)
        self._leads = generate_people(self.config.seed, self.config.size).set_index("id")
        self._activities: list[dict] = []
        self._activity_dates: list[datetime] = []
        self._tokens: dict[str, _Token] = {}
        self._faults: list[_InjectedFault] = []
        self._usage = _Usage()
        self.api_calls = 0
        self.calls_by_path: collections.Counter[str] = collections.Counter()
        # (HTTP method, path) of every API call, in order: tests tell reads from writes with it.
        self.call_log: list[tuple[str, str]] = []
        self.custom_activity_types = CustomActivityTypes()

    # ----- time -------------------------------------------------------------------------------

    def now(self) -> datetime:
        """Current UTC time for timestamps; never goes backwards (keeps the activity log sorted)."""
        with self.lock:
            self._last_now = max(self._last_now, self._clock())
            return self._last_now

    def marketo_day(self) -> Any:
        """The Marketo 'day' (US Central calendar date) that daily limits are counted in."""
        return self.now().astimezone(MARKETO_DAY_ZONE).date()

    # ----- leads ------------------------------------------------------------------------------

    def leads(self) -> pd.DataFrame:
        """A copy of all leads, with `id` as a column (the layout generate_people returns)."""
        with self.lock:
            return self._leads.reset_index()

    def lead_frame(self) -> pd.DataFrame:
        """The live leads frame indexed by id; callers must hold `lock` and must not modify it."""
        return self._leads

    def update_lead(self, lead_id: int, **fields: Any) -> None:
        """Change fields of a lead; one Data Value Change activity per changed field."""
        with self.lock:
            self._require_lead(lead_id)
            fields = _checked_fields(fields)
            now = self.now()
            changed = False
            for name, new in fields.items():
                old = self._leads.at[lead_id, name]
                if to_change_text(old) == to_change_text(new):
                    continue
                self._leads.at[lead_id, name] = new
                spec = FIELDS_BY_NAME[name]
                self._record(lead_id, CHANGE_DATA_VALUE, now,
                             primary_id=spec.id, primary_value=spec.display_name,
                             attributes=[{"name": "Source", "value": "Sandbox admin"},
                                         {"name": "Reason", "value": "Changed in sandbox"}],
                             fields=[{"id": spec.id, "name": name,
                                      "newValue": to_change_text(new),
                                      "oldValue": to_change_text(old)}])
                changed = True
            if changed:
                self._leads.at[lead_id, "updatedAt"] = pd.Timestamp(now)

    def create_lead(self, **fields: Any) -> int:
        """Add a lead (unset fields empty/false/0) and record a New Lead activity; return its id."""
        with self.lock:
            fields = _checked_fields(fields)
            now = pd.Timestamp(self.now())
            lead_id = int(self._leads.index.max()) + 1 if len(self._leads) else 1001
            row = {"unsubscribed": False, "emailInvalid": False, "leadScore": 0,
                   "createdAt": now, "updatedAt": now, **fields}
            new_row = pd.DataFrame([row], index=pd.Index([lead_id], name="id"))
            new_row = new_row.reindex(columns=self._leads.columns)
            for column in self._leads.columns:
                new_row[column] = new_row[column].astype(self._leads[column].dtype)
            self._leads = pd.concat([self._leads, new_row])
            self._record(lead_id, NEW_LEAD, now.to_pydatetime(), primary_id=lead_id,
                         primary_value=str(lead_id),
                         attributes=[{"name": "Source Type", "value": "New lead"}], fields=[])
            return lead_id

    def delete_lead(self, lead_id: int) -> None:
        """Delete a lead; the deletion shows in deletedleads.json (type 37)."""
        with self.lock:
            self._require_lead(lead_id)
            self._leads = self._leads.drop(index=lead_id)
            self._record(lead_id, DELETE_LEAD, self.now(), primary_id=lead_id,
                         primary_value=str(lead_id),
                         attributes=[{"name": "Remove from CRM", "value": False}])

    def merge_leads(self, winner_id: int, loser_ids: list[int]) -> None:
        """Merge losers into the winner: losers disappear, the winner gets a Merge Leads activity.

        As in Marketo, merged-away leads are NOT reported by deletedleads.json; a sync learns of
        them from the Merge Leads activity (type 32, attribute "Merge Ids") on the winner.
        """
        with self.lock:
            for lead_id in [winner_id, *loser_ids]:
                self._require_lead(lead_id)
            if winner_id in loser_ids or not loser_ids:
                raise ValueError("loser ids must be non-empty and must not contain the winner")
            now = self.now()
            self._leads = self._leads.drop(index=list(loser_ids))
            self._leads.at[winner_id, "updatedAt"] = pd.Timestamp(now)
            self._record(winner_id, MERGE_LEADS, now, primary_id=winner_id,
                         primary_value=str(winner_id),
                         attributes=[{"name": "Merge Ids", "value": ",".join(map(str, loser_ids))},
                                     {"name": "Merged in Sales", "value": False},
                                     {"name": "Merge Source", "value": "Sandbox admin"}])

    def _require_lead(self, lead_id: int) -> None:
        if lead_id not in self._leads.index:
            raise KeyError(f"no lead with id {lead_id}")

    # ----- activity log -----------------------------------------------------------------------

    def _record(self, lead_id: int, type_id: int, when: datetime, *, primary_id: int,
                primary_value: str, attributes: list[dict], fields: list[dict] | None = None
                ) -> None:
        activity_id = len(self._activities) + 1
        activity = {
            "id": activity_id,
            "marketoGUID": str(uuid.UUID(int=activity_id)),
            "leadId": int(lead_id),
            "activityDate": when,
            "activityTypeId": type_id,
            "primaryAttributeValueId": int(primary_id),
            "primaryAttributeValue": primary_value,
            "attributes": attributes,
        }
        if fields is not None:
            activity["fields"] = fields
        self._activities.append(activity)
        self._activity_dates.append(when)

    def record_external_activity(self, lead_id: int, type_id: int, activity_date: datetime,
                                 primary_value: str, attributes: list[dict]) -> dict | None:
        """Add a custom activity of an approved type; None when the lead does not exist.

        It joins the log in write order (a paging token's sinceDatetime counts from when it was
        written) while keeping the activityDate the caller gave, which may lie in the past.
        """
        with self.lock:
            if lead_id not in self._leads.index:
                return None
            self._record(lead_id, type_id, activity_date, primary_id=0, primary_value=primary_value,
                         attributes=attributes)
            self._activity_dates[-1] = self.now()
            return self._activities[-1]

    def activity_position(self, since: datetime) -> int:
        """Index of the first activity at or after `since` (what a paging token points to)."""
        with self.lock:
            return bisect.bisect_left(self._activity_dates, since)

    def scan_activities(self, start: int, batch_size: int,
                        accept: Callable[[dict], bool]) -> tuple[list[dict], int, bool]:
        """Walk the log from `start`; return (accepted activities, next position, more left)."""
        with self.lock:
            found: list[dict] = []
            position = start
            while position < len(self._activities) and len(found) < batch_size:
                activity = self._activities[position]
                position += 1
                if accept(activity):
                    found.append(activity)
            return found, position, position < len(self._activities)

    @staticmethod
    def encode_position(position: int) -> str:
        """An opaque paging token for a position in the activity log."""
        return base64.b32encode(f"mkto-sandbox:{position}".encode()).decode().rstrip("=")

    @staticmethod
    def decode_position(token: str) -> int:
        """Read a paging token back; raise MarketoError 1003 when it is not ours."""
        try:
            padded = token + "=" * (-len(token) % 8)
            prefix, position = base64.b32decode(padded).decode().split(":")
            if prefix != "mkto-sandbox":
                raise ValueError(token)
            return int(position)
        except (ValueError, UnicodeDecodeError, base64.binascii.Error):
            raise MarketoError("1003", "Invalid nextPageToken") from None

    # ----- tokens -----------------------------------------------------------------------------

    def issue_token(self, client_id: str | None, client_secret: str | None) -> tuple[str, int]:
        """Return (access token, seconds left); the live token is reused until it expires."""
        if (client_id, client_secret) != (self.config.client_id, self.config.client_secret):
            raise PermissionError("Bad client credentials")
        with self.lock:
            clock = time.monotonic()
            for token in self._tokens.values():
                if token.client_id == client_id and token.expires_at > clock + 1:
                    return token.value, int(token.expires_at - clock)
            value = f"{uuid.uuid4()}:sb"
            self._tokens[value] = _Token(value, client_id, clock + self.config.token_ttl_seconds)
            return value, int(self.config.token_ttl_seconds)

    def expire_tokens(self) -> None:
        """Make every issued token expired: the next API call answers 602."""
        with self.lock:
            for token in self._tokens.values():
                token.expires_at = min(token.expires_at, time.monotonic())

    def authorize(self, authorization_header: str | None) -> None:
        """Check the Bearer token: 600 empty, 601 invalid, 602 expired."""
        scheme, _, value = (authorization_header or "").partition(" ")
        value = value.strip()
        if scheme.lower() != "bearer" or not value:
            raise MarketoError("600", "Access token not specified")
        with self.lock:
            token = self._tokens.get(value)
            if token is None:
                raise MarketoError("601", "Access token invalid")
            if token.expires_at <= time.monotonic():
                raise MarketoError("602", "Access token expired")

    # ----- limits and faults ------------------------------------------------------------------

    def inject_errors(self, code: str, count: int, path_prefix: str | None = None) -> None:
        """Make the next `count` API calls (under `path_prefix`) answer Marketo error `code`.

        Code "5xx" answers HTTP 503 with an HTML body instead of a JSON envelope.
        """
        with self.lock:
            self._faults.append(_InjectedFault(str(code), int(count), path_prefix))

    def log_call(self, method: str, path: str) -> None:
        with self.lock:
            self.call_log.append((method, path))

    @contextmanager
    def admit(self, path: str) -> Iterator[None]:
        """Count one authorized API call and apply faults and limits (607, 606, 615) to it."""
        with self.lock:
            self.api_calls += 1
            self.calls_by_path[path] += 1
            self._take_injected_fault(path)
            self._take_planned_fault(path)
            usage = self._usage
            if usage.day != self.marketo_day():
                usage.day, usage.daily_calls = self.marketo_day(), 0
            if usage.daily_calls >= self.config.daily_quota:
                raise MarketoError("607", "Daily quota reached")
            clock = time.monotonic()
            window_start = clock - self.config.window_seconds
            while usage.recent_calls and usage.recent_calls[0] <= window_start:
                usage.recent_calls.popleft()
            if len(usage.recent_calls) >= self.config.calls_per_window:
                raise MarketoError("606", "Max rate limit '%d' exceeded with in '%d' secs"
                                   % (self.config.calls_per_window, self.config.window_seconds))
            if usage.in_flight >= self.config.max_concurrent:
                raise MarketoError("615", "Concurrent access limit reached")
            usage.recent_calls.append(clock)
            usage.daily_calls += 1
            usage.in_flight += 1
        try:
            yield
        finally:
            with self.lock:
                usage.in_flight -= 1

    def _take_injected_fault(self, path: str) -> None:
        for fault in self._faults:
            if fault.remaining > 0 and (fault.path_prefix is None
                                        or path.startswith(fault.path_prefix)):
                fault.remaining -= 1
                if fault.code in NOT_COUNTED_CODES:
                    self.api_calls -= 1
                if fault.code == "5xx":
                    raise InjectedServerError(path)
                raise MarketoError(fault.code, _FAULT_MESSAGES.get(fault.code, "Injected error"))
        self._faults = [f for f in self._faults if f.remaining > 0]

    # ----- fault plan (per run, seeded random; see faults.py) -----------------------------------

    fault_plan: FaultPlan | None = None
    # Raw CSV lines (bytes, already quoted, fields in the job's order) appended to every export file.
    raw_export_lines: list[Callable[[list[str]], bytes]] = []

    def set_fault_plan(self, plan: FaultPlan | None) -> None:
        """Inject random faults from now on (None: none). Replaces any earlier plan."""
        with self.lock:
            self.fault_plan = plan

    def draw_fault(self, *kinds: str) -> str | None:
        """Ask the fault plan whether one of `kinds` happens now."""
        plan = self.fault_plan
        return plan.draw(kinds) if plan is not None else None

    def add_raw_export_line(self, render: Callable[[list[str]], bytes]) -> None:
        """Append `render(job fields)` (raw bytes, may be invalid UTF-8) to every export file."""
        with self.lock:
            self.raw_export_lines = [*self.raw_export_lines, render]

    def _take_planned_fault(self, path: str) -> None:
        kind = self.draw_fault(*marketo_kinds_for(path))
        if kind is None:
            return
        if kind in NOT_COUNTED_CODES:
            self.api_calls -= 1
        if kind == "5xx":
            raise InjectedServerError(path)
        raise MarketoError(kind, MARKETO_FAULT_MESSAGES[kind])

    def stats(self) -> dict:
        """Counters for the admin endpoint: API calls (total and per path) and lead count."""
        with self.lock:
            return {"api_calls": self.api_calls, "calls_by_path": dict(self.calls_by_path),
                    "leads": int(len(self._leads))}

    @staticmethod
    def new_request_id() -> str:
        """A Marketo-looking request id such as 'a3f1#18c2e4d07aa'."""
        return f"{secrets.token_hex(2)}#{secrets.token_hex(6)[:11]}"


_FAULT_MESSAGES = {
    "601": "Access token invalid",
    "602": "Access token expired",
    "604": "Request timed out",
    "606": "Max rate limit '100' exceeded with in '20' secs",
    "607": "Daily quota reached",
    "608": "API Temporarily Unavailable",
    "611": "System error",
    "615": "Concurrent access limit reached",
    "713": "Transient Error",
    "1029": "Too many jobs in queue",
}


def _checked_fields(fields: dict[str, Any]) -> dict[str, Any]:
    """Writable fields with values of the right type; ValueError names the first bad one."""
    checked = {}
    for name, value in fields.items():
        spec = FIELDS_BY_NAME.get(name)
        if spec is None or not spec.updateable:
            raise ValueError(f"field {name!r} is unknown or read-only")
        checked[name] = coerce_value(spec, value)
    return checked


def ids_array(values: list[str]) -> np.ndarray:
    """Parse id filter values; raise MarketoError 1003 on anything that is not an integer."""
    try:
        return np.array([int(v) for v in values], dtype=np.int64)
    except ValueError:
        raise MarketoError("1003", "Invalid filter value: ids must be integers") from None
