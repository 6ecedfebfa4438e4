"""The people writers against a real PostgreSQL: COPY fidelity, keyed upserts, removals, repairs."""

from datetime import datetime, timedelta, timezone

import pandas as pd
import psycopg
import pytest

from sync_pipelines import store
from sync_pipelines.store.people import (
    EXTRACT_COLUMNS,
    ExtractLoad,
    allow_person_writes,
    person_backlog,
    sync_actions_people,
)

T0 = datetime(2026, 1, 1, tzinfo=timezone.utc)


def person(marketo_id, **fields):
    row = {column: None for column in EXTRACT_COLUMNS}
    row.update(marketo_id=marketo_id, owner_id="005OWNER", salesforce_type="Lead", unsubscribed=False,
               marketo_updated_at=T0, first_name=f"name{marketo_id}")
    row.update(fields)
    return row


def frame(*rows):
    return pd.DataFrame(list(rows), columns=EXTRACT_COLUMNS).astype(
        {"marketo_id": "int64", "unsubscribed": "boolean", "marketo_updated_at": "datetime64[us, UTC]"}
    )


def load(conn, people, now, scope_ids=None):
    with conn.transaction():
        extract = ExtractLoad(conn)
        extract.load([people])
        extract_counts = extract.merge(scope_ids=scope_ids)
        actions_counts = sync_actions_people(conn, now)
    return extract_counts, actions_counts


@pytest.fixture
def conn(database_url):
    with store.connect(database_url) as connection:
        yield connection


def actions_rows(conn):
    return {row[0]: row[1:] for row in conn.execute(
        "SELECT marketo_id, first_name, last_name, company, title, email FROM actions_person ORDER BY 1")}


def test_odd_text_survives_copy_exactly(conn):
    odd = {
        "first_name": "太郎", "last_name": "O'Brien \"Bob\"", "company": "Comma, Inc.\nSecond line",
        "title": "\\.", "email": "a@example.com", "phone": None,
    }
    load(conn, frame(person(1, **odd)), T0)
    assert actions_rows(conn)[1] == ("太郎", "O'Brien \"Bob\"", "Comma, Inc.\nSecond line", "\\.", "a@example.com")
    (phone,) = conn.execute("SELECT phone FROM actions_person").fetchone()
    assert phone is None


def test_only_owned_people_reach_actions_and_duplicate_emails_stay_separate(conn):
    people = frame(
        person(1, email="same@example.com"),
        person(2, email="same@example.com"),
        person(3, owner_id=None),
    )
    _, counts = load(conn, people, T0)
    assert counts.inserted == 2
    assert sorted(actions_rows(conn)) == [1, 2]


def test_rerun_writes_nothing_and_changes_update_in_place(conn):
    load(conn, frame(person(1), person(2)), T0)
    extract_counts, actions_counts = load(conn, frame(person(1), person(2)), T0 + timedelta(hours=1))
    assert (extract_counts.inserted, extract_counts.updated, actions_counts.inserted, actions_counts.updated) == (0, 0, 0, 0)

    _, actions_counts = load(conn, frame(person(1, title="CTO"), person(2)), T0 + timedelta(hours=2))
    assert (actions_counts.inserted, actions_counts.updated) == (0, 1)
    assert actions_rows(conn)[1][3] == "CTO"
    first, last = conn.execute("SELECT first_synced_at, last_synced_at FROM actions_person WHERE marketo_id = 1").fetchone()
    assert first == T0 and last == T0 + timedelta(hours=2)


def test_full_extract_removes_absent_and_ownerless_people(conn):
    load(conn, frame(person(1), person(2), person(3)), T0)
    extract_counts, actions_counts = load(conn, frame(person(1), person(2, owner_id=None)), T0)
    assert extract_counts.removed == 1  # 3 left Marketo
    assert actions_counts.removed == 2  # 3 left, 2 lost its owner
    assert sorted(actions_rows(conn)) == [1]


