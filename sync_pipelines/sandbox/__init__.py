"""Local emulators of Marketo (and Salesforce) with deterministic seed data.

Marketo: `MarketoSandbox` (state), `create_marketo_app` (Starlette app), `serve_marketo` (served
on loopback), `ensure_sandbox` (a shared standalone process, `python -m sync_pipelines.sandbox`).

Owns: the emulators, their seed data and admin endpoints (README.md). They follow the documented APIs, not
this project's code, so they import nothing of it but `paths`. Their libraries are the `sandbox` extra.
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
