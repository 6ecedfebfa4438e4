"""Which environment the sync runs in, and whether its configuration is complete (DESIGN.md, Configuration).

- `SYNC_ENV=sandbox`: a service without a URL is served by its local emulator, the Actions data by the
  embedded PostgreSQL (`make demo`, `make dev` and the tests select this).
- `SYNC_ENV=production`: every required setting must be set; nothing falls back to a fake.
- `SYNC_ENV` unset: production as soon as anything real is configured, the sandbox when nothing is.

In both environments a half-configured service (a URL without credentials, credentials without a URL) is
refused: that is what one variable lost in a deployment looks like. `require_valid_configuration` runs when
the code location loads, so a run and `dagster definitions validate` both fail at start, with one message
that names every problem. Messages name variables, never their values.
"""

from __future__ import annotations

import ipaddress
import os
from collections.abc import Mapping
from datetime import datetime
from pathlib import Path
from urllib.parse import urlsplit

import psycopg

SANDBOX, PRODUCTION = "sandbox", "production"

MARKETO_SETTINGS = ("MARKETO_BASE_URL", "MARKETO_CLIENT_ID", "MARKETO_CLIENT_SECRET")
SALESFORCE_URL = "SALESFORCE_INSTANCE_URL"
SALESFORCE_CLIENT_CREDENTIALS = ("SALESFORCE_CLIENT_ID", "SALESFORCE_CLIENT_SECRET")
SALESFORCE_PASSWORD_LOGIN = ("SALESFORCE_USERNAME", "SALESFORCE_PASSWORD", "SALESFORCE_SECURITY_TOKEN")
DATABASE_URL = "SYNC_DATABASE_URL"
# Settings that point the sync at something real: any one of them means "not the sandbox".
REAL_SETTINGS = (*MARKETO_SETTINGS, SALESFORCE_URL, *SALESFORCE_CLIENT_CREDENTIALS, *SALESFORCE_PASSWORD_LOGIN,
                 DATABASE_URL)
# Whole positive numbers read from the environment, with what they are for.
POSITIVE_INTEGERS = {"PERSON_BATCH_SIZE": "people per paced initial-sync batch",
                     "MARKETO_SMART_LIST_ID": "the Marketo smart list to export"}
# The dagster CLI lets a .env in the working directory override exported variables: one that sets any
# variable of the sync is refused, so the exported environment always wins.
_SYNC_PREFIXES = ("MARKETO_", "SALESFORCE_", "SYNC_", "PERSON_", "TASK_", "ACTIVITY_")


class ConfigurationError(Exception):
    """The environment's configuration is incomplete or malformed (the message names variables only)."""


def _is_set(environ: Mapping[str, str], name: str) -> bool:
    return bool(environ.get(name, "").strip())


def sync_env(environ: Mapping[str, str] = os.environ) -> str:
    """`sandbox` or `production`: SYNC_ENV when set, else production if anything real is configured."""
    declared = environ.get("SYNC_ENV", "").strip().lower()
    if declared:
        return declared
    return PRODUCTION if any(_is_set(environ, name) for name in REAL_SETTINGS) else SANDBOX


def sandbox_allowed(environ: Mapping[str, str] = os.environ) -> bool:
    """Whether an unset service may fall back to its emulator (or the database to the embedded server)."""
    return sync_env(environ) == SANDBOX


def require_sandbox(setting: str) -> None:
    """Refuse to fall back to a fake for `setting` outside the sandbox environment."""
    if not sandbox_allowed():
        raise ConfigurationError(
            f"{setting} is not set and SYNC_ENV is {sync_env()}: production never falls back to the sandbox "
            "emulators or the embedded database. Set it, or set SYNC_ENV=sandbox for local use."
        )


def _missing_settings(environ: Mapping[str, str], env: str) -> list[str]:
    """Names of required settings that are unset: all of them in production, a service's rest in the sandbox."""
    missing = []
    marketo_given = [name for name in MARKETO_SETTINGS if _is_set(environ, name)]
    if env == PRODUCTION or marketo_given:
        missing += [name for name in MARKETO_SETTINGS if name not in marketo_given]
    client_credentials = [name for name in SALESFORCE_CLIENT_CREDENTIALS if _is_set(environ, name)]
    password_login = [name for name in SALESFORCE_PASSWORD_LOGIN if _is_set(environ, name)]
    if env == PRODUCTION or _is_set(environ, SALESFORCE_URL) or client_credentials or password_login:
        if not _is_set(environ, SALESFORCE_URL):
            missing.append(SALESFORCE_URL)
        if password_login and not client_credentials:
            missing += [name for name in SALESFORCE_PASSWORD_LOGIN if name not in password_login]
        elif len(client_credentials) < len(SALESFORCE_CLIENT_CREDENTIALS):
            absent = [name for name in SALESFORCE_CLIENT_CREDENTIALS if name not in client_credentials]
            missing.append(" and ".join(absent) + (" (or SALESFORCE_USERNAME, SALESFORCE_PASSWORD and "
                                                   "SALESFORCE_SECURITY_TOKEN)" if not client_credentials else ""))
    if env == PRODUCTION and not _is_set(environ, DATABASE_URL):
        missing.append(DATABASE_URL)
    return missing