def test_scoped_extract_only_touches_the_ids_asked_for(conn):
    load(conn, frame(person(1), person(2), person(3)), T0)
    # Asked for 2 and 3; 3 no longer exists in Marketo; 1 was not asked for and must stay.
    extract_counts, actions_counts = load(conn, frame(person(2, title="VP")), T0, scope_ids=[2, 3])
    assert extract_counts.removed == 1
    assert sorted(actions_rows(conn)) == [1, 2]


def test_duplicate_ids_in_one_extract_keep_the_newest_version(conn):
    older = person(1, title="old", marketo_updated_at=T0)
    newer = person(1, title="new", marketo_updated_at=T0 + timedelta(days=1))
    load(conn, frame(newer, older), T0)
    assert actions_rows(conn)[1][3] == "new"


@pytest.mark.parametrize("into_empty_table", [True, False])
def test_a_person_repeated_in_later_chunks_keeps_the_newest_version(conn, into_empty_table):
    if not into_empty_table:
        load(conn, frame(person(99)), T0)
    day = timedelta(days=1)
    chunks = [
        frame(person(1, title="old", marketo_updated_at=T0), person(2, title="dated", marketo_updated_at=T0),
              person(3, title="undated", marketo_updated_at=None)),
        frame(person(1, title="new", marketo_updated_at=T0 + day), person(2, title="older", marketo_updated_at=T0 - day)),
        frame(person(3, title="dated later", marketo_updated_at=T0), person(4)),
    ]
    with conn.transaction():
        extract = ExtractLoad(conn)
        extract.load(iter(chunks))
        counts = extract.merge(scope_ids=None)
    assert extract.loaded == 7
    titles = dict(conn.execute("SELECT marketo_id, title FROM marketo_person_extract").fetchall())
    assert titles == {1: "new", 2: "dated", 3: "dated later", 4: None}  # a dated version beats an undated one
    assert (counts.inserted, counts.removed) == (4, 0 if into_empty_table else 1)


def test_only_the_person_sync_may_write_the_person_table(conn):
    load(conn, frame(person(1)), T0)
    conn.commit()
    for statement in (
        "UPDATE actions_person SET title = 'x'",
        "DELETE FROM actions_person",
        "INSERT INTO actions_person (marketo_id, first_synced_at, last_synced_at) VALUES (9, now(), now())",
        "TRUNCATE actions_person",
    ):
        with pytest.raises(psycopg.errors.InsufficientPrivilege, match="written only by the person sync"):
            with conn.transaction():
                conn.execute(statement)
    assert sorted(actions_rows(conn)) == [1]


def test_the_next_sync_repairs_direct_edits(conn):
    load(conn, frame(person(1, title="CTO")), T0)
    with conn.transaction():  # an edit that slipped past the guard (a DBA declaring itself the sync)
        allow_person_writes(conn)
        conn.execute("UPDATE actions_person SET title = 'edited outside the sync'")
    assert sync_actions_people(conn, T0).updated == 1
    assert sync_actions_people(conn, T0).updated == 0  # nothing left to repair
    assert actions_rows(conn)[1][3] == "CTO"


def test_new_people_limit_loads_the_backlog_in_batches_lowest_ids_first(conn):
    with conn.transaction():
        extract = ExtractLoad(conn)
        extract.load([frame(*(person(i) for i in range(1, 8)))])
        extract.merge(scope_ids=None)
    assert person_backlog(conn) == 7
    assert sync_actions_people(conn, T0, new_people_limit=3).inserted == 3
    assert sorted(actions_rows(conn)) == [1, 2, 3]
    assert sync_actions_people(conn, T0, new_people_limit=3).inserted == 3
    assert person_backlog(conn) == 1
    assert sync_actions_people(conn, T0, new_people_limit=3).inserted == 1
    assert sorted(actions_rows(conn)) == list(range(1, 8))
