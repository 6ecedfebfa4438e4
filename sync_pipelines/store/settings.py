"""Per-seller settings: the org default (an admin's choice), a seller's override ("My Account"), and the
environment variables as the org default below both.

The Actions app records every change (`actions_app.record_setting_change`) into `actions_setting_change`, an
append-only log, so a run can resolve a setting as it was at any instant (an activity's `logged_at`, the
start of a run). The effective value of a setting for a seller at time T is:

    the seller's latest change with changed_at <= T,
    else the org's latest change (seller_id NULL) with changed_at <= T,
    else the environment default (SETTINGS[name].env_var, or the built-in default when unset).

Three forms of the same rule:
- `effective_settings(conn, at)`: every seller's values at one instant, typed (bool / str).
- `setting_sql(name, seller_expr, at_expr)`: an SQL expression for one row, e.g. per activity at its
  `logged_at`; it returns the value as text ('true'/'false' for the on/off settings).
- `actions_setting_at(setting, seller_id, at)` in the database: the recorded value or NULL.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import psycopg
from psycopg import sql


@dataclass(frozen=True)
class Setting:
    name: str
    values: tuple[str, ...]  # the allowed stored values (the migration's CHECK says the same)
    env_var: str  # the org default when no change is recorded
    default: str  # when the environment variable is unset too

    @property
    def is_flag(self) -> bool:
        return self.values == _FLAG


_FLAG = ("true", "false")

SETTINGS: dict[str, Setting] = {
    s.name: s
    for s in (
        # Activities (applied by the activity fan-out, per activity at its logged_at).
        Setting("log_emails", _FLAG, "ACTIVITY_LOG_EMAILS", "true"),
        Setting("log_calls", _FLAG, "ACTIVITY_LOG_CALLS", "true"),
        Setting("email_logging_mode", ("api", "bcc"), "ACTIVITY_EMAIL_LOGGING_MODE", "api"),
        # Tasks: "don't sync to Salesforce tasks" is the product's default. two_way: both sides' changes
        # reach the other; actions_to_salesforce: the seller's Actions tasks are pushed, nothing is pulled.
        Setting("task_sync", ("dont_sync", "two_way", "actions_to_salesforce"), "TASK_SYNC", "dont_sync"),
        # Check a person's Marketo unsubscribe status before a seller may email them.
        Setting("marketo_unsubscribe_check", _FLAG, "MARKETO_UNSUBSCRIBE_CHECK", "true"),
    )
}

_TRUE_WORDS = ("1", "true", "yes", "on")
_FALSE_WORDS = ("0", "false", "no", "off")


class SettingValueError(ValueError):
    """A setting name or value outside the allowed ones (from the app or from the environment)."""


def _spec(setting: str) -> Setting:
    try:
        return SETTINGS[setting]
    except KeyError:
        raise SettingValueError(f"unknown setting {setting!r}; known: {', '.join(SETTINGS)}") from None


def normalize_value(setting: str, value: Any, *, source: str = "value") -> str:
    """The stored text of `value` for `setting` (a bool or an on/off word for the flags)."""
    spec = _spec(setting)
    if spec.is_flag:
        if isinstance(value, bool):
            return "true" if value else "false"
        word = str(value).strip().lower()
        if word in _TRUE_WORDS:
            return "true"
        if word in _FALSE_WORDS:
            return "false"
    else:
        word = str(value).strip().lower()
        if word in spec.values:
            return word
    raise SettingValueError(f"{source} for setting {setting!r} must be one of {', '.join(spec.values)}; got {value!r}")


def typed(setting: str, stored: str) -> bool | str:
    """A stored value as the sync uses it: bool for the on/off settings, the option name otherwise."""
    return stored == "true" if _spec(setting).is_flag else stored


def org_default(setting: str, environ: Mapping[str, str] | None = None) -> str:
    """The environment's org default (stored form). A value outside the allowed ones fails: a typo in
    the configuration must not silently turn a setting off."""
    spec = _spec(setting)
    raw = (os.environ if environ is None else environ).get(spec.env_var)
    if raw is None or not raw.strip():
        return spec.default
    return normalize_value(setting, raw, source=f"environment variable {spec.env_var}")


def effective_settings(
    conn: psycopg.Connection,
    at: datetime,
    *,
    seller_ids: Iterable[str] | None = None,
    settings: Iterable[str] | None = None,
    environ: Mapping[str, str] | None = None,
) -> dict[str, dict[str, bool | str]]:
    """{seller_id: {setting: value}} at instant `at`, for every seller of actions_seller (or those given),
    typed (bool for the on/off settings)."""
    names = list(settings) if settings is not None else list(SETTINGS)
    defaults = {name: org_default(name, environ) for name in names}
    if seller_ids is None:
        sellers = [r[0] for r in conn.execute("SELECT seller_id FROM actions_seller ORDER BY seller_id")]
    else:
        sellers = list(seller_ids)
    recorded: dict[tuple[str, str], str | None] = {}
    if sellers and names:
        rows = conn.execute(
            "SELECT s.seller_id, n.setting, actions_setting_at(n.setting, s.seller_id, %s)"
            " FROM unnest(%s::text[]) AS s(seller_id), unnest(%s::text[]) AS n(setting)",
            (at, sellers, names),
        ).fetchall()
        recorded = {(seller, name): value for seller, name, value in rows}
    return {
        seller: {name: typed(name, recorded.get((seller, name)) or defaults[name]) for name in names}
        for seller in sellers
    }


def org_settings(
    conn: psycopg.Connection, at: datetime, *, environ: Mapping[str, str] | None = None
) -> dict[str, bool | str]:
    """The org-wide values at `at` (the admin's latest change, else the environment), typed."""
    values = {}
    for name in SETTINGS:
        row = conn.execute(
            "SELECT value FROM actions_setting_change WHERE setting = %s AND seller_id IS NULL AND changed_at <= %s"
            " ORDER BY changed_at DESC, change_id DESC LIMIT 1",
            (name, at),
        ).fetchone()
        values[name] = typed(name, row[0] if row else org_default(name, environ))
    return values


def setting_sql(
    setting: str, seller_expr: str, at_expr: str, *, environ: Mapping[str, str] | None = None
) -> sql.Composed:
    """An SQL expression (text) for the effective value of `setting` for the seller in `seller_expr` at the
    instant in `at_expr`, both SQL expressions of the query (e.g. "a.seller_id", "a.logged_at"). The
    environment default is embedded as a literal, read when this is called (at the start of a run)."""
    return sql.SQL("coalesce(actions_setting_at({}, {}, {}), {})").format(
        sql.Literal(_spec(setting).name), sql.SQL(seller_expr), sql.SQL(at_expr), sql.Literal(org_default(setting, environ))
    )
