"""The people tables: load the Marketo extract, keep the Actions person table equal to its owned subset.

Every write is keyed by Marketo id and compares the stored fields with the new ones, so a rerun after a
crash rewrites nothing that is already right, and an edit made outside the sync is repaired by the next run.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime

import numpy as np
import pandas as pd
import psycopg

from sync_pipelines.store.copy import copy_frames

# The 11 fields of the standard mapping, by their Actions column names.
PERSON_FIELDS = [
    "first_name",
    "last_name",
    "salesforce_contact_id",
    "salesforce_lead_id",
    "company",
    "title",
    "email",
    "phone",
    "linkedin_url",
    "source",
]
PERSON_COLUMNS = ["marketo_id", *PERSON_FIELDS]
EXTRACT_COLUMNS = [*PERSON_COLUMNS, "salesforce_type", "owner_id", "unsubscribed", "email_invalid", "marketo_updated_at"]
# What actions_person holds besides the 11 fields: when the sync first and last wrote the row, and the
# Marketo updatedAt it wrote.
PERSON_SYNC_COLUMNS = ["first_synced_at", "last_synced_at", "source_updated_at"]

_EXTRACT_CONTENT = EXTRACT_COLUMNS[1:]
_STAGING = "person_extract_staging"
_LOCK_NAMESPACE = 0x9E09  # advisory locks: 1 = the extract writer, 2 = the Actions person writer


@dataclass(frozen=True)
class WriteCounts:
    inserted: int = 0
    updated: int = 0
    removed: int = 0


def _columns(names: list[str], prefix: str = "") -> str:
    return ", ".join(f"{prefix}{name}" for name in names)


class ExtractLoad:
    """Stream extract chunks into marketo_person_extract: `load` the clean chunks, then `merge`.

    Use inside one transaction: nothing is visible to readers until it commits, so a crash leaves the
    previous extract intact. Usually the chunks go to a staging table and `merge` updates the changed
    people, inserts the new ones and removes the absent ones at once. Into an empty table (the initial
    sync) they are copied straight in, which halves the database's work; an id that comes a second
    time is staged then, and `merge` keeps its newest version.
    """

    def __init__(self, conn: psycopg.Connection):
        self._conn = conn
        self.loaded = 0  # clean rows received
        self._copied_in = 0  # of which copied straight into the extract
        self._ids: list[np.ndarray] = []  # staged ids, to know without a query whether one came twice
        # One extract writer at a time (held until the transaction ends; a second run waits).
        conn.execute("SELECT pg_advisory_xact_lock(%s, 1)", (_LOCK_NAMESPACE,))
        (self._into_empty,) = conn.execute("SELECT NOT EXISTS (SELECT FROM marketo_person_extract)").fetchone()
        conn.execute(
            f"CREATE TEMP TABLE {_STAGING} (LIKE marketo_person_extract) ON COMMIT DROP; "
            f"ALTER TABLE {_STAGING} ALTER COLUMN changed_at DROP NOT NULL"
        )

    def load(self, clean_chunks: Iterable[pd.DataFrame]) -> None:
        """COPY the chunks in (one statement; pass a generator to stream)."""
        if not self._into_empty:
            self.loaded += copy_frames(self._conn, _STAGING, EXTRACT_COLUMNS, self._noting_ids(clean_chunks))
            return
        repeats: list[pd.DataFrame] = []
        self._copied_in = copy_frames(
            self._conn, "marketo_person_extract", EXTRACT_COLUMNS, self._first_versions(clean_chunks, repeats)
        )
        self.loaded += self._copied_in + copy_frames(self._conn, _STAGING, EXTRACT_COLUMNS, self._noting_ids(repeats))

    def _noting_ids(self, chunks: Iterable[pd.DataFrame]) -> Iterator[pd.DataFrame]:
        for chunk in chunks:
            self._ids.append(chunk["marketo_id"].to_numpy(dtype=np.int64))
            yield chunk

    def _first_versions(self, chunks: Iterable[pd.DataFrame], repeats: list[pd.DataFrame]) -> Iterator[pd.DataFrame]:
        """Each chunk without the ids seen before in this load (those go to `repeats`)."""
        seen: set[int] = set()
        for chunk in chunks:
            ids = chunk["marketo_id"].to_numpy(dtype=np.int64)
            again = pd.Index(ids).duplicated() | np.fromiter((i in seen for i in ids.tolist()), bool, len(ids))
            seen.update(ids.tolist())
            if again.any():
                repeats.append(chunk[again])
            yield chunk[~again]

    def merge(self, *, scope_ids: list[int] | None, started_at: datetime | None = None) -> WriteCounts:
        """Update the changed people, insert the new ones; remove people missing from the extract.

        scope_ids=None means the loaded rows are a full extract: everyone absent has left Marketo.
        With a list, only those ids were asked for, and the ones not loaded have left.
        started_at: when the extract started (its export ran before this transaction): what an
        incremental run stored since then wins over an older version here, and is not removed.
        """
        if self._into_empty:
            self._merge_repeats()
            # People that loaded cleanly leave the quarantine.
            self._conn.execute(
                "DELETE FROM person_quarantine q USING marketo_person_extract e WHERE q.marketo_id = e.marketo_id"
            )
            return WriteCounts(inserted=self._copied_in)
        self._conn.execute(f"ANALYZE {_STAGING}")
        # pd.unique hashes: an order of magnitude faster than np.unique's sort on a million ids.
        unique_ids = len(pd.unique(np.concatenate(self._ids))) if self._ids else 0
        if unique_ids < self.loaded:
            self._keep_newest_versions()
        # Separate UPDATE and INSERT instead of INSERT .. ON CONFLICT: a speculative insertion per row
        # costs more than the joins, and the advisory lock already keeps other extract writers out.
        updated = self._conn.execute(
            f"""
            UPDATE marketo_person_extract e SET
                {", ".join(f"{c} = s.{c}" for c in _EXTRACT_CONTENT)}, changed_at = now()
            FROM {_STAGING} s
            WHERE e.marketo_id = s.marketo_id
              AND ({_columns(_EXTRACT_CONTENT, "e.")}) IS DISTINCT FROM ({_columns(_EXTRACT_CONTENT, "s.")})
              AND NOT coalesce(e.changed_at >= %(started_at)s AND s.marketo_updated_at < e.marketo_updated_at, false)
            """,
            {"started_at": started_at},
        ).rowcount
        inserted = self._conn.execute(
            f"""
            INSERT INTO marketo_person_extract ({_columns(EXTRACT_COLUMNS)})
            SELECT {_columns(EXTRACT_COLUMNS, "s.")} FROM {_STAGING} s
            WHERE NOT EXISTS (SELECT 1 FROM marketo_person_extract e WHERE e.marketo_id = s.marketo_id)
            """
        ).rowcount
        removed = self._remove_absent(scope_ids, started_at, unique_ids)
        # People that loaded cleanly leave the quarantine.
        self._conn.execute(
            f"DELETE FROM person_quarantine q USING {_STAGING} s WHERE q.marketo_id = s.marketo_id"
        )
        return WriteCounts(inserted=inserted, updated=updated, removed=removed)

    def _remove_absent(self, scope_ids: list[int] | None, started_at: datetime | None, unique_ids: int) -> int:
        """Remove the people of the extract's scope that were not loaded (they left Marketo); returns how many."""
        absent = f"NOT EXISTS (SELECT 1 FROM {_STAGING} s WHERE s.marketo_id = e.marketo_id)"
        if scope_ids is not None:
            return self._conn.execute(
                f"DELETE FROM marketo_person_extract e WHERE e.marketo_id = ANY(%s::bigint[]) AND {absent}",
                (scope_ids,),
            ).rowcount
        (stored,) = self._conn.execute("SELECT count(*) FROM marketo_person_extract").fetchone()
        if stored == unique_ids:  # every staged person is stored by now: nobody else is left to remove
            return 0
        return self._conn.execute(
            f"DELETE FROM marketo_person_extract e WHERE {absent} "
            "AND (%(started_at)s::timestamptz IS NULL OR e.changed_at < %(started_at)s)",
            {"started_at": started_at},
        ).rowcount

    def _merge_repeats(self) -> None:
        """After a load into an empty table: a staged later version of a person replaces the copied one if newer."""
        if not self._ids:
            return
        self._keep_newest_versions()
        self._conn.execute(
            f"""
            UPDATE marketo_person_extract e SET {", ".join(f"{c} = s.{c}" for c in _EXTRACT_CONTENT)}
            FROM {_STAGING} s
            WHERE e.marketo_id = s.marketo_id AND s.marketo_updated_at IS NOT NULL
              AND (e.marketo_updated_at IS NULL OR s.marketo_updated_at > e.marketo_updated_at)
            """
        )

    def _keep_newest_versions(self) -> None:
        """The same person can appear in two adjacent export windows: keep only the newest version."""
        self._conn.execute(
            f"""
            DELETE FROM {_STAGING} WHERE ctid IN (
                SELECT ctid FROM (
                    SELECT ctid, row_number() OVER (
                        PARTITION BY marketo_id ORDER BY marketo_updated_at DESC NULLS LAST) AS newest_first
                    FROM {_STAGING}
                    WHERE marketo_id IN (SELECT marketo_id FROM {_STAGING} GROUP BY 1 HAVING count(*) > 1)
                ) AS versions
                WHERE newest_first > 1)
            """
        )


