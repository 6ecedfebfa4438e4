"""A production install (`pip install .`, without the `sandbox` extra) still loads the code location,
configured for production."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tomllib
from importlib import metadata
from pathlib import Path

from packaging.requirements import Requirement

PYPROJECT = Path(__file__).resolve().parents[1] / "pyproject.toml"

# The import name of each distribution of the `sandbox` extra.
IMPORT_NAMES = {
    "pgserver": "pgserver", "starlette": "starlette", "uvicorn": "uvicorn", "faker": "faker",
    "trustme": "trustme", "filelock": "filelock", "psutil": "psutil",
}

# A complete production configuration (nothing is contacted: loading the definitions only reads it).
PRODUCTION_SETTINGS = {
    "SYNC_ENV": "production",
    "MARKETO_BASE_URL": "https://123-ABC-456.mktorest.com",
    "MARKETO_CLIENT_ID": "packaging-test-id",
    "MARKETO_CLIENT_SECRET": "packaging-test-secret",
    "SALESFORCE_INSTANCE_URL": "https://packaging-test.my.salesforce.com",
    "SALESFORCE_CLIENT_ID": "packaging-test-id",
    "SALESFORCE_CLIENT_SECRET": "packaging-test-secret",
    "SYNC_DATABASE_URL": "postgresql://sync@actions-db.invalid/actions",
}
_SYNC_PREFIXES = ("MARKETO_", "SALESFORCE_", "SYNC_", "PERSON_", "TASK_", "ACTIVITY_", "DAGSTER_")

# Loads the definitions with the sandbox's libraries made unimportable, as in an image built without them.
_LOAD_WITHOUT = r"""
import importlib.abc, json, sys
blocked = set(json.loads(sys.argv[1]))
for name in list(sys.modules):
    if name.split(".")[0] in blocked:
        del sys.modules[name]

class NotInstalled(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in blocked:
            raise ModuleNotFoundError(f"No module named {name!r} (not installed in production)", name=name)
        return None

sys.meta_path.insert(0, NotInstalled())
import dagster as dg
from sync_pipelines.definitions import defs

dg.Definitions.validate_loadable(defs)
repository = defs.get_repository_def()
print(json.dumps({
    "jobs": sorted(job.name for job in repository.get_all_jobs()),
    "sensors": sorted(sensor.name for sensor in repository.sensor_defs),
    "loaded": sorted(name for name in sys.modules if name.split(".")[0] in blocked),
}))
"""


def _project() -> dict:
    return tomllib.loads(PYPROJECT.read_text())["project"]


def sandbox_extra() -> list[str]:
    return [Requirement(requirement).name.lower() for requirement in _project()["optional-dependencies"]["sandbox"]]


def runtime_closure() -> set[str]:
    """Every distribution a production install gets: the runtime dependencies and theirs, recursively."""
    seen: set[str] = set()
    pending = [Requirement(requirement).name for requirement in _project()["dependencies"]]
    while pending:
        name = pending.pop().lower().replace("_", "-")
        if name in seen:
            continue
        seen.add(name)
        for requirement in map(Requirement, metadata.requires(name) or []):
            if requirement.marker is None or requirement.marker.evaluate({"extra": ""}):
                pending.append(requirement.name)
    return seen


def test_the_emulators_libraries_are_an_extra_not_runtime_dependencies():
    names = sandbox_extra()
    assert set(names) == set(IMPORT_NAMES), "map the import name of every sandbox dependency above"
    assert not set(names) & {Requirement(r).name.lower() for r in _project()["dependencies"]}


def test_the_definitions_load_without_the_sandbox_extra():
    # What a production image lacks: the extra's libraries that no runtime dependency pulls in (Dagster's
    # webserver brings starlette and uvicorn, Dagster brings filelock, whatever our pyproject says).
    missing_in_production = [name for name in sandbox_extra() if name not in runtime_closure()]
    assert {"pgserver", "faker", "trustme"} <= set(missing_in_production)
    blocked = [IMPORT_NAMES[name] for name in missing_in_production]
    environment = {name: value for name, value in os.environ.items() if not name.startswith(_SYNC_PREFIXES)}
    environment.update(PRODUCTION_SETTINGS)
    result = subprocess.run(
        [sys.executable, "-c", _LOAD_WITHOUT, json.dumps(blocked)],
        capture_output=True, text=True, timeout=300, env=environment,
    )
    assert result.returncode == 0, result.stderr[-4000:]
    loaded = json.loads(result.stdout.strip().splitlines()[-1])
    assert "person_sync_job" in loaded["jobs"] and "activity_fanout_job" in loaded["jobs"]
    assert "marketo_person_change_sensor" in loaded["sensors"]
    assert loaded["loaded"] == []
