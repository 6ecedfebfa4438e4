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
