"""The cursor of actions_activity_sensor: the highest activity id seen, and the ids below it not seen yet.

Activity ids come from a sequence when a transaction inserts, not when it commits. A transaction that
took id 5 and commits after the one that took id 6 makes id 5 appear *below* a high-water mark that
already passed it. Following the highest id alone would miss it until another activity arrives.
So the cursor also keeps the gaps: id ranges below the high-water mark with no visible row when the
sensor last looked. Each tick checks those ranges (an index range scan); a row that appeared there is
a late commit and gets a run. A gap can also be an id that never commits (a rolled-back transaction,
sequence values lost in a crash): gaps are kept for GAP_HORIZON, far longer than any transaction of
the Actions app, then dropped (the activity would still be delivered by the next run of the job, which
delivers everything not yet delivered, not just the range that triggered it).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field

GAP_HORIZON_SECONDS = 6 * 3600
MAX_GAPS = 1000  # ranges kept; beyond it the oldest go (each tick checks every kept range)


@dataclass
class LogCursor:
    high: int = 0
    # [first id, last id, epoch seconds when first seen missing]
    gaps: list[list[int]] = field(default_factory=list)

    @classmethod
    def parse(cls, text: str | None) -> LogCursor:
        if not text:
            return cls()
        if text.strip().lstrip("-").isdigit():  # the cursor of earlier versions: the highest id only
            return cls(high=int(text))
        body = json.loads(text)
        return cls(high=int(body["high"]), gaps=[[int(a), int(b), int(t)] for a, b, t in body.get("gaps", [])])

    def dump(self) -> str:
        return json.dumps({"high": self.high, "gaps": self.gaps}, separators=(",", ":"))


def without(gaps: list[list[int]], found: set[int]) -> list[list[int]]:
    """The gaps minus the ids that have appeared (a range splits around each one)."""
    remaining = []
    for first, last, seen in gaps:
        start = first
        for activity_id in sorted(i for i in found if first <= i <= last):
            if activity_id > start:
                remaining.append([start, activity_id - 1, seen])
            start = activity_id + 1
        if start <= last:
            remaining.append([start, last, seen])
    return remaining


def advanced(cursor: LogCursor, high: int, new_gaps: list[tuple[int, int]], late_ids: set[int],
             now: int) -> LogCursor:
    """The cursor after a tick that saw the log up to `high`, with `new_gaps` (missing id ranges) above
    the old high-water mark and `late_ids` appeared inside the old gaps."""
    gaps = without(cursor.gaps, late_ids) + [[first, last, now] for first, last in new_gaps]
    gaps = [gap for gap in gaps if now - gap[2] <= GAP_HORIZON_SECONDS][-MAX_GAPS:]
    return LogCursor(high=max(cursor.high, high), gaps=gaps)
