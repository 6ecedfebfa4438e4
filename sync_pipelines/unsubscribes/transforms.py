"""Pure transforms of the unsubscribe domain: which Salesforce record is a person's, and who wins.

No I/O here. `resolve_opt_outs` applies the reconciliation rules (see README.md in this package) to one
frame with a row per Actions person, and returns what must change on each side.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import datetime

import pandas as pd

# Salesforce record ids are 15 or 18 letters and digits; anything else cannot go into SOQL or a write.
_SALESFORCE_ID = r"^[A-Za-z0-9]{15}(?:[A-Za-z0-9]{3})?$"

# Outcomes written to unsubscribe_event.
TO_ACTIONS = "to_actions"
TO_SALESFORCE = "to_salesforce"
CONFLICT = "conflict_opt_out_kept"


def salesforce_records(people: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Each person's Salesforce record: the Contact when there is one, else the Lead.

    The Contact wins because a converted Lead is frozen in Salesforce (it cannot be updated) and the
    Contact is the record sellers work. Input columns: marketo_id, salesforce_contact_id, salesforce_lead_id.
    Returns (records, invalid): records has marketo_id, salesforce_id, salesforce_object for the people
    with a well-formed id; invalid has marketo_id, salesforce_id, reason. People with no id are in neither.
    """
    contact = people["salesforce_contact_id"].astype("string").str.strip().replace("", pd.NA)
    lead = people["salesforce_lead_id"].astype("string").str.strip().replace("", pd.NA)
    chosen = pd.DataFrame(
        {
            "marketo_id": people["marketo_id"].astype("int64"),
            "salesforce_id": contact.fillna(lead),
            "salesforce_object": contact.notna().map({True: "Contact", False: "Lead"}),
        }
    )
    chosen = chosen[chosen["salesforce_id"].notna()]
    valid = chosen["salesforce_id"].str.match(_SALESFORCE_ID).fillna(False).astype(bool)
    invalid = chosen[~valid].assign(reason="salesforce id is not a 15 or 18 character record id")
    return chosen[valid].reset_index(drop=True), invalid[["marketo_id", "salesforce_id", "reason"]].reset_index(drop=True)


@dataclass(frozen=True)
class Resolution:
    """What one person's reconciliation decided.

    target: the opt-out state both sides must end with. push: Salesforce must be written to reach it.
    actions_*: the new Actions record when Actions must change (actions_update), else None.
    sf_*: what is now known of the Salesforce record. agreed_*: the value both sides hold together
    (left as before while a push is still due). event_*: the audit entry, if any.
    """

    marketo_id: int
    target: bool
    push: bool
    actions_update: bool
    actions_opted_out: bool | None
    actions_source: str | None
    actions_changed_at: datetime | None
    actions_last_opt_out_at: datetime | None
    actions_last_opt_out_source: str | None
    sf_opted_out: bool
    sf_modstamp: datetime | None
    sf_opted_out_at: datetime | None
    agreed_opted_out: bool | None
    event_source: str | None
    event_opted_out: bool | None
    event_occurred_at: datetime | None
    event_outcome: str | None


def _value(row: pd.Series, name: str):
    value = row.get(name)
    return None if value is None or value is pd.NaT or (not isinstance(value, (list, dict)) and pd.isna(value)) else value


def _after(when: datetime | None, than: datetime | None) -> bool:
    """Strictly later, when both are known; an unknown time never proves anything."""
    return when is not None and than is not None and when > than


