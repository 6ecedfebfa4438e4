"""Where an instance's people start: the earliest createdAt, read from the lowest lead ids.

A full extract by createdAt windows must begin at the first lead, not at a fixed date years before
it: every empty 31-day window still costs an export job (seconds to minutes in Marketo's queue).
Marketo assigns lead ids in creation order, so the lowest ids carry the earliest createdAt, give or
take the disorder imports cause (`SAFETY_MARGIN` covers that). Cost: a handful of Get Leads by id
calls of 300 ids each: ids 1-300, then blocks at doubling offsets until one holds leads, then a
bisection back down towards the last empty block.

Limit: a bisection step that lands on an empty block of 300 ids takes everything below it to be
empty too. An instance whose oldest leads survive only as scattered ids among mass-deleted ones can
hide a few of them; set MARKETO_EXTRACT_SINCE (or a smart list) for such an instance.
"""

from __future__ import annotations

from datetime import datetime, timedelta

import pandas as pd

from .client import MarketoClient

PROBE_IDS = 300  # Get Leads by Filter Type takes at most 300 values per call
SAFETY_MARGIN = timedelta(days=31)  # one export window before the earliest createdAt seen
HIGHEST_PROBED_ID = 2**31


def extract_start(client: MarketoClient) -> tuple[datetime, int] | None:
    """(earliest createdAt seen among the lowest lead ids, less SAFETY_MARGIN; Marketo calls made).

    None when no lead was found at all (an empty instance, or ids beyond HIGHEST_PROBED_ID).
    """
    calls = 0

    def created_at_from(first_id: int) -> pd.Series:
        nonlocal calls
        calls += 1
        leads = client.get_leads("id", range(first_id, first_id + PROBE_IDS), ["id", "createdAt"])
        return pd.to_datetime(leads["createdAt"], utc=True, errors="coerce", format="ISO8601").dropna()

    found = created_at_from(1)
    empty_below, start = 1, PROBE_IDS
    while found.empty:
        if start >= HIGHEST_PROBED_ID:
            return None
        found = created_at_from(start)
        if found.empty:
            empty_below, start = start, start * 2
    # Blocks [empty_below, +300) is empty and [start, +300) holds leads: bisect towards the lowest ids.
    while start - empty_below > PROBE_IDS:
        middle = (empty_below + start) // 2
        nearer = created_at_from(middle)
        if nearer.empty:
            empty_below = middle
        else:
            start, found = middle, nearer
    return found.min().to_pydatetime() - SAFETY_MARGIN, calls
