"""A snapshot of the schema the migrations build: every table's columns (in order, with types, nullability and
defaults), constraints, indexes, views, functions, triggers, the privileges of the two roles, and the rows the
migrations seed. A change to any of them fails here until the snapshot is updated on purpose.

This is what proves the baseline (migration 0050) builds the very schema that migrations 0001-0050 of earlier
releases built: the snapshot was taken from those migrations, before they were squashed. After an intended
schema change (a new migration), update the snapshot and commit it with the migration:
    .venv/bin/python -m pytest sync_pipelines_tests/store/test_schema_snapshot.py --snapshot-update
"""

import psycopg

_ROLES = ("sync_pipelines_sync", "sync_pipelines_app")

_CATALOG = {
    "columns": """
        SELECT c.relname, rank() OVER (PARTITION BY c.relname ORDER BY a.attnum),  -- the order, without dropped ones
               a.attname, format_type(a.atttypid, a.atttypmod), a.attnotnull,
               pg_get_expr(d.adbin, d.adrelid), a.attidentity, a.attgenerated
        FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid JOIN pg_namespace n ON n.oid = c.relnamespace
        LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
        WHERE n.nspname = 'public' AND c.relkind IN ('r', 'v', 'p') AND a.attnum > 0 AND NOT a.attisdropped
          AND c.relname <> 'schema_migrations'
        ORDER BY 1, 2""",
    "constraints": """
        SELECT conrelid::regclass::text, conname, pg_get_constraintdef(oid) FROM pg_constraint
        WHERE connamespace = 'public'::regnamespace AND conrelid <> 'schema_migrations'::regclass ORDER BY 1, 2""",
    "indexes": """
        SELECT tablename, indexname, indexdef FROM pg_indexes
        WHERE schemaname = 'public' AND tablename <> 'schema_migrations' ORDER BY 1, 2""",
    "views": "SELECT viewname, definition FROM pg_views WHERE schemaname = 'public' ORDER BY 1",
    "functions": """
        SELECT p.proname, pg_get_function_identity_arguments(p.oid), pg_get_functiondef(p.oid) FROM pg_proc p
        WHERE p.pronamespace = 'public'::regnamespace ORDER BY 1, 2""",
    "triggers": """
        SELECT tgrelid::regclass::text, tgname, pg_get_triggerdef(oid) FROM pg_trigger
        WHERE NOT tgisinternal ORDER BY 1, 2""",
    "table_privileges": """
        SELECT table_name, grantee, privilege_type, column_name FROM (
            SELECT table_name, grantee, privilege_type, NULL AS column_name FROM information_schema.table_privileges
            WHERE table_schema = 'public' AND grantee = ANY(%(roles)s)
            UNION ALL
            SELECT table_name, grantee, privilege_type, column_name FROM information_schema.column_privileges
            WHERE table_schema = 'public' AND grantee = ANY(%(roles)s)
              AND (table_name, grantee, privilege_type) NOT IN (
                  SELECT table_name, grantee, privilege_type FROM information_schema.table_privileges
                  WHERE table_schema = 'public')
        ) privileges ORDER BY 1, 2, 3, 4""",
    "sequence_privileges": """
        SELECT c.relname, acl.grantee::regrole::text, acl.privilege_type
        FROM pg_class c, aclexplode(c.relacl) acl
        WHERE c.relkind = 'S' AND c.relnamespace = 'public'::regnamespace
          AND acl.grantee::regrole::text = ANY(%(roles)s) AND c.relname NOT LIKE 'schema_migrations%%'
        ORDER BY 1, 2, 3""",
    "default_privileges": """
        SELECT d.defaclobjtype, acl.grantee::regrole::text, acl.privilege_type
        FROM pg_default_acl d, aclexplode(d.defaclacl) acl
        WHERE acl.grantee::regrole::text = ANY(%(roles)s) ORDER BY 1, 2, 3""",
    "schema_privileges": """
        SELECT acl.grantee::regrole::text, acl.privilege_type
        FROM pg_namespace n, aclexplode(n.nspacl) acl
        WHERE n.nspname = 'public' AND acl.grantee::regrole::text = ANY(%(roles)s) ORDER BY 1, 2""",
}


def _seeded_rows(conn: psycopg.Connection) -> dict[str, list[str]]:
    """The rows the migrations leave in each table (a fresh database holds only what they seed)."""
    tables = [row[0] for row in conn.execute(
        "SELECT tablename FROM pg_tables WHERE schemaname = 'public' AND tablename <> 'schema_migrations' ORDER BY 1")]
    seeded = {}
    for table in tables:
        rows = [row[0] for row in conn.execute(f"SELECT t::text FROM {table} t ORDER BY 1")]
        if rows:
            seeded[table] = rows
    return seeded


def schema_fingerprint(database_url: str) -> dict:
    with psycopg.connect(database_url) as conn:
        fingerprint = {
            name: [list(row) for row in conn.execute(query, {"roles": list(_ROLES)})]
            for name, query in _CATALOG.items()
        }
        fingerprint["seeded_rows"] = _seeded_rows(conn)
    return fingerprint


def test_the_migrations_build_the_schema_of_the_snapshot(database_url, snapshot):
    assert schema_fingerprint(database_url) == snapshot
