"""The checks on marketo_person_extract and sales_owned_people, through the Marketo emulator and PostgreSQL:
each passes on clean data and fails on the case it guards against."""

import dagster as dg
import psycopg

from sync_pipelines import people
from sync_pipelines.people.extract_checks import (
    MAX_QUARANTINE_RATE,
    every_owned_person_has_a_salesforce_record,
    quarantine_rate_under_threshold,
    sales_owned_people_follow_the_owner_rule,
)
from sync_pipelines.resources import ActionsDatabase
from sync_pipelines_tests.fixtures.marketo import marketo_resource
from sync_pipelines_tests.reliability.test_bad_input import person

CHECKS = [quarantine_rate_under_threshold, sales_owned_people_follow_the_owner_rule,
          every_owned_person_has_a_salesforce_record]
# Two bad rows: one with an unreadable timestamp, one with that and an unreadable flag as well.
BAD_ROWS = [person("90012", updatedAt=b"yesterday"), person("90013", updatedAt=b"later", unsubscribed=b"maybe")]


def _run(served, database_url: str) -> tuple[dg.ExecuteInProcessResult, dict[str, dg.AssetCheckEvaluation]]:
    result = dg.materialize([*people.ASSETS, *CHECKS], raise_on_error=False, resources={
        "marketo": marketo_resource(served), "actions_db": ActionsDatabase(url=database_url)})
    return result, {evaluation.check_name: evaluation for evaluation in result.get_asset_check_evaluations()}


def _values(evaluation: dg.AssetCheckEvaluation) -> dict:
    return {key: value.value for key, value in evaluation.metadata.items()}


def test_a_few_quarantined_rows_pass_with_their_reasons_counted(make_marketo_sandbox, database_url):
    served = make_marketo_sandbox(size=300)
    for render in BAD_ROWS:
        served.sandbox.add_raw_export_line(render)
    result, checks = _run(served, database_url)
    assert result.success
    check = checks["quarantine_rate_under_threshold"]
    assert check.passed
    metadata = _values(check)
    assert metadata["people_quarantined"] == 2 and metadata["people_read"] == 302
    assert metadata["quarantined_by_reason"] == {"updatedAt is not a valid timestamp": 2,
                                                 "unsubscribed is not a boolean": 1}
    assert "Bad" not in str(metadata) and "example.invalid" not in str(metadata)  # no names, no emails


def test_a_quarantine_rate_above_the_threshold_fails(make_marketo_sandbox, database_url):
    served = make_marketo_sandbox(size=100)  # 2 of 102 rows: about 2%
    for render in BAD_ROWS:
        served.sandbox.add_raw_export_line(render)
    _, checks = _run(served, database_url)
    check = checks["quarantine_rate_under_threshold"]
    assert 2 / 102 > MAX_QUARANTINE_RATE and not check.passed
    assert check.severity == dg.AssetCheckSeverity.ERROR
    assert _values(check)["quarantine_rate_percent"] == round(100 * 2 / 102, 3)


def test_a_view_that_breaks_the_owner_rule_fails_and_blocks_actions_people(marketo_sandbox, database_url):
    result, checks = _run(marketo_sandbox, database_url)
    assert result.success and checks["sales_owned_people_follow_the_owner_rule"].passed
    assert checks["every_owned_person_has_a_salesforce_record"].passed
    with psycopg.connect(database_url) as conn:
        # A migration gone wrong: the view forgets the product rule and lets unowned people through.
        conn.execute("CREATE OR REPLACE VIEW sales_owned_people AS SELECT * FROM marketo_person_extract")
        (before,) = conn.execute("SELECT count(*) FROM actions_person").fetchone()
    result, checks = _run(marketo_sandbox, database_url)
    check = checks["sales_owned_people_follow_the_owner_rule"]
    assert not check.passed
    metadata = _values(check)
    assert metadata["rows_without_owner"] > 0 and metadata["rows"] > metadata["owned_rows_in_extract"]
    assert not result.success  # blocking: actions_people did not run
    assert "actions_people" not in {e.asset_key.to_user_string() for e in result.get_asset_materialization_events()}
    with psycopg.connect(database_url) as conn:
        assert conn.execute("SELECT count(*) FROM actions_person").fetchone() == (before,)


def test_an_owned_lead_without_its_salesforce_id_is_a_warning(marketo_sandbox, database_url):
    leads = marketo_sandbox.sandbox.leads()
    owned_lead = int(leads[leads["sfdcLeadOwnerId"].notna() & (leads["sfdcType"] == "Lead")]["id"].min())
    marketo_sandbox.sandbox.update_lead(owned_lead, sfdcLeadId=None)
    result, checks = _run(marketo_sandbox, database_url)
    check = checks["every_owned_person_has_a_salesforce_record"]
    assert result.success and not check.passed and check.severity == dg.AssetCheckSeverity.WARN
    metadata = _values(check)
    assert metadata["people_without_salesforce_record"] == 1
    assert metadata["by_salesforce_type"] == {"Lead": 1} and metadata["sample_marketo_ids"] == [owned_lead]
