"""normalize_extract: typing, empty-to-missing, and the quarantine reasons."""

import pandas as pd
import pyarrow as pa
import pytest

from sync_pipelines.people.fields import EXTRACT_FIELDS
from sync_pipelines.people.transforms import normalize_extract


def raw(*rows):
    records = [{name: None for name in EXTRACT_FIELDS} | row for row in rows]
    return pd.DataFrame(records, columns=list(EXTRACT_FIELDS)).astype("string")


def test_good_row_is_typed_and_renamed_to_actions_columns():
    clean, bad = normalize_extract(raw({
        "id": "42", "firstName": "花子", "email": "", "unsubscribed": "true",
        "updatedAt": "2025-03-01T10:00:00Z", "sfdcLeadOwnerId": "005A",
    }))
    assert bad.empty
    row = clean.iloc[0]
    assert row["marketo_id"] == 42 and clean["marketo_id"].dtype == "int64"
    assert row["first_name"] == "花子"
    assert pd.isna(row["email"])  # empty means missing, never ''
    assert row["unsubscribed"] is True or row["unsubscribed"] == True  # noqa: E712 (pandas boolean)
    assert row["marketo_updated_at"] == pd.Timestamp("2025-03-01T10:00:00Z")
    assert row["owner_id"] == "005A"


@pytest.mark.parametrize(
    ("row", "reason"),
    [
        ({"id": None}, "Marketo id is missing or not a positive integer"),
        ({"id": "12x"}, "Marketo id is missing or not a positive integer"),
        ({"id": "-3"}, "Marketo id is missing or not a positive integer"),
        ({"id": "7", "updatedAt": "yesterday"}, "updatedAt is not a valid timestamp"),
        ({"id": "7", "unsubscribed": "perhaps"}, "unsubscribed is not a boolean"),
    ],
)
def test_bad_rows_are_quarantined_with_their_reason(row, reason):
    clean, bad = normalize_extract(raw({"id": "1"}, row))
    assert list(clean["marketo_id"]) == [1]  # the good row still goes through
    assert len(bad) == 1 and reason in bad.iloc[0]["reason"]


def test_quarantine_keys_rows_by_marketo_id_when_usable_and_escapes_nul():
    _, bad = normalize_extract(raw({"id": "7", "firstName": "x\x00", "unsubscribed": "perhaps"},
                                   {"id": "oops", "firstName": "y"}))
    assert bad.iloc[0]["source_key"] == "marketo:7" and bad.iloc[0]["marketo_id"] == 7
    assert bad.iloc[0]["source_row"]["firstName"] == "x\\x00"
    assert bad.iloc[1]["source_key"].startswith("row:") and pd.isna(bad.iloc[1]["marketo_id"])


def test_nul_bytes_are_removed_and_each_repair_is_listed_without_the_value():
    repairs = []
    clean, bad = normalize_extract(
        raw({"id": "1", "lastName": "a\x00b", "company": "\x00"}, {"id": "2", "title": "ok"},
            {"id": "3", "firstName": "c\x00", "updatedAt": "yesterday"}, {"id": "x", "email": "\x00"}),
        repairs,
    )
    assert list(clean["marketo_id"]) == [1, 2]  # the repaired person syncs
    assert clean.iloc[0]["last_name"] == "ab" and pd.isna(clean.iloc[0]["company"])
    assert sorted(bad["marketo_id"].dropna().astype(int)) == [3]  # an unreadable timestamp is not guessed
    (listed,) = repairs
    assert sorted(map(tuple, listed.to_numpy().tolist())) == [
        (1, "company", "NUL byte removed"), (1, "last_name", "NUL byte removed")]  # ids and fields only


def test_missing_extract_field_is_a_clear_error():
    with pytest.raises(ValueError, match="sfdcLeadOwnerId"):
        normalize_extract(raw({"id": "1"}).drop(columns=["sfdcLeadOwnerId"]))


def test_undecodable_bytes_sync_as_the_replacement_character_and_the_repair_is_listed():
    undecodable = b"Jos\xe9".decode("utf-8", "replace")  # Latin-1 bytes in a UTF-8 file, as the reader sees them
    repairs = []
    clean, bad = normalize_extract(raw({"id": "1"}, {"id": "2", "lastName": undecodable}), repairs)
    assert list(clean["marketo_id"]) == [1, 2] and bad.empty
    assert clean.iloc[1]["last_name"] == "Jos\ufffd"
    assert repairs[0].to_dict("records") == [
        {"marketo_id": 2, "field": "last_name", "repair": "bytes that are not UTF-8 replaced by U+FFFD"}]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2025-03-01T10:00:00Z", "2025-03-01T10:00:00Z"),  # Marketo's own form
        ("2025-03-01T19:00:00+0900", "2025-03-01T10:00:00Z"),
        ("2025-03-01T10:00:00.250Z", "2025-03-01T10:00:00.250Z"),  # other ISO 8601 forms still read
        ("2025-03-01T10:00:00", "2025-03-01T10:00:00Z"),
    ],
)
def test_updated_at_is_read_in_every_iso_form_as_utc(text, expected):
    clean, bad = normalize_extract(raw({"id": "1", "updatedAt": text}))
    assert bad.empty
    assert clean.iloc[0]["marketo_updated_at"] == pd.Timestamp(expected)


def test_arrow_backed_slices_are_checked_row_by_row():
    # The reader hands over slices of Arrow record batches; a NUL in the slice must still be found,
    # and one outside it (in the shared buffer) must not reject the slice's rows.
    columns = {name: pa.array([None] * 4, pa.string()) for name in EXTRACT_FIELDS}
    columns |= {"id": pa.array(["1", "2", "3", "4"]), "firstName": pa.array(["a\x00", "b", "c\x00", "d"])}
    whole = pa.table(columns)
    chunk = whole.slice(1, 2).to_pandas(types_mapper=pd.ArrowDtype)
    repairs = []
    clean, bad = normalize_extract(chunk, repairs)
    assert list(clean["marketo_id"]) == [2, 3] and bad.empty
    assert list(clean["first_name"]) == ["b", "c"]
    assert repairs[0]["marketo_id"].tolist() == [3]


def test_the_last_window_covers_the_second_the_plan_is_made_in():
    """Marketo's createdAt filter is written to the second and endAt is inclusive: a lead created at
    12:00:00.5 while the plan is made at 12:00:00.7 must fall inside the last window, not after it."""
    from datetime import datetime, timezone

    from sync_pipelines.people.full_extract import _plan_windows

    before = datetime.now(timezone.utc)
    filters, (_, until), source = _plan_windows(None, None, "2026-01-01T00:00:00+00:00")
    last_end = datetime.fromisoformat(filters[-1]["createdAt"]["endAt"].replace("Z", "+00:00"))
    assert source == "MARKETO_EXTRACT_SINCE" and last_end == until
    assert last_end >= before
