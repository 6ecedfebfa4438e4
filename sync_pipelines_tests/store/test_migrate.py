import psycopg
import pytest

from sync_pipelines import store
from sync_pipelines.store.migrate import SchemaNotCurrent, available_migrations, check_current, main, migrate


def test_migrations_apply_once_in_order_with_their_checksums(empty_database_url):
    with psycopg.connect(empty_database_url) as conn:
        first = migrate(conn)
        second = migrate(conn)
        recorded = conn.execute("SELECT name, sha256 FROM schema_migrations ORDER BY version").fetchall()
        check_current(conn)
    assert first == [migration.name for migration in available_migrations()]
    assert second == []
    assert recorded == [(migration.name, migration.sha256) for migration in available_migrations()]


def test_connect_never_migrates_and_names_the_command(empty_database_url):
    with pytest.raises(SchemaNotCurrent, match="python -m sync_pipelines.store.migrate"):
        store.connect(empty_database_url)
    with psycopg.connect(empty_database_url) as conn:
        assert conn.execute("SELECT to_regclass('schema_migrations')").fetchone()[0] is None


def test_a_pending_migration_fails_the_check_until_migrate_applies_it(database_url):
    last = available_migrations()[-1]
    with psycopg.connect(database_url) as conn:
        conn.execute("DELETE FROM schema_migrations WHERE version = %s", (last.version,))
        conn.commit()
        with pytest.raises(SchemaNotCurrent, match=f"pending migration.*{last.name}.*make migrate"):
            check_current(conn)
    assert main(["--database-url", database_url, "--check"]) == 1


def test_an_edited_migration_fails_loudly(database_url, capsys):
    first = available_migrations()[0]
    with psycopg.connect(database_url) as conn:
        conn.execute("UPDATE schema_migrations SET sha256 = repeat('0', 64) WHERE version = %s", (first.version,))
        conn.commit()
        with pytest.raises(SchemaNotCurrent, match=f"{first.version:04d} changed after it was applied"):
            check_current(conn)
        with pytest.raises(SchemaNotCurrent, match="Never edit an applied migration"):
            migrate(conn)
    assert main(["--database-url", database_url]) == 1
    assert "changed after it was applied" in capsys.readouterr().err


def test_a_database_migrated_by_newer_code_fails_clearly(database_url):
    with psycopg.connect(database_url) as conn:
        conn.execute("INSERT INTO schema_migrations (version, name, sha256) VALUES (9999, '9999_future.sql', 'x')")
        conn.commit()
        for step in (check_current, migrate):
            with pytest.raises(SchemaNotCurrent, match=r"migrations this code does not know: 9999 \(9999_future.sql\)"):
                step(conn)


def test_rows_recorded_before_checksums_get_theirs_on_the_next_migrate(database_url):
    with psycopg.connect(database_url) as conn:
        conn.execute("ALTER TABLE schema_migrations DROP COLUMN sha256")
        conn.commit()
        with pytest.raises(SchemaNotCurrent, match="behind this code: unrecorded checksums"):
            check_current(conn)
        assert migrate(conn) == []
        check_current(conn)
        assert conn.execute("SELECT count(*) FROM schema_migrations WHERE sha256 IS NULL").fetchone()[0] == 0


def test_person_table_holds_exactly_the_standard_fields_plus_sync_metadata(database_url):
    with psycopg.connect(database_url) as conn:
        columns = [
            row[0]
            for row in conn.execute(
                "SELECT column_name FROM information_schema.columns WHERE table_name = 'actions_person' ORDER BY ordinal_position"
            )
        ]
    assert columns == [
        "marketo_id", "first_name", "last_name", "salesforce_contact_id", "salesforce_lead_id", "company",
        "title", "email", "phone", "linkedin_url", "source",
        "first_synced_at", "last_synced_at", "source_updated_at",
    ]
