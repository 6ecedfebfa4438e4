"""A database that release 0.1.0 migrated (files 0001-0050, read back from git at that release's commit) is
adopted by 0100_baseline.sql without running it, and ends with the schema of a fresh database."""

import hashlib
import subprocess
from pathlib import Path

import psycopg
import pytest

from sync_pipelines.store.migrate import (
    Migration, SchemaNotCurrent, available_migrations, check_current, migrate, refuse_below_a_squash,
)
from sync_pipelines_tests.fixtures.database import scratch_database
from sync_pipelines_tests.fixtures.schema import schema_fingerprint

RELEASE_0_1_0 = "bfdca07"  # the last commit that shipped the 20 files
REPOSITORY = Path(__file__).parents[2]


def _baseline():
    return next(migration for migration in available_migrations() if migration.replaces)


def _release_files() -> list[tuple[str, bytes]]:
    """The 20 files as release 0.1.0 shipped them: (name, content)."""
    files = []
    for old in _baseline().replaces:
        shown = subprocess.run(
            ["git", "-C", str(REPOSITORY), "show", f"{RELEASE_0_1_0}:sync_pipelines/store/migrations/{old.name}"],
            capture_output=True, check=False)
        if shown.returncode != 0:
            pytest.skip(f"needs the git history of release 0.1.0 (commit {RELEASE_0_1_0}): a full clone")
        files.append((old.name, shown.stdout))
    return files


def _migrate_as_release_0_1_0(url: str, files: list[tuple[str, bytes]]) -> None:
    """What that release's runner did: each file run once, recorded with its name and sha256."""
    with psycopg.connect(url) as conn:
        conn.execute("CREATE TABLE schema_migrations (version integer PRIMARY KEY, name text NOT NULL,"
                     " applied_at timestamptz NOT NULL DEFAULT now(), sha256 text)")
        for name, data in files:
            conn.execute(data.decode())
            conn.execute("INSERT INTO schema_migrations (version, name, sha256) VALUES (%s, %s, %s)",
                         (int(name[:4]), name, hashlib.sha256(data).hexdigest()))


def test_the_baseline_replaces_exactly_the_files_of_release_0_1_0():
    shipped = subprocess.run(["git", "-C", str(REPOSITORY), "ls-tree", "--name-only", RELEASE_0_1_0,
                              "sync_pipelines/store/migrations/"], capture_output=True, text=True, check=False)
    if shipped.returncode != 0:
        pytest.skip(f"needs the git history of release 0.1.0 (commit {RELEASE_0_1_0}): a full clone")
    names = sorted(Path(path).name for path in shipped.stdout.split() if path.endswith(".sql"))
    files = {name: hashlib.sha256(data).hexdigest() for name, data in _release_files()}
    assert sorted(files) == names and len(names) == 20
    assert {old.name: old.sha256 for old in _baseline().replaces} == files


def test_a_database_release_0_1_0_migrated_is_adopted_and_matches_a_fresh_one(postgres_admin_url, database_url):
    with scratch_database(postgres_admin_url, prefix="sync_release_0_1_0") as old_url:
        _migrate_as_release_0_1_0(old_url, _release_files())
        with psycopg.connect(old_url) as conn:
            with pytest.raises(SchemaNotCurrent, match="pending migration.*0100_baseline.sql"):
                check_current(conn)
            assert migrate(conn)[0] == "0100_baseline.sql (adopted: it replaces 20 applied migrations)"
            check_current(conn)
            assert migrate(conn) == []
            recorded = conn.execute("SELECT name, sha256 FROM schema_migrations ORDER BY version").fetchall()
        assert schema_fingerprint(old_url) == schema_fingerprint(database_url)
    assert recorded == [(migration.name, migration.sha256) for migration in available_migrations()]


def test_a_database_with_only_some_of_the_replaced_files_is_refused(postgres_admin_url):
    with scratch_database(postgres_admin_url, prefix="sync_release_0_1_0") as old_url:
        _migrate_as_release_0_1_0(old_url, _release_files()[:-1])
        with psycopg.connect(old_url) as conn:
            with pytest.raises(SchemaNotCurrent, match="only some of the migrations that 0100_baseline.sql replaces"
                                                       r" \(missing: 0050_task_sync_per_seller.sql\)"):
                migrate(conn)
            names = [row[0] for row in conn.execute("SELECT name FROM schema_migrations ORDER BY version")]
        assert names == [name for name, _ in _release_files()[:-1]]  # nothing changed


def test_an_edited_replaced_file_is_refused_like_any_edited_migration(database_url):
    first = _baseline().replaces[0]
    with psycopg.connect(database_url) as conn:
        conn.execute("DELETE FROM schema_migrations WHERE version = %s", (_baseline().version,))
        conn.execute("INSERT INTO schema_migrations (version, name, sha256) VALUES (%s, %s, repeat('0', 64))",
                     (first.version, first.name))
        conn.commit()
        with pytest.raises(SchemaNotCurrent, match=f"{first.version:04d} changed after it was applied"):
            migrate(conn)


def test_a_new_migration_numbered_below_the_baseline_is_refused():
    baseline = _baseline()
    stray = Migration(60, "0060_add_a_column.sql", "ALTER TABLE actions_person ADD COLUMN x text", "0" * 64)
    with pytest.raises(SchemaNotCurrent, match="0060_add_a_column.sql must be numbered above 0100_baseline.sql"):
        refuse_below_a_squash((stray, baseline))
    later = stray._replace(version=101, name="0101_add_a_column.sql")
    assert refuse_below_a_squash((baseline, later)) == (baseline, later)
