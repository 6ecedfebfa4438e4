"""The person tables are guarded by privileges: the Actions app's role, a non-superuser, tries every bypass of
the old advisory guard (SET LOCAL, set_config, PGOPTIONS, another role, trigger tricks) and the extract, and
every write is refused; the sync's role writes."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import datetime, timezone

import psycopg
import pytest

from sync_pipelines import store
from sync_pipelines.store.people import sync_actions_people
from sync_pipelines.store.sync_control import start_sync, stop_sync

PASSWORD = "role-test-password"
SYNC_TABLES = ["actions_person", "marketo_person_extract", "person_quarantine", "sync_org_pin", "schema_migrations",
               "activity_delivery", "task_sync_state", "salesforce_task_change", "task_sync_seller",
               "actions_task_synced"]
WRITES = ["INSERT INTO {table} SELECT * FROM {table} LIMIT 0", "UPDATE {table} SET {column} = {column}",
          "DELETE FROM {table}", "TRUNCATE {table}"]


def _login_role(database_url: str, group: str) -> Iterator[str]:
    name = f"{group}_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(database_url, autocommit=True) as admin:
        admin.execute(f"CREATE ROLE {name} LOGIN NOSUPERUSER PASSWORD '{PASSWORD}' IN ROLE {group}")
    yield psycopg.conninfo.make_conninfo(database_url, user=name, password=PASSWORD)
    with psycopg.connect(database_url, autocommit=True) as admin:
        admin.execute(f"DROP ROLE {name}")


@pytest.fixture
def migrated(database_url) -> str:
    store.connect(database_url).close()
    return database_url


@pytest.fixture
def app_url(migrated) -> Iterator[str]:
    yield from _login_role(migrated, "sync_pipelines_app")


@pytest.fixture
def sync_url(migrated) -> Iterator[str]:
    yield from _login_role(migrated, "sync_pipelines_sync")


def _first_column(conn: psycopg.Connection, table: str) -> str:
    return conn.execute("SELECT attname FROM pg_attribute WHERE attrelid = %s::regclass AND attnum = 1",
                        (table,)).fetchone()[0]


def _refused(conn: psycopg.Connection, sql: str, params=None) -> None:
    with pytest.raises(psycopg.errors.InsufficientPrivilege):
        with conn.transaction():
            conn.execute(sql, params)


@pytest.mark.parametrize("table", SYNC_TABLES)
def test_the_app_role_cannot_write_the_syncs_tables_whatever_it_declares(app_url, table):
    with psycopg.connect(app_url, autocommit=True) as conn:
        assert not conn.execute("SELECT rolsuper FROM pg_roles WHERE rolname = current_user").fetchone()[0]
        column = _first_column(conn, table)
        for write in WRITES:
            sql = write.format(table=table, column=column)
            _refused(conn, sql)
            # The old guard's pass: SET LOCAL in the same transaction.
            with pytest.raises(psycopg.errors.InsufficientPrivilege):
                with conn.transaction():
                    conn.execute("SET LOCAL sync_pipelines.writer = 'person_sync'")
                    conn.execute(sql)
            # ... or set_config for the whole session.
            conn.execute("SELECT set_config('sync_pipelines.writer', 'person_sync', false)")
            _refused(conn, sql)
        conn.execute(f"SELECT count(*) FROM {table}")  # reading is allowed


def test_pgoptions_does_not_open_the_person_table(app_url, monkeypatch):
    monkeypatch.setenv("PGOPTIONS", "-c sync_pipelines.writer=person_sync")
    with psycopg.connect(app_url, autocommit=True) as conn:
        assert conn.execute("SHOW sync_pipelines.writer").fetchone()[0] == "person_sync"
        _refused(conn, "DELETE FROM actions_person")
        _refused(conn, "UPDATE marketo_person_extract SET first_name = 'x'")


def test_other_roles_and_trigger_tricks_are_refused(app_url):
    with psycopg.connect(app_url, autocommit=True) as conn:
        _refused(conn, "SET ROLE sync_pipelines_sync")
        _refused(conn, "SET session_replication_role = replica")  # would skip triggers
        with pytest.raises(psycopg.errors.InsufficientPrivilege):  # must be the owner
            conn.execute("ALTER TABLE actions_person DISABLE TRIGGER ALL")
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            conn.execute("CREATE TABLE marketo_person_extract_copy (LIKE marketo_person_extract)")


def test_the_app_writes_its_own_tables_and_the_sync_role_writes_the_people(app_url, sync_url):
    with psycopg.connect(app_url, autocommit=True) as conn:
        for table in ("actions_sales_activity", "actions_task", "actions_unsubscribe", "actions_seller",
                      "actions_setting_change"):
            assert conn.execute("SELECT has_table_privilege(%s, 'INSERT')", (table,)).fetchone()[0], table
        # The admin's "initiate data sync" in the app: the switch, and nothing else of the sync's control.
        assert start_sync(conn) is True and stop_sync(conn) is True
        _refused(conn, "DELETE FROM sync_control")
        _refused(conn, "INSERT INTO sync_control DEFAULT VALUES")
    with psycopg.connect(sync_url) as conn:
        counts = sync_actions_people(conn, datetime.now(timezone.utc))  # the sync's path: writes allowed
        conn.execute("DELETE FROM marketo_person_extract")
        conn.commit()
    assert counts.inserted == counts.updated == counts.removed == 0
