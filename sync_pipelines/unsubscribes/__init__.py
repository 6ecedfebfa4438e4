"""The unsubscribe domain: opt-outs two-way between Actions and Salesforce (never to Marketo), Marketo's
unsubscribe status per Actions person, and the send check (see README.md in this package).

Owns: its assets, checks, jobs, sensors and schedules, and the pure pandas transforms between them.
May import: the clients (`marketo`, `salesforce`), `store` (all its SQL lives there), `resources`, `quota`,
`environment`, `paths`. Not another domain package, the sandbox, or `definitions`.
"""

import dagster as dg

from sync_pipelines.conventions import in_domain
from sync_pipelines.unsubscribes.assets import marketo_unsubscribe_status, salesforce_unsubscribes
from sync_pipelines.unsubscribes.checks import every_actions_opt_out_reached_salesforce, marketo_status_matches_extract
from sync_pipelines.unsubscribes.jobs import unsubscribe_sync_job
from sync_pipelines.unsubscribes.schedules import unsubscribe_sync_schedule
from sync_pipelines.unsubscribes.send_check import SendDecision, check_send
from sync_pipelines.unsubscribes.sensors import unsubscribe_after_person_sync_sensor

defs = dg.Definitions(
    assets=in_domain("unsubscribes", [salesforce_unsubscribes, marketo_unsubscribe_status]),
    asset_checks=[every_actions_opt_out_reached_salesforce, marketo_status_matches_extract],
    jobs=[unsubscribe_sync_job],
    schedules=[unsubscribe_sync_schedule],
    sensors=[unsubscribe_after_person_sync_sensor],
)

__all__ = ["SendDecision", "check_send", "defs"]
