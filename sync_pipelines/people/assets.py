"""People: Marketo -> the extract -> the sales-owned subset -> the Actions person table."""

import time
from datetime import datetime, timezone
from typing import Optional

import dagster as dg
import pandas as pd

from sync_pipelines import dry_run, pools
from sync_pipelines.mass_change import MassRemovalConfig, Removal, guard_removal
from sync_pipelines.people.freshness import ACTIONS_PEOPLE_FRESHNESS
from sync_pipelines.people.full_extract import (
    FullExtract,
    clean_chunks,
    fields_on_instance,
    repairs_frame,
    run_full_extract,
)
from sync_pipelines.pinning import pin_marketo
from sync_pipelines.quota import stops_cleanly_on_quota
from sync_pipelines.resources import ActionsDatabase, MarketoResource
from sync_pipelines.store.person_repairs import record_person_repairs
from sync_pipelines.store.extract_runs import last_full_extract_finished, record_extract_finished
from sync_pipelines.table_metadata import table_metadata, table_spec_metadata
from sync_pipelines.store.people import (
    ExtractLoad,
    forget_stale_quarantine,
    person_backlog,
    quarantine_people,
    sync_actions_people,
)

MAX_REPAIRS_IN_METADATA = 1000  # every repair is in person_repair; the run's metadata lists the first ones


class PersonExtractConfig(dg.Config):
    """Which people to pull. No ids: every person (the initial sync and nightly compare)."""

    marketo_ids: list[int] = []


class ActionsPeopleConfig(MassRemovalConfig):
    """Which people to bring into Actions, and how.

    marketo_ids: just these people (an incremental run); empty: everyone in the extract.
    new_people_limit: load at most this many people not yet in Actions (the paced initial sync).
    allow_mass_removal / max_removed_percent / max_removed_rows: the mass-change guard of a full run.
    """

    marketo_ids: list[int] = []
    new_people_limit: Optional[int] = None


@dg.asset(
    pool=pools.MARKETO,
    kinds={"marketo", "pandas", "postgres"},
    metadata=table_spec_metadata("marketo_person_extract"),
    description=(
        "People pulled from Marketo: the 11 synced fields, the Salesforce owner and type, unsubscribed and "
        "updatedAt. A full run streams a Bulk Lead Extract; a run with marketo_ids fetches just those people. "
        "Values PostgreSQL cannot store (NUL bytes, bytes that are not UTF-8) are repaired and listed in "
        "person_repair; rows that cannot be synced (no usable id, an unreadable flag or timestamp) go to "
        "person_quarantine with their reason."
    ),
)
@stops_cleanly_on_quota
def marketo_person_extract(
    context: dg.AssetExecutionContext,
    config: PersonExtractConfig,
    marketo: MarketoResource,
    actions_db: ActionsDatabase,
) -> dg.MaterializeResult:
    started_at, clock = datetime.now(timezone.utc), time.monotonic()
    with marketo.client() as client, actions_db.connection() as conn:
        fields, lacking = fields_on_instance(client)
        if lacking:
            context.log.warning(f"The Marketo instance has no {', '.join(lacking)} lead field(s): people are synced "
                                "without them (lead/contact type, the send check's flags or the change time unknown)")
        # Write only what the pinned instance says. The pin gets a transaction of its own: left implicit,
        # it would hold open the one every per-window transaction of the full extract then nests in.
        with conn.transaction():
            pin_marketo(conn, client)
        if config.marketo_ids:
            read, quarantined, counts, repaired = _incremental_extract(client, conn, config.marketo_ids, fields,
                                                                       started_at)
            full_metadata = {}
        else:
            full = run_full_extract(
                client, conn, smart_list_id=marketo.smart_list_id, extract_since=marketo.extract_since,
                fields=fields,
            )
            read, quarantined, counts, repaired = full.people_read, full.people_quarantined, full.counts, full.repaired
            full_metadata = _full_extract_metadata(full)
        api_calls, exports = client.calls_used, client.export_stats
        table = table_metadata(conn, "marketo_person_extract")
    context.log.info(f"Extracted {read} people ({quarantined} quarantined) with {api_calls} Marketo calls")
    if not repaired.empty:
        # Ids and field names only: the values are personal data.
        context.log.warning(
            f"Repaired {len(repaired)} field(s) of {repaired['marketo_id'].nunique()} people that PostgreSQL "
            f"cannot store (see person_repair): {_repair_summary(repaired, limit=20)}"
        )
    return dry_run.result(
        {
            "mode": "incremental" if config.marketo_ids else "full",
            "missing_support_fields": dg.MetadataValue.json(lacking),
            "people_read": read,
            "people_quarantined": quarantined,
            "people_repaired": int(repaired["marketo_id"].nunique()),
            "repairs": dg.MetadataValue.json(_repair_summary(repaired, limit=MAX_REPAIRS_IN_METADATA)),
            "inserted": counts.inserted,
            "updated": counts.updated,
            "removed": counts.removed,
            **full_metadata,
            "marketo_api_calls": api_calls,
            "marketo_export_jobs_created": exports.jobs_created,
            "marketo_export_jobs_reattached": exports.jobs_reattached,
            "marketo_export_status_polls": exports.status_polls,
            "marketo_export_wait_seconds": round(exports.wait_seconds, 3),
            **table,
        },
        dry_run=actions_db.dry_run,
        started=clock,
    )


