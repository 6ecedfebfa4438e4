"""Whose tasks sync: each seller's `task_sync` setting, as the task sync last applied it (task_sync_seller).

The Actions app records the setting (an admin's org default, a seller's own choice in "My Account": see
store/settings.py). At the start of each run the sync applies it here, so that the rules hang on recorded
moments:

- first enable: the moment the setting first made the seller sync (the recorded change that decided it, else
  the run that saw it). The seller's Actions tasks made before it are never pushed; the seller's Salesforce
  tasks created or updated in the 24 hours before it are imported (`import_since`).
- two_way pulls and pushes; actions_to_salesforce only pushes; dont_sync (the default) does neither.
- a seller who stops pulling keeps the Salesforce cursor of that moment (`pulled_until`): pulling again
  catches up on the tasks changed since, and the re-enable sweeps Salesforce's deletions.

A seller's tasks are the Salesforce tasks owned by their Salesforce user (actions_seller.salesforce_user_id)
and the Actions tasks with that owner_id. A seller without a Salesforce user has no tasks to sync.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

import psycopg

from sync_pipelines.store.settings import effective_settings

# The first enable brings in the Salesforce tasks created or updated this long before it (the product's rule).
FIRST_IMPORT_REACH = timedelta(hours=24)
PULLING = frozenset({"two_way"})
PUSHING = frozenset({"two_way", "actions_to_salesforce"})

# Salesforce users whose Actions tasks are pushed, with their seller's first enable (SQL, for store queries).
PUSHING_OWNERS_SQL = """
    SELECT s.salesforce_user_id AS owner_id, ts.first_enabled_at
    FROM task_sync_seller ts JOIN actions_seller s USING (seller_id)
    WHERE ts.mode IN ('two_way', 'actions_to_salesforce') AND s.salesforce_user_id IS NOT NULL
"""


@dataclass(frozen=True)
class SellerTaskSync:
    seller_id: str
    owner_id: str | None  # the seller's Salesforce user id
    mode: str
    first_enabled_at: datetime | None = None
    enabled_at: datetime | None = None
    disabled_at: datetime | None = None
    pulled_until: datetime | None = None
    import_since: datetime | None = None
    import_staged: bool = False

    @property
    def pulls(self) -> bool:
        return self.mode in PULLING and self.owner_id is not None

    @property
    def pushes(self) -> bool:
        return self.mode in PUSHING and self.owner_id is not None

    @property
    def import_due(self) -> bool:
        return self.pulls and self.import_since is not None


_COLUMNS = ["mode", "first_enabled_at", "enabled_at", "disabled_at", "pulled_until", "import_since", "import_staged"]


def read_task_sellers(conn: psycopg.Connection) -> list[SellerTaskSync]:
    """The applied state of every seller that has one, ordered by seller id."""
    rows = conn.execute(
        f"SELECT ts.seller_id, s.salesforce_user_id, {', '.join('ts.' + c for c in _COLUMNS)}"
        " FROM task_sync_seller ts JOIN actions_seller s USING (seller_id) ORDER BY ts.seller_id"
    ).fetchall()
    return [SellerTaskSync(*row) for row in rows]


def _wanted(conn: psycopg.Connection, at: datetime) -> dict[str, tuple[str, datetime | None]]:
    """{seller_id: (effective task_sync option, when the recorded change that decides it was made)} at `at`."""
    modes = effective_settings(conn, at, settings=["task_sync"])
    moments = dict(conn.execute(
        """
        SELECT s.seller_id, coalesce(
            (SELECT max(c.changed_at) FROM actions_setting_change c
              WHERE c.setting = 'task_sync' AND c.seller_id = s.seller_id AND c.changed_at <= %(at)s),
            (SELECT max(c.changed_at) FROM actions_setting_change c
              WHERE c.setting = 'task_sync' AND c.seller_id IS NULL AND c.changed_at <= %(at)s))
        FROM actions_seller s
        """,
        {"at": at},
    ).fetchall())
    return {seller: (str(values["task_sync"]), moments.get(seller)) for seller, values in modes.items()}


def task_sync_settings_due(conn: psycopg.Connection, at: datetime) -> list[tuple[str, str]]:
    """(seller_id, option) of the sellers whose task_sync setting at `at` is not the one applied (read only)."""
    applied = {s.seller_id: s.mode for s in read_task_sellers(conn)}
    return sorted((seller, mode) for seller, (mode, _) in _wanted(conn, at).items()
                  if applied.get(seller, "dont_sync") != mode)


@dataclass(frozen=True)
class SettingsApplied:
    enabled: list[str]  # sellers who started syncing (pushing) in this run
    disabled: list[str]  # sellers who stopped
    imports_due: list[str]  # sellers whose Salesforce tasks are to be imported


def apply_task_sync_settings(conn: psycopg.Connection, now: datetime) -> SettingsApplied:
    """Record every seller's task_sync setting as of `now` (the moments of the rules above)."""
    wanted = _wanted(conn, now)
    current = {s.seller_id: s for s in read_task_sellers(conn)}
    (cursor,) = conn.execute("SELECT salesforce_cursor FROM task_sync_state").fetchone()
    enabled, disabled, imports = [], [], []
    with conn.transaction():
        for seller, (mode, moment) in wanted.items():
            old = current.get(seller) or SellerTaskSync(seller, None, "dont_sync")
            if old.mode == mode:
                continue
            new = _transition(old, mode, min(moment or now, now), now, cursor)
            conn.execute(
                f"INSERT INTO task_sync_seller (seller_id, {', '.join(_COLUMNS)})"
                f" VALUES (%s, {', '.join(['%s'] * len(_COLUMNS))}) ON CONFLICT (seller_id) DO UPDATE SET "
                + ", ".join(f"{c} = EXCLUDED.{c}" for c in _COLUMNS),
                [seller, *(getattr(new, c) for c in _COLUMNS)],
            )
            if new.mode in PUSHING and old.mode not in PUSHING:
                enabled.append(seller)
            if new.mode not in PUSHING and old.mode in PUSHING:
                disabled.append(seller)
            if new.import_since is not None and old.import_since is None and new.mode in PULLING:
                imports.append(seller)
            if new.mode in PULLING and old.mode not in PULLING and old.pulled_until is not None:
                # Pulling again after a pause: Salesforce deletions of the pause are swept too.
                conn.execute("UPDATE task_sync_state SET deletion_sweep_due = true")
    return SettingsApplied(enabled, disabled, imports)


def _transition(old: SellerTaskSync, mode: str, moment: datetime, now: datetime,
                cursor: datetime | None) -> SellerTaskSync:
    """The seller's state once `mode` (decided at `moment`) replaces `old.mode`."""
    values = {c: getattr(old, c) for c in _COLUMNS} | {"mode": mode}
    if mode in PUSHING and old.mode not in PUSHING:
        values |= {"enabled_at": moment, "first_enabled_at": old.first_enabled_at or moment}
    if mode not in PUSHING and old.mode in PUSHING:
        values["disabled_at"] = now
    if mode in PULLING and old.mode not in PULLING:
        # First pull: the 24 hours before the enable; again: everything changed since the seller stopped.
        values["import_since"] = old.pulled_until or (moment - FIRST_IMPORT_REACH)
        values["import_staged"] = False
    if mode not in PULLING and old.mode in PULLING:
        # A seller whose first import never ran has caught up on nothing: the next enable is still a first pull.
        pulled_until = old.pulled_until if old.import_since is not None else (cursor or now)
        values |= {"pulled_until": pulled_until, "import_since": None, "import_staged": False}
    return SellerTaskSync(old.seller_id, old.owner_id, **values)
