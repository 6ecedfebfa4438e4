"""Every asset that stands for a table or view of the Actions database says so (dagster/table_name and
dagster/column_schema on its spec), and its materializations carry dagster/row_count and the column schema.

One run of the people, unsubscribe and task assets against the Marketo and Salesforce emulators and a real
PostgreSQL; then each table asset's last materialization is read back from the Dagster instance. The one
external table, the activity log, is observed by actions_activity_sensor (activities/test_sensor.py).
"""

import dagster as dg
import psycopg

from sync_pipelines import people, tasks, unsubscribes
from sync_pipelines.definitions import defs
from sync_pipelines.resources import ActionsDatabase, SalesforceResource
from sync_pipelines.store.tables import table_columns
from sync_pipelines.tasks.jobs import task_sync_run_config
from sync_pipelines_tests.fixtures.sellers import task_seller
from sync_pipelines_tests.fixtures.marketo import marketo_resource

# Assets kept in PostgreSQL that are not a table of their own: deliveries (their rows are Marketo activities
# and Salesforce Tasks; activity_delivery only journals them).
NOT_TABLES = {"marketo_sales_activities", "salesforce_activity_tasks"}
OBSERVED = {"actions_sales_activities"}  # external: written by the Actions app, observed by a sensor
ASSETS = [*people.ASSETS, unsubscribes.salesforce_unsubscribes, unsubscribes.marketo_unsubscribe_status,
          tasks.salesforce_tasks, tasks.actions_tasks, tasks.command_center_tasks]


def _table_assets() -> dict[str, str]:
    """{asset: table} for every asset whose spec names its table."""
    return {
        spec.key.to_user_string(): spec.metadata["dagster/table_name"].split(".")[-1]
        for spec in defs.resolve_all_asset_specs()
        if "dagster/table_name" in spec.metadata
    }


def test_every_postgres_asset_but_the_deliveries_names_its_table_and_columns():
    specs = {spec.key.to_user_string(): spec for spec in defs.resolve_all_asset_specs()}
    kept_in_postgres = {name for name, spec in specs.items() if "postgres" in spec.kinds}
    assert set(_table_assets()) == kept_in_postgres - NOT_TABLES
    for name, table in _table_assets().items():
        columns = specs[name].metadata["dagster/column_schema"].schema.columns
        assert [(c.name, c.type) for c in columns] == table_columns(table)


def test_each_table_asset_materialization_carries_its_row_count_and_columns(
        marketo_sandbox, salesforce_sandbox, salesforce_clock, database_url):
    salesforce = SalesforceResource(instance_url=salesforce_sandbox.url, client_id=salesforce_sandbox.client_id,
                                    client_secret=salesforce_sandbox.client_secret, ca_bundle=salesforce_sandbox.ca_path)
    now = salesforce_clock.current.isoformat()
    salesforce_sandbox.sandbox.create("Task", Subject="Call back", ActivityDate=salesforce_clock.current.date())
    task_seller(database_url, salesforce_sandbox.sandbox.integration_user_id, salesforce_clock.current)  # owns it
    with dg.DagsterInstance.ephemeral() as instance:
        result = dg.materialize(
            ASSETS, instance=instance, run_config=task_sync_run_config(now),
            resources={"marketo": marketo_resource(marketo_sandbox), "salesforce": salesforce,
                       "actions_db": ActionsDatabase(url=database_url)},
        )
        assert result.success
        latest = {
            name: instance.fetch_materializations(dg.AssetKey(name), limit=1).records[0].asset_materialization.metadata
            for name in set(_table_assets()) - OBSERVED
        }
    # salesforce_task_change holds the changes staged for actions_tasks, which empties it when it applies them.
    assert latest["salesforce_tasks"]["dagster/row_count"].value == latest["salesforce_tasks"]["changes_staged"].value
    with psycopg.connect(database_url) as conn:
        for name, table in _table_assets().items():
            if name in OBSERVED:
                continue
            counted = (f"SELECT count(*) FROM command_center_tasks_at('{now}')" if table == "command_center_tasks"
                       else f"SELECT count(*) FROM {table}")
            (rows,) = conn.execute(counted).fetchone()
            if name != "salesforce_tasks":
                assert latest[name]["dagster/row_count"].value == rows, name
            columns = latest[name]["dagster/column_schema"].schema.columns
            assert [(c.name, c.type) for c in columns] == table_columns(table), name
    # Not vacuous: the sync wrote people, their Salesforce state and tasks.
    assert all(latest[name]["dagster/row_count"].value > 0 for name in ("actions_people", "salesforce_unsubscribes",
                                                                          "salesforce_tasks", "actions_tasks",
                                                                          "command_center_tasks"))
