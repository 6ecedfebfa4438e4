"""The activities domain: sellers' activities logged in Actions fan out to Marketo and Salesforce.

Owns: its assets, checks, jobs, sensors and schedules, and the pure pandas transforms between them.
May import: the clients (`marketo`, `salesforce`), `store` (all its SQL lives there), `resources`, `quota`,
`environment`, `paths`. Not another domain package, the sandbox, or `definitions`.
"""

import dagster as dg

from sync_pipelines.activities.assets import (
    actions_sales_activities,
    marketo_sales_activities,
    marketo_sales_activity_types,
    salesforce_activity_tasks,
)
from sync_pipelines.activities.checks import (
    every_activity_settled_in_marketo,
    every_activity_settled_in_salesforce,
    marketo_quarantine_is_empty,
)
from sync_pipelines.activities.jobs import activity_fanout_job
from sync_pipelines.activities.sensors import actions_activity_sensor
from sync_pipelines.activities.settings import settings_from_environment
from sync_pipelines.conventions import in_domain

# In lineage order; tests and benchmarks materialize the group through this list.
ASSETS = in_domain(
    "activities",
    [actions_sales_activities, marketo_sales_activity_types, marketo_sales_activities, salesforce_activity_tasks],
)

defs = dg.Definitions(
    assets=ASSETS,
    asset_checks=[every_activity_settled_in_marketo, every_activity_settled_in_salesforce, marketo_quarantine_is_empty],
    jobs=[activity_fanout_job],
    sensors=[actions_activity_sensor],
    resources={"activity_settings": settings_from_environment()},
)
