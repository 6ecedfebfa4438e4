"""The code location: each domain's definitions plus the shared resources. Assembly only."""

import dagster as dg

from sync_pipelines import activities, people, tasks, unsubscribes
from sync_pipelines.executors import sync_executor
from sync_pipelines.resources import shared_resources

defs = dg.Definitions.merge(
    people.defs,
    activities.defs,
    unsubscribes.defs,
    tasks.defs,
    # Every job: the executor SYNC_EXECUTOR names (in-process by default; see executors.py).
    dg.Definitions(resources=shared_resources(), executor=sync_executor()),
)
