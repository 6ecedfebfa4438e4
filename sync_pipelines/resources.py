"""Dagster resources: the Marketo and Salesforce clients and the Actions database, configured from the
environment. In the sandbox environment (see environment.py) a service without a URL is served by its local
emulator and the Actions data by the embedded PostgreSQL; in production every setting is required and
nothing falls back to a fake.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager

import dagster as dg
import psycopg
from pydantic import Field, PrivateAttr

from sync_pipelines import store
from sync_pipelines.dry_run import DryRunAware
from sync_pipelines.environment import (
    ConfigurationError,
    positive_int_setting,
    require_sandbox,
    require_valid_configuration,
    sandbox_allowed,
    service_url_problem,
)
from sync_pipelines.marketo.client import MarketoClient
from sync_pipelines.salesforce.client import SalesforceClient
from sync_pipelines.store.database import actions_database_url


def env_or_none(name: str) -> dg.EnvVar | None:
    """An EnvVar when the variable is set, else None (the resource then falls back to the sandbox, where allowed)."""
    return dg.EnvVar(name) if os.environ.get(name) else None


class MarketoResource(DryRunAware):
    """Marketo Engage REST and Bulk Extract APIs. Without base_url, the local sandbox emulator serves.

    `dry_run` (from the run's tag): the writers send nothing to Marketo.
    """

    base_url: str | None = Field(default=None, description="Instance root, e.g. https://123-ABC-456.mktorest.com")
    client_id: str | None = None
    client_secret: str | None = None
    calls_per_window: int = Field(default=50, description="Calls per window (Marketo allows 100 per 20 s, shared)")
    window_seconds: float = Field(default=20.0, description="The rate-limit window Marketo counts calls in")
    max_concurrent: int = Field(default=5, description="Calls in flight (Marketo allows 10, shared)")
    daily_call_budget: int | None = Field(default=None, description="Stop before this many calls a day")
    bulk_poll_max_seconds: float = Field(
        default=30.0, description="Bulk export status polls start at 1 s and double up to this (MARKETO_BULK_POLL_MAX_SECONDS)"
    )
    bulk_job_timeout_seconds: float = Field(
        default=6 * 3600.0,
        description="Fail an export job not finished this long after it was queued (MARKETO_BULK_EXPORT_TIMEOUT_SECONDS)",
    )
    extract_since: str | None = Field(
        default=None,
        description=(
            "Earliest lead createdAt the full extract covers (31-day windows). Unset: found from the lowest "
            "lead ids (MARKETO_EXTRACT_SINCE overrides)"
        ),
    )
    smart_list_id: int | None = Field(
        default=None, description="Export people from this smart list in one job instead of date windows"
    )

    @contextmanager
    def client(self) -> Iterator[MarketoClient]:
        if self.base_url:
            url, client_id, client_secret, poll = self.base_url, self.client_id, self.client_secret, self.bulk_poll_max_seconds
            if not (client_id and client_secret):
                raise dg.Failure("MARKETO_CLIENT_ID and MARKETO_CLIENT_SECRET must be set with MARKETO_BASE_URL")
            # Before any request: a plain-http URL would carry the client secret in clear, and a malformed one
            # would only fail after every retry.
            problem = service_url_problem("MARKETO_BASE_URL", url, plain_http_on_loopback=sandbox_allowed())
            if problem:
                raise dg.Failure(problem)
        else:
            _require_sandbox("MARKETO_BASE_URL")
            from sync_pipelines.sandbox.launcher import ensure_sandbox

            sandbox = ensure_sandbox()
            url, client_id, client_secret = (
                sandbox["marketo_url"], sandbox["marketo_client_id"], sandbox["marketo_client_secret"]
            )
            poll = 0.2  # the emulator finishes export jobs in a fraction of a second
        # The sandbox serves this process alone, so it may use Marketo's whole allowance (100 per 20 s);
        # a real instance is shared with other integrations (Adobe advises about half).
        calls_per_window = self.calls_per_window if self.base_url else max(self.calls_per_window, 100)
        client = MarketoClient(
            url,
            client_id,
            client_secret,
            calls_per_window=calls_per_window,
            window_seconds=self.window_seconds,
            max_concurrent=self.max_concurrent,
            daily_call_budget=self.daily_call_budget,
            bulk_poll_max_seconds=poll,
            bulk_job_timeout_seconds=self.bulk_job_timeout_seconds,
            read_only=self.dry_run,  # a dry run's writers send nothing; the client refuses any write they try
        )
        try:
            yield client
        finally:
            client.close()


class SalesforceResource(DryRunAware):
    """Salesforce REST through simple-salesforce. Without instance_url, the local sandbox emulator serves.

    Log in with client credentials (client_id/client_secret, token at {instance}/services/oauth2/token)
    or with username/password/security_token (+ domain: login, test or a My Domain prefix).
    `dry_run` (from the run's tag): the writers send nothing to Salesforce.
    """

    instance_url: str | None = Field(default=None, description="e.g. https://yourorg.my.salesforce.com")
    client_id: str | None = None
    client_secret: str | None = None
    username: str | None = None
    password: str | None = None
    security_token: str | None = None
    domain: str = "login"
    ca_bundle: str | None = Field(default=None, description="CA bundle to verify Salesforce TLS with")

    @contextmanager
    def client(self) -> Iterator[SalesforceClient]:
        if self.instance_url:
            settings = dict(
                client_id=self.client_id, client_secret=self.client_secret, username=self.username,
                password=self.password, security_token=self.security_token, domain=self.domain,
                ca_bundle=self.ca_bundle,
            )
            url = self.instance_url
        else:
            _require_sandbox("SALESFORCE_INSTANCE_URL")
            from sync_pipelines.sandbox.launcher import ensure_sandbox

            sandbox = ensure_sandbox()
            url = sandbox["salesforce_url"]
            settings = dict(
                client_id=sandbox["salesforce_client_id"], client_secret=sandbox["salesforce_client_secret"],
                ca_bundle=sandbox["salesforce_ca_bundle"],
            )
        with SalesforceClient(url, **settings, read_only=self.dry_run) as client:
            yield client


class ActionsDatabase(DryRunAware):
    """The Actions PostgreSQL database (SYNC_DATABASE_URL, else the embedded server).

    In a dry run (the run's tag, read when the run sets the resource up) the resource opens one connection
    at setup and every step of the process shares it, inside one transaction that is rolled back when the
    run's resources are torn down: the steps see each other's would-be writes (so their counts are those of
    a real run) and nothing is committed. A dry run of several steps therefore needs them in one process;
    the executor refuses one that would spread them over several (sync_pipelines/executors.py).
    """

    url: str | None = Field(default=None, description="PostgreSQL URL; unset means the embedded server")
    _rolled_back_transaction: psycopg.Connection | None = PrivateAttr(default=None)

    def setup_for_execution(self, context: dg.InitResourceContext) -> None:
        super().setup_for_execution(context)
        if self.dry_run:
            conn = store.connect(actions_database_url(self.url))
            conn.execute("SELECT 1")  # open the run's transaction: later `conn.transaction()` blocks nest as savepoints
            self._rolled_back_transaction = conn

    @contextmanager
    def connection(self) -> Iterator[psycopg.Connection]:
        if self._rolled_back_transaction is not None:
            yield self._rolled_back_transaction
            return
        with store.connect(actions_database_url(self.url)) as conn:
            yield conn

    def teardown_after_execution(self, context: dg.InitResourceContext) -> None:
        if self._rolled_back_transaction is not None:
            self._rolled_back_transaction.rollback()
            self._rolled_back_transaction.close()
            self._rolled_back_transaction = None


def _require_sandbox(setting: str) -> None:
    try:
        require_sandbox(setting)
    except ConfigurationError as error:
        raise dg.Failure(str(error)) from None


def _env_seconds(name: str, default: float) -> float:
    """A positive number of seconds from the environment; a bad value names the variable."""
    text = os.environ.get(name)
    if not text:
        return default
    try:
        seconds = float(text)
    except ValueError:
        seconds = 0.0
    if not seconds > 0:
        raise ConfigurationError(f"{name} must be a positive number of seconds")
    return seconds


def shared_resources() -> dict[str, dg.ConfigurableResource]:
    """The resources every domain uses, filled from the environment once its configuration is complete.

    Called when the code location loads: an incomplete or malformed configuration fails there, so
    `dagster definitions validate` and every run stop at start with one message naming what is wrong.
    """
    require_valid_configuration()
    return {
        "marketo": MarketoResource(
            base_url=env_or_none("MARKETO_BASE_URL"),
            client_id=env_or_none("MARKETO_CLIENT_ID"),
            client_secret=env_or_none("MARKETO_CLIENT_SECRET"),
            extract_since=os.environ.get("MARKETO_EXTRACT_SINCE") or None,
            bulk_poll_max_seconds=_env_seconds("MARKETO_BULK_POLL_MAX_SECONDS", 30.0),
            bulk_job_timeout_seconds=_env_seconds("MARKETO_BULK_EXPORT_TIMEOUT_SECONDS", 6 * 3600.0),
            smart_list_id=positive_int_setting("MARKETO_SMART_LIST_ID"),
        ),
        "salesforce": SalesforceResource(
            instance_url=env_or_none("SALESFORCE_INSTANCE_URL"),
            client_id=env_or_none("SALESFORCE_CLIENT_ID"),
            client_secret=env_or_none("SALESFORCE_CLIENT_SECRET"),
            username=env_or_none("SALESFORCE_USERNAME"),
            password=env_or_none("SALESFORCE_PASSWORD"),
            security_token=env_or_none("SALESFORCE_SECURITY_TOKEN"),
            domain=env_or_none("SALESFORCE_DOMAIN") or "login",
            ca_bundle=env_or_none("SALESFORCE_CA_BUNDLE"),
        ),
        "actions_db": ActionsDatabase(url=env_or_none("SYNC_DATABASE_URL")),
    }
