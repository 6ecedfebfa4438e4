"""Start the standalone sandbox once and share it: `ensure_sandbox()` reuses a live one.

The sandbox runs detached (its own session) so it outlives the caller; `<data-dir>/sandbox.json`
says where it listens, and a file lock makes concurrent callers start only one.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import httpx
import psutil
from filelock import FileLock

from sync_pipelines.paths import data_dir as default_data_dir

from .seed import SANDBOX_SEED, SANDBOX_SIZE

INFO_FILE = "sandbox.json"
START_TIMEOUT_SECONDS = 60.0
STOP_TIMEOUT_SECONDS = 10.0
PROJECT_ROOT = Path(__file__).resolve().parents[2]


def ensure_sandbox(data_dir: str | Path | None = None, size: int = SANDBOX_SIZE,
                   seed: int = SANDBOX_SEED) -> dict:
    """Return the running sandbox's sandbox.json contents, starting one if none answers.

    A running sandbox with another size or seed is stopped and replaced.
    """
    directory = Path(data_dir) if data_dir else default_data_dir()
    directory.mkdir(parents=True, exist_ok=True)
    with FileLock(str(directory / "sandbox.lock"), timeout=START_TIMEOUT_SECONDS + 30):
        info = _read_info(directory)
        if info is not None and _answers(info):
            if (info.get("size"), info.get("seed")) == (size, seed):
                return info
            _stop(info, directory)
        return _start(directory, size, seed)


def running_sandbox(data_dir: str | Path | None = None) -> dict | None:
    """The sandbox.json of a sandbox that answers from `data_dir`, else None (nothing is started)."""
    info = _read_info(Path(data_dir) if data_dir else default_data_dir())
    return info if info is not None and _answers(info) else None


def stop_sandbox(data_dir: str | Path | None = None) -> None:
    """Stop the sandbox recorded in `<data_dir>/sandbox.json` (if any) and remove the file."""
    directory = Path(data_dir) if data_dir else default_data_dir()
    directory.mkdir(parents=True, exist_ok=True)
    with FileLock(str(directory / "sandbox.lock"), timeout=STOP_TIMEOUT_SECONDS + 30):
        info = _read_info(directory)
        if info is not None:
            _stop(info, directory)


def _read_info(directory: Path) -> dict | None:
    try:
        return json.loads((directory / INFO_FILE).read_text())
    except (OSError, ValueError):
        return None


def _answers(info: dict) -> bool:
    """The recorded process is alive, serves every emulator, and its Marketo URL answers."""
    if "salesforce_url" not in info:
        return False  # written by an older sandbox without the Salesforce emulator
    try:
        if psutil.Process(int(info["pid"])).status() == psutil.STATUS_ZOMBIE:
            return False
        return httpx.get(f"{info['marketo_url']}/sandbox/stats", timeout=5,
                         trust_env=False).status_code == 200
    except (psutil.Error, KeyError, ValueError, httpx.HTTPError):
        return False


def _start(directory: Path, size: int, seed: int) -> dict:
    (directory / INFO_FILE).unlink(missing_ok=True)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(
        filter(None, [str(PROJECT_ROOT), os.environ.get("PYTHONPATH")]))}
    log_path = directory / "sandbox.log"
    with open(log_path, "ab") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "sync_pipelines.sandbox", "--size", str(size),
             "--seed", str(seed), "--data-dir", str(directory)],
            stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT, env=env,
            start_new_session=True)  # detached: survives the caller and its Ctrl-C
    deadline = time.monotonic() + START_TIMEOUT_SECONDS
    while time.monotonic() < deadline:
        info = _read_info(directory)
        if info is not None and info.get("pid") == process.pid and _answers(info):
            return info
        if process.poll() is not None:
            raise RuntimeError(f"the sandbox exited with code {process.returncode}; "
                               f"see {log_path}")
        time.sleep(0.1)
    process.terminate()
    raise RuntimeError(f"the sandbox did not answer within {START_TIMEOUT_SECONDS:.0f} s; "
                       f"see {log_path}")


def _stop(info: dict, directory: Path) -> None:
    try:
        process = psutil.Process(int(info["pid"]))
        process.terminate()
        process.wait(STOP_TIMEOUT_SECONDS)
    except psutil.TimeoutExpired:
        process.kill()
    except (psutil.Error, KeyError, ValueError):
        pass
    (directory / INFO_FILE).unlink(missing_ok=True)
