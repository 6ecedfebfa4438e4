"""Run `dagster-webserver` as a subprocess on a free loopback port and talk to its GraphQL API.

The webserver loads the project's code location from workspace.yaml and keeps runs, events and
schedules in PostgreSQL (dagster-postgres) under a temporary DAGSTER_HOME. Runs start in a subprocess
through the default run launcher; the default run coordinator launches them at once, so no daemon is
needed for a run launched from the UI.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path

import httpx
import psycopg
from sqlalchemy.engine import URL

from sync_pipelines.paths import PROJECT_ROOT

START_TIMEOUT_SECONDS = 180.0  # the code server imports pandas, pyarrow and dagster: slow on a busy machine

# Runs start at once (no queue, so no daemon); the rest mirrors the project's dagster.yaml.
TEST_INSTANCE_YAML = """\
storage:
  postgres:
    postgres_url:
      env: DAGSTER_POSTGRES_URL
run_coordinator:
  module: dagster.core.run_coordinator
  class: DefaultRunCoordinator
run_launcher:
  module: dagster.core.launcher
  class: DefaultRunLauncher
concurrency:
  pools:
    granularity: op
    default_limit: 2
telemetry:
  enabled: false
"""

_LOCATION_STATUS = """
query {
  workspaceOrError {
    __typename
    ... on Workspace {
      locationEntries {
        name
        loadStatus
        locationOrLoadError { __typename ... on PythonError { message } }
      }
    }
  }
}
"""

_RUNS = """
query {
  runsOrError(limit: 20) {
    __typename
    ... on Runs { results { runId status jobName assetSelection { path } } }
  }
}
"""


def sqlalchemy_postgres_url(conninfo: str) -> str:
    """A psycopg conninfo (URL or key=value) as the SQLAlchemy URL dagster-postgres expects.

    SQLAlchemy 2.1 maps a bare postgresql:// to psycopg 3; dagster-postgres is written for psycopg2.
    """
    params = psycopg.conninfo.conninfo_to_dict(conninfo)
    host = str(params.get("host") or "")
    socket_dir = host.startswith("/")  # a Unix socket directory goes in the query string
    return URL.create(
        "postgresql+psycopg2",
        username=params.get("user"),
        password=params.get("password"),
        host=None if socket_dir else host or None,
        port=None if socket_dir else int(params.get("port") or 5432),
        database=params["dbname"],
        query={"host": host} if socket_dir else {},
    ).render_as_string(hide_password=False)


def free_port() -> int:
    """A port nobody listens on right now (the webserver binds it a moment later)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class DagsterWebserver:
    """One dagster-webserver process: `url`, `graphql(query)`, `runs()`, `stop()`."""

    def __init__(self, home: Path, env: dict[str, str]):
        self.home = home
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log_path = home / "webserver.log"
        home.mkdir(parents=True, exist_ok=True)
        (home / "dagster.yaml").write_text(TEST_INSTANCE_YAML)
        webserver = Path(sys.executable).with_name("dagster-webserver")
        with open(self.log_path, "wb") as log:
            self._process = subprocess.Popen(
                [str(webserver), "-w", str(PROJECT_ROOT / "workspace.yaml"), "-h", "127.0.0.1", "-p", str(self.port)],
                # Not the project root: a .env there (written by `make install`) would win over our storage URL.
                cwd=home,
                env={**env, "DAGSTER_HOME": str(home)},
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # its own process group: stop() ends it with the runs it launched
            )
        self._http = httpx.Client(base_url=self.url, timeout=30, trust_env=False)

    def wait_until_loaded(self) -> None:
        """Block until the webserver answers and the code location has loaded without error."""
        deadline = time.monotonic() + START_TIMEOUT_SECONDS
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                raise RuntimeError(f"dagster-webserver exited with {self._process.returncode}:\n{self.log_tail()}")
            try:
                entries = self.graphql(_LOCATION_STATUS)["workspaceOrError"]["locationEntries"]
            except (httpx.HTTPError, KeyError, RuntimeError):
                entries = []
            if entries and all(entry["loadStatus"] == "LOADED" for entry in entries):
                errors = [e for e in entries if e["locationOrLoadError"]["__typename"] == "PythonError"]
                if errors:
                    raise RuntimeError(f"code location failed to load: {errors[0]['locationOrLoadError']['message']}")
                return
            time.sleep(0.25)
        raise RuntimeError(f"dagster-webserver did not load the workspace in {START_TIMEOUT_SECONDS:.0f} s:\n"
                           f"{self.log_tail()}")

    def graphql(self, query: str) -> dict:
        """POST a GraphQL query to this webserver; return `data` (errors raise)."""
        response = self._http.post("/graphql", json={"query": query})
        response.raise_for_status()
        body = response.json()
        if body.get("errors"):
            raise RuntimeError(f"GraphQL errors: {body['errors']}")
        return body["data"]

    def launch_assets(self, *asset_names: str, tags: dict[str, str] | None = None, run_config: dict | None = None,
                      with_checks: bool = True) -> str:
        """Launch a materialization of these assets as the UI's Materialize button does (with their checks,
        unless told otherwise); return the run id."""
        return self.launch("__ASSET_JOB", asset_names=asset_names, tags=tags, run_config=run_config,
                           with_checks=with_checks)

    def launch(self, job_name: str, *, asset_names: Sequence[str] = (), tags: dict[str, str] | None = None,
               run_config: dict | None = None, with_checks: bool = True) -> str:
        """Launch a run of a job (or of some assets through the ad-hoc asset job) with these tags and run
        config, as the launchpad does; return the run id."""
        selection = ", ".join(f'{{path: ["{name}"]}}' for name in asset_names)
        selection = f", assetSelection: [{selection}]" if selection else ""
        selection += "" if with_checks else ", assetCheckSelection: []"
        run_tags = ", ".join(f'{{key: "{key}", value: "{value}"}}' for key, value in (tags or {}).items())
        result = self.graphql(
            f"""mutation {{
              launchRun(executionParams: {{
                selector: {{repositoryLocationName: "sync_pipelines", repositoryName: "__repository__",
                            jobName: "{job_name}"{selection}}},
                runConfigData: {json.dumps(json.dumps(run_config or {}))}, mode: "default",
                executionMetadata: {{tags: [{run_tags}]}}
              }}) {{
                __typename
                ... on LaunchRunSuccess {{ run {{ runId }} }}
                ... on PythonError {{ message }}
                ... on RunConfigValidationInvalid {{ errors {{ message }} }}
              }}
            }}"""
        )["launchRun"]
        if result["__typename"] != "LaunchRunSuccess":
            raise RuntimeError(f"launch failed: {result}")
        return result["run"]["runId"]

    def run(self, run_id: str) -> dict:
        """One run: status, tags and the start and end time of each step."""
        return self.graphql(
            f"""query {{ runOrError(runId: "{run_id}") {{ __typename ... on Run {{
                 runId status tags {{ key value }} stepStats {{ stepKey status startTime endTime }} }} }} }}"""
        )["runOrError"]

    def runs(self) -> list[dict]:
        """The latest runs, newest first: runId, status, jobName, assetSelection."""
        return self.graphql(_RUNS)["runsOrError"]["results"]

    def log_tail(self, characters: int = 4000) -> str:
        """The end of the webserver's output (for failure messages)."""
        try:
            return self.log_path.read_text(errors="replace")[-characters:]
        except OSError:
            return ""

    def stop(self, timeout: float = 5.0) -> None:
        """End the webserver and everything it started (code server, run workers): its process group."""
        self._http.close()
        group = self._process.pid  # start_new_session made the webserver its group's leader
        _signal_group(group, signal.SIGTERM)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and _group_alive(group):
            self._process.poll()  # reap the leader so it stops counting as alive
            time.sleep(0.1)
        _signal_group(group, signal.SIGKILL)
        self._process.wait(timeout)


def _signal_group(group: int, signum: int) -> None:
    try:
        os.killpg(group, signum)
    except ProcessLookupError:
        pass  # already gone


def _group_alive(group: int) -> bool:
    try:
        os.killpg(group, 0)
        return True
    except ProcessLookupError:
        return False