def allow_person_writes(conn: psycopg.Connection) -> None:
    """Declare this transaction the person sync, the only writer the actions_person guard lets through."""
    conn.execute("SELECT set_config('sync_pipelines.writer', 'person_sync', true)")


def person_backlog(conn: psycopg.Connection) -> int:
    """Owned people of the extract not yet in the Actions person table (the initial-sync backlog)."""
    (backlog,) = conn.execute(
        "SELECT count(*) FROM sales_owned_people s "
        "WHERE NOT EXISTS (SELECT 1 FROM actions_person a WHERE a.marketo_id = s.marketo_id)"
    ).fetchone()
    return backlog


def quarantine_people(conn: psycopg.Connection, bad: pd.DataFrame, now: datetime) -> int:
    """Record rows that cannot be synced (source_key, marketo_id, reason, source_row); returns the count."""
    if bad.empty:
        return 0
    rows = [
        (row.source_key, None if pd.isna(row.marketo_id) else int(row.marketo_id), row.reason,
         json.dumps(row.source_row, ensure_ascii=False), now, now)
        for row in bad.itertuples(index=False)
    ]
    with conn.cursor() as cursor:
        cursor.executemany(
            """
            INSERT INTO person_quarantine (source_key, marketo_id, reason, source_row, first_seen_at, last_seen_at)
            VALUES (%s, %s, %s, %s, %s, %s)
            ON CONFLICT (source_key) DO UPDATE SET
                reason = EXCLUDED.reason, source_row = EXCLUDED.source_row, last_seen_at = EXCLUDED.last_seen_at
            """,
            rows,
        )
    return len(rows)


