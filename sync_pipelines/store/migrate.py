"""Versioned, checksummed schema migrations for the Actions database, run explicitly.

`python -m sync_pipelines.store.migrate` (or `make migrate`) applies every pending file of migrations/
(named NNNN_description.sql), each in version order inside one transaction that also records its name
and sha256 in schema_migrations. A deployment runs it once, before the new code serves. Nothing else
migrates a deployed database: `store.connect` only calls `check_current`, which fails with a message
naming the command when the schema is behind, when the database has migrations this code does not know
(older code against a newer schema), or when an applied file has changed since (never edit an applied
migration: add a new one). The test database fixture, `make demo` and `make dev` (on the embedded server)
call `migrate` themselves.

A migration missing from the database is applied even when later versions already are: engineers number
migrations in separate ranges, so a lower number may land after a higher one was deployed.

Squashing: a migration may replace older ones, declared in its header (`-- replaces: NAME sha256=HEX` per
replaced file, as that file was applied). A new database runs only the squashed file. A database that has
every replaced file applied, unchanged, adopts it without running it: `migrate` swaps their rows in
schema_migrations for its one row. 0100_baseline.sql replaces 0001-0050 of earlier releases; a test proves
that it builds the same schema (sync_pipelines_tests/store/test_schema_snapshot.py).
"""

from __future__ import annotations

import argparse
import hashlib
import re
import sys
from functools import cache
from importlib import resources
from typing import NamedTuple

import psycopg

MIGRATE_COMMAND = "python -m sync_pipelines.store.migrate"
_LOCK_KEY = 0x5C_AC_71_0A  # any constant, unique to this project


class SchemaNotCurrent(RuntimeError):
    """The database's schema is not the one this code was written for (see the message for the fix)."""


class Replaced(NamedTuple):
    """A migration file of an earlier release that a squashed migration replaces, as it was applied."""

    version: int
    name: str
    sha256: str


class Migration(NamedTuple):
    version: int
    name: str
    sql: str
    sha256: str
    replaces: tuple[Replaced, ...] = ()


_REPLACES = re.compile(r"^-- replaces: ((\d+)_\S+\.sql) sha256=([0-9a-f]{64})$", re.MULTILINE)


@cache
def available_migrations() -> tuple[Migration, ...]:
    """Every migration file of the package, in version order. Two files with one version fail."""
    found: dict[int, Migration] = {}
    for entry in resources.files("sync_pipelines.store.migrations").iterdir():
        if not entry.name.endswith(".sql"):
            continue
        version = int(entry.name.split("_", 1)[0])
        if version in found:
            raise SchemaNotCurrent(f"two migration files have version {version}: {found[version].name} and {entry.name}")
        data = entry.read_bytes()
        sql = data.decode("utf-8")
        replaces = tuple(Replaced(int(v), name, sha) for name, v, sha in _REPLACES.findall(sql))
        found[version] = Migration(version, entry.name, sql, hashlib.sha256(data).hexdigest(), replaces)
    return refuse_below_a_squash(tuple(found[version] for version in sorted(found)))


def refuse_below_a_squash(migrations: tuple[Migration, ...]) -> tuple[Migration, ...]:
    """The migrations, unless one is numbered below a squashed migration: a new database would run it
    before the schema it builds on exists."""
    for squashed in (m for m in migrations if m.replaces):
        below = [m.name for m in migrations if m.version < squashed.version]
        if below:
            raise SchemaNotCurrent(f"{', '.join(below)} must be numbered above {squashed.name}, which builds the "
                                   "schema it changes: renumber it")
    return migrations


def _replaced() -> dict[int, Replaced]:
    """Every replaced file of every squashed migration, by version."""
    return {old.version: old for migration in available_migrations() for old in migration.replaces}


def _applied(conn: psycopg.Connection) -> dict[int, tuple[str, str | None]] | None:
    """{version: (name, sha256)} recorded in the database, or None when it has no migration table."""
    exists = conn.execute("SELECT to_regclass('schema_migrations') IS NOT NULL").fetchone()[0]
    if not exists:
        return None
    has_checksums = conn.execute(
        "SELECT EXISTS (SELECT 1 FROM information_schema.columns"
        " WHERE table_name = 'schema_migrations' AND column_name = 'sha256' AND table_schema = current_schema())"
    ).fetchone()[0]
    checksum = "sha256" if has_checksums else "NULL::text"
    return {row[0]: (row[1], row[2]) for row in conn.execute(f"SELECT version, name, {checksum} FROM schema_migrations")}


def _refuse_foreign_or_changed(applied: dict[int, tuple[str, str | None]]) -> None:
    """Fail when the database holds a migration this code lacks, or an applied file no longer matches
    (a replaced file is known too: its squashed migration adopts it)."""
    known: dict[int, Migration | Replaced] = {**_replaced(), **{m.version: m for m in available_migrations()}}
    unknown = sorted(f"{version:04d} ({name})" for version, (name, _) in applied.items() if version not in known)
    if unknown:
        raise SchemaNotCurrent(
            f"the Actions database has migrations this code does not know: {', '.join(unknown)}. "
            "It was migrated by newer code: deploy that code (or newer) instead of this one."
        )
    for version, (name, sha256) in sorted(applied.items()):
        migration = known[version]
        if name != migration.name or (sha256 is not None and sha256 != migration.sha256):
            raise SchemaNotCurrent(
                f"migration {version:04d} changed after it was applied: the database recorded {name} "
                f"(sha256 {sha256}), the code has {migration.name} (sha256 {migration.sha256}). "
                "Never edit an applied migration: restore the file and add a new migration instead."
            )