def _incremental_extract(client, conn, marketo_ids: list[int], fields: list[str], started_at: datetime):
    """Just these people, fetched over REST and merged in one transaction: (read, quarantined, counts, repaired)."""
    raw = client.get_leads("id", marketo_ids, fields)  # before the transaction: no wait inside it
    with conn.transaction():
        extract = ExtractLoad(conn)
        rejected: list[pd.DataFrame] = []
        repairs: list[pd.DataFrame] = []
        extract.load(clean_chunks([raw], rejected, repairs))
        quarantined = sum(quarantine_people(conn, bad, started_at) for bad in rejected)
        repaired = repairs_frame(repairs)
        record_person_repairs(conn, repaired, started_at)
        counts = extract.merge(scope_ids=marketo_ids)
        forget_stale_quarantine(conn, started_at, marketo_ids=marketo_ids)
        record_extract_finished(conn, "incremental", started_at)
    return extract.loaded + quarantined, quarantined, counts, repaired


def _full_extract_metadata(full: FullExtract) -> dict:
    return {
        "extract_id": full.extract_id,
        "resumed": full.resumed,
        "created_span_from": full.span_from.isoformat() if full.span_from else None,
        "created_span_until": full.span_until.isoformat() if full.span_until else None,
        "created_span_source": full.span_source,
        "windows_planned": full.windows_planned,
        "windows_loaded_by_earlier_run": full.windows_loaded_before,
        "windows_exported": full.windows_exported,
    }


def _repair_summary(repaired: pd.DataFrame, *, limit: int) -> list[dict]:
    """The first `limit` repairs as {marketo_id, field, repair}: ids and field names, never values."""
    head = repaired.sort_values(["marketo_id", "field"]).head(limit)
    return [{"marketo_id": int(r.marketo_id), "field": r.field, "repair": r.repair} for r in head.itertuples(index=False)]


