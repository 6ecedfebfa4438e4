"""`make dev`: the Dagster UI and daemon on the local defaults (sandbox services, embedded PostgreSQL).

With real settings exported, the sandbox stays off and the code location asks for every other setting.

Runs `dg dev` (the dg CLI, [tool.dg] in pyproject.toml), which loads the same code location as
`dagster dev -w workspace.yaml` did, without its supersession warning.
"""

from __future__ import annotations

import os
import sys

from sync_pipelines.environment import SANDBOX
from sync_pipelines.local import prepare_dagster_home, select_sandbox_unless_configured
from sync_pipelines.store.migrate import migrate_embedded_database
from sync_pipelines.sandbox.launcher import ensure_sandbox
from sync_pipelines.paths import PROJECT_ROOT


def main() -> None:
    prepare_dagster_home()
    environment = select_sandbox_unless_configured()
    migrate_embedded_database()
    if environment == SANDBOX and not (
            os.environ.get("MARKETO_BASE_URL") and os.environ.get("SALESFORCE_INSTANCE_URL")):
        sandbox = ensure_sandbox()
        print(f"Sandbox services: {', '.join(f'{k}={v}' for k, v in sandbox.items() if k.endswith('_url'))}")
    os.chdir(PROJECT_ROOT)
    os.environ["VIRTUAL_ENV"] = sys.prefix  # dg compares the active venv with the project's .venv
    dg = os.path.join(os.path.dirname(sys.executable), "dg")
    os.execv(dg, [dg, "dev", "--use-active-venv", *sys.argv[1:]])


if __name__ == "__main__":
    main()
