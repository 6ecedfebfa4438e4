"""One person column list: the store's lists (store/people.py, which may not import the people domain) agree
with the mapping (people/fields.py) and with the tables the migrations create. Adding a Marketo field means
touching these three; this test names the one left behind."""

import psycopg

from sync_pipelines.people.fields import EXTRACT_FIELDS, SUPPORT_FIELDS, SYNCED_FIELDS
from sync_pipelines.store.people import EXTRACT_COLUMNS, PERSON_COLUMNS

SYNC_METADATA = {"first_synced_at", "last_synced_at", "source_updated_at"}


def _table_columns(conn: psycopg.Connection, table: str) -> set[str]:
    rows = conn.execute("SELECT column_name FROM information_schema.columns WHERE table_name = %s", (table,))
    return {row[0] for row in rows}


def test_the_store_column_lists_are_the_mapping():
    assert len(PERSON_COLUMNS) == len(set(PERSON_COLUMNS)) == len(SYNCED_FIELDS) == 11
    assert set(PERSON_COLUMNS) == set(SYNCED_FIELDS.values())
    assert EXTRACT_COLUMNS[: len(PERSON_COLUMNS)] == PERSON_COLUMNS
    assert set(EXTRACT_COLUMNS[len(PERSON_COLUMNS):]) == set(SUPPORT_FIELDS.values())
    assert set(EXTRACT_COLUMNS) == set(EXTRACT_FIELDS.values())


def test_the_tables_hold_the_listed_columns(database_url):
    with psycopg.connect(database_url) as conn:
        person = _table_columns(conn, "actions_person")
        extract = _table_columns(conn, "marketo_person_extract")
    assert person - SYNC_METADATA == set(PERSON_COLUMNS)
    assert set(EXTRACT_COLUMNS) <= extract
