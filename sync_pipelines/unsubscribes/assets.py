"""Unsubscribes: opt-outs reconciled between Actions and Salesforce, and Marketo's status per person.

Nothing here writes to Marketo (no Marketo resource is even used): Marketo's flags are read from the
people extract, which the person sync keeps fresh.
"""

import time
from datetime import datetime, timezone

import dagster as dg

from sync_pipelines.conventions import SAMPLE_SIZE
from sync_pipelines import dry_run, pools
from sync_pipelines.mass_change import MassRemovalConfig, Removal, guard_removal
from sync_pipelines.pinning import pin_salesforce
from sync_pipelines.quota import stops_cleanly_on_quota
from sync_pipelines.resources import ActionsDatabase, SalesforceResource
from sync_pipelines.table_metadata import table_metadata, table_spec_metadata
from sync_pipelines.store.settings import effective_settings, org_settings
from sync_pipelines.store.unsubscribes import apply_resolutions, load_people, refresh_marketo_status
from sync_pipelines.unsubscribes.salesforce_sync import NOT_FOUND, read_salesforce, settle, write_salesforce
from sync_pipelines.unsubscribes.transforms import (
    CONFLICT,
    TO_ACTIONS,
    TO_SALESFORCE,
    reconcile_frame,
    resolve_opt_outs,
    salesforce_records,
)





class SalesforceUnsubscribesConfig(MassRemovalConfig):
    """allow_mass_removal / max_removed_percent / max_removed_rows: the mass-change guard on opt-outs removed
    (re-subscribes, either side) in one run."""


@dg.asset(
    pool=pools.SALESFORCE,
    kinds={"salesforce", "pandas", "postgres"},
    deps=[dg.AssetKey("actions_people")],
    metadata=table_spec_metadata("salesforce_unsubscribe_state"),
    description=(
        "Email opt-out reconciled both ways between Actions (actions_unsubscribe) and Salesforce "
        "(HasOptedOutOfEmail on each person's Contact, else Lead). Reads Salesforce changes since a "
        "SystemModstamp cursor, applies the rules (an opt-out always travels; a re-subscribe only when newer "
        "than the other side's last opt-out, otherwise a recorded conflict keeps the opt-out), then writes "
        "Salesforce in collections of 200. Never writes Marketo."
    ),
)
@stops_cleanly_on_quota
def salesforce_unsubscribes(
    context: dg.AssetExecutionContext, config: SalesforceUnsubscribesConfig, salesforce: SalesforceResource,
    actions_db: ActionsDatabase,
) -> dg.MaterializeResult:
    dry = actions_db.dry_run
    clock, now = time.monotonic(), datetime.now(timezone.utc)
    with salesforce.client() as client, actions_db.connection() as conn:
        pin_salesforce(conn, client)
        people = load_people(conn)
        records, invalid = salesforce_records(people)
        readings = read_salesforce(conn, client, records, people)
        frame, unread = reconcile_frame(records, people, readings.frame)

        # Resolve, guard, and record in one transaction (Actions side, sync state, audit events).
        resolved = resolve_opt_outs(frame, now).assign(
            salesforce_id=frame["salesforce_id"], salesforce_object=frame["salesforce_object"]
        )
        # The mass-change guard, before either side is written: a wrong or fake org reads as everyone
        # re-subscribing.
        resubscribing = ~resolved["target"].astype(bool) & (
            resolved["push"].astype(bool) | resolved["actions_update"].astype(bool))
        guard = guard_removal(context, config, Removal("opt-outs (people with a Salesforce record)", len(records),
                                                       int(resubscribing.sum())), dry_run=dry)
        with conn.transaction():
            apply_resolutions(conn, resolved, now)

        failed = write_salesforce(conn, client, resolved, now, dry_run=dry)
        bad = [(int(r.marketo_id), r.salesforce_id, r.reason) for r in invalid.itertuples(index=False)]
        bad += [(int(r.marketo_id), r.salesforce_id, NOT_FOUND) for r in unread.itertuples(index=False)]
        quarantined = settle(conn, resolved, bad + failed, readings.new_cursors, now)
        api_calls = client.api_calls
        table = table_metadata(conn, "salesforce_unsubscribe_state")

    outcome = resolved["event_outcome"]
    pushed_ok = resolved["push"] & ~resolved["marketo_id"].isin([row[0] for row in failed])
    changed = resolved[resolved["push"].astype(bool) | resolved["actions_update"].astype(bool)]
    sample = sorted(int(i) for i in changed["marketo_id"])[:SAMPLE_SIZE]
    context.log.info(f"Reconciled {len(resolved)} people with {api_calls} Salesforce calls ({quarantined} quarantined)")
    return dry_run.result(
        {
            "people_with_salesforce_record": len(records),
            "salesforce_changes_read": readings.changes_read,
            "opt_outs_to_actions": int(((outcome == TO_ACTIONS) & resolved["target"]).sum()),
            "resubscribes_to_actions": int(((outcome == TO_ACTIONS) & ~resolved["target"].astype(bool)).sum()),
            "opt_outs_to_salesforce": int(((outcome == TO_SALESFORCE) & resolved["target"] & pushed_ok).sum()),
            "resubscribes_to_salesforce": int(
                ((outcome == TO_SALESFORCE) & ~resolved["target"].astype(bool) & pushed_ok).sum()
            ),
            "conflicts_opt_out_kept": int((outcome == CONFLICT).sum()),
            **guard,
            "salesforce_records_written": int(pushed_ok.sum()),
            "quarantined": quarantined,
            "sample_changed_marketo_ids": dg.MetadataValue.json(sample),
            "salesforce_api_calls": api_calls,
            **table,
        },
        dry_run=dry,
        started=clock,
    )