def check_current(conn: psycopg.Connection) -> None:
    """Raise SchemaNotCurrent unless every migration of this code is applied, unchanged, and no other is."""
    applied = _applied(conn)
    conn.rollback()  # leave the connection as it was (idle, no transaction open)
    if applied is None:
        raise SchemaNotCurrent(f"the Actions database has no schema yet: run `{MIGRATE_COMMAND}` (make migrate) once")
    _refuse_foreign_or_changed(applied)
    pending = [m.name for m in available_migrations() if m.version not in applied]
    unrecorded = [applied[v][0] for v in sorted(applied) if applied[v][1] is None]
    if pending or unrecorded:
        missing = f"{len(pending)} pending migration(s) ({', '.join(pending)})" if pending else "unrecorded checksums"
        raise SchemaNotCurrent(
            f"the Actions database schema is behind this code: {missing}. "
            f"Run `{MIGRATE_COMMAND}` (make migrate) once for this deployment."
        )


def migrate(conn: psycopg.Connection) -> list[str]:
    """Apply every pending migration; returns the names applied (empty when up to date).

    Rows recorded before checksums existed get the current file's sha256 (recorded once, then enforced).
    """
    applied_now = []
    with conn.transaction():
        conn.execute("SELECT pg_advisory_xact_lock(%s)", (_LOCK_KEY,))  # two migrators at once: one waits
        conn.execute(
            "CREATE TABLE IF NOT EXISTS schema_migrations ("
            " version integer PRIMARY KEY, name text NOT NULL,"
            " applied_at timestamptz NOT NULL DEFAULT now())"
        )
        conn.execute("ALTER TABLE schema_migrations ADD COLUMN IF NOT EXISTS sha256 text")
        applied = _applied(conn) or {}
        _refuse_foreign_or_changed(applied)
        for migration in available_migrations():
            if migration.version in applied:
                if applied[migration.version][1] is None:
                    conn.execute("UPDATE schema_migrations SET sha256 = %s WHERE version = %s",
                                 (migration.sha256, migration.version))
                continue
            if _adopt(conn, migration, applied):
                applied_now.append(f"{migration.name} (adopted: it replaces {len(migration.replaces)} applied "
                                   "migrations)")
                continue
            conn.execute(migration.sql)
            _record(conn, migration)
            applied_now.append(migration.name)
    return applied_now


def _adopt(conn: psycopg.Connection, migration: Migration, applied: dict[int, tuple[str, str | None]]) -> bool:
    """Record a squashed migration as applied, without running it, in a database that has every file it
    replaces (checked unchanged by _refuse_foreign_or_changed). False when the database has none of them."""
    present = [old for old in migration.replaces if old.version in applied]
    if not present:
        return False
    missing = [old.name for old in migration.replaces if old.version not in applied]
    if missing:
        raise SchemaNotCurrent(
            f"the Actions database has only some of the migrations that {migration.name} replaces (missing: "
            f"{', '.join(missing)}). Migrate it first with release 0.1.0 (commit bfdca07), which has them all, "
            "then with this one."
        )
    conn.execute("DELETE FROM schema_migrations WHERE version = ANY(%s)", ([old.version for old in present],))
    _record(conn, migration)
    return True


def _record(conn: psycopg.Connection, migration: Migration) -> None:
    conn.execute("INSERT INTO schema_migrations (version, name, sha256) VALUES (%s, %s, %s)",
                 (migration.version, migration.name, migration.sha256))


def _connect(url: str) -> psycopg.Connection:
    """psycopg.connect, with an error that never quotes the URL's password (see store.connect)."""
    try:
        return psycopg.connect(url)
    except psycopg.Error as error:
        from sync_pipelines import store
        from sync_pipelines.store.database import redacted

        raise store.DatabaseUrlError(
            f"cannot connect to the Actions database ({redacted(url)}): {store._safe_reason(error, url)}"
        ) from None


def migrate_url(url: str) -> list[str]:
    """Open `url`, apply the pending migrations, close; returns the names applied."""
    with _connect(url) as conn:
        return migrate(conn)


def migrate_embedded_database() -> list[str]:
    """`make demo` and `make dev`: migrate the embedded Actions database they run on. A configured
    SYNC_DATABASE_URL is left alone: a deployed database is migrated by its deployment, on purpose."""
    import os

    from sync_pipelines.store.database import actions_database_url

    if os.environ.get("SYNC_DATABASE_URL"):
        return []
    return migrate_url(actions_database_url())  # the embedded server (refused outside the sandbox)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog=MIGRATE_COMMAND,
        description="Apply the pending schema migrations to the Actions database (SYNC_DATABASE_URL, "
        "else the embedded server). Run once per deployment, before the new code serves.",
    )
    parser.add_argument("--database-url", help="PostgreSQL URL (default: SYNC_DATABASE_URL, else the embedded server)")
    parser.add_argument("--check", action="store_true", help="apply nothing; exit 1 unless the schema is current")
    args = parser.parse_args(argv)
    from sync_pipelines.store.database import actions_database_url

    url = actions_database_url(args.database_url)
    try:
        if args.check:
            with _connect(url) as conn:
                check_current(conn)
            print(f"The Actions database schema is current ({len(available_migrations())} migrations).")
            return 0
        applied = migrate_url(url)
    except (SchemaNotCurrent, psycopg.OperationalError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    for name in applied:
        print(f"applied {name}")
    print(f"The Actions database schema is current ({len(available_migrations())} migrations, {len(applied)} applied now).")
    return 0


if __name__ == "__main__":
    sys.exit(main())
