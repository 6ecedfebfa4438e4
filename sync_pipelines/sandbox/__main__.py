"""Run the sandbox emulators standalone: `python -m sync_pipelines.sandbox [--size N] ...` (`make sandbox`).

Serves on loopback until SIGINT/SIGTERM and records how to reach the services in
`<data-dir>/sandbox.json` (read by launcher.ensure_sandbox and by the demo's resources). When a sandbox of
the same size and seed already answers there (started by `make demo`, `make dev` or an earlier
`make sandbox`), it prints that one's addresses and exits: sandbox.json is left as it is.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import threading
from contextlib import ExitStack
from pathlib import Path

from sync_pipelines.paths import data_dir

from .admin import admin_help
from .launcher import INFO_FILE, running_sandbox
from .marketo_state import MarketoSandboxConfig
from .salesforce_app import serve_salesforce
from .salesforce_state import SalesforceSandboxConfig
from .seed import SANDBOX_SEED, SANDBOX_SIZE
from .servers import serve_marketo


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """Command-line options of the standalone sandbox."""
    parser = argparse.ArgumentParser(
        prog="python -m sync_pipelines.sandbox", description="Serve the Marketo and Salesforce emulators "
        "(or show the running ones). Stop them with Ctrl-C, SIGTERM or `make stop`.",
        epilog=admin_help(), formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--size", type=int, default=SANDBOX_SIZE, help="number of seeded people")
    parser.add_argument("--seed", type=int, default=SANDBOX_SEED, help="seed of the people data")
    parser.add_argument("--port", type=int, default=0, help="Marketo port (0 = any free port)")
    parser.add_argument("--data-dir", default=str(data_dir()), help="where sandbox.json is written")
    defaults = MarketoSandboxConfig()
    parser.add_argument("--calls-per-window", type=int, default=defaults.calls_per_window,
                        help="Marketo calls allowed per rate-limit window (benchmarks lift it)")
    parser.add_argument("--daily-quota", type=int, default=defaults.daily_quota, help="Marketo calls allowed per day")
    parser.add_argument("--export-seconds", type=float, default=None,
                        help="seconds a bulk export job spends Queued and again Processing (default: "
                             f"{defaults.bulk_queued_seconds} s queued, {defaults.bulk_processing_seconds} s processing)")
    parser.add_argument("--export-seconds-per-1000-rows", type=float, default=defaults.bulk_seconds_per_1000_rows,
                        help="extra Processing seconds per thousand exported rows")
    return parser.parse_args(argv)


def start_services(args: argparse.Namespace, stack: ExitStack) -> dict:
    """Start every emulator inside `stack`; return the entries for sandbox.json."""
    timing = {} if args.export_seconds is None else {
        "bulk_queued_seconds": args.export_seconds, "bulk_processing_seconds": args.export_seconds}
    marketo = stack.enter_context(serve_marketo(
        MarketoSandboxConfig(seed=args.seed, size=args.size, calls_per_window=args.calls_per_window,
                             daily_quota=args.daily_quota,
                             bulk_seconds_per_1000_rows=args.export_seconds_per_1000_rows, **timing),
        port=args.port))
    info = {
        "pid": os.getpid(),
        "seed": args.seed,
        "size": args.size,
        "marketo_url": marketo.url,
        "marketo_client_id": marketo.client_id,
        "marketo_client_secret": marketo.client_secret,
    }
    salesforce = stack.enter_context(serve_salesforce(
        SalesforceSandboxConfig(seed=args.seed, size=args.size), tls_dir=Path(args.data_dir) / "salesforce_tls"))
    info.update(
        salesforce_url=salesforce.url,
        salesforce_client_id=salesforce.client_id,
        salesforce_client_secret=salesforce.client_secret,
        salesforce_ca_bundle=str(salesforce.ca_path),
    )
    return info


def write_info(data_dir: Path, info: dict) -> Path:
    """Write sandbox.json atomically (readers never see half a file)."""
    data_dir.mkdir(parents=True, exist_ok=True)
    path = data_dir / INFO_FILE
    temporary = path.with_suffix(f".{os.getpid()}.tmp")
    temporary.write_text(json.dumps(info, indent=2))
    temporary.replace(path)
    return path


def print_banner(info: dict, path: Path) -> None:
    """Where the services listen, their sandbox-only credentials, and the admin endpoints."""
    print(f"Marketo sandbox: {info['marketo_url']}  ({info['size']} people, seed {info['seed']})")
    print(f"  client id: {info['marketo_client_id']}  client secret: "
          f"{info['marketo_client_secret']}  (sandbox-only credentials)")
    print(f"Salesforce sandbox: {info['salesforce_url']}  (CA bundle {info['salesforce_ca_bundle']})")
    print(f"  client id: {info['salesforce_client_id']}  client secret: {info['salesforce_client_secret']}")
    print(f"Recorded in {path}.")
    print(admin_help(), flush=True)


def main(argv: list[str] | None = None) -> None:
    """Serve until SIGINT/SIGTERM, then remove sandbox.json if it is still ours."""
    args = parse_args(argv)
    running = running_sandbox(Path(args.data_dir))
    if running is not None:
        if (running.get("size"), running.get("seed")) != (args.size, args.seed):
            raise SystemExit(f"a sandbox with {running.get('size')} people (seed {running.get('seed')}) already "
                             f"serves from {args.data_dir} (pid {running['pid']}): stop it first with `make stop`")
        print(f"A sandbox already runs (pid {running['pid']}); reusing it. Stop it with `make stop`.")
        print_banner(running, Path(args.data_dir) / INFO_FILE)
        return
    stop = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: stop.set())
    with ExitStack() as stack:
        info = start_services(args, stack)
        path = write_info(Path(args.data_dir), info)
        print_banner(info, path)
        print("Stop with Ctrl-C or SIGTERM.", flush=True)
        stop.wait()
        try:
            if json.loads(path.read_text()).get("pid") == os.getpid():
                path.unlink()
        except (OSError, ValueError):
            pass


if __name__ == "__main__":
    main()