def service_url_problem(name: str, url: str, *, plain_http_on_loopback: bool = False) -> str | None:
    """Why `url` is not a usable service root (None when it is): https only, a host, no path or query.

    plain_http_on_loopback admits http://127.0.0.1:port, the sandbox's Marketo emulator, and nothing else.
    """
    try:
        parts = urlsplit(url.strip())
        port = parts.port  # raises on a malformed port
    except ValueError:
        return f"{name} is not a URL"
    del port
    if not parts.hostname:
        return f"{name} has no host (expected https://host)"
    if parts.scheme != "https" and not (plain_http_on_loopback and parts.scheme == "http" and _loopback(parts.hostname)):
        return f"{name} must be an https:// URL (credentials are never sent over plain http)"
    if parts.path not in ("", "/") or parts.query or parts.fragment:
        return f"{name} must be the instance root, without a path or query (e.g. https://host)"
    return None


def _loopback(host: str) -> bool:
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return host == "localhost"


def positive_int_setting(name: str, default: int | None = None, environ: Mapping[str, str] = os.environ) -> int | None:
    """The whole positive number in `name`, `default` when unset; a ConfigurationError naming it otherwise."""
    text = environ.get(name, "").strip()
    if not text:
        return default
    problem = _positive_int_problem(name, text)
    if problem:
        raise ConfigurationError(problem)
    return int(text)


def _positive_int_problem(name: str, text: str) -> str | None:
    if text.isascii() and text.isdigit() and int(text) > 0:
        return None
    return f"{name} must be a whole number above 0 ({POSITIVE_INTEGERS.get(name, 'a count')})"


def database_url_problem(url: str) -> str | None:
    """Why SYNC_DATABASE_URL cannot be parsed (None when it can); never quotes it (it holds a password)."""
    try:
        psycopg.conninfo.conninfo_to_dict(url)
    except psycopg.Error:
        return f"{DATABASE_URL} is not a valid PostgreSQL URL or connection string"
    return None


def dotenv_overrides(directory: Path) -> list[str]:
    """Variables of the sync that a .env in `directory` sets (the dagster CLI would let them win)."""
    dotenv = directory / ".env"
    if not dotenv.is_file():
        return []
    from dotenv import dotenv_values  # the parser the dagster CLI itself uses

    return sorted(name for name in dotenv_values(dotenv) if name.startswith(_SYNC_PREFIXES))


def configuration_problems(environ: Mapping[str, str] = os.environ, cwd: Path | None = None) -> list[str]:
    """Every problem with the configuration, as messages that name variables, never values."""
    problems = []
    env = sync_env(environ)
    if env not in (SANDBOX, PRODUCTION):
        return ["SYNC_ENV must be sandbox or production"]
    missing = _missing_settings(environ, env)
    if missing:
        problems.append("missing " + ", ".join(missing))
    if _is_set(environ, "MARKETO_BASE_URL"):
        problems.append(service_url_problem("MARKETO_BASE_URL", environ["MARKETO_BASE_URL"],
                                            plain_http_on_loopback=env == SANDBOX))
    if _is_set(environ, SALESFORCE_URL):
        problems.append(service_url_problem(SALESFORCE_URL, environ[SALESFORCE_URL]))
    if _is_set(environ, DATABASE_URL):
        problems.append(database_url_problem(environ[DATABASE_URL]))
    for name in POSITIVE_INTEGERS:
        if _is_set(environ, name):
            problems.append(_positive_int_problem(name, environ[name].strip()))
    if _is_set(environ, "MARKETO_EXTRACT_SINCE"):
        try:
            datetime.fromisoformat(environ["MARKETO_EXTRACT_SINCE"].strip())
        except ValueError:
            problems.append("MARKETO_EXTRACT_SINCE must be an ISO date such as 2006-01-01")
    overriding = dotenv_overrides(cwd or Path.cwd())
    if overriding:
        problems.append(f".env in {cwd or Path.cwd()} sets {', '.join(overriding)}: the dagster CLI would let it "
                        "override the exported environment; remove it and export the variables instead")
    return [problem for problem in problems if problem]


def require_valid_configuration(environ: Mapping[str, str] = os.environ, cwd: Path | None = None) -> str:
    """The environment (sandbox or production), or a ConfigurationError listing every problem."""
    problems = configuration_problems(environ, cwd)
    if problems:
        env = sync_env(environ)
        why = "" if environ.get("SYNC_ENV", "").strip() else (
            " (SYNC_ENV is unset and something real is configured)" if env == PRODUCTION else "")
        raise ConfigurationError(f"Configuration refused for SYNC_ENV={env}{why}: " + "; ".join(problems) + ".")
    return sync_env(environ)
