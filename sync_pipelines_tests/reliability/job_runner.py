"""A pre-warmed job runner for the chaos rounds: `python -m sync_pipelines_tests.reliability.job_runner`.

Importing Dagster and the code location takes seconds, so this process imports them once (with the
environment the test gives it: MARKETO_BASE_URL, SALESFORCE_INSTANCE_URL, SALESFORCE_CA_BUNDLE,
SYNC_DATABASE_URL and the client credentials) and then runs each requested job in a forked child: a
real, separate process that the test may SIGKILL at any point. This process is single-threaded, so
forking it is safe.

Protocol, one JSON object per line. In: {"job", "run_config", "env", "log_path"}. Out: {"ready": true}
once, then per request {"pid"} when the child starts and {"pid", "exit"} when it ends (exit -9: killed).
"""

import json
import os
import sys
import traceback


def run_child(request: dict) -> int:
    """In the forked child: run one job of the code location; 0 when the run succeeded."""
    log = os.open(request["log_path"], os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    os.dup2(log, 1)  # the child's output must not mix with the protocol on stdout
    os.dup2(log, 2)
    os.environ.update(request.get("env") or {})
    import dagster as dg

    from sync_pipelines.definitions import defs

    job = defs.resolve_job_def(request["job"])
    with dg.DagsterInstance.ephemeral() as instance:
        result = job.execute_in_process(run_config=request.get("run_config"), instance=instance,
                                        raise_on_error=False)
    return 0 if result.success else 1


def main() -> None:
    import dagster  # noqa: F401  (warm: the children inherit the imported modules)

    from sync_pipelines.definitions import defs

    for name in ("person_sync_job", "unsubscribe_sync_job", "task_sync_job", "activity_fanout_job"):
        defs.resolve_job_def(name)
    out = sys.stdout
    out.write(json.dumps({"ready": True}) + "\n")
    out.flush()
    for line in sys.stdin:
        request = json.loads(line)
        pid = os.fork()
        if pid == 0:
            code = 1
            try:
                code = run_child(request)
            except BaseException:
                traceback.print_exc()
            finally:
                sys.stdout.flush()
                sys.stderr.flush()
                os._exit(code)
        out.write(json.dumps({"pid": pid}) + "\n")
        out.flush()
        _, status = os.waitpid(pid, 0)
        out.write(json.dumps({"pid": pid, "exit": os.waitstatus_to_exitcode(status)}) + "\n")
        out.flush()


if __name__ == "__main__":
    main()
