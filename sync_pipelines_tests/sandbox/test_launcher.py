"""The standalone sandbox: started detached once, reused, stopped."""

import json
import threading

import httpx
import psutil
import pytest

from sync_pipelines.sandbox.launcher import ensure_sandbox, stop_sandbox


@pytest.fixture
def data_dir(tmp_path):
    yield str(tmp_path)
    stop_sandbox(str(tmp_path))


def test_ensure_sandbox_starts_then_reuses(data_dir, tmp_path):
    results: list[dict] = []
    callers = [threading.Thread(target=lambda: results.append(
        ensure_sandbox(data_dir, size=200, seed=3))) for _ in range(2)]
    for caller in callers:
        caller.start()
    for caller in callers:
        caller.join(90)
    assert len(results) == 2 and results[0] == results[1], "concurrent callers share one sandbox"
    info = results[0]
    assert {"pid", "marketo_url", "marketo_client_id", "marketo_client_secret", "seed",
            "size"} <= set(info)
    assert (info["size"], info["seed"]) == (200, 3)
    assert json.loads((tmp_path / "sandbox.json").read_text()) == info
    assert httpx.get(f"{info['marketo_url']}/sandbox/stats").json()["leads"] == 200
    token = httpx.get(f"{info['marketo_url']}/identity/oauth/token", params={
        "grant_type": "client_credentials", "client_id": info["marketo_client_id"],
        "client_secret": info["marketo_client_secret"]})
    assert token.status_code == 200
    assert ensure_sandbox(data_dir, size=200, seed=3) == info

    process = psutil.Process(info["pid"])
    stop_sandbox(data_dir)
    assert not (tmp_path / "sandbox.json").exists()
    assert not process.is_running() or process.status() == psutil.STATUS_ZOMBIE


def test_a_second_make_sandbox_reuses_the_running_one_and_leaves_sandbox_json(data_dir, tmp_path, capsys):
    from sync_pipelines.sandbox.__main__ import main

    info = ensure_sandbox(data_dir, size=200, seed=3)
    recorded = (tmp_path / "sandbox.json").read_bytes()
    stat = (tmp_path / "sandbox.json").stat()
    main(["--data-dir", data_dir, "--size", "200", "--seed", "3"])  # returns instead of serving
    printed = capsys.readouterr().out
    assert f"already runs (pid {info['pid']})" in printed and info["marketo_url"] in printed
    assert "POST /sandbox/leads/merge" in printed  # the admin endpoints, with their bodies
    assert (tmp_path / "sandbox.json").read_bytes() == recorded
    assert (tmp_path / "sandbox.json").stat().st_mtime_ns == stat.st_mtime_ns

    with pytest.raises(SystemExit, match="already serves .* stop it first with `make stop`"):
        main(["--data-dir", data_dir, "--size", "300", "--seed", "3"])
    assert (tmp_path / "sandbox.json").read_bytes() == recorded
