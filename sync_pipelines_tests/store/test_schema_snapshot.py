"""A snapshot of the schema the migrations build: every table's columns (in order, with types, nullability and
defaults), constraints, indexes, views, functions, triggers, the privileges of the two roles, and the rows the
migrations seed. A change to any of them fails here until the snapshot is updated on purpose.

This is what proves that 0100_baseline.sql builds the very schema that migrations 0001-0050 of earlier
releases built: the snapshot was taken from those migrations, before they were squashed. After an intended
schema change (a new migration), update the snapshot and commit it with the migration:
    .venv/bin/python -m pytest sync_pipelines_tests/store/test_schema_snapshot.py --snapshot-update
"""

from sync_pipelines_tests.fixtures.schema import schema_fingerprint


def test_the_migrations_build_the_schema_of_the_snapshot(database_url, snapshot):
    assert schema_fingerprint(database_url) == snapshot
