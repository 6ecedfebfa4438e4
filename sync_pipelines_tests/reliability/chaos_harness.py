"""Chaos rounds: random faults and SIGKILLed runs, each followed by a clean rerun and an oracle compare.

Each round of a scenario: make changes (recorded in the scenario's own model, computed from the seed
and those changes, never read back from the sync's output), set random fault plans on both emulators,
start the job in a child of the pre-warmed `job_runner`, SIGKILL it after a random delay (if it is still
running), clear the faults, rerun the job to the end, then compare the Actions database, Marketo and
Salesforce with the model. `bench/chaos.py` runs many rounds and prints the figures; the test a few.
"""

from __future__ import annotations

import json
import os
import queue
import random
import signal
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pandas as pd
import psycopg

from sync_pipelines import store
from sync_pipelines.sandbox.faults import FaultPlan
from sync_pipelines.sandbox.marketo_state import MarketoSandboxConfig
from sync_pipelines.sandbox.salesforce_app import serve_salesforce
from sync_pipelines.sandbox.salesforce_state import SalesforceSandboxConfig
from sync_pipelines.sandbox.seed import generate_people
from sync_pipelines.sandbox.servers import serve_marketo
from sync_pipelines.store import tasks as task_store
from sync_pipelines.store.unsubscribes import record_opt_out
from sync_pipelines_tests.reliability.helpers import ACTIONS_COLUMNS, expected_actions_people
from sync_pipelines_tests.unsubscribes.helpers import load_actions_people

REPO_ROOT = Path(__file__).resolve().parents[2]
MARKETO_SEED, MARKETO_SIZE = 5, 300
SALESFORCE_SEED, SALESFORCE_SIZE = 42, 300  # the unsubscribe helpers load these same people into Actions

# Per call (per record for partial_collection, per export job for bulk_export_failed). Quota faults are
# rare on purpose: a round that meets one simply fails cleanly and the rerun finishes the work.
MARKETO_RATES = {"601": 0.05, "602": 0.05, "604": 0.05, "606": 0.03, "607": 0.02, "615": 0.05, "1029": 0.05,
                 "5xx": 0.08, "slow": 0.08, "bulk_export_failed": 0.15}
SALESFORCE_RATES = {"REQUEST_LIMIT_EXCEEDED": 0.02, "INVALID_SESSION_ID": 0.05, "UNABLE_TO_LOCK_ROW": 0.08,
                    "5xx": 0.08, "partial_collection": 0.08}


@dataclass
class Figures:
    """What the chaos rounds did and found."""

    rounds: Counter = field(default_factory=Counter)
    faults_injected: Counter = field(default_factory=Counter)
    kills: Counter = field(default_factory=Counter)
    runs_failed_under_faults: Counter = field(default_factory=Counter)
    rows_compared: int = 0
    differences: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {"rounds": dict(self.rounds), "faults_injected": dict(self.faults_injected),
                "faults_injected_total": sum(self.faults_injected.values()), "kills": dict(self.kills),
                "runs_failed_under_faults": dict(self.runs_failed_under_faults),
                "rows_compared": self.rows_compared, "differences_found": len(self.differences),
                "differences": self.differences[:20]}


# ---------------------------------------------------------------- the pre-warmed runner


