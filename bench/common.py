"""Shared pieces of the benchmarks: a standalone sandbox process and its Marketo resource, a fresh database,
figures output."""

from __future__ import annotations

import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from contextlib import contextmanager
from pathlib import Path

from sync_pipelines.resources import MarketoResource
from sync_pipelines.sandbox.seed import SANDBOX_CREATED_FROM
from sync_pipelines_tests.fixtures.database import scratch_database

RESULTS_DIR = Path(__file__).resolve().parent / "results"
LOCAL_SERVER = "postgresql://postgres@127.0.0.1:5432/postgres"


@contextmanager
def sandbox_process(size: int, seed: int = 42, *options: str):
    """The sandbox emulators in their own process (their CPU and memory are not the sync's), yielding sandbox.json.

    `options` go to `python -m sync_pipelines.sandbox` (e.g. "--calls-per-window", "1000000").
    """
    with tempfile.TemporaryDirectory(prefix="bench_sandbox_") as data_dir:
        process = subprocess.Popen(
            [sys.executable, "-m", "sync_pipelines.sandbox", "--size", str(size), "--seed", str(seed),
             "--data-dir", data_dir, *options],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )
        info_path = Path(data_dir) / "sandbox.json"
        try:
            deadline = time.monotonic() + 300
            while not info_path.exists():
                if process.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError("the sandbox did not start")
                time.sleep(0.2)
            yield json.loads(info_path.read_text())
        finally:
            process.terminate()
            process.wait(timeout=30)


def sandbox_marketo(
    sandbox: dict,
    *,
    smart_list_id: int | None = 1,
    calls_per_window: int = 100,
    poll_max_seconds: float = 0.2,
    extract_since: str | None = SANDBOX_CREATED_FROM.isoformat(),
) -> MarketoResource:
    """The Marketo resource for a sandbox process (its sandbox.json): its credentials, quick export polls
    unless told otherwise."""
    return MarketoResource(
        base_url=sandbox["marketo_url"],
        client_id=sandbox["marketo_client_id"],
        client_secret=sandbox["marketo_client_secret"],
        bulk_poll_max_seconds=poll_max_seconds,
        calls_per_window=calls_per_window,
        extract_since=extract_since,
        smart_list_id=smart_list_id,
    )


@contextmanager
def fresh_database():
    """A new, migrated database on SYNC_BENCH_ADMIN_URL (default: the local server), dropped afterwards."""
    with scratch_database(os.environ.get("SYNC_BENCH_ADMIN_URL", LOCAL_SERVER), prefix="sync_bench", migrated=True) as url:
        yield url


def peak_memory_mib() -> float:
    """Peak resident memory of this process so far (Linux reports KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def report(name: str, figures: dict) -> None:
    """One line per figure, and all of them in bench/results/<name>.json."""
    for key, value in figures.items():
        print(f"{name}: {key} = {value}")
    RESULTS_DIR.mkdir(exist_ok=True)
    (RESULTS_DIR / f"{name}.json").write_text(json.dumps(figures, indent=2, default=str))
