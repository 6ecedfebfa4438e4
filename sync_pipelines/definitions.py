"""The code location: each domain's definitions plus the shared resources. Assembly only."""

import dagster as dg

from sync_pipelines import activities, people, tasks, unsubscribes
from sync_pipelines.resources import shared_resources

defs = dg.Definitions.merge(
    people.defs,
    activities.defs,
    unsubscribes.defs,
    tasks.defs,
    # One process per run: steps hand over through PostgreSQL, and a dry run shares one rolled-back
    # transaction across its steps (see ActionsDatabase).
    dg.Definitions(resources=shared_resources(), executor=dg.in_process_executor),
)
