"""SOQL building (client side) and the emulator's parser (no server needed)."""

from __future__ import annotations

from datetime import date, datetime, timezone

import pytest

from sync_pipelines.salesforce import quote, soql_in
from sync_pipelines.sandbox.salesforce_soql import SoqlError, compile_query, matches

OBJECTS = {"Task": {"Id": "id", "Subject": "string", "IsClosed": "boolean", "ActivityDate": "date",
                    "SystemModstamp": "datetime", "CallDurationInSeconds": "int"}}
TODAY = date(2026, 7, 1)


def test_quote_escapes_every_special_character():
    assert quote('O\'Brien "x" \\ y\n\t') == "'O\\'Brien \\\"x\\\" \\\\ y\\n\\t'"
    assert quote(True) == "true" and quote(None) == "null" and quote(42) == "42"
    assert quote(date(2026, 7, 1)) == "2026-07-01"
    assert quote(datetime(2026, 7, 1, 9, 30, 5, 123, tzinfo=timezone.utc)) == "2026-07-01T09:30:05Z"
    with pytest.raises(ValueError):
        quote(datetime(2026, 7, 1))
    assert soql_in(["a", "b'c"]) == "('a','b\\'c')"
    with pytest.raises(ValueError):
        soql_in([])


@pytest.mark.parametrize("value", ['O\'Brien "x" \\ y', "multi\nline\ttab", "100%_", "日本語 😀", "\\'"])
def test_quote_round_trips_through_the_parser(value):
    query = compile_query(f"SELECT Id FROM Task WHERE Subject = {quote(value)}", OBJECTS, TODAY)
    assert query.where.literal.value == value
    assert matches({"Subject": value}, query.where)


def _select(where, record):
    return matches(record, compile_query(f"select id from task where {where}", OBJECTS, TODAY).where)


def test_operators():
    record = {"Subject": "Call Back", "IsClosed": False, "ActivityDate": TODAY, "CallDurationInSeconds": 30,
              "SystemModstamp": datetime(2026, 7, 1, 8, tzinfo=timezone.utc)}
    assert _select("subject = 'call back'", record)  # case-insensitive like Salesforce
    assert _select("Subject LIKE 'Call%' AND IsClosed = FALSE", record)
    assert _select("ActivityDate = TODAY AND CallDurationInSeconds >= 30", record)
    assert _select("SystemModstamp > 2026-07-01T07:59:59Z AND SystemModstamp < 2026-07-01T10:00:01+02:00", record)
    assert _select("Subject NOT IN ('x', 'y') AND (IsClosed = TRUE OR CallDurationInSeconds != null)", record)
    assert _select("NOT Subject = 'x'", record)
    assert not _select("Subject != null AND ActivityDate > TODAY", record)
    assert _select("Subject != 'x'", {"Subject": None})  # != matches nulls


@pytest.mark.parametrize("soql, code", [
    ("SELECT Id FROM Task WHERE IsClosed = true AND Subject = 'a' OR Subject = 'b'", "MALFORMED_QUERY"),
    ("SELECT Id FROM Task WHERE Subject = 'unterminated", "MALFORMED_QUERY"),
    ("SELECT Id FROM Task WHERE Subject = 'bad \\q escape'", "MALFORMED_QUERY"),
    ("SELECT Id Task", "MALFORMED_QUERY"),
    ("SELECT Id FROM Task LIMIT x", "MALFORMED_QUERY"),
    ("SELECT Nope FROM Task", "INVALID_FIELD"),
    ("SELECT Id FROM Task WHERE IsClosed = 'yes'", "INVALID_FIELD"),
    ("SELECT Id FROM Case", "INVALID_TYPE"),
])
def test_refused_queries(soql, code):
    with pytest.raises(SoqlError) as raised:
        compile_query(soql, OBJECTS, TODAY)
    assert raised.value.code == code
