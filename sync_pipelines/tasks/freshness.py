"""How fresh actions_tasks is: while the task sync is on, task_sync_schedule runs task_sync_job at every tick
of TASK_SYNC_CRON, and that run carries changes both ways (salesforce_task_change_sensor only adds runs for
Salesforce changes between ticks). So actions_tasks is due within the longest gap between two ticks plus
the run: its FreshnessPolicy, derived from the cron itself.

While the task sync is off the schedule skips, and actions_tasks turns late once the window has passed
(true: tasks are not synced then).
"""

import os
from datetime import datetime, timedelta, timezone
from itertools import islice, pairwise

import dagster as dg

# The scheduler's own tick arithmetic, so the window follows the ticks the schedule really makes. Dagster
# has no public equivalent; the package is pinned (==1.13.27) and the tests pin the result.
from dagster._utils.schedules import cron_string_iterator

TASK_SYNC_CRON = os.environ.get("TASK_SYNC_CRON", "*/10 * * * *")
# A task_sync_job run: seconds against the sandbox; a run waiting for a Salesforce pool slot, or started
# in a new process or pod, takes longer.
RUN_MARGIN = timedelta(minutes=5)
_FROM = datetime(2026, 1, 1, tzinfo=timezone.utc)
_TICKS = 3000  # ticks looked at: two days of every-minute ticks, or every gap of an hourly to monthly cron


def longest_gap(cron: str, *, span: timedelta = timedelta(days=62)) -> timedelta:
    """The longest wait between two consecutive ticks of `cron` (UTC) within `span` (two months: a monthly
    schedule shows its longest month)."""
    ticks = [tick for tick in islice(cron_string_iterator(_FROM.timestamp(), cron, "UTC"), _TICKS)
             if tick <= _FROM + span]
    if len(ticks) < 2:
        raise ValueError(f"TASK_SYNC_CRON {cron!r} ticks less than twice in {span.days} days")
    return max(later - earlier for earlier, later in pairwise(ticks))


ACTIONS_TASKS_FRESHNESS = dg.FreshnessPolicy.time_window(fail_window=longest_gap(TASK_SYNC_CRON) + RUN_MARGIN)
