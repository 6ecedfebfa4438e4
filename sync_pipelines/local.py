"""Local defaults for `make demo` and `make dev`: the sandbox environment, the Dagster home and its storage.

Nothing here overrides what is exported: a real setting in the environment keeps the sandbox off (and the
configuration check then asks for every other setting), and an exported DAGSTER_POSTGRES_URL or
DAGSTER_HOME is used as it is. No `.env` is generated: the dagster CLI lets a `.env` override exported
variables. `python -m sync_pipelines.local` (run by `make install`) removes the one older versions wrote.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from sync_pipelines.environment import REAL_SETTINGS, SANDBOX
from sync_pipelines.paths import PROJECT_ROOT, data_dir
from sync_pipelines.store.database import dagster_database_url

# The first line of the .env that `make install` used to write.
_GENERATED_DOTENV_MARKER = "# Written by `make install` (sync_pipelines.local)"


def select_sandbox_unless_configured() -> str:
    """SYNC_ENV=sandbox when neither SYNC_ENV nor any real setting is exported; returns the environment."""
    if not any(os.environ.get(name, "").strip() for name in REAL_SETTINGS):
        os.environ.setdefault("SYNC_ENV", SANDBOX)
    from sync_pipelines.environment import sync_env

    return sync_env()


def prepare_dagster_home() -> Path:
    """Point DAGSTER_HOME at .sync_data/dagster_home (unless set) with the project's dagster.yaml, and
    DAGSTER_POSTGRES_URL at the embedded server (unless set). Returns the home."""
    home = Path(os.environ.setdefault("DAGSTER_HOME", str(data_dir() / "dagster_home")))
    home.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(PROJECT_ROOT / "dagster.yaml", home / "dagster.yaml")
    os.environ["DAGSTER_POSTGRES_URL"] = dagster_database_url()  # the exported one when set
    return home


def remove_generated_dotenv(root: Path = PROJECT_ROOT) -> bool:
    """Delete the .env an older `make install` wrote (recognised by its first line); a hand-written one stays."""
    dotenv = root / ".env"
    try:
        generated = dotenv.read_text().startswith(_GENERATED_DOTENV_MARKER)
    except OSError:
        return False
    if generated:
        dotenv.unlink()
    return generated


if __name__ == "__main__":
    remove_generated_dotenv()
