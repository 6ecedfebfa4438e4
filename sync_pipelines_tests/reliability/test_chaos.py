"""The short chaos suite: one fault-and-kill round per job, then a clean rerun, then the oracle compare.

The long version (10+ rounds per job, figures printed) is `python -m bench.chaos`.
"""

from sync_pipelines_tests.reliability.chaos_harness import run_chaos


def test_faults_and_kills_lose_nothing_and_duplicate_nothing(postgres_admin_url):
    figures = run_chaos(postgres_admin_url, rounds=1, seed=8)
    summary = figures.as_dict()
    assert summary["rounds"] == {"person_sync_job": 1, "unsubscribe_sync_job": 1, "task_sync_job": 1,
                                 "activity_fanout_job": 1}
    assert summary["rows_compared"] > 700 + 3000  # activities: ~850 logged, each in 2 destinations and 2 states
    assert figures.differences == [], summary
