"""`make start-sync`: the admin's one switch, on the Actions database of the environment."""

import psycopg

from sync_pipelines import start_sync


def test_start_status_stop(database_url, monkeypatch, capsys):
    monkeypatch.setenv("SYNC_DATABASE_URL", database_url)
    assert start_sync.main(["--status"]) == 0
    assert "Not started." in capsys.readouterr().out
    start_sync.main([])
    assert "Data sync started." in capsys.readouterr().out
    start_sync.main([])
    assert "already started" in capsys.readouterr().out
    with psycopg.connect(database_url) as conn:
        assert conn.execute("SELECT started_at IS NOT NULL FROM sync_control").fetchone()[0]
    start_sync.main(["--stop"])
    out = capsys.readouterr().out
    assert "Data sync stopped." in out and "Not started." in out
    assert "password" not in out.lower()


def test_a_schedule_under_the_switch_skips_until_the_sync_is_started_then_runs(database_url):
    """until_sync_started, on the unsubscribe schedule (its body has no check of its own)."""
    from datetime import datetime, timezone

    import dagster as dg

    from sync_pipelines.resources import ActionsDatabase
    from sync_pipelines.store.sync_control import NOT_STARTED, start_sync as turn_on
    from sync_pipelines.unsubscribes import unsubscribe_sync_schedule

    def tick():
        with dg.build_schedule_context(resources={"actions_db": ActionsDatabase(url=database_url)},
                                       scheduled_execution_time=datetime(2026, 7, 1, tzinfo=timezone.utc)) as context:
            return unsubscribe_sync_schedule(context)

    assert tick().skip_message == NOT_STARTED
    with psycopg.connect(database_url, autocommit=True) as conn:
        turn_on(conn)
    assert tick().run_key == "unsubscribes-2026-07-01T00:00:00+00:00"
