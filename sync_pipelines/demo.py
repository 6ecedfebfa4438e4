"""`make demo`: run person_sync_job end to end on the embedded defaults and print a summary.

Sandbox Marketo (started if needed), embedded PostgreSQL for both the Actions data and Dagster's run
storage, so the run also shows up afterwards in `make dev`.
"""

from __future__ import annotations

import sys
import time

import dagster as dg

from sync_pipelines.local import prepare_dagster_home, select_sandbox_unless_configured
from sync_pipelines.store.migrate import migrate_embedded_database


def _metadata(result: dg.ExecuteInProcessResult) -> dict[str, dict[str, object]]:
    found = {}
    for event in result.get_asset_materialization_events():
        materialization = event.step_materialization_data.materialization
        found[materialization.asset_key.to_user_string()] = {k: v.value for k, v in materialization.metadata.items()}
    return found


def main() -> int:
    started = time.monotonic()
    select_sandbox_unless_configured()
    prepare_dagster_home()
    migrate_embedded_database()
    from sync_pipelines.definitions import defs  # after the environment is prepared

    with dg.DagsterInstance.get() as instance:
        result = defs.resolve_job_def("person_sync_job").execute_in_process(
            instance=instance,
            run_config={"loggers": {"console": {"config": {"log_level": "INFO"}}}},
            raise_on_error=False,
        )
    if not result.success:
        print("person_sync_job failed; see the run in `make dev` or the log above.", file=sys.stderr)
        return 1
    metadata = _metadata(result)
    extract, owned, actions = (
        metadata["marketo_person_extract"], metadata["sales_owned_people"], metadata["actions_people"]
    )
    print()
    print("person_sync_job succeeded (run %s)" % result.run_id)
    print(f"  people extracted from Marketo : {extract['people_read']}")
    print(f"  qualified (have a sales owner) : {owned['people_qualified']}")
    print(f"  written to Actions            : {actions['inserted']} inserted, {actions['updated']} updated")
    print(f"  removed from Actions          : {actions['removed']}")
    print(f"  quarantined                   : {extract['people_quarantined']}")
    print(f"  Actions person table          : {actions['actions_people']} people")
    print(f"  Marketo API calls used        : {extract['marketo_api_calls']}")
    print(f"  elapsed                       : {time.monotonic() - started:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
