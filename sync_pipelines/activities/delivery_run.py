"""What a delivery run to either destination shares, and the one rule for writes whose answer was lost.

A lost answer is settled by reading back, never by sending again. After MAX_UNANSWERED_IN_A_ROW of them
in a row the service is unreachable for now, and the run stops (every batch is settled by then).
"""

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass

import psycopg

from sync_pipelines.activities.transforms import Prepared
from sync_pipelines.conventions import SAMPLE_SIZE
from sync_pipelines.store import activities as store

log = logging.getLogger(__name__)

MAX_UNANSWERED_IN_A_ROW = 5


class UnansweredStreak:
    def __init__(self) -> None:
        self.in_a_row = 0

    def answered(self) -> None:
        self.in_a_row = 0

    def lost_one(self) -> bool:
        """Count one unanswered call; True when the run should stop."""
        self.in_a_row += 1
        return self.in_a_row >= MAX_UNANSWERED_IN_A_ROW


@dataclass
class DeliveryCounts:
    """What DeliveryRun counts itself; each destination adds its own counts."""

    sent: int = 0  # activities in write calls (in a dry run: that would be)
    quarantined: int = 0
    unanswered_calls: int = 0


class DeliveryRun:
    """One delivery run on an autocommit connection (each `transaction()` block is one commit).

    dry_run: on the run's shared dry-run connection instead; nothing is sent.
    A destination's run names its `destination`, and adds its client, its `counts` and `verify(batch_id)`.
    """

    destination: str
    counts: DeliveryCounts

    def __init__(self, conn: psycopg.Connection, *, dry_run: bool) -> None:
        self.conn = conn
        self.dry_run = dry_run
        self.sample: list[int] = []  # activity ids sent (or, in a dry run, that would have been)
        self._unanswered = UnansweredStreak()

    def verify(self, batch_id: str) -> None:
        raise NotImplementedError

    def to_send(self, payloads: Mapping[int, object], refused: Mapping[int, str]) -> list[int]:
        """Quarantine the batch's rows that could not be prepared (with their reasons) and count the others
        as sent; returns the activity ids to send."""
        if refused:
            with self.conn.transaction():
                self.counts.quarantined += store.mark_quarantined(self.conn, self.destination, refused)
        activity_ids = list(payloads)
        self.counts.sent += len(activity_ids)
        self.sample += activity_ids[: SAMPLE_SIZE - len(self.sample)]
        return activity_ids

    def send_prepared(self, batch_id: str, prepared: Prepared, write: Callable[[str, dict[int, dict], list[int]], None]
                      ) -> int:
        """Send a prepared batch with `write(batch_id, payloads, activity_ids)`, which records what the
        destination answers. A dry run calls no `write`: it records the batch as if the destination accepted all
        of it, and returns how many activities that marks delivered (0 otherwise)."""
        activity_ids = self.to_send(prepared.payloads, prepared.quarantined)
        if self.dry_run:
            return self.record_dry_run(dict.fromkeys(activity_ids))
        if activity_ids:
            write(batch_id, prepared.payloads, activity_ids)
        return 0

    def record_dry_run(self, references: dict[int, str | None]) -> int:
        """A dry run records the batch as if the destination accepted all of it (nothing was sent); returns
        how many activities that marks delivered, on the run's dry-run connection."""
        with self.conn.transaction():
            return store.mark_delivered(self.conn, self.destination, references)

    def answered(self) -> None:
        self._unanswered.answered()

    def settle_unanswered(self, batch_id: str, what: str, cause: object) -> bool:
        """A write of `batch_id` went unanswered: count it and settle the batch by reading back, never by
        sending it again. True when that was one too many in a row and the run should stop."""
        log.warning("%s of batch %s unanswered (%s); verifying", what, batch_id, cause)
        self.counts.unanswered_calls += 1
        self.verify(batch_id)
        return self._unanswered.lost_one()
