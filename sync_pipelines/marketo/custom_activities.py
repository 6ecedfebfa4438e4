"""Custom activities: the type-management endpoints, the insert (300 per call) and the read-back.

Custom activities are write-once and Marketo gives no idempotency key, so the insert must never be
replayed blindly: it retries only refusals that guarantee nothing ran (606 rate, 615 concurrency,
608 unavailable; token errors are replayed by MarketoApi). Any other failure (a timeout, a dropped
connection, a 5xx, 604/611/713) raises InsertInDoubt: the caller reads the activities back
(`read_back`, by an attribute that carries its own id) before it sends them again.
The type-management writes follow the same rule (a replayed create answers "already exists"): they raise
TypeWriteInDoubt, and the caller reads the types again to see what the lost call did.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from datetime import datetime

from sync_pipelines.chunks import chunked

from .api import MarketoApi
from .dates import marketo_datetime
from .errors import MarketoError, MarketoReadOnlyError, TransientMarketoError

MAX_INSERT = 300  # activities per POST /rest/v1/activities/external.json
MAX_LEAD_IDS = 30  # leadIds per activities.json call
MAX_TYPE_IDS = 10  # activityTypeIds per activities.json call
# Refusals that mean "not executed": safe to send the same insert again.
NOT_EXECUTED_CODES = frozenset({"606", "608", "615"})


class WriteInDoubt(MarketoError):
    """The write may or may not have run in Marketo: read its effect back before sending it again."""


class InsertInDoubt(WriteInDoubt):
    """An activity insert in doubt: verify (`read_back`) before resending."""


class TypeWriteInDoubt(WriteInDoubt):
    """A type-management write in doubt: describe the type again before deciding what is still missing."""


class CustomActivitiesApi:
    """The custom-activity endpoints; reached as `MarketoClient.custom_activities`."""

    def __init__(self, api: MarketoApi, *, read_only: bool = False):
        self._api = api
        self._read_only = read_only  # a dry run's client: every write raises MarketoReadOnlyError

    # --- types ----------------------------------------------------------------------------------

    def list_types(self) -> list[dict]:
        """Every custom type (live version, or the draft when never approved) with its `status`.

        The documented answer carries no `attributes`: read those with `describe_type`."""
        return list(self._api.get("/rest/v1/activities/external/types.json", {}).get("result") or [])

    def describe_type(self, api_name: str, *, draft: bool = False) -> dict:
        params = {"draft": "true"} if draft else {}
        return self._api.get(f"/rest/v1/activities/external/type/{api_name}/describe.json", params)["result"][0]

    def create_type(self, request: dict) -> dict:
        """Create a type (as a draft) from {apiName, name, triggerName, filterName, primaryAttribute, ...}."""
        return self._type_write("/rest/v1/activities/external/type.json", request)

    def create_attributes(self, api_name: str, attributes: list[dict]) -> dict:
        """Add secondary attributes to the type's draft."""
        path = f"/rest/v1/activities/external/type/{api_name}/attributes/create.json"
        return self._type_write(path, {"attributes": attributes})

    def approve_type(self, api_name: str) -> dict:
        """Make the draft the live version (activities can be inserted only for approved types)."""
        return self._type_write(f"/rest/v1/activities/external/type/{api_name}/approve.json", None)

    def _type_write(self, path: str, body: dict | None) -> dict:
        return self._write_once(path, body, TypeWriteInDoubt)["result"][0]

    def _write_once(self, path: str, body: dict | None, in_doubt: type[WriteInDoubt]) -> dict:
        """POST a write that must not run twice: only refusals that guarantee nothing ran are retried;
        any other failure raises `in_doubt`."""
        if self._read_only:
            raise MarketoReadOnlyError(path)
        try:
            return self._api.call("POST", path, json=body, retry_if=lambda exc: exc.code in NOT_EXECUTED_CODES)
        except TransientMarketoError as exc:
            if exc.code in NOT_EXECUTED_CODES:  # still refused after every retry: nothing ran
                raise MarketoError(exc.code, f"{path} refused: {exc.message}") from None
            raise in_doubt(exc.code, f"{path} unanswered: {exc.message}") from None

    # --- activities -----------------------------------------------------------------------------

    def insert(self, activities: Sequence[dict]) -> list[dict]:
        """Insert at most 300 activities in one call; one result per input, in order.

        Each result is {id, marketoGUID, status: "added"} or {status: "skipped", errors: [...]}.
        Raises InsertInDoubt when the call may have been executed without an answer reaching us.
        """
        if not 0 < len(activities) <= MAX_INSERT:
            raise ValueError(f"insert takes 1 to {MAX_INSERT} activities, got {len(activities)}")
        body = self._write_once("/rest/v1/activities/external.json", {"input": list(activities)}, InsertInDoubt)
        results = list(body.get("result") or [])
        if len(results) != len(activities):
            raise InsertInDoubt("result", f"{len(results)} results for {len(activities)} activities")
        return results

    def read_back(self, type_ids: Sequence[int], lead_ids: Sequence[int], since: datetime) -> Iterator[dict]:
        """Activities of `type_ids` for `lead_ids` written since `since` (30 leads, 10 types per call)."""
        token = self._api.get("/rest/v1/activities/pagingtoken.json", {"sinceDatetime": marketo_datetime(since)})[
            "nextPageToken"
        ]
        leads, types = sorted(set(lead_ids)), sorted(set(type_ids))
        for type_chunk in chunked(types, MAX_TYPE_IDS):
            type_group = ",".join(map(str, type_chunk))
            for lead_chunk in chunked(leads, MAX_LEAD_IDS):
                params = {
                    "activityTypeIds": type_group,
                    "leadIds": ",".join(map(str, lead_chunk)),
                    "batchSize": 300,
                    "nextPageToken": token,
                }
                while True:
                    body = self._api.get("/rest/v1/activities.json", params)
                    yield from body.get("result") or []
                    if not body.get("moreResult"):
                        break
                    params = {**params, "nextPageToken": body.get("nextPageToken") or params["nextPageToken"]}
