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
from email.header import Header
from email.message import EmailMessage
from email.policy import SMTP, Policy
from email.utils import format_datetime, formataddr

import pandas as pd

MESSAGE_ID_DOMAIN = "activities.sync-pipelines.invalid"


def message_id(activity_id: int) -> str:
    return f"<actions-activity-{activity_id}@{MESSAGE_ID_DOMAIN}>"


class EncodedWordsSubject(str):
    """A Subject folded as RFC 2047 base64 encoded words over the whole text.

    The email package's own folder (policy.default/SMTP, Python 3.11) drops spaces between
    the encoded words it makes of a long non-ASCII subject: most 1,200-character Japanese subjects
    came back altered. Base64 words carry every character, spaces and tabs included, and each
    folded line stays under 78 octets, so the subject decodes byte-exact on any RFC 2047 reader.
    """

    name = "Subject"  # EmailPolicy keeps a value that names its header as is, and folds it with fold()

    def fold(self, *, policy: Policy) -> str:
        encoded = Header(str(self), "utf-8", header_name=self.name).encode(
            linesep=policy.linesep, maxlinelen=policy.max_line_length)
        return f"{self.name}: {encoded}{policy.linesep}"


def _text(row: pd.Series, column: str) -> str:
    """The column's text, or "" when missing (pandas' missing strings are NaN, which is truthy)."""
    value = row.get(column)
    return value if isinstance(value, str) else ""


def bcc_message(row: pd.Series) -> EmailMessage:
    """The logging copy of one 'Sales Email Sent' activity. Raises ValueError when an address is missing."""
    for column in ("seller_email", "person_email", "email_to_salesforce_address"):
        if "@" not in _text(row, column):
            raise ValueError(f"missing {column}")
    message = EmailMessage(policy=SMTP)  # CRLF line ends, as on the wire
    message["From"] = formataddr((_text(row, "seller_name"), row["seller_email"]))
    message["To"] = row["person_email"]
    message["Bcc"] = row["email_to_salesforce_address"]
    message["Subject"] = EncodedWordsSubject(_text(row, "email_subject"))
    occurred = pd.Timestamp(row["occurred_at"])
    message["Date"] = format_datetime((occurred.tz_localize("UTC") if occurred.tzinfo is None else occurred).to_pydatetime())
    message["Message-ID"] = message_id(int(row["activity_id"]))
    message["X-Actions-Activity-Id"] = str(int(row["activity_id"]))
    message.set_content(_text(row, "email_body"))
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
