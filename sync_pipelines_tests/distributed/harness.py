"""Run the project's jobs as a deployment does: the `dagster` CLI on an instance whose runs live in PostgreSQL,
with the executor SYNC_EXECUTOR names, in-process or on Celery workers started here (`dagster-celery worker
start`, each with --concurrency 1). The services are emulators the caller serves on loopback.

Each `Deployment` gets a Celery queue of its own, so the workers started for it take only its steps (another
test session on the same broker uses another queue).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import psycopg

from sync_pipelines.sandbox.marketo_state import MarketoSandboxConfig
from sync_pipelines.sandbox.salesforce_app import serve_salesforce
from sync_pipelines.sandbox.salesforce_state import SalesforceSandboxConfig
from sync_pipelines.sandbox.seed import SANDBOX_CREATED_FROM
from sync_pipelines.sandbox.servers import serve_marketo

BROKER_URL = "amqp://guest:guest@127.0.0.1:5672//"
BACKEND_URL = "rpc://"
VENV_BIN = Path(sys.executable).parent
JOB_TIMEOUT_SECONDS = 600
WORKER_START_SECONDS = 120.0
WORKER_STOP_SECONDS = 30.0
# Variables of the caller that would point the runs at other services or storage.
_FOREIGN = ("MARKETO_", "SALESFORCE_", "SYNC_", "DAGSTER_", "ACTIVITY_", "TASK_", "PERSON_")

INSTANCE_YAML = """\
storage:
  postgres:
    postgres_url:
      env: DAGSTER_POSTGRES_URL
telemetry:
  enabled: false
"""


def broker_problem(url: str = BROKER_URL) -> str | None:
    """Why no Celery broker can be used at `url`, or None when one answers."""
    from kombu import Connection

    try:
        with Connection(url, connect_timeout=3) as connection:
            connection.ensure_connection(max_retries=1)
    except Exception as error:  # kombu raises the transport's own errors
        return f"no Celery broker answers at 127.0.0.1:5672 ({type(error).__name__}); start rabbitmq-server"
    return None


@contextmanager
def served_emulators(size: int = 300) -> Iterator[tuple]:
    """Fresh Marketo and Salesforce emulators (same seeds every time) on loopback, and the environment that
    points the code location at them as at a real deployment: (marketo, salesforce, environment).

    The people are exported through the emulator's "All People" smart list (MARKETO_SMART_LIST_ID=1): one
    export job, where the 31-day windows since 2025 would take about 120 calls, which Marketo's rate limit
    (50 calls per 20 s for the sync) stretches to half a minute.
    """
    marketo_config = MarketoSandboxConfig(size=size, window_seconds=2.0, bulk_processing_seconds=0.05)
    with serve_marketo(marketo_config) as marketo, \
            serve_salesforce(SalesforceSandboxConfig(size=size, query_page_size=50)) as salesforce:
        yield marketo, salesforce, {
            "MARKETO_BASE_URL": marketo.url, "MARKETO_CLIENT_ID": marketo.client_id,
            "MARKETO_CLIENT_SECRET": marketo.client_secret, "MARKETO_BULK_POLL_MAX_SECONDS": "0.05",
            "MARKETO_EXTRACT_SINCE": SANDBOX_CREATED_FROM.date().isoformat(), "MARKETO_SMART_LIST_ID": "1",
            "SALESFORCE_INSTANCE_URL": salesforce.url, "SALESFORCE_CLIENT_ID": salesforce.client_id,
            "SALESFORCE_CLIENT_SECRET": salesforce.client_secret, "SALESFORCE_CA_BUNDLE": str(salesforce.ca_path),
        }


@dataclass
class JobRun:
    returncode: int
    output: str
    seconds: float

    @property
    def success(self) -> bool:
        return self.returncode == 0


@dataclass
class Deployment:
    """A Dagster home (storage in PostgreSQL) and the environment every run and worker of it sees."""

    home: Path
    env: dict[str, str]
    queue: str = field(default_factory=lambda: f"sync-test-{uuid.uuid4().hex[:10]}")

    @classmethod
    def create(cls, home: Path, *, dagster_storage_url: str, database_url: str, services: dict[str, str]):
        home.mkdir(parents=True, exist_ok=True)
        (home / "dagster.yaml").write_text(INSTANCE_YAML)
        env = {key: value for key, value in os.environ.items() if not key.startswith(_FOREIGN)}
        env.update(services, SYNC_ENV="sandbox", SYNC_DATABASE_URL=database_url, DAGSTER_HOME=str(home),
                   DAGSTER_POSTGRES_URL=dagster_storage_url, SYNC_DATA_DIR=str(home / "sync_data"),
                   SYNC_CELERY_BROKER_URL=BROKER_URL, PATH=f"{VENV_BIN}{os.pathsep}{os.environ.get('PATH', '')}")
        # Create Dagster's tables once, before any process of the deployment starts: two workers (or a worker
        # and the webserver) that find an empty storage both create them, and one dies on "already exists".
        subprocess.run([str(VENV_BIN / "dagster"), "instance", "migrate"], cwd=home, env=env, check=True,
                       stdin=subprocess.DEVNULL, capture_output=True, timeout=JOB_TIMEOUT_SECONDS)
        return cls(home, env)

    def celery_run_config(self) -> dict:
        """The executor config of a run through this deployment's workers (their queue; broker from the env)."""
        return {"execution": {"config": {"backend": BACKEND_URL, "config_source": {"task_default_queue": self.queue}}}}

    def run_job(self, job: str, *, executor: str, run_config: dict | None = None,
                tags: dict[str, str] | None = None, ops: str | None = None) -> JobRun:
        """`dagster job execute` of one job of the code location (`ops`: its --op-selection); waits for the
        run to end."""
        command = [str(VENV_BIN / "dagster"), "job", "execute", "-m", "sync_pipelines.definitions", "-j", job]
        if ops:
            command += ["--op-selection", ops]
        if run_config:
            path = self.home / f"run-{uuid.uuid4().hex[:8]}.yaml"
            path.write_text(json.dumps(run_config))  # JSON is YAML
            command += ["-c", str(path)]
        if tags:
            command += ["--tags", json.dumps(tags)]
        started = time.monotonic()
        # cwd: the Dagster home, not the project root (a .env there would be read by the CLI).
        done = subprocess.run(command, cwd=self.home, env={**self.env, "SYNC_EXECUTOR": executor},
                              stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=JOB_TIMEOUT_SECONDS)
        return JobRun(done.returncode, done.stdout + done.stderr, time.monotonic() - started)

    @contextmanager
    def celery_workers(self, count: int = 2) -> Iterator[list[str]]:
        """`count` Celery worker processes on this deployment's queue, each running one step at a time;
        stopped (warm shutdown, then killed) when the block ends."""
        config = self.home / "celery-worker.yaml"
        config.write_text(json.dumps({"execution": {"config": {
            "broker": BROKER_URL, "backend": BACKEND_URL, "config_source": {"task_default_queue": self.queue}}}}))
        names = [f"{self.queue}-worker-{n}" for n in range(count)]
        workers: list[subprocess.Popen] = []
        try:
            for name in names:
                with open(self.home / f"{name}.log", "wb") as log:
                    workers.append(subprocess.Popen(
                        [str(VENV_BIN / "dagster-celery"), "worker", "start", "-A", "dagster_celery.app",
                         "-y", str(config), "-q", self.queue, "-n", name, "--",
                         "--concurrency", "1", "--without-gossip", "--without-mingle"],
                        # A worker loads the code location too: with the run's executor, or the run config
                        # of the step it is handed would not fit the job it loads.
                        cwd=self.home, env={**self.env, "SYNC_EXECUTOR": "celery"}, stdin=subprocess.DEVNULL, stdout=log,
                        stderr=subprocess.STDOUT, start_new_session=True))  # its own group: stopped with its children
            _wait_until_ready(names, workers, self.home)
            yield names
        finally:
            _stop(workers)

    def worker_logs(self) -> str:
        return "\n".join(path.read_text(errors="replace")[-4000:] for path in sorted(self.home.glob("*-worker-*.log")))


