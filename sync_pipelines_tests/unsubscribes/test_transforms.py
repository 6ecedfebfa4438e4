"""The reconciliation rules, without any server."""

from datetime import datetime, timedelta, timezone

import pandas as pd
import pytest

from sync_pipelines.unsubscribes.transforms import (
    CONFLICT,
    TO_ACTIONS,
    TO_SALESFORCE,
    reconcile_frame,
    resolve_person,
    salesforce_records,
)

T0 = datetime(2026, 7, 1, 9, 0, tzinfo=timezone.utc)


def at(minutes: int) -> datetime:
    return T0 + timedelta(minutes=minutes)


def row(**values) -> pd.Series:
    defaults = dict(marketo_id=1, a_exists=False, a_opted_out=None, a_source=None, a_changed_at=None,
                    a_last_opt_out_at=None, a_last_opt_out_source=None, known=True, stored_opted_out=False,
                    stored_modstamp=at(0), stored_opted_out_at=None, agreed_opted_out=False, fresh=False,
                    fresh_opted_out=None, fresh_modstamp=None)
    return pd.Series({**defaults, **values})


def test_in_step_sides_change_nothing():
    result = resolve_person(row(), at(60))
    assert (result.push, result.actions_update, result.event_outcome) == (False, False, None)


def test_an_actions_opt_out_is_pushed_and_agreed_only_after_the_push():
    result = resolve_person(row(a_exists=True, a_opted_out=True, a_changed_at=at(5), a_last_opt_out_at=at(5)), at(6))
    assert (result.target, result.push, result.event_outcome) == (True, True, TO_SALESFORCE)
    assert result.agreed_opted_out is False  # still the old agreement until Salesforce holds it


def test_a_salesforce_opt_out_reaches_actions_with_its_time():
    result = resolve_person(row(fresh=True, fresh_opted_out=True, fresh_modstamp=at(5)), at(6))
    assert (result.target, result.push, result.event_outcome) == (True, False, TO_ACTIONS)
    assert (result.actions_opted_out, result.actions_source, result.actions_last_opt_out_at) == (True, "salesforce", at(5))
    assert result.sf_opted_out_at == at(5)


@pytest.mark.parametrize("resubscribed_at, outcome, target", [(10, TO_SALESFORCE, False), (3, CONFLICT, True)])
def test_an_actions_resubscribe_travels_only_when_newer_than_the_salesforce_opt_out(resubscribed_at, outcome, target):
    opted_out_both = row(a_exists=True, a_opted_out=False, a_changed_at=at(resubscribed_at), a_last_opt_out_at=at(1),
                         stored_opted_out=True, stored_opted_out_at=at(5), agreed_opted_out=True)
    result = resolve_person(opted_out_both, at(20))
    assert (result.event_outcome, result.target) == (outcome, target)
    assert result.push is (outcome == TO_SALESFORCE)
    if outcome == CONFLICT:  # the opt-out stays in Actions too
        assert (result.actions_update, result.actions_opted_out) == (True, True)


@pytest.mark.parametrize("last_reading, outcome, target, push", [(20, TO_ACTIONS, False, False), (5, CONFLICT, True, True)])
def test_a_salesforce_resubscribe_travels_only_when_after_the_actions_opt_out(last_reading, outcome, target, push):
    # Actions' last opt-out at 10. Salesforce was last seen opted out at `last_reading`, now re-subscribed.
    opted_out_both = row(a_exists=True, a_opted_out=True, a_changed_at=at(10), a_last_opt_out_at=at(10),
                         stored_opted_out=True, stored_modstamp=at(last_reading), stored_opted_out_at=at(1),
                         agreed_opted_out=True, fresh=True, fresh_opted_out=False, fresh_modstamp=at(30))
    result = resolve_person(opted_out_both, at(31))
    assert (result.event_outcome, result.target, result.push) == (outcome, target, push)


def test_first_meeting_merges_opt_outs():
    unknown = dict(known=False, stored_opted_out=None, stored_modstamp=None, agreed_opted_out=None)
    assert resolve_person(row(**unknown, fresh=True, fresh_opted_out=True, fresh_modstamp=at(1)), at(2)).event_outcome == TO_ACTIONS
    actions_out = row(**unknown, a_exists=True, a_opted_out=True, a_changed_at=at(0), a_last_opt_out_at=at(0),
                      fresh=True, fresh_opted_out=False, fresh_modstamp=at(1))
    result = resolve_person(actions_out, at(2))
    assert (result.event_outcome, result.push, result.target) == (TO_SALESFORCE, True, True)


def test_the_contact_wins_over_the_lead_and_bad_ids_are_set_aside():
    people = pd.DataFrame({
        "marketo_id": [1, 2, 3, 4],
        "salesforce_contact_id": ["0035E0000000001AAA", None, "bad id'", None],
        "salesforce_lead_id": ["00Q5E0000000001AAA", "00Q5E0000000002AAA", None, None],
    })
    records, invalid = salesforce_records(people)
    assert records.values.tolist() == [[1, "0035E0000000001AAA", "Contact"], [2, "00Q5E0000000002AAA", "Lead"]]
    assert invalid["marketo_id"].tolist() == [3]


def test_old_readings_from_the_cursor_overlap_are_not_fresh():
    records = pd.DataFrame({"marketo_id": [1, 2], "salesforce_id": ["0035E0000000001AAA", "0035E0000000002AAA"],
                            "salesforce_object": ["Contact", "Contact"]})
    people = pd.DataFrame({"marketo_id": [1, 2], "salesforce_contact_id": [None, None], "salesforce_lead_id": [None, None],
                           "state_salesforce_id": ["0035E0000000001AAA", None], "stored_modstamp": [at(5), None]},
                          dtype=object)
    readings = pd.DataFrame({"salesforce_id": ["0035E0000000001AAA"], "opted_out": [True], "modstamp": [at(5)]})
    ready, unread = reconcile_frame(records, people, readings)
    assert ready["marketo_id"].tolist() == [1] and not ready["fresh"].iloc[0]
    assert unread["marketo_id"].tolist() == [2]  # never seen, and Salesforce did not return it


def test_resolving_the_whole_frame_decides_as_resolving_each_person():
    """resolve_opt_outs answers agreeing people column-wise: it must match resolve_person on every mix."""
    import itertools
    from dataclasses import asdict

    from sync_pipelines.unsubscribes.transforms import resolve_opt_outs

    choices = dict(a_exists=[False, True], a_opted_out=[None, False, True], known=[False, True],
                   stored_opted_out=[False, True], stored_opted_out_at=[None, at(2)], agreed_opted_out=[None, False, True],
                   fresh=[False, True], fresh_opted_out=[None, False, True])
    rows = [row(marketo_id=i, a_changed_at=at(3), a_last_opt_out_at=at(1), fresh_modstamp=at(4), **dict(zip(choices, combo)))
            for i, combo in enumerate(itertools.product(*choices.values()))]
    frame = pd.DataFrame(rows).astype(object).sample(frac=1, random_state=5)  # in any order
    resolved = resolve_opt_outs(frame, at(9))
    assert list(resolved["marketo_id"]) == sorted(frame["marketo_id"])
    for expected in (asdict(resolve_person(r, at(9))) for r in rows):
        got = resolved[resolved["marketo_id"] == expected["marketo_id"]].iloc[0].to_dict()
        assert {k: (None if v is None or v is pd.NaT else v) for k, v in got.items()} == expected
