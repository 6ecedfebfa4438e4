"""Local defaults for `make demo`, `make dev` and the dagster CLI: the Dagster home and its storage.

When DAGSTER_POSTGRES_URL is unset, Dagster's storage lives in the embedded PostgreSQL under .sync_data/.
`python -m sync_pipelines.local` (run by `make install`) also writes that URL to a git-ignored .env at the
project root, which the dagster CLI reads, so `dagster definitions validate -w workspace.yaml` and
`dagster dev` find their storage with no configuration.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from sync_pipelines.paths import PROJECT_ROOT, data_dir
from sync_pipelines.store.database import dagster_database_url


def prepare_dagster_home() -> Path:
    """Point DAGSTER_HOME at .sync_data/dagster_home (unless set) with the project's dagster.yaml, and
    DAGSTER_POSTGRES_URL at the embedded server (unless set). Returns the home."""
    home = Path(os.environ.setdefault("DAGSTER_HOME", str(data_dir() / "dagster_home")))
    home.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(PROJECT_ROOT / "dagster.yaml", home / "dagster.yaml")
    os.environ["DAGSTER_POSTGRES_URL"] = dagster_database_url()
    return home


def write_dotenv() -> None:
    """Write .env with the embedded storage URL, unless DAGSTER_POSTGRES_URL is configured."""
    dotenv = PROJECT_ROOT / ".env"
    if os.environ.get("DAGSTER_POSTGRES_URL"):
        dotenv.unlink(missing_ok=True)  # the configured URL wins; a stale .env would override it
        return
    dotenv.write_text(
        "# Written by `make install` (sync_pipelines.local): Dagster's storage in the embedded PostgreSQL.\n"
        f"DAGSTER_POSTGRES_URL={dagster_database_url()}\n"
    )


if __name__ == "__main__":
    write_dotenv()
