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

from sync_pipelines import actions_app
from sync_pipelines import store
from sync_pipelines.store.migrate import migrate_url
from sync_pipelines.sandbox.activity_log import sellers_for_owners
from sync_pipelines.activities.types import CALL_TASK_TYPE, EMAIL_TASK_TYPE, TYPES_BY_NAME
from sync_pipelines.sandbox.faults import FaultPlan
from sync_pipelines.sandbox.marketo_state import MarketoSandboxConfig
from sync_pipelines.sandbox.salesforce_app import serve_salesforce
from sync_pipelines.sandbox.salesforce_state import SalesforceSandboxConfig
from sync_pipelines.sandbox.seed import generate_people
from sync_pipelines.sandbox.servers import serve_marketo
from sync_pipelines.actions_app import record_opt_out
from sync_pipelines_tests.activities.helpers import (
    actions_id_of,
    marketo_custom_activities,
    salesforce_tasks_by_activity,
)
from sync_pipelines_tests.reliability.helpers import ACTIONS_COLUMNS, expected_actions_people
from sync_pipelines_tests.fixtures.sellers import task_seller
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
    # Faults on top of MARKETO_RATES / SALESFORCE_RATES for this scenario's rounds.
    extra_rates: tuple[dict[str, float], dict[str, float]] = ({}, {})
    # The run is killed this many times (uniform in the range) the first clean run's duration after it starts.
    kill_spread = (0.2, 1.1)

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
                                                     "bulk_poll_max_seconds": 0.05}}}}

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
        # One seller, the API user (who owns the tasks created here), chose two-way task sync.
        self.owner_id = org.integration_user_id
        task_seller(world.database(self), self.owner_id)
        code = world.run_clean(self, {})
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
                self.actions_ids[label] = actions_app.create_task(
                    conn, now, subject=f"{label} it's \"quoted\"", due_date=due, who_id=self.who_id,
                    owner_id=self.owner_id)
                self.subjects[label] = f"{label} it's \"quoted\""
            label = f"r{round_no}-s0"
            self.salesforce_ids[label] = org.create("Task", Subject=label, ActivityDate=due, WhoId=self.who_id)
            self.subjects[label] = label
            linked = [p for p in picks if p in self.actions_ids and p in self.salesforce_ids]
            on_salesforce = [p for p in picks if p in self.salesforce_ids]
            if linked:  # edit one in Actions, delete another in Actions
                edit = linked[0]
                actions_app.edit_task(conn, self.actions_ids[edit], now, subject=f"{edit} edited in Actions {round_no}")
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
                actions_app.delete_task(conn, self.actions_ids[linked[1]], now)
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


