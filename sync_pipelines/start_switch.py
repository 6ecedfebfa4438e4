"""The admin's one switch ("initiate data sync"), applied to a sensor or schedule in one place.

Sensors and schedules are RUNNING from the moment the code location loads (store/sync_control.py); each
one that starts work is decorated with `until_sync_started`, so none can forget the switch.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, TypeVar

import dagster as dg

from sync_pipelines.store.sync_control import NOT_STARTED, sync_started_at

F = TypeVar("F", bound=Callable[..., Any])


def until_sync_started(evaluate: F) -> F:
    """Decorate a sensor's or schedule's function (under @dg.sensor / @dg.schedule; it takes `actions_db`).

    Until an admin starts the sync, a tick skips and says why; a sensor keeps its cursor, so its first tick
    after the start goes on from where it was.
    """

    @functools.wraps(evaluate)  # Dagster reads the wrapped function's parameters (context, resources)
    def guarded(context: Any, **resources: Any) -> Any:
        with resources["actions_db"].connection() as conn:
            started = sync_started_at(conn) is not None
        if started:
            return evaluate(context, **resources)
        if isinstance(context, dg.ScheduleEvaluationContext):
            return dg.SkipReason(NOT_STARTED)
        return dg.SensorResult(cursor=context.cursor, skip_reason=NOT_STARTED)

    return guarded  # type: ignore[return-value]
