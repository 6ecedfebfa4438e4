"""The code location loads, and every job, sensor and schedule resolves."""

import dagster as dg

from sync_pipelines.definitions import defs

PEOPLE_ASSETS = {"marketo_person_extract", "sales_owned_people", "actions_people"}


def test_definitions_resolve_every_job_sensor_and_schedule():
    repository = defs.get_repository_def()
    for job in repository.get_all_jobs():
        assert job.name
    for sensor in defs.sensors or []:
        assert repository.get_sensor_def(sensor.name)
    for schedule in defs.schedules or []:
        assert repository.get_schedule_def(schedule.name)
    assert repository.has_job("person_sync_job")


def test_people_assets_are_in_the_people_group_with_descriptions():
    specs = {spec.key.to_user_string(): spec for spec in defs.resolve_all_asset_specs()}
    assert PEOPLE_ASSETS <= set(specs)
    for name in PEOPLE_ASSETS:
        assert specs[name].group_name == "people"
        assert specs[name].description
    assert dg.AssetKey("sales_owned_people") in {dep.asset_key for dep in specs["actions_people"].deps}
    assert dg.AssetKey("marketo_person_extract") in {dep.asset_key for dep in specs["sales_owned_people"].deps}


def test_person_sync_job_covers_the_people_group():
    job = defs.resolve_job_def("person_sync_job")
    assert {key.to_user_string() for key in job.asset_layer.executable_asset_keys} >= PEOPLE_ASSETS


def test_dagster_cli_validates_the_workspace(database_url, tmp_path):
    """`dagster definitions validate -w workspace.yaml`, with Dagster's storage in a fresh database."""
    import os
    import subprocess
    import sys
    from pathlib import Path

    import psycopg

    params = psycopg.conninfo.conninfo_to_dict(database_url)
    storage_url = f"postgresql+psycopg2://{params.get('user', 'postgres')}@{params.get('host', '')}:{params.get('port', 5432)}/{params['dbname']}"
    if str(params.get("host", "")).startswith("/"):
        storage_url = f"postgresql+psycopg2://{params.get('user', 'postgres')}@/{params['dbname']}?host={params['host']}"
    # Run from a copy of the two config files: the project root may hold a .env that the CLI would load.
    root = Path(__file__).resolve().parents[1]
    for name in ("workspace.yaml", "dagster.yaml"):
        (tmp_path / name).write_text((root / name).read_text())
    dagster = Path(sys.executable).with_name("dagster")
    completed = subprocess.run(
        [str(dagster), "definitions", "validate", "-w", "workspace.yaml"],
        cwd=tmp_path,
        env={**os.environ, "DAGSTER_POSTGRES_URL": storage_url, "DAGSTER_HOME": ""},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert completed.returncode == 0, completed.stderr[-2000:]
    assert "All code locations passed validation" in completed.stderr + completed.stdout


def test_every_asset_job_sensor_and_schedule_is_described_and_owned():
    repository = defs.get_repository_def()
    for spec in defs.resolve_all_asset_specs():
        assert spec.description, f"asset {spec.key.to_user_string()} has no description"
        assert spec.group_name and spec.group_name != "default", f"asset {spec.key.to_user_string()} has no group"
        assert spec.kinds, f"asset {spec.key.to_user_string()} has no kinds"
        if not spec.key.to_user_string() == "actions_sales_activities":  # external: written by the Actions app
            assert spec.owners, f"asset {spec.key.to_user_string()} has no owner"
    for job in repository.get_all_jobs():
        if not job.name.startswith("__"):
            assert job.description, f"job {job.name} has no description"
    for sensor in repository.sensor_defs:
        assert sensor.description, f"sensor {sensor.name} has no description"
    for schedule in repository.schedule_defs:
        assert schedule.description, f"schedule {schedule.name} has no description"


def test_the_fixed_names_of_the_design_exist():
    repository = defs.get_repository_def()
    assets = {spec.key.to_user_string(): spec.group_name for spec in defs.resolve_all_asset_specs()}
    assert assets == {
        "marketo_person_extract": "people", "sales_owned_people": "people", "actions_people": "people",
        "actions_sales_activities": "activities", "marketo_sales_activity_types": "activities",
        "marketo_sales_activities": "activities", "salesforce_activity_tasks": "activities",
        "salesforce_unsubscribes": "unsubscribes", "marketo_unsubscribe_status": "unsubscribes",
        "salesforce_tasks": "tasks", "actions_tasks": "tasks", "command_center_tasks": "tasks",
    }
    for job in ("person_sync_job", "activity_fanout_job", "unsubscribe_sync_job", "task_sync_job"):
        assert repository.has_job(job)
    sensors = {sensor.name for sensor in repository.sensor_defs}
    assert {"marketo_person_change_sensor", "actions_activity_sensor", "salesforce_task_change_sensor"} <= sensors
    schedules = {schedule.name for schedule in repository.schedule_defs}
    assert {"person_batch_schedule", "person_reconciliation_schedule", "task_sync_schedule"} <= schedules


def test_dg_cli_checks_the_project_definitions(tmp_path):
    """`dg check defs` from the project root ([tool.dg] in pyproject.toml), with a throwaway instance."""
    import os
    import subprocess
    import sys
    from pathlib import Path

    root = Path(__file__).resolve().parents[1]
    completed = subprocess.run(
        [str(Path(sys.executable).with_name("dg")), "check", "defs", "--use-active-venv"],
        cwd=root,
        env={**os.environ, "DAGSTER_HOME": str(tmp_path)},
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert completed.returncode == 0, (completed.stdout + completed.stderr)[-2000:]
    assert "All definitions loaded successfully" in completed.stdout + completed.stderr
