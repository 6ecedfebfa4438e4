"""Where the project keeps local state: embedded PostgreSQL, sandbox state, the local Dagster home."""

import os
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parents[1]


def data_dir() -> Path:
    """`SYNC_DATA_DIR`, else .sync_data/ at the project root (git-ignored)."""
    configured = os.environ.get("SYNC_DATA_DIR")
    if configured:
        return Path(configured)
    root = PROJECT_ROOT if (PROJECT_ROOT / "pyproject.toml").exists() else Path.cwd()
    return root / ".sync_data"
