"""The people domain: Marketo people with a sales owner flow into the Actions person table.

Owns: its assets, checks, jobs, sensors and schedules, and the pure pandas transforms between them.
May import: the clients (`marketo`, `salesforce`), `store` (all its SQL lives there), `resources`, `quota`,
`environment`, `paths`. Not another domain package, the sandbox, or `definitions`.
"""

import dagster as dg

from sync_pipelines.conventions import in_domain
from sync_pipelines.people.assets import actions_people, marketo_person_extract, sales_owned_people
from sync_pipelines.people.checks import every_person_has_an_owner, marketo_ids_unique, row_count_matches_qualified
from sync_pipelines.people.extract_checks import (
    every_owned_person_has_a_salesforce_record,
    quarantine_rate_under_threshold,
    sales_owned_people_follow_the_owner_rule,
)
from sync_pipelines.people.jobs import person_sync_job
from sync_pipelines.people.schedules import person_batch_schedule, person_reconciliation_schedule
from sync_pipelines.people.sensors import marketo_person_change_sensor

# In lineage order; tests and benchmarks materialize the group through this list.
ASSETS = in_domain("people", [marketo_person_extract, sales_owned_people, actions_people])

defs = dg.Definitions(
    assets=ASSETS,
    asset_checks=[
        marketo_ids_unique, every_person_has_an_owner, row_count_matches_qualified,
        quarantine_rate_under_threshold, sales_owned_people_follow_the_owner_rule,
        every_owned_person_has_a_salesforce_record,
    ],
    jobs=[person_sync_job],
    schedules=[person_batch_schedule, person_reconciliation_schedule],
    sensors=[marketo_person_change_sensor],
)
