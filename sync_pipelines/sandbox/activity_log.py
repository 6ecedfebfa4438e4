"""Deterministic, realistic sales activity for the sandbox's Actions people (what sellers would log).

For each sampled person, their owner (the Salesforce owner from the Marketo extract) acts as the seller
and plays out a short sales sequence: added to a sales campaign, emailed (opened, sometimes clicked,
replied or bounced), sometimes called, sometimes removed from the campaign. The same (seed, count,
people) gives the same log. Writes go through actions_app.py, as the Actions app would write.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import numpy as np
import pandas as pd
import psycopg

from sync_pipelines import actions_app

LOG_START = datetime(2026, 6, 1, 8, 0, tzinfo=timezone.utc)
CAMPAIGNS = [("SC-101", "Q3 Enterprise Outreach"), ("SC-102", "Webinar Follow-up"), ("SC-103", "Trade Show Leads"),
             ("SC-104", "Renewal Check-in"), ("SC-105", "APAC Expansion – 日本")]
TEMPLATES = ["Intro – short", "Case study", "Meeting request", "Pricing follow-up", "ご挨拶"]
SUBJECTS = ["Quick question about {company}", "Following up on our call", "Ideas for your team",
            "Re: next steps", "Can we find 15 minutes?", "{company} × Actions", "ご提案のご案内"]
LINKS = ["https://example.com/case-study", "https://example.com/pricing", "https://example.com/calendar?week=27"]
CALL_OUTCOMES = [("Connected – interested", "completed"), ("Left voicemail", "no answer"),
                 ("Wrong number", "failed"), ("Call back later", "completed"), ("No answer", "no answer")]
BOUNCES = ["550 5.1.1 mailbox unavailable", "552 5.2.2 mailbox full"]
SELLER_COLUMNS = ["seller_id", "display_name", "email", "salesforce_user_id", "email_to_salesforce_address"]


def sellers_for_owners(owner_ids: list[str]) -> pd.DataFrame:
    """One seller per Salesforce owner: their Tasks are owned by that user in Salesforce."""
    rows = []
    for number, owner in enumerate(sorted(owner_ids), start=1):
        rows.append({
            "seller_id": f"seller-{number:03d}",
            "display_name": f"Sales Rep {number}",
            "email": f"rep{number}@sellers.example.com",
            "salesforce_user_id": owner,
            "email_to_salesforce_address": f"emailtosalesforce@{number:03d}x7.le.sandbox.salesforce.com",
        })
    return pd.DataFrame(rows, columns=SELLER_COLUMNS)


def generate_activities(people: pd.DataFrame, sellers: pd.DataFrame, count: int, seed: int = 7) -> pd.DataFrame:
    """`count` activities for `people` (columns marketo_id, owner_id, company), oldest first.

    Every seller owns the people of their Salesforce user; times move forward minute by minute.
    """
    rng = np.random.default_rng(seed)
    seller_by_owner = dict(zip(sellers["salesforce_user_id"], sellers["seller_id"]))
    people = people[people["owner_id"].isin(seller_by_owner)].reset_index(drop=True)
    if people.empty or count <= 0:
        return pd.DataFrame(columns=["marketo_id", "activity_type", "occurred_at", "seller_id"])
    rows: list[dict] = []
    clock = LOG_START
    while len(rows) < count:
        person = people.iloc[int(rng.integers(len(people)))]
        base = {"marketo_id": int(person["marketo_id"]), "seller_id": seller_by_owner[person["owner_id"]]}
        campaign_id, campaign_name = CAMPAIGNS[int(rng.integers(len(CAMPAIGNS)))]
        company = person.get("company") if isinstance(person.get("company"), str) else "your team"
        subject = SUBJECTS[int(rng.integers(len(SUBJECTS)))].format(company=company)
        email = {"email_subject": subject, "template_name": TEMPLATES[int(rng.integers(len(TEMPLATES)))],
                 "campaign_name": campaign_name}

        def add(kind: str, **fields) -> None:
            nonlocal clock
            clock += timedelta(minutes=int(rng.integers(1, 90)))
            rows.append({**base, "activity_type": kind, "occurred_at": clock, **fields})

        add("Added to Sales Campaign", campaign_id=campaign_id, campaign_name=campaign_name)
        add("Sales Email Sent", **email, email_body=f"Hi,\n\n{subject}.\nBest regards\n")
        if rng.random() < 0.05:
            add("Sales Email Bounced", **email, bounce_details=BOUNCES[int(rng.integers(len(BOUNCES)))])
        elif rng.random() < 0.6:
            add("Sales Email Opened", **email)
            if rng.random() < 0.3:
                add("Sales Email Clicked", **email, link_clicked=LINKS[int(rng.integers(len(LINKS)))])
            if rng.random() < 0.2:
                add("Sales Email Replied", email_subject=f"Re: {subject}", campaign_name=campaign_name)
        if rng.random() < 0.35:
            outcome, status = CALL_OUTCOMES[int(rng.integers(len(CALL_OUTCOMES)))]
            duration = int(rng.integers(20, 900)) if status == "completed" else 0
            add("Received Sales Call", call_outcome=outcome, call_status=status, call_duration_seconds=duration,
                call_notes="Discussed timing and next steps." if status == "completed" else None,
                campaign_name=campaign_name)
        if rng.random() < 0.1:
            add("Removed from Sales Campaign", campaign_id=campaign_id, campaign_name=campaign_name)
    frame = pd.DataFrame(rows[:count])
    frame["call_duration_seconds"] = frame.get("call_duration_seconds", pd.Series(dtype="float")).astype("Int64")
    return frame


def seed_activity_log(conn: psycopg.Connection, count: int, seed: int = 7) -> int:
    """Write sellers and `count` activities for the owned people now in Actions; returns activities written."""
    people = pd.DataFrame(
        conn.execute(
            "SELECT a.marketo_id, e.owner_id, a.company FROM actions_person a "
            "JOIN marketo_person_extract e USING (marketo_id) ORDER BY a.marketo_id"
        ).fetchall(),
        columns=["marketo_id", "owner_id", "company"],
    )
    sellers = sellers_for_owners(sorted(people["owner_id"].dropna().unique()))
    with conn.transaction():
        actions_app.write_sellers(conn, sellers)
        return actions_app.write_activities(conn, generate_activities(people, sellers, count, seed))
