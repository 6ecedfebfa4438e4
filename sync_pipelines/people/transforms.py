"""Pure transforms of the people domain: Marketo extract rows in, typed rows and quarantined rows out."""

from __future__ import annotations

import hashlib
import json

import pandas as pd

from sync_pipelines.people.fields import EXTRACT_FIELDS

_FLAG_COLUMNS = ["unsubscribed", "email_invalid"]
_TEXT_COLUMNS = [
    column for column in EXTRACT_FIELDS.values() if column not in ("marketo_id", "marketo_updated_at", *_FLAG_COLUMNS)
]
# Bytes that were not UTF-8 arrive as U+FFFD (the bulk reader replaces them).
_UNDECODABLE = "\ufffd"
_TRUE = {"true", "1", "yes"}
_FALSE = {"false", "0", "no"}
QUARANTINE_COLUMNS = ["source_key", "marketo_id", "reason", "source_row"]


def normalize_extract(raw: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Type and validate a chunk of Marketo lead rows (strings, missing values as NA).

    Returns (clean, quarantined). `clean` has the extract columns under their Actions names; empty
    strings become missing. `quarantined` has one row per rejected source row: source_key, marketo_id
    (when usable), reason (every problem found, joined by '; ') and source_row (the raw values).
    """
    missing = [name for name in EXTRACT_FIELDS if name not in raw.columns]
    if missing:
        raise ValueError(f"Marketo extract lacks the fields: {', '.join(missing)}")

    frame = raw[list(EXTRACT_FIELDS)].rename(columns=EXTRACT_FIELDS).reset_index(drop=True)
    problems: dict[str, pd.Series] = {}  # reason -> the rows it applies to (vectorised: no per-row lists)
    typed: dict[str, pd.Series] = {}

    # Marketo ids are positive integers; without one a row has no key and cannot be synced.
    marketo_id = pd.to_numeric(frame["marketo_id"], errors="coerce")
    valid_id = marketo_id.notna() & (marketo_id > 0) & (marketo_id == marketo_id.round())
    problems["Marketo id is missing or not a positive integer"] = ~valid_id
    typed["marketo_id"] = marketo_id.where(valid_id).astype("Int64")

    for column in _TEXT_COLUMNS:
        text = frame[column].astype("string")
        # PostgreSQL text cannot hold NUL; dropping it silently would alter the person's data.
        problems[f"{column} contains a NUL byte"] = text.str.contains("\x00", regex=False).fillna(False)
        problems[f"{column} is not valid UTF-8"] = text.str.contains(_UNDECODABLE, regex=False).fillna(False)
        typed[column] = text.where(text != "")

    updated_at = pd.to_datetime(frame["marketo_updated_at"], utc=True, errors="coerce", format="ISO8601")
    problems["updatedAt is not a valid timestamp"] = frame["marketo_updated_at"].notna() & updated_at.isna()
    typed["marketo_updated_at"] = updated_at

    for column in _FLAG_COLUMNS:
        text = frame[column].astype("string").str.strip().str.lower()
        flag = pd.Series(pd.NA, index=frame.index, dtype="boolean")
        flag[text.isin(_TRUE)] = True
        flag[text.isin(_FALSE)] = False
        problems[f"{column} is not a boolean"] = (text.notna() & (text != "") & flag.isna()).astype(bool)
        typed[column] = flag

    found = pd.DataFrame(problems)
    rejected = found.any(axis=1)
    typed_frame = pd.DataFrame(typed)[list(EXTRACT_FIELDS.values())]
    clean = typed_frame[~rejected].astype({"marketo_id": "int64"})
    reasons = [
        "; ".join(reason for reason, applies in zip(found.columns, row) if applies)
        for row in found[rejected].itertuples(index=False)
    ]
    quarantined = _quarantine_rows(raw.reset_index(drop=True)[rejected], typed["marketo_id"][rejected], reasons)
    return clean.reset_index(drop=True), quarantined


def _quarantine_rows(raw: pd.DataFrame, marketo_ids: pd.Series, reasons: list[str]) -> pd.DataFrame:
    records = []
    for (_, source), marketo_id, reason in zip(raw.iterrows(), marketo_ids, reasons):
        source_row = {name: _printable(value) for name, value in source.items()}
        if pd.notna(marketo_id):
            source_key = f"marketo:{marketo_id}"
        else:
            digest = hashlib.sha256(json.dumps(source_row, sort_keys=True).encode()).hexdigest()[:24]
            source_key = f"row:{digest}"
        records.append((source_key, marketo_id, reason, source_row))
    return pd.DataFrame.from_records(records, columns=QUARANTINE_COLUMNS)


def _printable(value: object) -> str | None:
    """A raw value as storable text (JSON in PostgreSQL cannot carry NUL, so it is shown as \\x00)."""
    if value is None or (not isinstance(value, str) and pd.isna(value)):
        return None
    return str(value).replace("\x00", "\\x00")

