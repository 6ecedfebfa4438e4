"""The long chaos suite: many fault-and-kill rounds per job, each followed by a clean rerun and an oracle compare.

    SYNC_ENV=sandbox .venv/bin/python -m bench.chaos [--rounds 10] [--seed 2026] [--jobs activity_fanout_job ...]
        [--reruns-under-faults 3]

Jobs: person_sync_job, unsubscribe_sync_job, task_sync_job, activity_fanout_job (--jobs: only these). Each round changes data on the services
(recorded in the round's own model), runs the job in a separate process with random faults in both
emulators and SIGKILLs it after a random delay, reruns it without faults, and compares the Actions
database, Marketo and Salesforce with the model. Prints rounds, faults injected, kills, rows compared and
the differences found (must be 0); writes bench/results/chaos.json. The database server is
SYNC_BENCH_ADMIN_URL (default: the local server).
"""

from __future__ import annotations

import argparse
import os
import sys
import time

from bench.common import LOCAL_SERVER, report
from sync_pipelines_tests.reliability.chaos_harness import SCENARIOS, run_chaos


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=10, help="fault-and-kill rounds per job")
    parser.add_argument("--seed", type=int, default=2026)
    parser.add_argument("--reruns-under-faults", type=int, default=3,
                        help="after a killed or failed run, run again with the faults still on (up to this many times)")
    jobs = [scenario.job for scenario in SCENARIOS]
    parser.add_argument("--jobs", nargs="+", choices=jobs, default=jobs, help="run only these jobs' scenarios")
    args = parser.parse_args()
    started = time.monotonic()
    scenarios = tuple(scenario for scenario in SCENARIOS if scenario.job in args.jobs)
    figures = run_chaos(os.environ.get("SYNC_BENCH_ADMIN_URL", LOCAL_SERVER), rounds=args.rounds,
                        seed=args.seed, scenarios=scenarios, reruns_under_faults=args.reruns_under_faults).as_dict()
    report("chaos", {**figures, "seed": args.seed, "jobs": args.jobs,
                     "wall_seconds": round(time.monotonic() - started, 1)})
    sys.exit(1 if figures["differences_found"] else 0)


if __name__ == "__main__":
    main()
