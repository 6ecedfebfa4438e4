"""Pure transforms of the people domain: Marketo extract rows in, typed rows and quarantined rows out."""

from __future__ import annotations

import hashlib
import json

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from sync_pipelines.people.fields import EXTRACT_FIELDS, REQUIRED_FIELDS
from sync_pipelines.store.person_checks import REASON_SEPARATOR

_FLAG_COLUMNS = ["unsubscribed", "email_invalid"]
_TEXT_COLUMNS = [
    column for column in EXTRACT_FIELDS.values() if column not in ("marketo_id", "marketo_updated_at", *_FLAG_COLUMNS)
]
# Strings stay in Arrow memory: pandas runs these string methods as Arrow kernels, with no Python object
# per value (a million-row export has 15 million of them).
_TEXT = pd.ArrowDtype(pa.string())
# Bytes that were not UTF-8 arrive as U+FFFD (the bulk reader replaces them).
_UNDECODABLE = "\ufffd"
_TRUE = ["true", "1", "yes"]
_FALSE = ["false", "0", "no"]
_MARKETO_TIME = "%Y-%m-%dT%H:%M:%S%z"  # what Marketo writes: 2025-01-31T12:00:00Z (or +0000)
QUARANTINE_COLUMNS = ["source_key", "marketo_id", "reason", "source_row"]
REPAIR_COLUMNS = ["marketo_id", "field", "repair"]
# Values PostgreSQL text cannot store, and what the sync stores instead (a person is repaired, not withheld).
NUL_REMOVED = "NUL byte removed"
NOT_UTF8_REPLACED = "bytes that are not UTF-8 replaced by U+FFFD"


