"""Run the sandbox emulators standalone: `python -m sync_pipelines.sandbox [--size N] ...`.

Serves on loopback until SIGINT/SIGTERM and records how to reach the services in
`<data-dir>/sandbox.json` (read by launcher.ensure_sandbox and by the demo's resources).
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

from .marketo_state import MarketoSandboxConfig
from .salesforce_app import serve_salesforce
from .salesforce_state import SalesforceSandboxConfig
from .seed import SANDBOX_SEED, SANDBOX_SIZE
from .servers import serve_marketo

INFO_FILE = "sandbox.json"


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """Command-line options of the standalone sandbox."""
    parser = argparse.ArgumentParser(prog="python -m sync_pipelines.sandbox",
                                     description="Serve the Marketo (and Salesforce) emulators.")
    parser.add_argument("--size", type=int, default=SANDBOX_SIZE, help="number of seeded people")
    parser.add_argument("--seed", type=int, default=SANDBOX_SEED, help="seed of the people data")
    parser.add_argument("--port", type=int, default=0, help="Marketo port (0 = any free port)")
    parser.add_argument("--data-dir", default=str(data_dir()), help="where sandbox.json is written")
    defaults = MarketoSandboxConfig()
    parser.add_argument("--calls-per-window", type=int, default=defaults.calls_per_window,
                        help="Marketo calls allowed per rate-limit window (benchmarks lift it)")
    parser.add_argument("--daily-quota", type=int, default=defaults.daily_quota, help="Marketo calls allowed per day")
    return parser.parse_args(argv)


def start_services(args: argparse.Namespace, stack: ExitStack) -> dict:
    """Start every emulator inside `stack`; return the entries for sandbox.json."""
    marketo = stack.enter_context(serve_marketo(
        MarketoSandboxConfig(seed=args.seed, size=args.size, calls_per_window=args.calls_per_window,
                             daily_quota=args.daily_quota), port=args.port))
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


def main(argv: list[str] | None = None) -> None:
    """Serve until SIGINT/SIGTERM, then remove sandbox.json if it is still ours."""
    args = parse_args(argv)
    stop = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: stop.set())
    with ExitStack() as stack:
        info = start_services(args, stack)
        path = write_info(Path(args.data_dir), info)
        print(f"Marketo sandbox: {info['marketo_url']}  ({args.size} people, seed {args.seed})")
        print(f"  client id: {info['marketo_client_id']}  client secret: "
              f"{info['marketo_client_secret']}  (sandbox-only credentials)")
        print(f"Salesforce sandbox: {info['salesforce_url']}  (CA bundle {info['salesforce_ca_bundle']})")
        print(f"  client id: {info['salesforce_client_id']}  client secret: {info['salesforce_client_secret']}")
        print("  Marketo admin: POST /sandbox/leads, PATCH|DELETE /sandbox/leads/{id}, "
              "POST /sandbox/leads/merge, POST /sandbox/tokens/expire, POST /sandbox/errors, "
              "GET /sandbox/stats")
        print(f"  written to {path}; stop with Ctrl-C or SIGTERM", flush=True)
        stop.wait()
        try:
            if json.loads(path.read_text()).get("pid") == os.getpid():
                path.unlink()
        except (OSError, ValueError):
            pass


if __name__ == "__main__":
    main()