class ActivityScenario(Scenario):
    """activity_fanout_job while sellers keep logging activities (all 8 types) in Actions; api mode.

    Each round appends PER_ROUND activities with ids the model picks itself, for seeded Actions people
    that have a Salesforce Lead/Contact and a Marketo lead, plus three rows the oracle expects to be
    quarantined in Marketo: a person Marketo does not know (1004), a row without its type's primary
    value, and a Marketo id that is not an Actions person (skipped for Salesforce too).
    """

    job = "activity_fanout_job"
    # Lost replies (the write runs, the answer never comes): 10% of Marketo inserts, 30% of Salesforce writes.
    extra_rates = ({"lost_reply": 0.10}, {"lost_reply": 0.30})
    PER_ROUND = 420  # two Marketo inserts (300 each) and one or two Task collections (200 each)
    # Emails and calls are what reach Salesforce: weighted up so that every round sends Tasks.
    TYPE_WEIGHTS = {"Sales Email Sent": 4, "Received Sales Call": 3, "Sales Email Opened": 1, "Sales Email Clicked": 1,
                    "Sales Email Replied": 1, "Sales Email Bounced": 1, "Added to Sales Campaign": 1,
                    "Removed from Sales Campaign": 1}
    NOT_IN_ACTIONS = 9_999_999
    # Most of a clean run is Dagster starting; faults make the deliveries several times longer: aim the kills there.
    kill_spread = (0.6, 1.8)

    def setup(self, world: World) -> None:
        load_actions_people(world.database(self))
        seed = generate_people(SALESFORCE_SEED, SALESFORCE_SIZE)
        seed = seed[seed["sfdcLeadOwnerId"].notna()]
        self.who_ids: dict[int, str | None] = {  # Actions people -> the Task's WhoId (the Contact wins)
            int(r.id): _text(r.sfdcContactId) or _text(r.sfdcLeadId) for r in seed.itertuples(index=False)}
        sellers = sellers_for_owners(sorted(seed["sfdcLeadOwnerId"].unique()))
        by_owner = dict(zip(sellers["salesforce_user_id"], sellers["seller_id"]))
        self.seller_of = {int(r.id): by_owner[r.sfdcLeadOwnerId] for r in seed.itertuples(index=False)}
        in_marketo = set(world.marketo.sandbox.leads()["id"].astype(int))
        self.loggable = sorted(m for m, who in self.who_ids.items() if who and m in in_marketo)
        self.unknown_to_marketo = sorted(m for m, who in self.who_ids.items() if who and m not in in_marketo)
        # activity id -> (marketo id, type, primary value, Marketo state, Salesforce state, WhoId)
        self.expected: dict[int, tuple] = {}
        self.next_id = 1
        with store.connect(world.database(self)) as conn, conn.transaction():
            actions_app.write_sellers(conn, sellers)
        self.mutate(world, random.Random(SALESFORCE_SEED), -1)  # a first log for the first clean run

    def run_config(self) -> dict:
        secret = {name: {"env": var} for name, var in (("base_url", "MARKETO_BASE_URL"), (
            "client_id", "MARKETO_CLIENT_ID"), ("client_secret", "MARKETO_CLIENT_SECRET"))}
        return {"resources": {"marketo": {"config": {**secret, "window_seconds": 2.0}}}}

    def mutate(self, world: World, rng: random.Random, round_no: int) -> None:
        now = datetime.now(timezone.utc).replace(microsecond=0)
        kinds, weights = list(self.TYPE_WEIGHTS), list(self.TYPE_WEIGHTS.values())
        rows = [self._activity(rng, rng.choice(self.loggable), rng.choices(kinds, weights)[0], now)
                for _ in range(self.PER_ROUND)]
        if self.unknown_to_marketo:
            rows.append(self._activity(rng, rng.choice(self.unknown_to_marketo), "Sales Email Sent", now))
        rows.append(self._activity(rng, rng.choice(self.loggable), "Received Sales Call", now, primary=False))
        rows.append(self._activity(rng, self.NOT_IN_ACTIONS, "Sales Email Sent", now, seller_of=self.loggable[0]))
        frame = pd.DataFrame(rows)
        frame["call_duration_seconds"] = frame["call_duration_seconds"].astype("Int64")
        with store.connect(world.database(self)) as conn, conn.transaction():
            actions_app.write_activities(conn, frame)

    def _activity(self, rng: random.Random, marketo_id: int, kind: str, now: datetime, *, primary: bool = True,
                  seller_of: int | None = None) -> dict:
        """One log row (the Actions app's), and what the oracle expects of it in both destinations."""
        activity_id, self.next_id = self.next_id, self.next_id + 1
        row = {"activity_id": activity_id, "marketo_id": marketo_id, "activity_type": kind,
               "seller_id": self.seller_of[seller_of or marketo_id],
               "occurred_at": now - timedelta(minutes=rng.randint(0, 600)), "campaign_name": "Chaos Outreach"}
        subject = f"Chaos {activity_id}: it's \"quoted\" – 日本"
        if kind == CALL_TASK_TYPE:
            row.update(call_outcome=f"Connected {activity_id}" if primary else None, call_status="completed",
                       call_duration_seconds=rng.randint(0, 900), call_notes="Next steps")
        elif kind.startswith("Sales Email"):
            row.update(email_subject=subject, email_body="Hi,\nthanks." if kind == EMAIL_TASK_TYPE else None)
        else:
            row.update(campaign_id=f"SC-{activity_id}")
        spec = TYPES_BY_NAME[kind]
        primary_value = row.get(spec.primary.column)
        if primary_value is None:
            marketo_state = ("quarantined", f"missing {spec.primary.column}")
        elif marketo_id not in self.loggable:
            marketo_state = ("quarantined", "Marketo 1004")
        else:
            marketo_state = ("delivered", None)
        who_id = self.who_ids.get(marketo_id)
        if kind not in (EMAIL_TASK_TYPE, CALL_TASK_TYPE):
            salesforce_state = ("skipped", "not an email or call")
        elif marketo_id not in self.who_ids:
            salesforce_state = ("skipped", "person not in Actions")
        else:
            salesforce_state = ("delivered", None)
        self.expected[activity_id] = (marketo_id, kind, primary_value, marketo_state, salesforce_state, who_id)
        return row

    def compare(self, world: World) -> tuple[int, list[str]]:
        marketo = world.marketo.sandbox
        type_names = {t["id"]: t["name"] for t in marketo.custom_activity_types.standard_json()}
        in_marketo: dict[int, list[dict]] = {}
        for activity in marketo_custom_activities(marketo):
            in_marketo.setdefault(actions_id_of(activity), []).append(activity)
        tasks = salesforce_tasks_by_activity(world.salesforce.sandbox)
        with psycopg.connect(world.database(self)) as conn:
            states = {(int(a), d): (s, r) for a, d, s, r in conn.execute(
                "SELECT activity_id, destination, state, reason FROM activity_delivery")}
        diffs: list[str] = []
        wrong: Counter = Counter()
        for activity_id, (marketo_id, kind, primary, mkto_state, sf_state, who_id) in self.expected.items():
            for destination, (state, reason) in (("marketo", mkto_state), ("salesforce", sf_state)):
                got_state, got_reason = states.get((activity_id, destination), (None, None))
                if got_state != state or not (got_reason or "").startswith(reason or ""):
                    wrong[f"{destination} state {state}"] += 1
            found = in_marketo.get(activity_id, [])
            if mkto_state[0] != "delivered":
                wrong["in Marketo but expected quarantined"] += bool(found)
            elif len(found) != 1:
                wrong["missing in Marketo" if not found else "duplicated in Marketo"] += 1
            elif (type_names.get(found[0]["activityTypeId"]), found[0]["leadId"],
                  found[0]["primaryAttributeValue"]) != (kind, marketo_id, str(primary)):
                wrong["Marketo activity with a wrong type, lead or primary value"] += 1
            task = tasks.get(str(activity_id), [])
            if sf_state[0] != "delivered":
                wrong["Salesforce Task for an activity not to be logged"] += bool(task)
            elif len(task) != 1:
                wrong["missing in Salesforce" if not task else "duplicated in Salesforce"] += 1
            elif (task[0]["WhoId"], task[0]["TaskSubtype"]) != (who_id, "Call" if kind == CALL_TASK_TYPE else "Email"):
                wrong["Salesforce Task on a wrong WhoId or subtype"] += 1
            if states.get((activity_id, "salesforce"), (None,))[0] == "quarantined" and task:
                wrong["quarantined for Salesforce while its Task exists"] += 1
        diffs += [f"{what}: {count} activities" for what, count in sorted(wrong.items()) if count]
        diffs += _diff("Marketo activities of unknown activity ids", set(), set(in_marketo) - set(self.expected))
        diffs += _diff("Salesforce Tasks of unknown activity ids", set(), set(tasks) - {str(i) for i in self.expected})
        return 2 * len(self.expected) + len(in_marketo) + len(tasks), diffs


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


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
            migrate_url(url)
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

    def chaos_round(self, scenario: Scenario, rng: random.Random, round_no: int, kill_after: float,
                    reruns_under_faults: int = 0) -> None:
        """One round; the run is SIGKILLed `kill_after` x (random in `kill_spread`) seconds after it starts.

        reruns_under_faults: after a killed or failed run, run again up to this many times with the faults
        still on (until one succeeds), so that faults hit whole runs too, not only the part before the kill.
        """
        fig = self.figures
        scenario.mutate(self, rng, round_no)
        marketo_extra, salesforce_extra = scenario.extra_rates
        plans = [FaultPlan({**MARKETO_RATES, **marketo_extra}, seed=rng.randrange(2**31), slow_seconds=0.3),
                 FaultPlan({**SALESFORCE_RATES, **salesforce_extra}, seed=rng.randrange(2**31))]
        self.marketo.sandbox.set_fault_plan(plans[0])
        self.salesforce.sandbox.set_fault_plan(plans[1])
        pid = self.runner.start(scenario.job, scenario.run_config(), {"SYNC_DATABASE_URL": self.database(scenario)})
        code = self.runner.wait(rng.uniform(*scenario.kill_spread) * kill_after)
        if code is None:
            JobRunner.kill(pid)
            code = self.runner.wait(60)
        if code == -signal.SIGKILL:
            fig.kills[scenario.job] += 1
        elif code != 0:
            fig.runs_failed_under_faults[scenario.job] += 1
        for _ in range(reruns_under_faults if code != 0 else 0):
            code = self.run_clean(scenario)  # "clean" of kills only: the fault plans are still set
            if code == 0:
                break
            fig.runs_failed_under_faults[scenario.job] += 1
        self.marketo.sandbox.set_fault_plan(None)
        self.salesforce.sandbox.set_fault_plan(None)
        for service, plan in zip(("marketo", "salesforce"), plans):
            fig.faults_injected.update({f"{service} {kind}": count for kind, count in plan.injected.items()})
        if self.run_clean(scenario) != 0:
            fig.differences.append(f"{scenario.job} round {round_no}: the rerun without faults failed")
        rows, diffs = scenario.compare(self)
        fig.rounds[scenario.job] += 1
        fig.rows_compared += rows
        fig.differences += [f"{scenario.job} round {round_no}: {d}" for d in diffs]


