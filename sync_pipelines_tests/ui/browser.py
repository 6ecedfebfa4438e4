"""Debian's chromium for the UI test: install it when missing (as root, through apt-get), else say why not.

Playwright drives the system browser (never `playwright install`, which downloads its own build).
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

CHROMIUM = Path("/usr/bin/chromium")
INSTALL_TIMEOUT_SECONDS = 900

# Headless and quiet: no GPU, no sandbox (containers run as root), no calls home during the test.
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def ensure_chromium() -> tuple[Path | None, str]:
    """The chromium executable, installing Debian's package if possible; else (None, the reason)."""
    if _runs(CHROMIUM):
        return CHROMIUM, ""
    if shutil.which("apt-get") is None:
        return None, "no /usr/bin/chromium and no apt-get to install Debian's chromium package"
    if os.geteuid() != 0:
        return None, "no /usr/bin/chromium and not root: run `apt-get install -y chromium` as root"
    environment = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    for command in (["apt-get", "update", "-q"], ["apt-get", "install", "-y", "-q", "chromium"]):
        completed = subprocess.run(command, env=environment, capture_output=True, text=True,
                                   timeout=INSTALL_TIMEOUT_SECONDS)
        if completed.returncode != 0:
            return None, f"`{' '.join(command)}` failed: {completed.stderr.strip()[-500:]}"
    if _runs(CHROMIUM):
        return CHROMIUM, ""
    return None, "apt-get installed chromium but /usr/bin/chromium does not run"


def _runs(executable: Path) -> bool:
    if not executable.exists():
        return False
    try:
        return subprocess.run([str(executable), "--version"], capture_output=True, timeout=30).returncode == 0
    except (OSError, subprocess.TimeoutExpired):
        return False
