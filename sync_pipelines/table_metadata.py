"""Dagster's table metadata for the assets that stand for a table or view of the Actions database.

The columns come from the store's one list per table (store/tables.py); the spec carries the table's name
and column schema, and each materialization its row count with the same schema (dagster/row_count,
dagster/column_schema), so the UI shows both at the asset and in its history.
"""

import dagster as dg
import psycopg

from sync_pipelines.store.tables import row_count, table_columns


def column_schema(table: str) -> dg.TableSchemaMetadataValue:
    columns = [dg.TableColumn(name, column_type) for name, column_type in table_columns(table)]
    return dg.MetadataValue.table_schema(dg.TableSchema(columns=columns))


def table_spec_metadata(table: str) -> dict:
    """The definition metadata of an asset that stands for `table`: its name and its column schema."""
    return {"dagster/table_name": f"public.{table}", "dagster/column_schema": column_schema(table)}


def table_metadata(conn: psycopg.Connection, table: str, *, rows: int | None = None) -> dict:
    """Materialization metadata of `table` as `conn` sees it: the row count and the column schema.

    rows: the count when the asset knows it better than count(*) now (a view read at the asset's own clock).
    """
    count = row_count(conn, table) if rows is None else rows
    return {"dagster/row_count": dg.MetadataValue.int(count),
            "dagster/column_schema": column_schema(table)}
