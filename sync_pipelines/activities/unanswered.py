"""Write calls whose answer was lost, counted in a row: one rule for both destinations.

A lost answer is settled by reading back, never by sending again. After MAX_UNANSWERED_IN_A_ROW of them
in a row the service is unreachable for now, and the run stops (every batch is settled by then).
"""

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
