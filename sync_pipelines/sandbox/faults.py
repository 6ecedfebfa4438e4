"""A per-run fault plan for the sandbox emulators: which faults, how often, from a seeded random.

A `FaultPlan` holds a rate (a probability, 0..1) per fault kind. Each emulator asks it, at the points
where the real service can fail, whether to fail now (`draw`); the answer comes from `random.Random(seed)`
so a plan replays the same faults for the same sequence of calls. `injected` counts what was injected.

Set a plan from Python (`MarketoSandbox.set_fault_plan`, `SalesforceSandbox.set_fault_plan`) or over
HTTP: `POST /sandbox/faults` with `{"rates": {...}, "seed": 1, "slow_seconds": 0.5, "max_faults": 20}`
(an empty body or `{"rates": {}}` clears it) and `GET /sandbox/faults` for the counts.
"""

from __future__ import annotations

import random
import threading
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

# Marketo: response-level error codes, "5xx" (an HTML 503 page), "slow" (a delayed answer) and
# "bulk_export_failed" (an export job that ends Failed). 1029 is the bulk export daily quota, drawn on
# enqueue only; 607 is the daily API quota.
# "lost_reply" (both emulators, see lost_reply.py): a write runs, then the connection drops before its
# answer; on Marketo it hits the custom-activity writes (inserts, type creates, attribute adds, approvals),
# on Salesforce every write (POST/PATCH/DELETE).
MARKETO_FAULTS = frozenset({"601", "602", "604", "606", "607", "615", "1029", "5xx", "slow", "bulk_export_failed",
                            "lost_reply"})
# Salesforce: call-level errors, plus "partial_collection": one record of a collection refused with
# UNABLE_TO_LOCK_ROW while the others are written (the rate is per record).
SALESFORCE_FAULTS = frozenset(
    {"REQUEST_LIMIT_EXCEEDED", "INVALID_SESSION_ID", "UNABLE_TO_LOCK_ROW", "5xx", "partial_collection", "lost_reply"}
)
# Faults after which a retry is pointless until the quota comes back: a run must stop cleanly.
QUOTA_FAULTS = frozenset({"607", "1029", "REQUEST_LIMIT_EXCEEDED"})


@dataclass
class FaultPlan:
    """Rates per fault kind, a seed, how slow a slow answer is, and an optional cap on faults."""

    rates: dict[str, float]
    seed: int = 0
    slow_seconds: float = 0.5
    max_faults: int | None = None
    injected: Counter = field(default_factory=Counter, init=False)

    def __post_init__(self) -> None:
        unknown = set(self.rates) - MARKETO_FAULTS - SALESFORCE_FAULTS
        if unknown:
            raise ValueError(f"unknown fault kinds: {sorted(unknown)}")
        for kind, rate in self.rates.items():
            if not 0.0 <= float(rate) <= 1.0:
                raise ValueError(f"rate of {kind} must be between 0 and 1")
        self._random = random.Random(self.seed)
        self._lock = threading.Lock()

    def draw(self, kinds: Iterable[str]) -> str | None:
        """The fault to inject now among `kinds` (checked in sorted order), or None."""
        with self._lock:
            if self.max_faults is not None and sum(self.injected.values()) >= self.max_faults:
                return None
            for kind in sorted(kinds):
                rate = self.rates.get(kind, 0.0)
                # Only kinds with a rate consume randomness: a kind at rate 0 leaves the others' sequence alone.
                if rate > 0 and self._random.random() < rate:
                    self.injected[kind] += 1
                    return kind
            return None

    def summary(self) -> dict[str, Any]:
        """The plan and what it injected so far (for the admin endpoint and the chaos figures)."""
        with self._lock:
            return {"rates": dict(self.rates), "seed": self.seed, "slow_seconds": self.slow_seconds,
                    "max_faults": self.max_faults, "injected": dict(self.injected)}

    @classmethod
    def from_json(cls, body: dict[str, Any] | None) -> FaultPlan | None:
        """A plan from an admin request body; None (no faults) for an empty body or empty rates."""
        if not body or not body.get("rates"):
            return None
        if not isinstance(body["rates"], dict):
            raise ValueError("rates must be an object of kind -> probability")
        return cls(
            rates={str(kind): float(rate) for kind, rate in body["rates"].items()},
            seed=int(body.get("seed", 0)),
            slow_seconds=float(body.get("slow_seconds", 0.5)),
            max_faults=None if body.get("max_faults") is None else int(body["max_faults"]),
        )


def marketo_kinds_for(path: str) -> list[str]:
    """The Marketo error faults that may hit an API call to `path` (1029 only where a job is queued)."""
    kinds = ["601", "602", "604", "606", "607", "615", "5xx"]
    if path.startswith("/bulk/") and path.endswith("/enqueue.json"):
        kinds.append("1029")
    return kinds


MARKETO_FAULT_MESSAGES = {
    "601": "Access token invalid",
    "602": "Access token expired",
    "604": "Request timed out",
    "606": "Max rate limit '100' exceeded with in '20' secs",
    "607": "Daily quota reached",
    "615": "Concurrent access limit reached",
    "1029": "Export daily quota exceeded",
}
