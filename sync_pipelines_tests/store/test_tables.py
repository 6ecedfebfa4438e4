"""The store's one column list per table (store/tables.py) is the migrated schema: same columns, same types.

A migration that adds, drops or retypes a column of a table an asset stands for fails here until the list
(and so the asset's dagster/column_schema) says so.
"""

import psycopg
import pytest

from sync_pipelines.store.tables import TABLE_COLUMNS, row_count, table_columns


def _catalog(conn: psycopg.Connection, table: str) -> dict[str, str]:
    rows = conn.execute(
        "SELECT a.attname, format_type(a.atttypid, a.atttypmod) FROM pg_attribute a "
        "WHERE a.attrelid = %s::regclass AND a.attnum > 0 AND NOT a.attisdropped",
        (f"public.{table}",),
    )
    return dict(rows.fetchall())


@pytest.mark.parametrize("table", sorted(TABLE_COLUMNS))
def test_the_column_list_is_the_migrated_table(database_url, table):
    listed = table_columns(table)
    assert len({name for name, _ in listed}) == len(listed), "a column is listed twice"
    with psycopg.connect(database_url) as conn:
        assert dict(listed) == _catalog(conn, table)


def test_row_count_counts_the_rows_and_refuses_other_tables(database_url):
    with psycopg.connect(database_url) as conn:
        conn.execute("INSERT INTO marketo_person_extract (marketo_id, changed_at) VALUES (1, now()), (2, now())")
        assert row_count(conn, "marketo_person_extract") == 2
        with pytest.raises(ValueError):
            row_count(conn, "person_quarantine")
