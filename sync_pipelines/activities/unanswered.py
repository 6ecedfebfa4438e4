"""Write calls whose answer was lost, counted in a row: one rule for both destinations.

A lost answer is settled by reading back, never by sending again. After MAX_UNANSWERED_IN_A_ROW of them
in a row the service is unreachable for now, and the run stops (every batch is settled by then).
"""

import logging
from typing import Any, Protocol

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


class _Delivery(Protocol):
    counts: Any
    _unanswered: UnansweredStreak

    def verify(self, batch_id: str) -> None: ...


def settle_unanswered(delivery: _Delivery, batch_id: str, what: str, cause: object) -> bool:
    """A write of `batch_id` went unanswered: count it and settle the batch by reading back, never by sending
    it again. True when that was one too many in a row and the run should stop."""
    log.warning("%s of batch %s unanswered (%s); verifying", what, batch_id, cause)
    delivery.counts.unanswered_calls += 1
    delivery.verify(batch_id)
    return delivery._unanswered.lost_one()
