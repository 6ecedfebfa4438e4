"""The code location: each domain's definitions plus the shared resources. Assembly only."""

import dagster as dg

from sync_pipelines import people, tasks, unsubscribes
from sync_pipelines.resources import shared_resources

defs = dg.Definitions.merge(
    people.defs,
    unsubscribes.defs,
    tasks.defs,
    dg.Definitions(resources=shared_resources()),
)
