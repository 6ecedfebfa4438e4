"""A bad-input corpus through every path: each bad row is quarantined with a reason or synced exactly,
nothing crashes, and every good row still syncs.

People: raw rows (bytes, some not UTF-8) are placed in the emulator's bulk export file itself.
Unsubscribes and tasks: ids and names that would break a SOQL string, tasks with missing or wrong fields.
"""

from collections.abc import Callable
from datetime import date, datetime, timezone

import dagster as dg
import psycopg

from sync_pipelines import actions_app, people, tasks, unsubscribes
from sync_pipelines.people.fields import EXTRACT_FIELDS, SYNCED_FIELDS
from sync_pipelines.sandbox.seed import generate_people
from sync_pipelines.tasks.jobs import task_sync_run_config
from sync_pipelines_tests.fixtures.sellers import task_seller
from sync_pipelines_tests.reliability.helpers import expected_actions_people, fetch, resources
from sync_pipelines_tests.unsubscribes.helpers import load_raw_people

PERSON_ASSETS = people.ASSETS
OWNER = b"005BADINPUT00OWN"
LONG = "L" * 5000
QUOTED_CELL = b'"Ann ""The Hammer"", Jr.\r\nsecond line"'  # quotes, a comma and a CRLF inside one cell


def csv_line(**cells: bytes) -> Callable[[list[str]], bytes]:
    """A raw export line: the given cells (already CSV-encoded bytes), `null` for the rest, CRLF."""
    def render(fields: list[str]) -> bytes:
        return b",".join(cells.get(name, b"null") for name in fields) + b"\r\n"
    return render


def person(marketo_id: str, **cells: bytes):
    base = {"id": marketo_id.encode(), "firstName": b"Bad", "lastName": b"Input", "sfdcLeadOwnerId": OWNER,
            "sfdcType": b"Lead", "unsubscribed": b"false", "emailInvalid": b"false",
            "updatedAt": b"2026-01-02T03:04:05Z", "email": f"p{marketo_id}@example.invalid".encode()}
    return csv_line(**{**base, **cells})


# marketo id -> (raw row, expected outcome): ("synced", {actions column: exact value}) or ("quarantined", reason part)
CORPUS = {
    90001: (person("90001", email=b"not-an-email"), ("synced", {"email": "not-an-email"})),
    90002: (person("90002", email=b'""'), ("synced", {"email": None})),
    90003: (person("90003", firstName=b"null", lastName=b"null"), ("synced", {"first_name": None, "last_name": None})),
    90004: (person("90004", title=LONG.encode()), ("synced", {"title": LONG})),
    90005: (person("90005", company=b"Acme\x00Corp"), ("synced", {"company": "AcmeCorp"})),  # repaired
    90006: (person("90006", title=b"tab\there\x01\x1b[31m"), ("synced", {"title": "tab\there\x01\x1b[31m"})),
    90007: (person("90007", lastName=b"M\xfcller"), ("synced", {"last_name": "M\ufffdller"})),  # repaired
    90008: (person("90008", firstName="山田 太郎 🎉".encode(), company="株式会社テスト".encode()),
            ("synced", {"first_name": "山田 太郎 🎉", "company": "株式会社テスト"})),
    90009: (person("90009", firstName=QUOTED_CELL),
            ("synced", {"first_name": 'Ann "The Hammer", Jr.\r\nsecond line'})),
    90011: (person("90011", sfdcLeadOwnerId=b"005DOESNOTRESOLVE"), ("synced", {"email": "p90011@example.invalid"})),
    90012: (person("90012", updatedAt=b"yesterday"), ("quarantined", "updatedAt")),
    90013: (person("90013", unsubscribed=b"maybe"), ("quarantined", "unsubscribed")),
    90014: (person("90014", lastName="O'Brien\\'; DELETE".encode()), ("synced", {"last_name": "O'Brien\\'; DELETE"})),
}
BAD_ID_ROW = person("12abc")  # no usable Marketo id at all
DUPLICATES = [person("90010", title=b"first copy"), person("90010", title=b"second copy")]


