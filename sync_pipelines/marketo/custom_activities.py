"""Custom activities: the type-management endpoints, the insert (300 per call) and the read-back.

Custom activities are write-once and Marketo gives no idempotency key, so the insert must never be
replayed blindly: it retries only refusals that guarantee nothing ran (606 rate, 615 concurrency,
608 unavailable; token errors are replayed by MarketoApi). Any other failure (a timeout, a dropped
connection, a 5xx, 604/611/713) raises InsertInDoubt: the caller reads the activities back
(`read_back`, by an attribute that carries its own id) before it sends them again.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from datetime import datetime

from sync_pipelines.chunks import chunked

from .api import MarketoApi
from .dates import marketo_datetime
from .errors import MarketoError, TransientMarketoError

MAX_INSERT = 300  # activities per POST /rest/v1/activities/external.json
MAX_LEAD_IDS = 30  # leadIds per activities.json call
MAX_TYPE_IDS = 10  # activityTypeIds per activities.json call
# Refusals that mean "not executed": safe to send the same insert again.
NOT_EXECUTED_CODES = frozenset({"606", "608", "615"})


class InsertInDoubt(MarketoError):
    """The insert may or may not have been stored by Marketo: verify before resending."""


class CustomActivitiesApi:
    """The custom-activity endpoints; reached as `MarketoClient.custom_activities`."""

    def __init__(self, api: MarketoApi):
        self._api = api

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
        return self._api.call("POST", "/rest/v1/activities/external/type.json", json=request)["result"][0]

    def create_attributes(self, api_name: str, attributes: list[dict]) -> dict:
        """Add secondary attributes to the type's draft."""
        path = f"/rest/v1/activities/external/type/{api_name}/attributes/create.json"
        return self._api.call("POST", path, json={"attributes": attributes})["result"][0]

    def approve_type(self, api_name: str) -> dict:
        """Make the draft the live version (activities can be inserted only for approved types)."""
        return self._api.call("POST", f"/rest/v1/activities/external/type/{api_name}/approve.json")["result"][0]

    # --- activities -----------------------------------------------------------------------------

    def insert(self, activities: Sequence[dict]) -> list[dict]:
        """Insert at most 300 activities in one call; one result per input, in order.

        Each result is {id, marketoGUID, status: "added"} or {status: "skipped", errors: [...]}.
        Raises InsertInDoubt when the call may have been executed without an answer reaching us.
        """
        if not 0 < len(activities) <= MAX_INSERT:
            raise ValueError(f"insert takes 1 to {MAX_INSERT} activities, got {len(activities)}")
        try:
            body = self._api.call(
                "POST",
                "/rest/v1/activities/external.json",
                json={"input": list(activities)},
                retry_if=lambda exc: exc.code in NOT_EXECUTED_CODES,
            )
        except TransientMarketoError as exc:
            if exc.code in NOT_EXECUTED_CODES:  # still refused after every retry: nothing ran
                raise MarketoError(exc.code, f"custom activity insert refused: {exc.message}") from None
            raise InsertInDoubt(exc.code, f"custom activity insert unanswered: {exc.message}") from None
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