def resolve_person(row: pd.Series, now: datetime) -> Resolution:
    """Reconcile one person. Columns read (missing values as NA):

    marketo_id; a_exists, a_opted_out, a_source, a_changed_at, a_last_opt_out_at, a_last_opt_out_source
    (the Actions record); known (a state row exists for this same Salesforce record), stored_opted_out,
    stored_modstamp, stored_opted_out_at, agreed_opted_out (that state row); fresh, fresh_opted_out,
    fresh_modstamp (a Salesforce reading newer than the stored one).
    """
    a_exists = bool(_value(row, "a_exists"))
    actions = bool(_value(row, "a_opted_out")) if a_exists else False
    known = bool(_value(row, "known"))
    fresh = bool(_value(row, "fresh"))
    stored_opted_out_at = _value(row, "stored_opted_out_at")
    agreed = _value(row, "agreed_opted_out") if known else None

    sf = bool(_value(row, "fresh_opted_out")) if fresh else bool(_value(row, "stored_opted_out"))
    sf_modstamp = _value(row, "fresh_modstamp") if fresh else _value(row, "stored_modstamp")
    was_opted_out = known and bool(_value(row, "stored_opted_out"))
    # When Salesforce's current opt-out began: kept from before, else the reading that first showed it
    # (its SystemModstamp: the latest the opt-out can have happened).
    sf_opted_out_at = (stored_opted_out_at if was_opted_out and stored_opted_out_at is not None else sf_modstamp) if sf else None

    base = dict(
        marketo_id=int(row["marketo_id"]), actions_update=False, actions_opted_out=None, actions_source=None,
        actions_changed_at=None, actions_last_opt_out_at=None, actions_last_opt_out_source=None,
        sf_opted_out=sf, sf_modstamp=sf_modstamp, sf_opted_out_at=sf_opted_out_at,
        event_source=None, event_opted_out=None, event_occurred_at=None, event_outcome=None,
    )
    if actions == sf:
        return Resolution(**base, target=sf, push=False, agreed_opted_out=sf)

    # The two sides disagree: decide whose change this is and whether it travels. On the first meeting of
    # this person and this Salesforce record, an Actions opt-out travels; a Salesforce opt-out travels
    # unless Actions holds an explicit re-subscribe made after it.
    actions_changed = (actions or a_exists) if agreed is None else actions != agreed
    decide = _actions_changed if actions_changed else _salesforce_changed
    target, updates = decide(row, actions, sf, sf_modstamp, sf_opted_out_at, now)
    base.update(updates)
    push = target != sf
    return Resolution(**base, target=target, push=push, agreed_opted_out=agreed if push else target)


def _actions_changed(row: pd.Series, actions: bool, sf: bool, sf_modstamp, sf_opted_out_at, now: datetime):
    """Actions changed: (target, resolution fields). An opt-out travels; a re-subscribe only when newer
    than Salesforce's opt-out, else the opt-out stays on both sides (a conflict)."""
    a_changed_at = _value(row, "a_changed_at")
    if actions:
        outcome, target = TO_SALESFORCE, True
    elif _after(a_changed_at, sf_opted_out_at):
        outcome, target = TO_SALESFORCE, False  # a re-subscribe newer than Salesforce's opt-out
    else:
        outcome, target = CONFLICT, True
    updates = _event("actions", actions, a_changed_at or now, outcome)
    if outcome == CONFLICT:
        # The Actions re-subscribe loses: the person stays opted out, as Salesforce holds it.
        updates.update(_from_salesforce(True, sf_opted_out_at or now, _value(row, "a_last_opt_out_at"),
                                        _value(row, "a_last_opt_out_source")))
    return target, updates


def _salesforce_changed(row: pd.Series, actions: bool, sf: bool, sf_modstamp, sf_opted_out_at, now: datetime):
    """Salesforce changed: (target, resolution fields). Its re-subscribe happened after the last reading that
    still showed the opt-out (stored_modstamp): it travels only when that reading is not older than Actions'
    last opt-out; otherwise Actions' opt-out may be the newer one, and it stays."""
    a_last_opt_out_at = _value(row, "a_last_opt_out_at")
    stored_modstamp = _value(row, "stored_modstamp")
    if sf:
        outcome, target = TO_ACTIONS, True
    elif a_last_opt_out_at is None or (stored_modstamp is not None and stored_modstamp >= a_last_opt_out_at):
        outcome, target = TO_ACTIONS, False
    else:
        outcome, target = CONFLICT, True
    updates = _event("salesforce", sf, sf_modstamp or now, outcome)
    if outcome == TO_ACTIONS:
        updates.update(_from_salesforce(sf, sf_modstamp or now, (sf_modstamp or now) if sf else a_last_opt_out_at,
                                        "salesforce" if sf else _value(row, "a_last_opt_out_source")))
    return target, updates


def _event(source: str, opted_out: bool, occurred_at: datetime, outcome: str) -> dict:
    return dict(event_source=source, event_opted_out=opted_out, event_occurred_at=occurred_at, event_outcome=outcome)


def _from_salesforce(opted_out: bool, changed_at: datetime, last_opt_out_at, last_opt_out_source) -> dict:
    """The Actions record rewritten with Salesforce's state."""
    return dict(actions_update=True, actions_opted_out=opted_out, actions_source="salesforce",
                actions_changed_at=changed_at, actions_last_opt_out_at=last_opt_out_at,
                actions_last_opt_out_source=last_opt_out_source)


RESOLUTION_COLUMNS = list(Resolution.__dataclass_fields__)