def test_people_corpus_through_the_bulk_file(make_marketo_sandbox, database_url):
    served = make_marketo_sandbox(seed=3, size=150)
    for render, _ in CORPUS.values():
        served.sandbox.add_raw_export_line(render)
    for render in [BAD_ID_ROW, *DUPLICATES]:
        served.sandbox.add_raw_export_line(render)

    result = dg.materialize(PERSON_ASSETS, resources=resources(database_url, marketo=served))
    assert result.success

    columns = list(SYNCED_FIELDS.values())
    with psycopg.connect(database_url) as conn:
        synced = {row[columns.index("marketo_id")]: dict(zip(columns, row))
                  for row in conn.execute(f"SELECT {', '.join(columns)} FROM actions_person")}
        quarantine = conn.execute("SELECT source_key, marketo_id, reason FROM person_quarantine").fetchall()
    reasons = {marketo_id: reason for _, marketo_id, reason in quarantine}

    for marketo_id, (_, (outcome, expected)) in CORPUS.items():
        if outcome == "synced":
            assert marketo_id in synced, f"{marketo_id} should sync"
            assert {k: synced[marketo_id][k] for k in expected} == expected, marketo_id
            assert marketo_id not in reasons
        else:
            assert marketo_id not in synced, f"{marketo_id} should be quarantined"
            assert expected in reasons[marketo_id], (marketo_id, reasons[marketo_id])
    # Each repair is visible: the person's id and the field, not the value.
    assert set(fetch(database_url, "SELECT marketo_id, field FROM person_repair")) == {
        (90005, "company"), (90007, "last_name")}
    (extract_event,) = result.asset_materializations_for_node("marketo_person_extract")
    assert extract_event.metadata["people_repaired"].value == 2
    assert "Acme" not in str(extract_event.metadata["repairs"].value)
    # The unusable id is quarantined under its source key, with a reason.
    assert any(marketo_id is None and "id" in reason for _, marketo_id, reason in quarantine)
    # Two rows with one Marketo id: one Actions person, never two (and nothing crashed).
    assert 90010 in synced or 90010 in reasons
    assert fetch(database_url, "SELECT count(*) FROM actions_person WHERE marketo_id = 90010")[0][0] <= 1
    # Every good row of the seed still synced, byte for byte.
    good = expected_actions_people(generate_people(3, 150))
    assert good <= {tuple(row.values()) for row in synced.values()}


INJECTION_ID = "003' OR Name != '"


def load_people_with(database_url: str, edits: dict[int, dict]) -> None:
    """The Actions person table from the Salesforce org's seed (42, 300), with some raw values edited."""
    raw = generate_people(42, 300)[list(EXTRACT_FIELDS)].set_index("id", drop=False)
    for marketo_id, values in edits.items():
        for name, value in values.items():
            raw.at[marketo_id, name] = value
    load_raw_people(database_url, raw.reset_index(drop=True))


def test_unsubscribes_with_ids_and_names_that_would_break_soql(salesforce_sandbox, database_url):
    seed = generate_people(42, 300)
    owned = seed[seed["sfdcLeadOwnerId"].notna() & seed["sfdcContactId"].notna() & ~seed["unsubscribed"]]
    broken, quoted = int(owned["id"].iloc[0]), int(owned["id"].iloc[1])
    contact_of_quoted = owned["sfdcContactId"].iloc[1]
    load_people_with(database_url, {broken: {"sfdcContactId": INJECTION_ID},
                                    quoted: {"lastName": "O'Hara \\' OR '1'='1", "firstName": 'Zoë "Z"'}})
    with psycopg.connect(database_url) as conn:
        actions_app.record_opt_out(conn, quoted, datetime.now(timezone.utc))

    result = dg.materialize([unsubscribes.salesforce_unsubscribes, unsubscribes.marketo_unsubscribe_status],
                            resources=resources(database_url, salesforce=salesforce_sandbox))
    assert result.success
    (reason,) = fetch(database_url, "SELECT reason FROM unsubscribe_quarantine WHERE marketo_id = %s", (broken,))[0]
    assert reason  # quarantined with a reason, not sent into a query
    assert salesforce_sandbox.sandbox.get("Contact", contact_of_quoted)["HasOptedOutOfEmail"] is True


