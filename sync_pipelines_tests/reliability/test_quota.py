"""A used-up quota ends the run at once with a clear dg.Failure; once the quota is back, a rerun resumes."""

import dagster as dg
import pytest

from sync_pipelines import people, tasks, unsubscribes
from sync_pipelines.sandbox.faults import FaultPlan
from sync_pipelines.tasks.jobs import task_sync_run_config
from sync_pipelines_tests.fixtures.sellers import task_seller
from sync_pipelines_tests.reliability.helpers import (actual_actions_people, expected_actions_people,
                                                      materialization_metadata, resources)
from sync_pipelines_tests.unsubscribes.helpers import load_actions_people

PERSON_ASSETS = people.ASSETS
UNSUBSCRIBE_ASSETS = [unsubscribes.salesforce_unsubscribes, unsubscribes.marketo_unsubscribe_status]
TASK_ASSETS = [tasks.salesforce_tasks, tasks.actions_tasks, tasks.command_center_tasks]


def the_failure(result: dg.ExecuteInProcessResult) -> tuple[str, dict]:
    """(description, metadata) of the run's one failed step; the error carries no chained traceback."""
    assert not result.success
    (failure,) = result.get_step_failure_events()
    data = failure.step_failure_data
    assert data.user_failure_data is not None, "a quota stop must be a dg.Failure, not a crash"
    assert data.error.cause is None and data.error.context is None  # no client stack behind it
    # Never retried: the steps retry transient failures (quota.py), and a quota stop is not one.
    assert not [e for e in result.all_events if e.event_type == dg.DagsterEventType.STEP_UP_FOR_RETRY]
    assert len([e for e in result.all_events if e.event_type == dg.DagsterEventType.STEP_START]) == \
        len({e.step_key for e in result.all_events if e.event_type == dg.DagsterEventType.STEP_START})
    return data.user_failure_data.description, {k: v.value for k, v in data.user_failure_data.metadata.items()}


@pytest.mark.parametrize("code, what", [("607", "daily API call quota"), ("1029", "bulk export quota")])
def test_marketo_quota_stops_the_person_sync_cleanly_and_a_later_run_resumes(make_marketo_sandbox, database_url,
                                                                             code, what):
    served = make_marketo_sandbox(seed=11, size=120)
    served.sandbox.set_fault_plan(FaultPlan({code: 1.0}, seed=1))
    calls_before = served.sandbox.api_calls

    result = dg.materialize(PERSON_ASSETS, resources=resources(database_url, marketo=served), raise_on_error=False)
    description, metadata = the_failure(result)
    assert f"Marketo quota exhausted (error {code})" in description and what in description
    assert "resets at" in description and "midnight US Central" in description
    assert metadata["service"] == "marketo" and metadata["quota_resets_at"]
    assert served.sandbox.api_calls - calls_before <= 4  # describe, create, enqueue, cancel: no retry loop
    assert served.sandbox.fault_plan.injected[code] == 1

    served.sandbox.set_fault_plan(None)  # the quota is back
    assert dg.materialize(PERSON_ASSETS, resources=resources(database_url, marketo=served)).success
    assert actual_actions_people(database_url) == expected_actions_people(served.sandbox.leads())


def test_a_real_daily_quota_reached_mid_run_stops_cleanly(make_marketo_sandbox, database_url):
    served = make_marketo_sandbox(seed=11, size=120, daily_quota=3)  # describe + create + enqueue, then 607
    result = dg.materialize(PERSON_ASSETS, resources=resources(database_url, marketo=served), raise_on_error=False)
    description, _ = the_failure(result)
    assert "607" in description and "resets at" in description
    assert actual_actions_people(database_url) == set()  # nothing half-written


def test_salesforce_request_limit_stops_the_unsubscribe_sync_cleanly_and_a_later_run_resumes(
        salesforce_sandbox, database_url):
    load_actions_people(database_url)
    org = salesforce_sandbox.sandbox
    org.set_fault_plan(FaultPlan({"REQUEST_LIMIT_EXCEEDED": 1.0}))
    result = dg.materialize(UNSUBSCRIBE_ASSETS, resources=resources(database_url, salesforce=salesforce_sandbox),
                            raise_on_error=False)
    description, metadata = the_failure(result)
    assert "Salesforce API request limit exhausted (REQUEST_LIMIT_EXCEEDED)" in description
    assert "rolling 24-hour window" in description and metadata["service"] == "salesforce"
    assert org.fault_plan.injected["REQUEST_LIMIT_EXCEEDED"] == 1  # one refused call, no spinning

    org.set_fault_plan(None)
    result = dg.materialize(UNSUBSCRIBE_ASSETS, resources=resources(database_url, salesforce=salesforce_sandbox))
    assert materialization_metadata(result)["salesforce_unsubscribes"]["people_with_salesforce_record"] > 0


def test_salesforce_request_limit_stops_the_task_sync_cleanly_and_a_later_run_resumes(
        salesforce_sandbox, salesforce_clock, database_url):
    org = salesforce_sandbox.sandbox
    task_seller(database_url, org.integration_user_id, salesforce_clock.current)
    config = task_sync_run_config(salesforce_clock.current.isoformat())
    org.config.daily_request_limit = org.api_calls  # the org's real limit is used up
    result = dg.materialize(TASK_ASSETS, resources=resources(database_url, salesforce=salesforce_sandbox),
                            run_config=config, raise_on_error=False)
    description, _ = the_failure(result)
    assert "REQUEST_LIMIT_EXCEEDED" in description

    org.config.daily_request_limit = 100_000
    result = dg.materialize(TASK_ASSETS, resources=resources(database_url, salesforce=salesforce_sandbox),
                            run_config=config)
    assert materialization_metadata(result)["salesforce_tasks"]["mode"] == "initial"


def test_only_transient_failures_retry_the_step():
    """The one retry mechanism: dg.RetryRequested for a transient failure; a quota stop is final."""
    from datetime import datetime, timezone

    from sync_pipelines.marketo.errors import MarketoQuotaExceeded, TransientMarketoError
    from sync_pipelines.quota import STEP_RETRIES, stops_cleanly_on_quota
    from sync_pipelines.salesforce.errors import SalesforceQuotaExceeded, SalesforceRequestError

    def failing(error):
        @stops_cleanly_on_quota
        def step():
            raise error
        return step

    for transient in (TransientMarketoError("604", "timeout"), SalesforceRequestError(503, None, "query")):
        with pytest.raises(dg.RetryRequested) as retry:
            failing(transient)()
        assert retry.value.max_retries == STEP_RETRIES
    for quota in (MarketoQuotaExceeded("607", "daily quota", now=datetime.now(timezone.utc)),
                  SalesforceQuotaExceeded("REQUEST_LIMIT_EXCEEDED")):
        with pytest.raises(dg.Failure) as stop:
            failing(quota)()
        assert stop.value.allow_retries is False
    with pytest.raises(ValueError):  # a bug or bad data: failing again would change nothing
        failing(ValueError("bad row"))()
    with pytest.raises(SalesforceRequestError):  # a refused request (4xx) is not transient
        failing(SalesforceRequestError(400, "MALFORMED_QUERY", "query"))()
