"""The explicit environment: the sandbox only when nothing real is configured, every setting required otherwise,
one message naming what is missing (never a value), and a .env that would override exported variables refused."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from sync_pipelines.environment import (
    ConfigurationError,
    configuration_problems,
    positive_int_setting,
    require_valid_configuration,
    sync_env,
)
from sync_pipelines.local import remove_generated_dotenv

ROOT = Path(__file__).resolve().parents[2]
SECRET = "s3cret-never-printed"
COMPLETE = {
    "MARKETO_BASE_URL": "https://123-ABC-456.mktorest.com", "MARKETO_CLIENT_ID": "id", "MARKETO_CLIENT_SECRET": SECRET,
    "SALESFORCE_INSTANCE_URL": "https://acme.my.salesforce.com", "SALESFORCE_CLIENT_ID": "id",
    "SALESFORCE_CLIENT_SECRET": SECRET, "SYNC_DATABASE_URL": f"postgresql://sync:{SECRET}@db.internal/actions",
}


def _clean_environment() -> dict[str, str]:
    """This process's environment without any of the sync's settings (and without SYNC_ENV)."""
    prefixes = ("MARKETO_", "SALESFORCE_", "SYNC_", "PERSON_", "DAGSTER_HOME")
    return {key: value for key, value in os.environ.items() if not key.startswith(prefixes)}


def _validate(cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess:
    (cwd / "workspace.yaml").write_text((ROOT / "workspace.yaml").read_text())  # a temporary instance: no storage
    return subprocess.run(
        [str(Path(sys.executable).with_name("dagster")), "definitions", "validate", "-w", "workspace.yaml"],
        cwd=cwd, env={**env, "PYTHONPATH": str(ROOT)}, capture_output=True, text=True, timeout=240)


def test_only_the_database_url_fails_definitions_validate_naming_every_missing_setting(tmp_path):
    env = {**_clean_environment(), "SYNC_DATABASE_URL": COMPLETE["SYNC_DATABASE_URL"]}
    completed = _validate(tmp_path, env)
    output = completed.stdout + completed.stderr
    assert completed.returncode != 0
    for name in ("MARKETO_BASE_URL", "MARKETO_CLIENT_ID", "MARKETO_CLIENT_SECRET", "SALESFORCE_INSTANCE_URL",
                 "SALESFORCE_CLIENT_ID and SALESFORCE_CLIENT_SECRET"):
        assert name in output
    assert "SYNC_ENV=production" in output
    assert SECRET not in output


def test_a_dotenv_that_sets_a_sync_variable_is_refused_so_the_exported_value_always_wins(tmp_path):
    (tmp_path / ".env").write_text("SYNC_DATABASE_URL=postgresql://other@127.0.0.1/elsewhere\n")
    completed = _validate(tmp_path, {**_clean_environment(), "SYNC_ENV": "sandbox"})
    assert completed.returncode != 0
    assert ".env" in completed.stderr + completed.stdout and "SYNC_DATABASE_URL" in completed.stderr + completed.stdout
    assert "elsewhere" not in completed.stderr + completed.stdout


def test_make_install_writes_no_dotenv_and_removes_the_one_older_versions_wrote(tmp_path):
    (tmp_path / ".env").write_text("# Written by `make install` (sync_pipelines.local): Dagster's storage.\n"
                                   "DAGSTER_POSTGRES_URL=postgresql://embedded\n")
    assert remove_generated_dotenv(tmp_path) and not (tmp_path / ".env").exists()
    (tmp_path / ".env").write_text("MY_OWN=1\n")
    assert not remove_generated_dotenv(tmp_path) and (tmp_path / ".env").exists()


def test_the_environment_is_explicit_or_inferred_from_what_is_configured(tmp_path):
    assert sync_env({}) == "sandbox"
    assert sync_env({"SYNC_DATABASE_URL": "postgresql://x"}) == "production"
    assert sync_env({"SYNC_ENV": "Production"}) == "production"
    assert require_valid_configuration({"SYNC_ENV": "sandbox"}, tmp_path) == "sandbox"
    assert require_valid_configuration(COMPLETE, tmp_path) == "production"
    assert configuration_problems({"SYNC_ENV": "staging"}, tmp_path) == ["SYNC_ENV must be sandbox or production"]


def test_production_with_nothing_configured_lists_every_required_setting_in_one_message(tmp_path):
    with pytest.raises(ConfigurationError) as refused:
        require_valid_configuration({"SYNC_ENV": "production"}, tmp_path)
    message = str(refused.value)
    for name in ("MARKETO_BASE_URL", "MARKETO_CLIENT_SECRET", "SALESFORCE_INSTANCE_URL", "SYNC_DATABASE_URL"):
        assert name in message


@pytest.mark.parametrize("lost", sorted(COMPLETE))
def test_one_lost_variable_fails_production_and_names_it(lost, tmp_path):
    environ = {key: value for key, value in COMPLETE.items() if key != lost}
    with pytest.raises(ConfigurationError) as refused:
        require_valid_configuration(environ, tmp_path)
    assert lost in str(refused.value) and SECRET not in str(refused.value)


def test_a_half_configured_service_is_refused_even_in_the_sandbox(tmp_path):
    problems = configuration_problems({"SYNC_ENV": "sandbox", "MARKETO_CLIENT_ID": "id",
                                       "SALESFORCE_INSTANCE_URL": "https://acme.my.salesforce.com"}, tmp_path)
    assert problems == ["missing MARKETO_BASE_URL, MARKETO_CLIENT_SECRET, SALESFORCE_CLIENT_ID and "
                        "SALESFORCE_CLIENT_SECRET (or SALESFORCE_USERNAME, SALESFORCE_PASSWORD and "
                        "SALESFORCE_SECURITY_TOKEN)"]


@pytest.mark.parametrize("value", ["abc", "0", "-5", "1.5", ""])
def test_person_batch_size_must_be_a_positive_whole_number(value, tmp_path):
    if not value:
        assert positive_int_setting("PERSON_BATCH_SIZE", 1000, {"PERSON_BATCH_SIZE": value}) == 1000
        return
    with pytest.raises(ConfigurationError, match="PERSON_BATCH_SIZE must be a whole number above 0"):
        positive_int_setting("PERSON_BATCH_SIZE", 1000, {"PERSON_BATCH_SIZE": value})
    problems = configuration_problems({"SYNC_ENV": "sandbox", "PERSON_BATCH_SIZE": value}, tmp_path)
    assert any("PERSON_BATCH_SIZE" in problem for problem in problems)


def test_the_smart_list_id_and_extract_start_are_checked_at_load(tmp_path):
    problems = configuration_problems({**COMPLETE, "MARKETO_SMART_LIST_ID": "list-7", "MARKETO_EXTRACT_SINCE": "last year"},
                                      tmp_path)
    assert any("MARKETO_SMART_LIST_ID" in problem for problem in problems)
    assert any("MARKETO_EXTRACT_SINCE" in problem for problem in problems)


@pytest.mark.parametrize("url", ["https://123-ABC-456.mktorest.com/rest", "123-ABC-456.mktorest.com", "https://:443",
                                 "http://123-ABC-456.mktorest.com", "https://123-ABC-456.mktorest.com:port"])
def test_a_malformed_or_plain_http_marketo_url_is_refused_at_load(url, tmp_path):
    problems = configuration_problems({**COMPLETE, "MARKETO_BASE_URL": url}, tmp_path)
    assert len(problems) == 1 and problems[0].startswith("MARKETO_BASE_URL")


def test_plain_http_is_admitted_only_for_the_loopback_emulator_in_the_sandbox(tmp_path):
    loopback = {**COMPLETE, "MARKETO_BASE_URL": "http://127.0.0.1:8080"}
    assert configuration_problems({**loopback, "SYNC_ENV": "sandbox"}, tmp_path) == []
    assert configuration_problems(loopback, tmp_path) == [
        "MARKETO_BASE_URL must be an https:// URL (credentials are never sent over plain http)"]
    assert configuration_problems({**COMPLETE, "SYNC_ENV": "sandbox",
                                   "SALESFORCE_INSTANCE_URL": "http://127.0.0.1:8443"}, tmp_path)


def test_a_malformed_database_url_is_named_and_never_quoted(tmp_path):
    problems = configuration_problems({**COMPLETE, "SYNC_DATABASE_URL": f"sync:{SECRET}@db.internal/actions"}, tmp_path)
    assert problems == ["SYNC_DATABASE_URL is not a valid PostgreSQL URL or connection string"]