class JobRunner:
    """Talks to `job_runner` (a `python -m` process): start a job in a fresh child, wait, SIGKILL it."""

    def __init__(self, env: dict[str, str], log_path: str):
        self.log_path = log_path
        self._process = subprocess.Popen(
            [sys.executable, "-m", "sync_pipelines_tests.reliability.job_runner"], cwd=REPO_ROOT,
            env={**os.environ, **env}, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        self._lines: queue.Queue[dict] = queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()
        assert self._next(timeout=180).get("ready"), "job runner did not start"

    def _read(self) -> None:
        for line in self._process.stdout:
            self._lines.put(json.loads(line))

    def _next(self, timeout: float) -> dict:
        return self._lines.get(timeout=timeout)

    def start(self, job: str, run_config: dict, env: dict[str, str]) -> int:
        request = {"job": job, "run_config": run_config, "env": env, "log_path": self.log_path}
        self._process.stdin.write(json.dumps(request) + "\n")
        self._process.stdin.flush()
        return self._next(timeout=30)["pid"]

    def wait(self, timeout: float) -> int | None:
        """The child's exit code (-9 when killed), or None if it still runs after `timeout` seconds."""
        try:
            return self._next(timeout=timeout)["exit"]
        except queue.Empty:
            return None

    @staticmethod
    def kill(pid: int) -> None:
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass  # it ended on its own in the meantime

    def close(self) -> None:
        self._process.stdin.close()
        self._process.wait(timeout=30)


# ---------------------------------------------------------------- scenarios


class Scenario:
    """One job under chaos: its changes per round, its run config and its oracle compare."""

    job = ""

    def setup(self, world: World) -> None: ...

    def mutate(self, world: World, rng: random.Random, round_no: int) -> None: ...

    def run_config(self) -> dict:
        return {}

    def compare(self, world: World) -> tuple[int, list[str]]:
        raise NotImplementedError


def _diff(label: str, expected: Any, actual: Any) -> list[str]:
    if expected == actual:
        return []
    if isinstance(expected, (set, frozenset)) and isinstance(actual, (set, frozenset)):
        return [f"{label}: {len(expected - actual)} missing, {len(actual - expected)} unexpected"]
    return [f"{label}: expected {expected!r}, got {actual!r}"]


class PersonScenario(Scenario):
    """person_sync_job (full extract) while Marketo people change, gain and lose owners, come and go."""

    job = "person_sync_job"

    def setup(self, world: World) -> None:
        self.model = generate_people(MARKETO_SEED, MARKETO_SIZE).set_index("id")

    def run_config(self) -> dict:
        # Credentials stay in the environment ({"env": ...}); the sandbox is exported through smart list 1.
        secret = {name: {"env": var} for name, var in (("base_url", "MARKETO_BASE_URL"), (
            "client_id", "MARKETO_CLIENT_ID"), ("client_secret", "MARKETO_CLIENT_SECRET"))}
        return {"resources": {"marketo": {"config": {**secret, "smart_list_id": 1, "window_seconds": 2.0,
                                                     "bulk_poll_seconds": 0.05}}}}

    def mutate(self, world: World, rng: random.Random, round_no: int) -> None:
        sandbox, model = world.marketo.sandbox, self.model
        ids = sorted(model.index)
        owned = [i for i in ids if pd.notna(model.at[i, "sfdcLeadOwnerId"])]
        unowned = [i for i in ids if pd.isna(model.at[i, "sfdcLeadOwnerId"])]
        for lead_id in rng.sample(owned, 3):
            title = f"Chaos title {round_no}-{lead_id}"
            sandbox.update_lead(lead_id, title=title)
            model.at[lead_id, "title"] = title
        lost = rng.choice(owned)
        sandbox.update_lead(lost, sfdcLeadOwnerId=None)
        model.at[lost, "sfdcLeadOwnerId"] = None
        if unowned:
            gained = rng.choice(unowned)
            sandbox.update_lead(gained, sfdcLeadOwnerId="005CHAOS000000OWN")
            model.at[gained, "sfdcLeadOwnerId"] = "005CHAOS000000OWN"
        deleted = rng.choice([i for i in owned if i != lost])
        sandbox.delete_lead(deleted)
        model.drop(index=deleted, inplace=True)
        fields = {"firstName": f"New{round_no}", "lastName": "Chaos", "email": f"new{round_no}@chaos.invalid",
                  "sfdcLeadOwnerId": "005CHAOS000000OWN", "sfdcType": "Lead"}
        new_id = sandbox.create_lead(**fields)
        expected_id = max(ids) + 1  # the model's own id rule: Marketo gives the next id
        if new_id != expected_id:
            world.figures.differences.append(f"new lead id {new_id}, model expected {expected_id}")
        model.loc[expected_id] = pd.Series(fields)

    def compare(self, world: World) -> tuple[int, list[str]]:
        expected = expected_actions_people(self.model.reset_index())
        with psycopg.connect(world.database(self)) as conn:
            actual = set(conn.execute(f"SELECT {', '.join(ACTIONS_COLUMNS)} FROM actions_person").fetchall())
            (quarantined,) = conn.execute("SELECT count(*) FROM person_quarantine").fetchone()
        leads = world.marketo.sandbox.leads().set_index("id")
        diffs = _diff("actions_person", expected, actual) + _diff("person_quarantine rows", 0, quarantined)
        # Marketo holds exactly the model's people (the sync never writes Marketo).
        diffs += _diff("marketo lead ids", set(self.model.index), set(leads.index))
        diffs += _diff("marketo titles", self.model["title"].fillna("").to_dict(),
                       leads["title"].fillna("").to_dict())
        return len(expected) + len(leads), diffs


class UnsubscribeScenario(Scenario):
    """unsubscribe_sync_job while people opt out in Actions and in Salesforce (an opt-out is never undone)."""

    job = "unsubscribe_sync_job"

    def setup(self, world: World) -> None:
        load_actions_people(world.database(self))
        seed = generate_people(SALESFORCE_SEED, SALESFORCE_SIZE)
        seed = seed[seed["sfdcLeadOwnerId"].notna()]
        self.records: dict[int, tuple[str, str]] = {}  # marketo id -> (object, id) of the person's record
        for row in seed.itertuples(index=False):
            if isinstance(row.sfdcContactId, str) and row.sfdcContactId:
                self.records[int(row.id)] = ("Contact", row.sfdcContactId)
            elif isinstance(row.sfdcLeadId, str) and row.sfdcLeadId:
                self.records[int(row.id)] = ("Lead", row.sfdcLeadId)
        self.opted_out = {int(r.id) for r in seed.itertuples(index=False) if r.unsubscribed and int(r.id) in self.records}

    def mutate(self, world: World, rng: random.Random, round_no: int) -> None:
        subscribed = sorted(set(self.records) - self.opted_out)
        in_actions, in_salesforce = rng.sample(subscribed, 2), rng.sample(subscribed, 2)
        with store.connect(world.database(self)) as conn:
            conn.autocommit = True
            for marketo_id in in_actions:
                record_opt_out(conn, marketo_id, datetime.now(timezone.utc))
        for marketo_id in in_salesforce:
            if marketo_id not in in_actions:
                sobject, record_id = self.records[marketo_id]
                world.salesforce.sandbox.update(sobject, record_id, HasOptedOutOfEmail=True)
        self.opted_out |= set(in_actions) | set(in_salesforce)

    def compare(self, world: World) -> tuple[int, list[str]]:
        org = world.salesforce.sandbox
        expected = {m: m in self.opted_out for m in self.records}
        in_salesforce = {m: bool((org.get(*self.records[m]) or {}).get("HasOptedOutOfEmail")) for m in self.records}
        with psycopg.connect(world.database(self)) as conn:
            rows = dict(conn.execute("SELECT marketo_id, opted_out FROM actions_unsubscribe").fetchall())
            (duplicates,) = conn.execute(
                "SELECT count(*) FROM (SELECT 1 FROM unsubscribe_event GROUP BY marketo_id, opted_out, outcome, "
                "source HAVING count(*) > 1 AND bool_and(opted_out)) d").fetchone()
        in_actions = {m: bool(rows.get(m, False)) for m in self.records}
        diffs = _diff("salesforce opt-outs", {m for m, v in expected.items() if v},
                      {m for m, v in in_salesforce.items() if v})
        diffs += _diff("actions opt-outs", {m for m, v in expected.items() if v}, {m for m, v in in_actions.items() if v})
        diffs += _diff("opt-out events recorded twice", 0, duplicates)
        return 2 * len(self.records), diffs


class TaskScenario(Scenario):
    """task_sync_job while tasks are created, edited and deleted on both sides."""

    job = "task_sync_job"

    def setup(self, world: World) -> None:
        org = world.salesforce.sandbox
        self.who_id = next(r["Id"] for r in org.records("Lead") if not r["IsConverted"])
        # label -> current subject (None once deleted); where each task was made; its ids once known.
        self.subjects: dict[str, str | None] = {
            f"seed-{r['Id']}": r.get("Subject") for r in org.records("Task") if r.get("TaskSubtype") == "Task"}
        self.actions_ids: dict[str, int] = {}
        self.salesforce_ids: dict[str, str] = {label: label[len("seed-"):] for label in self.subjects}
        code = world.run_clean(self, {"ops": {"salesforce_tasks": {"config": {"enable_sync": True}}}})
        if code != 0:
            world.figures.differences.append("task sync could not be enabled")

    def mutate(self, world: World, rng: random.Random, round_no: int) -> None:
        org, now = world.salesforce.sandbox, datetime.now(timezone.utc)
        due = date.today() + timedelta(days=rng.randint(0, 5))
        old_live = sorted(label for label, subject in self.subjects.items() if subject is not None)
        picks = rng.sample(old_live, min(4, len(old_live)))
        with store.connect(world.database(self)) as conn:
            conn.autocommit = True
            self._link_known(conn)
            for n in range(2):
                label = f"r{round_no}-a{n}"
                self.actions_ids[label] = task_store.create_task(
                    conn, now, subject=f"{label} it's \"quoted\"", due_date=due, who_id=self.who_id)
                self.subjects[label] = f"{label} it's \"quoted\""
            label = f"r{round_no}-s0"
            self.salesforce_ids[label] = org.create("Task", Subject=label, ActivityDate=due, WhoId=self.who_id)
            self.subjects[label] = label
            linked = [p for p in picks if p in self.actions_ids and p in self.salesforce_ids]
            on_salesforce = [p for p in picks if p in self.salesforce_ids]
            if linked:  # edit one in Actions, delete another in Actions
                edit = linked[0]
                task_store.edit_task(conn, self.actions_ids[edit], now, subject=f"{edit} edited in Actions {round_no}")
                self.subjects[edit] = f"{edit} edited in Actions {round_no}"
            rest = [p for p in on_salesforce if p not in linked[:1]]
            if rest:  # edit one in Salesforce
                edit = rest[0]
                org.update("Task", self.salesforce_ids[edit], Subject=f"{edit} edited in Salesforce {round_no}")
                self.subjects[edit] = f"{edit} edited in Salesforce {round_no}"
            if len(rest) > 1:  # delete one in Salesforce
                org.delete("Task", self.salesforce_ids[rest[1]])
                self.subjects[rest[1]] = None
            if len(linked) > 1 and linked[1] not in rest[:2]:  # delete one in Actions
                task_store.delete_task(conn, self.actions_ids[linked[1]], now)
                self.subjects[linked[1]] = None

    def _link_known(self, conn: psycopg.Connection) -> None:
        """Learn the other side's id of every task the sync has linked (the model's own bookkeeping)."""
        rows = conn.execute("SELECT task_id, salesforce_task_id FROM actions_task WHERE salesforce_task_id IS NOT NULL")
        by_actions = {v: k for k, v in self.actions_ids.items()}
        by_salesforce = {v: k for k, v in self.salesforce_ids.items()}
        for task_id, salesforce_id in rows:
            label = by_actions.get(task_id) or by_salesforce.get(salesforce_id)
            if label:
                self.actions_ids[label], self.salesforce_ids[label] = task_id, salesforce_id

    def compare(self, world: World) -> tuple[int, list[str]]:
        live = Counter(s for s in self.subjects.values() if s is not None)
        sf_live = Counter(r.get("Subject") for r in world.salesforce.sandbox.records("Task")
                          if r.get("TaskSubtype") == "Task")
        with psycopg.connect(world.database(self)) as conn:
            actions_live = Counter(s for (s,) in conn.execute("SELECT subject FROM actions_task WHERE deleted_at IS NULL"))
            (unlinked,) = conn.execute(
                "SELECT count(*) FROM actions_task WHERE deleted_at IS NULL AND salesforce_task_id IS NULL").fetchone()
            (quarantined,) = conn.execute("SELECT count(*) FROM task_quarantine").fetchone()
        diffs = _diff("salesforce tasks", dict(live), dict(sf_live)) + _diff("actions tasks", dict(live), dict(actions_live))
        diffs += _diff("actions tasks not linked to Salesforce", 0, unlinked)
        diffs += _diff("task_quarantine rows", 0, quarantined)
        return sum(sf_live.values()) + sum(actions_live.values()), diffs


# ---------------------------------------------------------------- the world


class World:
    """Both emulators, one database per scenario, the runner, and the figures."""

    def __init__(self, stack: ExitStack, admin_url: str, workdir: str):
        self.stack, self.admin_url = stack, admin_url
        self.figures = Figures()
        self.marketo = stack.enter_context(serve_marketo(MarketoSandboxConfig(
            seed=MARKETO_SEED, size=MARKETO_SIZE, window_seconds=2.0, bulk_processing_seconds=0.05)))
        self.salesforce = stack.enter_context(serve_salesforce(SalesforceSandboxConfig(
            seed=SALESFORCE_SEED, size=SALESFORCE_SIZE)))
        self._databases: dict[str, str] = {}
        self.runner = JobRunner({
            "MARKETO_BASE_URL": self.marketo.url, "MARKETO_CLIENT_ID": self.marketo.client_id,
            "MARKETO_CLIENT_SECRET": self.marketo.client_secret, "SALESFORCE_INSTANCE_URL": self.salesforce.url,
            "SALESFORCE_CLIENT_ID": self.salesforce.client_id,
            "SALESFORCE_CLIENT_SECRET": self.salesforce.client_secret,
            "SALESFORCE_CA_BUNDLE": self.salesforce.ca_path,
            "SYNC_DATABASE_URL": "postgresql://unset.invalid/none",  # each request names its own database
        }, os.path.join(workdir, "runs.log"))
        stack.callback(self.runner.close)

    def database(self, scenario: Scenario) -> str:
        """The scenario's own database (created, migrated, dropped at the end)."""
        if scenario.job not in self._databases:
            name = f"chaos_{uuid.uuid4().hex[:12]}"
            with psycopg.connect(self.admin_url, autocommit=True) as admin:
                admin.execute(f'CREATE DATABASE "{name}"')
            self.stack.callback(self._drop, name)
            url = psycopg.conninfo.make_conninfo(self.admin_url, dbname=name)
            store.connect(url).close()  # migrate
            self._databases[scenario.job] = url
        return self._databases[scenario.job]

    def _drop(self, name: str) -> None:
        with psycopg.connect(self.admin_url, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    def run_clean(self, scenario: Scenario, run_config: dict | None = None, timeout: float = 180) -> int | None:
        """Run the scenario's job to the end without faults; its exit code."""
        self.runner.start(scenario.job, run_config or scenario.run_config(),
                          {"SYNC_DATABASE_URL": self.database(scenario)})
        return self.runner.wait(timeout)

    def chaos_round(self, scenario: Scenario, rng: random.Random, round_no: int, kill_after: float) -> None:
        """One round; the run is SIGKILLed `kill_after` x (a random 0.2..1.1) seconds after it starts."""
        fig = self.figures
        scenario.mutate(self, rng, round_no)
        plans = [FaultPlan(MARKETO_RATES, seed=rng.randrange(2**31), slow_seconds=0.3),
                 FaultPlan(SALESFORCE_RATES, seed=rng.randrange(2**31))]
        self.marketo.sandbox.set_fault_plan(plans[0])
        self.salesforce.sandbox.set_fault_plan(plans[1])
        pid = self.runner.start(scenario.job, scenario.run_config(), {"SYNC_DATABASE_URL": self.database(scenario)})
        code = self.runner.wait(rng.uniform(0.2, 1.1) * kill_after)
        if code is None:
            JobRunner.kill(pid)
            code = self.runner.wait(60)
        if code == -signal.SIGKILL:
            fig.kills[scenario.job] += 1
        elif code != 0:
            fig.runs_failed_under_faults[scenario.job] += 1
        self.marketo.sandbox.set_fault_plan(None)
        self.salesforce.sandbox.set_fault_plan(None)
        for plan in plans:
            fig.faults_injected.update(plan.injected)
        if self.run_clean(scenario) != 0:
            fig.differences.append(f"{scenario.job} round {round_no}: the rerun without faults failed")
        rows, diffs = scenario.compare(self)
        fig.rounds[scenario.job] += 1
        fig.rows_compared += rows
        fig.differences += [f"{scenario.job} round {round_no}: {d}" for d in diffs]


@contextmanager
def chaos_world(admin_url: str) -> Iterator[World]:
    with ExitStack() as stack, tempfile.TemporaryDirectory(prefix="chaos-") as workdir:
        yield World(stack, admin_url, workdir)


def run_chaos(admin_url: str, rounds: int, seed: int = 2026,
              scenarios: tuple[type[Scenario], ...] = (PersonScenario, UnsubscribeScenario, TaskScenario)) -> Figures:
    """`rounds` fault-and-kill rounds for each scenario; the figures (differences must stay empty).

    Kills land anywhere in a run: the delay is scaled by how long the scenario's first clean run took
    (the process start counts too), so some runs die early, some late and some finish before the kill.
    """
    rng = random.Random(seed)
    with chaos_world(admin_url) as world:
        for scenario_type in scenarios:
            scenario = scenario_type()
            scenario.setup(world)
            started = time.monotonic()
            if world.run_clean(scenario) != 0:  # the starting point: one clean sync
                world.figures.differences.append(f"{scenario.job}: the first clean run failed")
            clean_run_seconds = time.monotonic() - started
            for round_no in range(rounds):
                world.chaos_round(scenario, rng, round_no, clean_run_seconds)
        return world.figures
