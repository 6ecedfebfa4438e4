"""Email-to-Salesforce logging ("bcc" mode): each sent sales email as a real RFC 5322 message.

The message copies the seller's email (From the seller, To the person, the original subject, date and
text) with a Bcc to the seller's personal Email-to-Salesforce address; Salesforce matches the To
address against its Leads/Contacts and files the mail as an email activity. Only the Bcc address is
an SMTP recipient: the person already received the original, so the copy must never reach them.
The Message-ID is derived from the activity id, so a message resent after a crash is recognisably
the same message (SMTP offers no way to ask whether a message was already accepted).
"""

from __future__ import annotations

import smtplib
from collections.abc import Iterator
from contextlib import contextmanager
from email.message import EmailMessage
from email.utils import format_datetime, formataddr

import pandas as pd

MESSAGE_ID_DOMAIN = "activities.sync-pipelines.invalid"


def message_id(activity_id: int) -> str:
    return f"<actions-activity-{activity_id}@{MESSAGE_ID_DOMAIN}>"


def bcc_message(row: pd.Series) -> EmailMessage:
    """The logging copy of one 'Sales Email Sent' activity. Raises ValueError when an address is missing."""
    for column in ("seller_email", "person_email", "email_to_salesforce_address"):
        if not isinstance(row.get(column), str) or "@" not in row[column]:
            raise ValueError(f"missing {column}")
    message = EmailMessage()
    message["From"] = formataddr((str(row.get("seller_name") or ""), row["seller_email"]))
    message["To"] = row["person_email"]
    message["Bcc"] = row["email_to_salesforce_address"]
    message["Subject"] = str(row.get("email_subject") or "")
    occurred = pd.Timestamp(row["occurred_at"])
    message["Date"] = format_datetime((occurred.tz_localize("UTC") if occurred.tzinfo is None else occurred).to_pydatetime())
    message["Message-ID"] = message_id(int(row["activity_id"]))
    message["X-Actions-Activity-Id"] = str(int(row["activity_id"]))
    body = row.get("email_body")
    message.set_content(body if isinstance(body, str) else "")
    return message


@contextmanager
def smtp_connection(
    host: str, port: int, *, starttls: bool, username: str | None, password: str | None, timeout: float
) -> Iterator[smtplib.SMTP]:
    """One SMTP session for a batch of messages."""
    with smtplib.SMTP(host, port, timeout=timeout) as smtp:
        if starttls:
            smtp.starttls()
        if username and password:
            smtp.login(username, password)
        yield smtp


def send_bcc(smtp: smtplib.SMTP, message: EmailMessage) -> None:
    """Send to the Bcc address only (send_message strips the Bcc header from what it transmits)."""
    smtp.send_message(message, to_addrs=[message["Bcc"]])
