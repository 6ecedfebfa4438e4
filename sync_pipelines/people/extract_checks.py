"""Checks on the Marketo extract and its sales-owned view, run after each materialization of them.

Their metadata holds counts, reasons and Marketo ids, never a field value: the quarantined rows' raw values
stay in person_quarantine.source_row.
"""

import dagster as dg

from sync_pipelines.conventions import SAMPLE_SIZE
from sync_pipelines.people.assets import marketo_person_extract, sales_owned_people
from sync_pipelines.resources import ActionsDatabase
from sync_pipelines.store.person_checks import owned_summary, owned_without_salesforce_record, quarantine_summary

# The share of the people read from Marketo that may sit in quarantine. Bad rows are rare in a healthy
# instance (none in the seed, a handful in a real one); above 1% something systematic is wrong: a field
# changed type, an export file is damaged, or a parser rule rejects what it should read.
MAX_QUARANTINE_RATE = 0.01


@dg.asset_check(
    asset=marketo_person_extract,
    description=(
        f"At most {MAX_QUARANTINE_RATE:.0%} of the people read from Marketo are in quarantine "
        "(person_quarantine). Metadata: the rows per reason, never a value."
    ),
)
def quarantine_rate_under_threshold(actions_db: ActionsDatabase) -> dg.AssetCheckResult:
    with actions_db.connection() as conn:
        summary = quarantine_summary(conn)
    read = summary.extracted + summary.quarantined
    rate = summary.quarantined / read if read else 0.0
    passed = rate <= MAX_QUARANTINE_RATE
    return dg.AssetCheckResult(
        passed=passed,
        description=None if passed else (
            f"{summary.quarantined} of {read} people read from Marketo are quarantined ({rate:.2%}, more than "
            f"{MAX_QUARANTINE_RATE:.0%}); see the reasons, and person_quarantine for the rows"
        ),
        metadata={
            "people_read": read,
            "people_quarantined": summary.quarantined,
            "quarantine_rate_percent": round(100 * rate, 3),
            "max_quarantine_rate_percent": 100 * MAX_QUARANTINE_RATE,
            "quarantined_by_reason": dg.MetadataValue.json(summary.by_reason),
        },
    )


@dg.asset_check(asset=sales_owned_people, blocking=True)
def sales_owned_people_follow_the_owner_rule(actions_db: ActionsDatabase) -> dg.AssetCheckResult:
    """sales_owned_people is exactly the extract's people with an owner: every row has one, no Marketo id
    appears twice, and the row count equals the owned rows counted in marketo_person_extract itself.
    Blocking: actions_people is not synced from a view that breaks the product rule.
    """
    with actions_db.connection() as conn:
        owned = owned_summary(conn)
    passed = owned.without_owner == 0 and owned.repeated_ids == 0 and owned.rows == owned.owned_in_extract
    return dg.AssetCheckResult(
        passed=passed,
        metadata={
            "rows": owned.rows,
            "rows_without_owner": owned.without_owner,
            "repeated_marketo_ids": owned.repeated_ids,
            "owned_rows_in_extract": owned.owned_in_extract,
        },
    )


@dg.asset_check(asset=sales_owned_people)
def every_owned_person_has_a_salesforce_record(actions_db: ActionsDatabase) -> dg.AssetCheckResult:
    """Every sales-owned person has the Salesforce record of their type (a Lead its lead id, a Contact its
    contact id): an owner comes from Salesforce, and activities are logged as Tasks on that record. A
    warning: such people still sync to Actions, their calls and emails are skipped for Salesforce.
    """
    with actions_db.connection() as conn:
        by_type, sample = owned_without_salesforce_record(conn, SAMPLE_SIZE)
    return dg.AssetCheckResult(
        passed=not by_type,
        severity=dg.AssetCheckSeverity.WARN,
        metadata={
            "people_without_salesforce_record": sum(by_type.values()),
            "by_salesforce_type": dg.MetadataValue.json(by_type),
            "sample_marketo_ids": dg.MetadataValue.json(sample),
        },
    )
