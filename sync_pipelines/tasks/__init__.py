"""The tasks domain: tasks and reminders reconciled between Actions and Salesforce, both ways.

Whose tasks sync is each seller's `task_sync` setting (the org default an admin chooses, or the seller's own
under "My Account"; "don't sync" by default), recorded by the Actions app with
`sync_pipelines.actions_app.record_setting_change` and applied by each run (store/task_sellers.py).

Owns: its assets, checks, jobs, sensors and schedules, and the pure pandas transforms between them.
May import: the clients (`marketo`, `salesforce`), `store` (all its SQL lives there), `resources`, `quota`,
`environment`, `paths`. Not another domain package, the sandbox, or `definitions`.
"""

import dagster as dg

from sync_pipelines.conventions import in_domain
from sync_pipelines.tasks.assets import actions_tasks, command_center_tasks, salesforce_tasks
from sync_pipelines.tasks.checks import salesforce_task_ids_unique, tasks_in_step_with_salesforce
from sync_pipelines.tasks.jobs import task_sync_job
from sync_pipelines.tasks.schedules import task_sync_schedule
from sync_pipelines.tasks.sensors import salesforce_task_change_sensor

defs = dg.Definitions(
    assets=in_domain("tasks", [salesforce_tasks, actions_tasks, command_center_tasks]),
    asset_checks=[tasks_in_step_with_salesforce, salesforce_task_ids_unique],
    jobs=[task_sync_job],
    schedules=[task_sync_schedule],
    sensors=[salesforce_task_change_sensor],
)
