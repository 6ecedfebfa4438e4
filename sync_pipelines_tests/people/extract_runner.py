"""Run the full person extract in a process of its own, for a test to SIGKILL part-way.

    python -m sync_pipelines_tests.people.extract_runner '<MarketoResource settings as JSON>' <database url>
"""

import json
import sys

import dagster as dg

from sync_pipelines.people.assets import marketo_person_extract
from sync_pipelines.resources import ActionsDatabase, MarketoResource


def main() -> None:
    settings, database_url = json.loads(sys.argv[1]), sys.argv[2]
    result = dg.materialize(
        [marketo_person_extract],
        resources={"marketo": MarketoResource(**settings), "actions_db": ActionsDatabase(url=database_url)},
    )
    sys.exit(0 if result.success else 1)


if __name__ == "__main__":
    main()