def resolve_opt_outs(people: pd.DataFrame, now: datetime) -> pd.DataFrame:
    """What `resolve_person` decides, for every row; one output row per person, columns RESOLUTION_COLUMNS.

    Most people agree on both sides, and for them the answer needs no rule: they keep Salesforce's state
    and nothing travels. Those are resolved column-wise; only the rows that disagree go through the rules.
    """
    sides = _salesforce_side(people)
    actions = _flag(people["a_exists"]) & _flag(people["a_opted_out"])
    agree = actions == sides["sf_opted_out"]
    disagreeing = [asdict(resolve_person(row, now)) for _, row in people[~agree].iterrows()]
    agreeing = sides[agree].assign(
        marketo_id=people.loc[agree, "marketo_id"].astype("int64"), target=sides.loc[agree, "sf_opted_out"],
        push=False, actions_update=False, agreed_opted_out=sides.loc[agree, "sf_opted_out"])
    resolved = pd.concat([agreeing.reindex(columns=RESOLUTION_COLUMNS).astype(object),
                          pd.DataFrame(disagreeing, columns=RESOLUTION_COLUMNS)])
    resolved = resolved.where(resolved.notna(), None).sort_values("marketo_id", kind="stable")
    return resolved.astype({flag: bool for flag in ("target", "push", "actions_update", "sf_opted_out")}).reset_index(drop=True)


def _flag(values: pd.Series) -> pd.Series:
    """A nullable boolean column as plain booleans (missing is False)."""
    return values.astype("boolean").fillna(False).astype(bool)


def _salesforce_side(people: pd.DataFrame) -> pd.DataFrame:
    """resolve_person's view of Salesforce, column-wise: sf_opted_out, sf_modstamp, sf_opted_out_at."""
    fresh = _flag(people["fresh"])
    sf = _flag(people["fresh_opted_out"]).where(fresh, _flag(people["stored_opted_out"]))
    modstamp = people["fresh_modstamp"].where(fresh, people["stored_modstamp"])
    was_opted_out = _flag(people["known"]) & _flag(people["stored_opted_out"])
    kept = people["stored_opted_out_at"].where(was_opted_out & people["stored_opted_out_at"].notna(), modstamp)
    return pd.DataFrame({"sf_opted_out": sf, "sf_modstamp": modstamp, "sf_opted_out_at": kept.where(sf, None)},
                        index=people.index)


def record_key(ids: pd.Series) -> pd.Series:
    """Salesforce ids compared by their 15-character case-sensitive form (an 18-character id adds a checksum)."""
    return ids.astype("string").str.slice(0, 15)


def latest_readings(readings: pd.DataFrame) -> pd.DataFrame:
    """One reading per record (the newest SystemModstamp). Columns: salesforce_id, opted_out, modstamp."""
    if readings.empty:
        return pd.DataFrame(columns=["sf_key", "fresh_opted_out", "fresh_modstamp"])
    newest = readings.assign(sf_key=record_key(readings["salesforce_id"])).sort_values("modstamp")
    newest = newest.drop_duplicates("sf_key", keep="last")
    return newest.rename(columns={"opted_out": "fresh_opted_out", "modstamp": "fresh_modstamp"})[
        ["sf_key", "fresh_opted_out", "fresh_modstamp"]
    ]


def reconcile_frame(records: pd.DataFrame, people: pd.DataFrame, readings: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The input of resolve_opt_outs: each person's record, Actions state, stored state and fresh reading.

    records: salesforce_records' output. people: store.unsubscribes.load_people's output. readings: what
    Salesforce returned this run (salesforce_id, opted_out, modstamp). Returns (ready, unread): unread are
    people whose record the sync has never seen and Salesforce did not return (deleted or not visible).
    """
    frame = records.merge(people.drop(columns=["salesforce_contact_id", "salesforce_lead_id"]), on="marketo_id")
    frame["sf_key"] = record_key(frame["salesforce_id"])
    frame["known"] = (record_key(frame["state_salesforce_id"]) == frame["sf_key"]).fillna(False).astype(bool)
    frame = frame.merge(latest_readings(readings), on="sf_key", how="left")
    has_reading = frame["fresh_modstamp"].notna()
    stored = pd.to_datetime(frame["stored_modstamp"], utc=True)
    fresh_stamp = pd.to_datetime(frame["fresh_modstamp"], utc=True)
    # A reading is fresh when it is newer than what the sync already holds (cursor overlap re-reads old ones).
    frame["fresh"] = has_reading & (~frame["known"] | stored.isna() | (fresh_stamp > stored))
    unread = frame[~frame["known"] & ~frame["fresh"]]
    return frame[frame["known"] | frame["fresh"]].reset_index(drop=True), unread[["marketo_id", "salesforce_id"]]