def normalize_extract(
    raw: pd.DataFrame, repairs: list[pd.DataFrame] | None = None
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Type and validate a chunk of Marketo lead rows (strings, missing values as NA).

    Returns (clean, quarantined). `clean` has the extract columns under their Actions names; empty
    strings become missing. `quarantined` has one row per rejected source row: source_key, marketo_id
    (when usable), reason (every problem found, joined by '; ') and source_row (the raw values).

    A text value PostgreSQL cannot store is repaired, not withheld: a NUL byte is removed, bytes that were
    not UTF-8 stay as U+FFFD (the reader's replacement). Each repair of a row that syncs is appended to
    `repairs` (when given) as marketo_id, field (the Actions column) and repair: never the value itself.
    Only rows without a usable id, or with a value that cannot be repaired without guessing (a flag or a
    timestamp that cannot be read), are quarantined.
    """
    missing = [name for name in REQUIRED_FIELDS if name not in raw.columns]
    if missing:
        raise ValueError(f"Marketo extract lacks the fields: {', '.join(missing)}")
    absent = [name for name in EXTRACT_FIELDS if name not in raw.columns]
    if absent:  # support fields the instance lacks (not requested): missing in every row
        raw = raw.assign(**{name: None for name in absent})

    frame = raw[list(EXTRACT_FIELDS)].rename(columns=EXTRACT_FIELDS).reset_index(drop=True).astype(_TEXT)
    problems: dict[str, np.ndarray] = {}  # reason -> the rows it applies to (vectorised: no per-row lists)
    typed: dict[str, pd.Series] = {}

    # Marketo ids are positive integers; without one a row has no key and cannot be synced.
    id_text = frame["marketo_id"].str.strip()
    digits = _rows(id_text.str.fullmatch(r"[0-9]{1,18}"))
    marketo_id = id_text.where(digits).astype("int64[pyarrow]")
    valid_id = _rows(marketo_id > 0)
    problems["Marketo id is missing or not a positive integer"] = ~valid_id
    typed["marketo_id"] = marketo_id.where(valid_id)

    repaired = _repair_text(frame, typed)

    updated_text = frame["marketo_updated_at"]
    updated_at = _parse_times(updated_text)
    problems["updatedAt is not a valid timestamp"] = _rows(updated_text.notna()) & ~_rows(updated_at.notna())
    typed["marketo_updated_at"] = updated_at

    _read_flags(frame, typed, problems)

    reasons = list(problems)
    found = np.column_stack(list(problems.values()))
    rejected = found.any(axis=1)
    typed_frame = pd.DataFrame(typed)[list(EXTRACT_FIELDS.values())]
    clean = typed_frame[~rejected].astype({"marketo_id": "int64"})
    row_reasons = [REASON_SEPARATOR.join(reason for reason, applies in zip(reasons, row) if applies) for row in found[rejected]]
    quarantined = _quarantine_rows(raw.reset_index(drop=True)[rejected], typed["marketo_id"][rejected], row_reasons)
    if repairs is not None and repaired:
        repairs.append(_repair_rows(typed["marketo_id"], repaired, ~rejected))
    return clean.reset_index(drop=True), quarantined


def _repair_text(frame: pd.DataFrame, typed: dict[str, pd.Series]) -> dict[tuple[str, str], np.ndarray]:
    """Put each text column into `typed`, repaired; returns (column, repair) -> the rows it was done to."""
    repaired: dict[tuple[str, str], np.ndarray] = {}
    for column in _TEXT_COLUMNS:
        text = frame[column]
        has_nul, has_undecodable = _rows_containing(text, ["\x00", _UNDECODABLE])
        if has_nul.any():
            # PostgreSQL text cannot hold NUL: the person syncs without it, and the repair is recorded.
            text = text.str.replace("\x00", "", regex=False)
            repaired[(column, NUL_REMOVED)] = has_nul
        if has_undecodable.any():
            repaired[(column, NOT_UTF8_REPLACED)] = has_undecodable
        typed[column] = text.replace("", None)
    return repaired


def _read_flags(frame: pd.DataFrame, typed: dict[str, pd.Series], problems: dict[str, np.ndarray]) -> None:
    """Put each flag column into `typed` as a nullable boolean; a value that is no boolean is a problem."""
    for column in _FLAG_COLUMNS:
        text = frame[column].str.strip().str.lower()
        is_true, is_false = _rows(text.isin(_TRUE)), _rows(text.isin(_FALSE))
        flag = pd.Series(pd.NA, index=frame.index, dtype="boolean")
        flag[is_true], flag[is_false] = True, False
        problems[f"{column} is not a boolean"] = _rows(text != "") & ~is_true & ~is_false
        typed[column] = flag


def _repair_rows(marketo_ids: pd.Series, repaired: dict[tuple[str, str], np.ndarray], synced: np.ndarray) -> pd.DataFrame:
    """One row per repaired field of a row that syncs: marketo_id, field, repair (no values)."""
    parts = [
        pd.DataFrame({"marketo_id": marketo_ids[rows & synced].astype("int64").to_numpy(), "field": column, "repair": repair})
        for (column, repair), rows in repaired.items()
    ]
    return pd.concat(parts, ignore_index=True)[REPAIR_COLUMNS]


def _rows(mask: pd.Series) -> np.ndarray:
    """A nullable boolean Series as a numpy mask (a missing value does not apply)."""
    return mask.to_numpy(dtype=bool, na_value=False)


def _rows_containing(text: pd.Series, needles: list[str]) -> list[np.ndarray]:
    """For each needle, the rows whose text contains it.

    One byte search of the column's Arrow data rules out most needles; the data of a slice may extend
    beyond it, and a hit there only costs the exact per-row check.
    """
    column = pa.chunked_array(pa.array(text, type=pa.string()))
    data = b"".join(bytes(chunk.buffers()[2] or b"") for chunk in column.chunks)
    return [
        _rows(text.str.contains(needle, regex=False)) if needle.encode() in data else np.zeros(len(text), dtype=bool)
        for needle in needles
    ]


def _parse_times(text: pd.Series) -> pd.Series:
    """ISO 8601 text as UTC timestamps; unreadable text becomes missing.

    Arrow parses Marketo's own format quickly; the few values in any other ISO 8601 form (fractions of a
    second, no zone) go through pandas' general parser.
    """
    parsed = pc.strptime(pa.array(text, type=pa.string()), format=_MARKETO_TIME, unit="us", error_is_null=True)
    times = pd.Series(parsed.to_pandas(), index=text.index).dt.tz_convert("UTC")
    other_forms = text.notna() & times.isna()
    if other_forms.any():
        times[other_forms] = pd.to_datetime(text[other_forms], utc=True, errors="coerce", format="ISO8601")
    return times


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