def _wait_until_ready(names: list[str], workers: list[subprocess.Popen], home: Path) -> None:
    """Block until every worker answers a Celery ping on the broker."""
    from celery import Celery

    app = Celery(broker=BROKER_URL, backend=BACKEND_URL)
    try:
        deadline = time.monotonic() + WORKER_START_SECONDS
        while time.monotonic() < deadline:
            exited = [w.args for w in workers if w.poll() is not None]
            if exited:
                raise RuntimeError(f"a Celery worker exited at start; see the logs in {home}")
            replies = app.control.ping(timeout=1.0) or []
            answered = {name.split("@")[0] for reply in replies for name in reply}
            if set(names) <= answered:
                return
        raise RuntimeError(f"Celery workers {names} did not answer in {WORKER_START_SECONDS:.0f} s; logs in {home}")
    finally:
        app.close()


def _stop(workers: list[subprocess.Popen]) -> None:
    for worker in workers:
        _signal_group(worker, signal.SIGTERM)  # Celery's warm shutdown
    for worker in workers:
        try:
            worker.wait(WORKER_STOP_SECONDS)
        except subprocess.TimeoutExpired:
            _signal_group(worker, signal.SIGKILL)
            worker.wait()


def _signal_group(worker: subprocess.Popen, signum: int) -> None:
    try:
        os.killpg(worker.pid, signum)
    except ProcessLookupError:
        pass


# Columns that record when or under which id the sync did something, not what it synced: they differ
# between any two runs, whatever the executor. Timestamps; ids drawn at random per run (a delivery batch's
# id, the Marketo export job's id: the emulator draws a UUID, as Marketo does); an extract window's export
# filter, whose last window ends when the run started.
_RUN_SPECIFIC_TYPES = ("timestamp with time zone", "timestamp without time zone", "uuid")
_RUN_SPECIFIC_COLUMNS = {("activity_delivery", "batch_id"), ("person_extract_window", "export_id"),
                         ("person_extract_window", "export_filter")}


def actions_end_state(database_url: str) -> dict[str, list[tuple]]:
    """Every row of every table of the Actions database (migrations' own table aside), without the columns
    of run-specific type, sorted: equal end states mean the same data was synced."""
    with psycopg.connect(database_url) as conn:
        columns: dict[str, list[str]] = {}
        for table, column in conn.execute(
            "SELECT c.table_name, c.column_name FROM information_schema.columns c "
            "JOIN information_schema.tables t USING (table_schema, table_name) "
            "WHERE c.table_schema = 'public' AND t.table_type = 'BASE TABLE' "
            "AND c.table_name <> 'schema_migrations' AND c.data_type <> ALL(%s) "
            "ORDER BY c.table_name, c.ordinal_position", (list(_RUN_SPECIFIC_TYPES),)
        ):
            if (table, column) not in _RUN_SPECIFIC_COLUMNS:
                columns.setdefault(table, []).append(column)
        state = {}
        for table, names in columns.items():
            selected = ", ".join(f'"{name}"::text' for name in names)
            state[table] = sorted(conn.execute(f'SELECT {selected} FROM "{table}"').fetchall(), key=repr)
        return state