def test_tasks_with_missing_or_wrong_fields(salesforce_sandbox, salesforce_clock, database_url):
    org = salesforce_sandbox.sandbox
    who = next(r["Id"] for r in org.records("Lead") if not r["IsConverted"])
    tricky = "it's \"quoted\" \\ '; DELETE FROM Task --"
    no_subject = org.create("Task", ActivityDate=date(2026, 7, 2), WhoId=who)
    no_date = org.create("Task", Subject="No due date", WhoId=who)
    quoted = org.create("Task", Subject=tricky, ActivityDate=date(2026, 7, 2), WhoId=who)
    # The tasks belong to the API user (no OwnerId given): the seller here.
    task_seller(database_url, org.integration_user_id, salesforce_clock.current)
    run_config = task_sync_run_config(salesforce_clock.current.isoformat())
    task_assets = [tasks.salesforce_tasks, tasks.actions_tasks, tasks.command_center_tasks]
    assert dg.materialize(task_assets, resources=resources(database_url, salesforce=salesforce_sandbox),
                          run_config=run_config).success

    subjects = dict(fetch(database_url, "SELECT salesforce_task_id, subject FROM actions_task"))
    assert subjects[quoted] == tricky and subjects.get(no_subject) is None and no_date in subjects

    # Actions tasks Salesforce will refuse: an id that is not one, a status outside the picklist.
    salesforce_clock.advance(minutes=1)
    now = salesforce_clock.current
    with psycopg.connect(database_url, autocommit=True) as conn:
        mine = {"owner_id": org.integration_user_id, "due_date": date(2026, 7, 2)}
        bad_who = actions_app.create_task(conn, now, subject="bad who", who_id="00Q' OR '1'='1", **mine)
        bad_status = actions_app.create_task(conn, now, subject="bad status", status="Sleeping", **mine)
        good = actions_app.create_task(conn, now, subject=tricky + " from Actions", who_id=who, **mine)
    salesforce_clock.advance(minutes=1)
    run_config = task_sync_run_config(salesforce_clock.current.isoformat())
    assert dg.materialize(task_assets, resources=resources(database_url, salesforce=salesforce_sandbox),
                          run_config=run_config).success
    reasons = dict(fetch(database_url, "SELECT source_key, reason FROM task_quarantine"))
    assert reasons.get(f"actions:{bad_who}") and reasons.get(f"actions:{bad_status}"), reasons
    assert [r["Subject"] for r in org.records("Task") if r.get("Actions_Task_Id__c") == str(good)] == [
        tricky + " from Actions"]


def test_28_people_with_a_nul_byte_are_all_in_actions_and_each_repair_is_visible(make_marketo_sandbox, database_url):
    """The hostile instance of the issue: 28 qualified people with a NUL in one field each."""
    served = make_marketo_sandbox(seed=5, size=300)
    fields = ["firstName", "lastName", "company", "title", "email", "phone", "linkedInProfileURL", "leadSource"]
    nul_people = {95000 + n: fields[n % len(fields)] for n in range(28)}
    for marketo_id, field in nul_people.items():
        served.sandbox.add_raw_export_line(person(str(marketo_id), **{field: b"before\x00after"}))

    result = dg.materialize(PERSON_ASSETS, resources=resources(database_url, marketo=served))
    assert result.success
    qualified = fetch(database_url, "SELECT count(*) FROM sales_owned_people")[0][0]
    in_actions = {row[0] for row in fetch(database_url, "SELECT marketo_id FROM actions_person")}
    assert len(in_actions) == qualified and set(nul_people) <= in_actions
    assert fetch(database_url, "SELECT count(*) FROM person_quarantine")[0][0] == 0
    columns = {name: column for name, column in EXTRACT_FIELDS.items()}
    assert set(fetch(database_url, "SELECT marketo_id, field FROM person_repair")) == {
        (marketo_id, columns[field]) for marketo_id, field in nul_people.items()}
    (extract_event,) = result.asset_materializations_for_node("marketo_person_extract")
    assert extract_event.metadata["people_repaired"].value == 28
