"""A task-sync world: the Salesforce emulator over loopback HTTPS, a fresh PostgreSQL, one manual clock.

The Actions clock (the `now` in the assets' config) and the emulator's clock are the same ManualClock, so
"10 days later" means the same on both sides. One seller (SELLER) owns the world's tasks through their
Salesforce user (`owner_id`); `run(enable=True)` is the seller choosing two-way task sync in "My Account".
"""

from collections.abc import Iterator
from datetime import datetime
from typing import Any

import dagster as dg
import psycopg
import pytest

from sync_pipelines import actions_app
from sync_pipelines import store
from sync_pipelines.resources import ActionsDatabase, SalesforceResource
from sync_pipelines.sandbox.salesforce_app import serve_salesforce
from sync_pipelines.sandbox.salesforce_state import SalesforceSandboxConfig
from sync_pipelines.store.sync_control import start_sync
from sync_pipelines.tasks import actions_tasks, command_center_tasks, salesforce_tasks
from sync_pipelines.tasks.jobs import task_sync_run_config
from sync_pipelines_tests.fixtures.sellers import add_seller, choose_task_sync

TASK_ASSETS = [salesforce_tasks, actions_tasks, command_center_tasks]
CONTENT = ["subject", "due_date", "status", "priority", "notes", "owner_id", "who_id", "reminder_at"]
SELLER = "seller-1"


class SellerOrg:
    """The emulated org as the world's seller uses it: a Task they create is theirs unless told otherwise."""

    def __init__(self, sandbox, owner_id: str):
        self._sandbox, self._owner_id = sandbox, owner_id

    def create(self, sobject: str, **fields: Any) -> str:
        if sobject == "Task":
            fields = {"OwnerId": self._owner_id, **fields}
        return self._sandbox.create(sobject, **fields)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._sandbox, name)


class TaskWorld:
    def __init__(self, database_url: str, salesforce_sandbox, clock):
        self.database_url = database_url
        self.served = salesforce_sandbox
        self.sf = salesforce_sandbox.sandbox  # the emulated org: create/update/delete/records as a user would
        self.clock = clock
        self.conn: psycopg.Connection = store.connect(database_url)
        self.conn.autocommit = True
        start_sync(self.conn)  # the admin's "initiate data sync": the sensors and schedules act from here on
        lead = next(r for r in self.sf.records("Lead") if not r["IsConverted"])
        self.who_id = lead["Id"]
        self.owner_id = next(r["Id"] for r in self.sf.records("User") if r["Id"] != self.sf.integration_user_id)
        add_seller(self.conn, SELLER, self.owner_id)
        self.sf = SellerOrg(self.sf, self.owner_id)

    @property
    def now(self) -> datetime:
        return self.clock.current

    def advance(self, **delta: float) -> datetime:
        return self.clock.advance(**delta)

    def resources(self) -> dict[str, Any]:
        return {
            "salesforce": SalesforceResource(instance_url=self.served.url, client_id=self.served.client_id,
                                             client_secret=self.served.client_secret, ca_bundle=self.served.ca_path),
            "actions_db": ActionsDatabase(url=self.database_url),
        }

    def enable(self, option: str = "two_way") -> None:
        choose_task_sync(self.conn, option, self.now, SELLER)

    def run(self, *, enable: bool = False, selection=None, expect_success: bool = True) -> dict[str, dict]:
        """Materialize the task assets at the world's current time; returns metadata by asset name."""
        if enable:
            self.enable()
        result = dg.materialize(
            TASK_ASSETS, selection=selection, resources=self.resources(), raise_on_error=False,
            run_config=task_sync_run_config(self.now.isoformat()) if selection is None
            else _selected_config(self.now.isoformat(), selection),
        )
        assert result.success == expect_success
        return {
            event.asset_key.to_user_string(): {k: v.value for k, v in event.step_materialization_data.materialization.metadata.items()}
            for event in result.get_asset_materialization_events()
        }

    # -- the Actions app
    def create(self, **fields: Any) -> int:
        """A task the seller makes in Actions (owned by the seller's Salesforce user unless told otherwise)."""
        return actions_app.create_task(self.conn, self.now, **{"owner_id": self.owner_id, **fields})

    def edit(self, task_id: int, **fields: Any) -> None:
        actions_app.edit_task(self.conn, task_id, self.now, **fields)

    def actions_task(self, task_id: int) -> dict[str, Any] | None:
        row = self.conn.execute(
            f"SELECT {', '.join(CONTENT)}, salesforce_task_id, deleted_at, updated_at, completed"
            " FROM actions_task WHERE task_id = %s", (task_id,)).fetchone()
        return None if row is None else dict(zip([*CONTENT, "salesforce_task_id", "deleted_at", "updated_at",
                                                  "completed"], row))

    def actions_by_salesforce_id(self, salesforce_id: str) -> dict[str, Any] | None:
        row = self.conn.execute("SELECT task_id FROM actions_task WHERE salesforce_task_id = %s",
                                (salesforce_id,)).fetchone()
        return None if row is None else {"task_id": row[0], **self.actions_task(row[0])}

    def sf_tasks(self) -> list[dict[str, Any]]:
        return [r for r in self.sf.records("Task") if r.get("TaskSubtype") == "Task"]

    def sf_task(self, salesforce_id: str) -> dict[str, Any] | None:
        return self.sf.get("Task", salesforce_id)

    def sf_by_actions_id(self, task_id: int) -> list[dict[str, Any]]:
        return [r for r in self.sf_tasks() if r.get("Actions_Task_Id__c") == str(task_id)]


def _selected_config(now: str, selection: list) -> dict:
    full = task_sync_run_config(now)["ops"]
    names = {asset.key.to_user_string() for asset in selection}
    return {"ops": {name: config for name, config in full.items() if name in names}}


@pytest.fixture
def salesforce_sandbox(salesforce_clock):
    """A small org (tasks need only a few leads and users): quicker to seed than the shared fixture's."""
    with serve_salesforce(SalesforceSandboxConfig(size=30, now=salesforce_clock)) as running:
        yield running


@pytest.fixture
def world(database_url, salesforce_sandbox, salesforce_clock) -> Iterator[TaskWorld]:
    built = TaskWorld(database_url, salesforce_sandbox, salesforce_clock)
    yield built
    built.conn.close()


@pytest.fixture
def enabled_world(world: TaskWorld) -> TaskWorld:
    """A world where the sync was turned on (and the first import done) at the start of the clock."""
    world.run(enable=True)
    return world
