"""Org pinning: the sync writes only to the Marketo instance and the Salesforce org it first ran against.

The first run that reaches a service records its identity in the Actions database (sync_org_pin), in the
run's own transaction, so a run that fails pins nothing (the person extract, whose windows commit
one by one, commits its pin first, in a short transaction of its own). Later runs compare and refuse to write when the
service answering is another one: credentials swapped from a Salesforce sandbox to production, or
between Marketo instances, would otherwise write into whatever org answers.

- Marketo: the Munchkin id of the instance root (`https://123-ABC-456.mktorest.com` -> `123-ABC-456`);
  any other host (the loopback emulator) is pinned by its host name.
- Salesforce: the organization id, from the OAuth userinfo endpoint (`organization_id`).

A deliberate move to another instance or org: `make repin` (`python -m sync_pipelines.pinning repin`),
which reads both identities with the configured credentials and records them.
"""

from __future__ import annotations

import argparse
import re
import sys
from urllib.parse import urlsplit

import dagster as dg
import psycopg

MARKETO, SALESFORCE = "marketo", "salesforce"
_LABELS = {MARKETO: "Marketo instance", SALESFORCE: "Salesforce org"}
_MUNCHKIN_HOST = re.compile(r"(\d{3}-[a-z]{3}-\d{3})\.mktorest\.com")


def marketo_instance(base_url: str) -> str:
    """The Munchkin id of a Marketo instance root, else its host (the port is not part of an identity)."""
    host = (urlsplit(base_url.strip()).hostname or "").lower()
    munchkin = _MUNCHKIN_HOST.fullmatch(host)
    return munchkin.group(1).upper() if munchkin else host


def pinned_identity(conn: psycopg.Connection, service: str) -> str | None:
    row = conn.execute("SELECT identity FROM sync_org_pin WHERE service = %s", (service,)).fetchone()
    return row[0] if row else None


def require_pinned(conn: psycopg.Connection, service: str, identity: str) -> None:
    """Pin `identity` when nothing is pinned yet; raise dg.Failure when another one is."""
    conn.execute(
        "INSERT INTO sync_org_pin (service, identity, pinned_by) VALUES (%s, %s, 'first run') "
        "ON CONFLICT (service) DO NOTHING",
        (service, identity),
    )
    pinned = pinned_identity(conn, service)
    if pinned != identity:
        label = _LABELS[service]
        raise dg.Failure(
            description=(
                f"Org pinning: this Actions database is pinned to {label} {pinned}, but the configured "
                f"credentials reach {label} {identity}. Refusing to write. If the sync really moves to "
                f"{identity}, re-pin deliberately: `make repin` (python -m sync_pipelines.pinning repin)."
            ),
            metadata={"service": service, "pinned": pinned, "reached": identity},
        )


def pin_marketo(conn: psycopg.Connection, client) -> None:
    """Require the Marketo instance `client` talks to to be the pinned one (pinning it on the first run)."""
    require_pinned(conn, MARKETO, marketo_instance(client.base_url))


def pin_salesforce(conn: psycopg.Connection, client) -> None:
    """Require the Salesforce org `client` is logged in to to be the pinned one (pinning it on the first run)."""
    require_pinned(conn, SALESFORCE, client.organization_id())


def repin(conn: psycopg.Connection, service: str, identity: str) -> str | None:
    """Record `identity` as the pinned one for `service`, deliberately; returns the previous pin."""
    previous = pinned_identity(conn, service)
    conn.execute(
        "INSERT INTO sync_org_pin (service, identity, pinned_by, pinned_at) VALUES (%s, %s, 'repin', now()) "
        "ON CONFLICT (service) DO UPDATE SET identity = EXCLUDED.identity, pinned_by = EXCLUDED.pinned_by, "
        "pinned_at = EXCLUDED.pinned_at",
        (service, identity),
    )
    return previous


def main(argv: list[str] | None = None) -> int:
    """`python -m sync_pipelines.pinning show|repin [--service marketo|salesforce]` on the configured services."""
    parser = argparse.ArgumentParser(prog="python -m sync_pipelines.pinning",
                                     description="Show or deliberately re-pin the Marketo instance and Salesforce org.")
    parser.add_argument("action", choices=["show", "repin"])
    parser.add_argument("--service", choices=[MARKETO, SALESFORCE], action="append",
                        help="only this service (repeatable); default both")
    args = parser.parse_args(argv)
    from sync_pipelines.resources import shared_resources  # validates the configuration first

    with dg.build_resources({name: resource for name, resource in shared_resources().items()
                             if name in ("marketo", "salesforce", "actions_db")}) as resources:  # EnvVars resolved
        return _show_or_repin(resources, args.action, args.service or [MARKETO, SALESFORCE])


def _show_or_repin(resources, action: str, services: list[str]) -> int:
    with resources.actions_db.connection() as conn:
        for service in services:
            if action == "show":
                print(f"{service}: pinned to {pinned_identity(conn, service) or '(nothing yet)'}")
                continue
            if service == MARKETO:
                with resources.marketo.client() as client:
                    identity = marketo_instance(client.base_url)
            else:
                with resources.salesforce.client() as client:
                    identity = client.organization_id()
            previous = repin(conn, service, identity)
            print(f"{service}: pinned to {identity} (was {previous or 'nothing'})")
        conn.commit()
    return 0


if __name__ == "__main__":
    sys.exit(main())
