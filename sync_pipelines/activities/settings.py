"""ActivitySettings: what an Actions admin chooses about logging activities to Salesforce."""

import os
from typing import Literal

import dagster as dg
from pydantic import Field


class ActivitySettings(dg.ConfigurableResource):
    """The admin's choices for the Salesforce side of the activity fan-out (Marketo always gets everything).

    - log_emails: sellers' sent emails become Salesforce activity (Tasks, or BCC mail).
    - log_calls: sellers' calls become Salesforce Tasks (always through the API).
    - email_logging_mode: "api" writes email Tasks through the REST API (sObject Collections upsert
      keyed by Actions_Activity_Id__c); "bcc" mails each email as an RFC 5322 message whose Bcc is
      the seller's Email-to-Salesforce address, and Salesforce files it itself.
    - smtp_*: the relay that "bcc" mode sends through.
    log_emails, log_calls and email_logging_mode here are the org defaults (from the environment
    variables): an admin's org-wide change or a seller's own change recorded in actions_setting_change
    overrides them, per activity, as they stood at the activity's logged_at (store/settings.py).
    """

    log_emails: bool = Field(default=True, description="Log sellers' sent emails to Salesforce")
    log_calls: bool = Field(default=True, description="Log sellers' calls to Salesforce as Tasks")
    email_logging_mode: Literal["api", "bcc"] = Field(
        default="api", description="api: Tasks through the REST API; bcc: mail to Email-to-Salesforce"
    )
    smtp_host: str = Field(default="127.0.0.1", description="SMTP relay for bcc mode")
    smtp_port: int = Field(default=25, description="SMTP port for bcc mode")
    smtp_starttls: bool = Field(default=False, description="Upgrade the SMTP connection with STARTTLS")
    smtp_username: str | None = Field(default=None, description="SMTP login (optional)")
    smtp_password: str | None = Field(default=None, description="SMTP password (optional; never logged)")
    smtp_timeout_seconds: float = Field(default=30.0, description="SMTP socket timeout")

    def org_defaults(self) -> dict[str, str]:
        """The logging settings as the environment defaults of store.settings (variable -> value)."""
        return {"ACTIVITY_LOG_EMAILS": str(self.log_emails).lower(), "ACTIVITY_LOG_CALLS": str(self.log_calls).lower(),
                "ACTIVITY_EMAIL_LOGGING_MODE": self.email_logging_mode}


def _flag(name: str, default: bool) -> bool:
    value = os.environ.get(name)
    return default if value is None else value.strip().lower() in ("1", "true", "yes", "on")


def settings_from_environment() -> ActivitySettings:
    """The settings from ACTIVITY_LOG_EMAILS, ACTIVITY_LOG_CALLS, ACTIVITY_EMAIL_LOGGING_MODE and
    ACTIVITY_SMTP_HOST / _PORT / _STARTTLS / _USERNAME / _PASSWORD (the password through EnvVar)."""
    return ActivitySettings(
        log_emails=_flag("ACTIVITY_LOG_EMAILS", True),
        log_calls=_flag("ACTIVITY_LOG_CALLS", True),
        email_logging_mode=os.environ.get("ACTIVITY_EMAIL_LOGGING_MODE", "api"),
        smtp_host=os.environ.get("ACTIVITY_SMTP_HOST", "127.0.0.1"),
        smtp_port=int(os.environ.get("ACTIVITY_SMTP_PORT", "25")),
        smtp_starttls=_flag("ACTIVITY_SMTP_STARTTLS", False),
        smtp_username=os.environ.get("ACTIVITY_SMTP_USERNAME"),
        smtp_password=dg.EnvVar("ACTIVITY_SMTP_PASSWORD") if os.environ.get("ACTIVITY_SMTP_PASSWORD") else None,
    )
