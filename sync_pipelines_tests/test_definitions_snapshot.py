"""A snapshot of every asset spec and job: a change to a key, dep, group, kind, owner, pool, freshness
policy, retry policy or job is visible in review.

After an intended change, update the snapshot and commit it with the change:
    .venv/bin/python -m pytest sync_pipelines_tests/test_definitions_snapshot.py --snapshot-update
"""

import dagster as dg

from sync_pipelines.definitions import defs


def _freshness(policy) -> dict | None:
    if policy is None:
        return None
    windows = {name: getattr(policy, name, None) for name in ("fail_window", "warn_window")}
    return {"kind": type(policy).__name__,
            **{name: str(window.to_timedelta()) if window else None for name, window in windows.items()}}


def _retry(policy: dg.RetryPolicy | None) -> dict | None:
    if policy is None:
        return None
    return {"max_retries": policy.max_retries, "delay": policy.delay,
            "backoff": policy.backoff.value if policy.backoff else None,
            "jitter": policy.jitter.value if policy.jitter else None}


def asset_specs() -> dict:
    steps = {
        key.to_user_string(): assets_def
        for assets_def in defs.resolve_asset_graph().assets_defs
        if assets_def.is_executable
        for key in assets_def.keys
    }
    described = {}
    for spec in sorted(defs.resolve_all_asset_specs(), key=lambda s: s.key.to_user_string()):
        name = spec.key.to_user_string()
        op = steps[name].op if name in steps else None
        described[name] = {
            "deps": sorted(dep.asset_key.to_user_string() for dep in spec.deps),
            "group": spec.group_name,
            "kinds": sorted(spec.kinds),
            "owners": list(spec.owners),
            "pool": op.pool if op else None,
            "retry_policy": _retry(op.retry_policy) if op else None,
            "freshness": _freshness(spec.freshness_policy),
            "automation_condition": spec.automation_condition.get_label() if spec.automation_condition else None,
            "table_columns": [column.name for column in spec.metadata["dagster/column_schema"].schema.columns]
            if "dagster/column_schema" in spec.metadata else None,
        }
    return described


def jobs() -> dict:
    repository = defs.get_repository_def()
    described = {}
    for job in sorted(repository.get_all_jobs(), key=lambda j: j.name):
        if job.name.startswith("__"):
            continue
        described[job.name] = {
            "assets": sorted(key.to_user_string() for key in job.asset_layer.executable_asset_keys),
            "tags": dict(sorted(job.tags.items())),
            "executor": job.executor_def.name,
        }
    return described


def test_asset_specs_match_the_snapshot(snapshot):
    assert asset_specs() == snapshot


def test_jobs_match_the_snapshot(snapshot):
    assert jobs() == snapshot