# Every scenario, in the order they run (each job's rounds run one after the other in one world).
SCENARIOS: tuple[type[Scenario], ...] = (PersonScenario, UnsubscribeScenario, TaskScenario, ActivityScenario)


@contextmanager
def chaos_world(admin_url: str) -> Iterator[World]:
    with ExitStack() as stack, tempfile.TemporaryDirectory(prefix="chaos-") as workdir:
        yield World(stack, admin_url, workdir)


def run_chaos(admin_url: str, rounds: int, seed: int = 2026,
              scenarios: tuple[type[Scenario], ...] | None = None, reruns_under_faults: int = 0) -> Figures:
    """`rounds` fault-and-kill rounds for each scenario; the figures (differences must stay empty).

    Kills land anywhere in a run: the delay is scaled by how long the scenario's first clean run took
    (the process start counts too), so some runs die early, some late and some finish before the kill.
    """
    rng = random.Random(seed)
    with chaos_world(admin_url) as world:
        for scenario_type in scenarios or SCENARIOS:
            scenario = scenario_type()
            scenario.setup(world)
            started = time.monotonic()
            if world.run_clean(scenario) != 0:  # the starting point: one clean sync
                world.figures.differences.append(f"{scenario.job}: the first clean run failed")
            clean_run_seconds = time.monotonic() - started
            for round_no in range(rounds):
                world.chaos_round(scenario, rng, round_no, clean_run_seconds, reruns_under_faults)
        return world.figures
