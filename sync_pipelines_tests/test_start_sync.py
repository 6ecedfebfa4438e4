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
