"""The executor every job runs with, chosen by SYNC_EXECUTOR: `in_process` (the default), `multiprocess` or
`celery`.

Why in-process by default: the steps hand over through PostgreSQL, so nothing needs another process, and a
process per step costs more than a whole incremental person sync (about 0.6 s); a dry run of several steps
also needs one process (below). `multiprocess` and `celery` run each step in its own process, on this
machine or on Celery workers (deploy/README.md).

A dry run (run tag `sync_pipelines/dry_run=true`, sync_pipelines/dry_run.py) keeps its would-be writes in one
rolled-back PostgreSQL transaction that its steps share, so a later step counts what an earlier one would have
written. A transaction cannot span processes: on `multiprocess` or `celery` a dry run of more than one step is
refused before any step starts, with a message saying how to run it. A dry run of a single step (one asset
without its checks: a check is a step of its own) runs on any executor.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping, Sequence

import dagster as dg

from sync_pipelines.dry_run import DRY_RUN_TAG, run_is_dry
from sync_pipelines.environment import ConfigurationError

EXECUTOR_VARIABLE = "SYNC_EXECUTOR"
CELERY_BROKER_VARIABLE = "SYNC_CELERY_BROKER_URL"
IN_PROCESS, MULTIPROCESS, CELERY = "in_process", "multiprocess", "celery"


def executor_kind(environ: Mapping[str, str] = os.environ) -> str:
    kind = (environ.get(EXECUTOR_VARIABLE) or IN_PROCESS).strip().lower()
    if kind not in (IN_PROCESS, MULTIPROCESS, CELERY):
        raise ConfigurationError(f"{EXECUTOR_VARIABLE} must be one of {IN_PROCESS}, {MULTIPROCESS}, {CELERY}")
    return kind


def dry_run_refusal(tags: Mapping[str, str], step_keys: Sequence[str], *, one_process: bool) -> str | None:
    """Why this run may not start, or None: a dry run of several steps spread over several processes."""
    if one_process or len(step_keys) <= 1 or not run_is_dry(tags):
        return None
    return (
        f"Refused before any step started: this dry run ({DRY_RUN_TAG}=true) has {len(step_keys)} steps "
        f"({', '.join(sorted(step_keys))}), and a dry run keeps every would-be write in one rolled-back database "
        "transaction that its steps share, which cannot span the processes of this executor. Run it in one "
        f"process (a code location with {EXECUTOR_VARIABLE}=in_process), or dry-run one asset at a time without "
        "its checks (a check is a step of its own and would read the committed data, not the dry run's)."
    )


class _DryRunGuard(dg.Executor):
    """The chosen executor, with the dry-run check before it starts anything. Everything else is the inner
    executor's: dagster-celery's loop reads `app_args()` and `retries` from the executor it is given."""

    def __init__(self, inner: dg.Executor, *, one_process: bool):
        self._inner = inner
        self._one_process = one_process

    def execute(self, plan_context, execution_plan) -> Iterator[dg.DagsterEvent]:
        refusal = dry_run_refusal(plan_context.dagster_run.tags, execution_plan.step_keys_to_execute,
                                  one_process=self._one_process)
        if refusal:
            raise dg.DagsterInvariantViolationError(refusal)
        return self._inner.execute(plan_context, execution_plan)

    @property
    def retries(self):
        return self._inner.retries

    @property
    def step_dependency_config(self):
        return self._inner.step_dependency_config

    def __getattr__(self, name: str):
        return getattr(self._inner, name)


def _celery_broker_from_environment(executor: dg.Executor, config: Mapping) -> None:
    """dagster-celery's broker is SYNC_CELERY_BROKER_URL when the run config names none (an environment
    variable, so a broker password never shows in run config); else its default, the local RabbitMQ."""
    if not config.get("broker") and os.environ.get(CELERY_BROKER_VARIABLE):
        executor.broker = os.environ[CELERY_BROKER_VARIABLE]


def sync_executor(kind: str | None = None) -> dg.ExecutorDefinition:
    """The executor of every job (SYNC_EXECUTOR unless `kind` is given), guarded for dry runs."""
    kind = kind or executor_kind()
    if kind == CELERY:
        from dagster_celery import celery_executor as inner
    else:
        inner = {IN_PROCESS: dg.in_process_executor, MULTIPROCESS: dg.multiprocess_executor}[kind]

    @dg.executor(
        name=inner.name,
        config_schema=inner.config_schema,
        requirements=None if kind == IN_PROCESS else dg.multiple_process_executor_requirements(),
    )
    def guarded(init_context: dg.InitExecutorContext) -> dg.Executor:
        executor = inner.executor_creation_fn(init_context)
        if kind == CELERY:
            _celery_broker_from_environment(executor, init_context.executor_config)
        return _DryRunGuard(executor, one_process=kind == IN_PROCESS)

    return guarded
