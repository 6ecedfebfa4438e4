"""Local emulators of Marketo (and Salesforce) with deterministic seed data.

Marketo: `MarketoSandbox` (state), `create_marketo_app` (Starlette app), `serve_marketo` (served
on loopback), `ensure_sandbox` (a shared standalone process, `python -m sync_pipelines.sandbox`).
"""

from .marketo_app import create_marketo_app
from .marketo_state import MarketoSandbox, MarketoSandboxConfig
from .seed import (SANDBOX_CREATED_FROM, SANDBOX_CREATED_UNTIL, SANDBOX_SEED, SANDBOX_SIZE,
                   generate_people)
from .servers import MarketoServer, RunningServer, serve, serve_marketo

__all__ = [
    "MarketoSandbox", "MarketoSandboxConfig", "MarketoServer", "RunningServer",
    "SANDBOX_CREATED_FROM", "SANDBOX_CREATED_UNTIL", "SANDBOX_SEED", "SANDBOX_SIZE",
    "create_marketo_app", "generate_people", "serve", "serve_marketo",
]
