"""Jobs of the activities domain."""

import dagster as dg

activity_fanout_job = dg.define_asset_job(
    "activity_fanout_job",
    selection=dg.AssetSelection.assets("marketo_sales_activity_types", "marketo_sales_activities",
                                       "salesforce_activity_tasks"),
    description=(
        "Delivers every activity not yet delivered: ensures the Marketo types (nine read calls when current), then "
        "Marketo custom activities and Salesforce Tasks/BCC mail. Safe to run at any time, and again."
    ),
)