@dg.asset(
    kinds={"postgres"},
    # The flags come from the people extract; actions_people decides whose flags are kept.
    deps=[dg.AssetKey("marketo_person_extract"), dg.AssetKey("actions_people")],
    metadata=table_spec_metadata("marketo_unsubscribe_status"),
)
def marketo_unsubscribe_status(actions_db: ActionsDatabase) -> dg.MaterializeResult:
    """Marketo's unsubscribed (and, once extracted, emailInvalid) flag for every Actions person, copied from
    the people extract: no Marketo API call, since the person sync already refreshes the extract
    incrementally whenever `unsubscribed` changes. Feeds the person_send_check view (check_send).
    """
    dry = actions_db.dry_run
    with actions_db.connection() as conn, conn.transaction():
        counts = refresh_marketo_status(conn, datetime.now(timezone.utc))
        blocked, = conn.execute("SELECT count(*) FROM person_send_check WHERE NOT allowed").fetchone()
        now = datetime.now(timezone.utc)
        check_on = org_settings(conn, now)["marketo_unsubscribe_check"]
        sellers_check_off = sum(
            not values["marketo_unsubscribe_check"]
            for values in effective_settings(conn, now, settings=["marketo_unsubscribe_check"]).values()
        )
        table = table_metadata(conn, "marketo_unsubscribe_status")
    return dry_run.result(
        {
            "actions_people": counts.people,
            "marketo_unsubscribed": counts.unsubscribed,
            "email_invalid": counts.email_invalid,
            "newly_unsubscribed": counts.newly_unsubscribed,
            "resubscribed_in_marketo": counts.resubscribed,
            "rows_changed": counts.changed,
            "rows_removed": counts.removed,
            "people_blocked_from_email": blocked,
            "marketo_unsubscribe_check_org": "on" if check_on else "off",
            "sellers_with_marketo_unsubscribe_check_off": sellers_check_off,
            "sample_changed_marketo_ids": dg.MetadataValue.json(list(counts.changed_sample)),
            "marketo_api_calls": 0,
            **table,
        },
        dry_run=dry,
    )