@dg.asset(
    kinds={"postgres"},
    deps=[marketo_person_extract],
    metadata=table_spec_metadata("sales_owned_people"),
)
def sales_owned_people(actions_db: ActionsDatabase) -> dg.MaterializeResult:
    """The extract narrowed to people with a Salesforce Lead Owner or Contact Owner (any user): the
    sales_owned_people view. People sharing an email stay separate: Actions keys by Marketo id.
    """
    with actions_db.connection() as conn:
        # One pass over the owned people, grouped by email for the shared-email count. Case is folded in
        # ASCII only ("C" rules): addresses compare the same on every server, whatever its locale.
        extracted, owned, leads, contacts, shared_email = conn.execute(
            """
            SELECT (SELECT count(*) FROM marketo_person_extract), coalesce(sum(people), 0)::bigint,
                   coalesce(sum(leads), 0)::bigint, coalesce(sum(contacts), 0)::bigint,
                   coalesce(sum(people) FILTER (WHERE email_key IS NOT NULL AND people > 1), 0)::bigint
            FROM (
                SELECT lower(email COLLATE "C") AS email_key, count(*) AS people,
                       count(*) FILTER (WHERE salesforce_type = 'Lead') AS leads,
                       count(*) FILTER (WHERE salesforce_type = 'Contact') AS contacts
                FROM sales_owned_people GROUP BY 1
            ) AS by_email
            """
        ).fetchone()
        table = table_metadata(conn, "sales_owned_people")
    return dry_run.result(
        {
            "people_extracted": extracted,
            "people_qualified": owned,
            "salesforce_leads": leads,
            "salesforce_contacts": contacts,
            "people_sharing_an_email": shared_email,
            **table,
        },
        dry_run=actions_db.dry_run,
    )


@dg.asset(
    kinds={"postgres"},
    deps=[sales_owned_people],
    metadata=table_spec_metadata("actions_person"),
    freshness_policy=ACTIONS_PEOPLE_FRESHNESS,
    description=(
        "The Actions person table (actions_person): the 11 standard fields plus sync metadata, keyed by "
        "Marketo id. Only this sync writes it; people who lose their owner or leave Marketo are removed."
    ),
)
def actions_people(
    context: dg.AssetExecutionContext, config: ActionsPeopleConfig, actions_db: ActionsDatabase
) -> dg.MaterializeResult:
    clock = time.monotonic()
    with actions_db.connection() as conn, conn.transaction():
        # A full run: count who would leave Actions before anything is applied (the mass-change guard).
        guard = ({} if config.marketo_ids
                 else guard_removal(context, config, _people_removal(conn), dry_run=actions_db.dry_run))
        counts = sync_actions_people(
            conn,
            datetime.now(timezone.utc),
            new_people_limit=config.new_people_limit,
            scope_ids=config.marketo_ids or None,
        )
        total, quarantined = conn.execute(
            "SELECT (SELECT count(*) FROM actions_person), (SELECT count(*) FROM person_quarantine)"
        ).fetchone()
        full_extract_at = last_full_extract_finished(conn)
        # A full run without a limit has just loaded every owned person: nothing can be left behind.
        backlog = 0 if config.new_people_limit is None and not config.marketo_ids else person_backlog(conn)
        sample_ids = [
            row[0]
            for row in conn.execute("SELECT marketo_id FROM actions_person ORDER BY last_synced_at DESC, marketo_id LIMIT 5")
        ]
        table = table_metadata(conn, "actions_person")
    return dry_run.result(
        {
            "inserted": counts.inserted,
            "updated": counts.updated,
            "removed": counts.removed,
            **guard,
            "actions_people": total,
            # Until a full extract has finished, the extract holds only what incremental runs brought:
            # a backlog measured against it would claim progress that is not there.
            "full_extract_finished_at": full_extract_at.isoformat() if full_extract_at else "never",
            **(
                {
                    "initial_sync_backlog": backlog,
                    "initial_sync_progress_percent": round(100.0 * total / (total + backlog), 1) if total + backlog else 100.0,
                }
                if full_extract_at
                else {}
            ),
            "quarantined_total": quarantined,
            "recently_synced_marketo_ids": dg.MetadataValue.json(sample_ids),
            **table,
        },
        dry_run=actions_db.dry_run,
        started=clock,
    )


def _people_removal(conn) -> Removal:
    """Actions people a full run would remove: those not among the extract's sales-owned people."""
    current, removing = conn.execute(
        "SELECT count(*), count(*) FILTER (WHERE NOT EXISTS "
        "(SELECT 1 FROM sales_owned_people s WHERE s.marketo_id = a.marketo_id)) FROM actions_person a"
    ).fetchone()
    return Removal("Actions people", current, removing)
