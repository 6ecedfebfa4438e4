"""A team too large for one query: the list of owners is split, so that no query's URL passes the 16,384 bytes
Salesforce accepts (the emulator refuses a longer one with 414, as Salesforce does)."""

from datetime import timedelta

import pytest

from sync_pipelines.salesforce import soql_in
from sync_pipelines.salesforce.errors import SalesforceClientError
from sync_pipelines.tasks.salesforce_reads import changed_since, tasks_changed_since

TEAM_SIZE = 700
AT = (699, 5, 350)  # where the three users who own tasks stand in the team's list


@pytest.fixture
def owners(salesforce_sandbox) -> list[str]:
    """700 Salesforce user ids of 18 characters: three users of the org, at AT, among made-up ones."""
    team = [f"005{number:012d}AAA" for number in range(TEAM_SIZE)]
    org = salesforce_sandbox.sandbox
    users = [user["Id"] for user in org.records("User") if user["Id"] != org.integration_user_id]
    for position, user in zip(AT, users[:3], strict=True):
        team[position] = user
    return team


@pytest.fixture
def tasks_of_three_owners(salesforce_sandbox, salesforce_clock, owners) -> list[str]:
    """A task each for the three users far apart in the list, created a second apart: ids, oldest first."""
    created = []
    for position in AT:
        salesforce_clock.advance(seconds=1)
        created.append(salesforce_sandbox.sandbox.create("Task", OwnerId=owners[position], Subject="Call back"))
    return created


def test_one_query_for_700_owners_is_refused_like_salesforce_refuses_it(salesforce_client, owners):
    with pytest.raises(SalesforceClientError, match="414"):
        list(salesforce_client.query(f"SELECT Id FROM Task WHERE OwnerId IN {soql_in(owners)}"))


def test_the_changes_of_700_owners_come_in_4_queries_oldest_first(
    salesforce_client, salesforce_clock, owners, tasks_of_three_owners,
):
    cursor = salesforce_clock() - timedelta(minutes=1)
    calls = salesforce_client.api_calls
    changed = tasks_changed_since(salesforce_client, cursor, owners)
    assert [task["Id"] for task in changed] == tasks_of_three_owners
    assert salesforce_client.api_calls - calls == 4  # 200 owners per query

    assert [task_id for task_id, _ in changed_since(salesforce_client, cursor, owners, limit=2)] == (
        tasks_of_three_owners[:2])
