"""`make stop`: stop what `make demo`, `make dev` and `make sandbox` leave running in the background.

That is the sandbox emulators (the process recorded in .sync_data/sandbox.json) and the embedded
PostgreSQL under .sync_data/pg, which holds the local Actions data and Dagster's runs (they stay on disk;
the next `make demo` or `make dev` starts the server again). Stop `make dev` itself first (Ctrl-C).
"""

from __future__ import annotations

from sync_pipelines.sandbox.launcher import running_sandbox, stop_sandbox
from sync_pipelines.store.database import stop_embedded_server


def main() -> None:
    sandbox = running_sandbox()
    stop_sandbox()
    print(f"sandbox emulators: {'stopped (pid %s)' % sandbox['pid'] if sandbox else 'not running'}")
    print(f"embedded PostgreSQL: {'stopped' if stop_embedded_server() else 'not running'}")


if __name__ == "__main__":
    main()