def forget_stale_quarantine(conn: psycopg.Connection, seen_since: datetime, *, marketo_ids: list[int] | None) -> int:
    """Drop entries the extract did not see again: the person left Marketo, or loaded cleanly.

    marketo_ids=None after a full extract (every entry was due to be seen), else the ids that were asked for.
    """
    if marketo_ids is None:
        return conn.execute("DELETE FROM person_quarantine WHERE last_seen_at < %s", (seen_since,)).rowcount
    return conn.execute(
        "DELETE FROM person_quarantine WHERE last_seen_at < %s AND marketo_id = ANY(%s::bigint[])",
        (seen_since, marketo_ids),
    ).rowcount


def sync_actions_people(
    conn: psycopg.Connection,
    now: datetime,
    *,
    new_people_limit: int | None = None,
    scope_ids: list[int] | None = None,
) -> WriteCounts:
    """Make actions_person equal to the sales-owned people of the extract.

    Rows whose 11 fields already equal the extract's are left alone; any other difference is overwritten,
    including an edit made to the table outside the sync.
    new_people_limit loads at most that many people not yet in Actions (lowest Marketo ids first), for
    the paced initial sync; changes to people already loaded and removals always apply.
    scope_ids limits the whole sync (upserts and removals) to those Marketo ids: an incremental run.
    """
    in_scope = "TRUE" if scope_ids is None else "marketo_id = ANY(%(scope_ids)s::bigint[])"
    lowest_ids_first = "" if new_people_limit is None else f"ORDER BY marketo_id LIMIT {int(new_people_limit)}"
    params = {"now": now, "scope_ids": scope_ids}
    allow_person_writes(conn)
    conn.execute("SELECT pg_advisory_xact_lock(%s, 2)", (_LOCK_NAMESPACE,))
    # Removals first: they only concern people stored before this run (none at all on an initial sync).
    removed = conn.execute(
        f"DELETE FROM actions_person a WHERE {in_scope} AND NOT EXISTS "
        "(SELECT 1 FROM sales_owned_people s WHERE s.marketo_id = a.marketo_id)",
        params,
    ).rowcount
    # UPDATE then INSERT rather than INSERT .. ON CONFLICT: cheaper per row, and the lock serialises writers.
    updated = conn.execute(
        f"""
        UPDATE actions_person a SET
            {", ".join(f"{c} = s.{c}" for c in PERSON_FIELDS)},
            last_synced_at = %(now)s, source_updated_at = s.marketo_updated_at
        FROM (SELECT * FROM sales_owned_people WHERE {in_scope}) AS s
        WHERE a.marketo_id = s.marketo_id
          AND ({_columns(PERSON_FIELDS, "a.")}) IS DISTINCT FROM ({_columns(PERSON_FIELDS, "s.")})
        """,
        params,
    ).rowcount
    inserted = conn.execute(
        f"""
        INSERT INTO actions_person ({_columns([*PERSON_COLUMNS, *PERSON_SYNC_COLUMNS])})
        SELECT {_columns(PERSON_COLUMNS)}, %(now)s, %(now)s, marketo_updated_at
        FROM sales_owned_people s
        WHERE {in_scope} AND NOT EXISTS (SELECT 1 FROM actions_person a WHERE a.marketo_id = s.marketo_id)
        {lowest_ids_first}
        """,
        params,
    ).rowcount
    return WriteCounts(inserted=inserted, updated=updated, removed=removed)
