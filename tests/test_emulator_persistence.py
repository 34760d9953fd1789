"""State survives restarts and kill -9; the emulator binds to loopback unless asked."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from emulator.server import EmulatorServer
from tests.support.emulators import fast_config
from tests.support.http import Raw, created_job, trained_job
from tests.support.paths import REPO

MODEL = "gpt-4.1-2025-04-14"


@pytest.fixture
def hotel(mslearn_data: Path) -> bytes:
    return (mslearn_data / "travel-finetune-hotel.jsonl").read_bytes()


def test_restart_in_process_continues_the_same_job(tmp_path, hotel):
    state = tmp_path / "state"
    cfg = fast_config(training_seconds=600.0, queue_seconds=0.0)  # done by moving the clock, not by waiting
    with EmulatorServer(state, cfg) as em:
        raw = Raw(em.url)
        job = created_job(raw, hotel, model=MODEL)
        raw.wait(f"/fine_tuning/jobs/{job['id']}", "status", ("running",))
        em.add_deployment("registered", "gpt-4.1")
    file_id = job["training_file"]
    with EmulatorServer(state, cfg) as em2:
        raw2 = Raw(em2.url)
        assert raw2.get(f"/files/{file_id}").json()["status"] == "processed"
        assert raw2.get(f"/files/{file_id}/content").content == hotel
        assert raw2.get(f"/fine_tuning/jobs/{job['id']}").json()["status"] == "running"
        em2.advance_clock(600)
        done = raw2.wait(f"/fine_tuning/jobs/{job['id']}", "status", ("succeeded",))
        assert done["fine_tuned_model"].endswith("-ft-travel")
        events = raw2.get(f"/fine_tuning/jobs/{job['id']}/events", params={"limit": 1000}).json()["data"]
        assert [e["message"] for e in events].count("Job started.") == 1
        steps = [e["data"]["step"] for e in events if e["type"] == "metrics"]
        assert sorted(steps) == list(range(1, done_steps(events) + 1))
        r = raw2.post("/deployments/registered/chat/completions", json={"messages": [{"role": "user", "content": "hi"}]})
        assert r.status_code == 200


def done_steps(events: list[dict]) -> int:
    return max(e["data"]["total_steps"] for e in events if e["type"] == "metrics")


def test_job_time_keeps_running_while_the_emulator_is_down(tmp_path, hotel):
    """Status is derived from persisted timestamps: a job due while we were down is done on restart."""
    state = tmp_path / "state"
    cfg = fast_config(training_seconds=0.5, queue_seconds=0.0)
    with EmulatorServer(state, cfg) as em:
        job = created_job(Raw(em.url), hotel, model=MODEL)
    time.sleep(0.6)
    with EmulatorServer(state, cfg) as em2:
        got = Raw(em2.url).get(f"/fine_tuning/jobs/{job['id']}").json()
        assert got["status"] == "succeeded"
        assert got["finished_at"] <= int(time.time())


@pytest.mark.slow
def test_kill_9_and_restart_keeps_files_and_jobs(tmp_path, hotel, emulator_process):
    state = tmp_path / "proc-state"
    proc = emulator_process(state, {"training_seconds": 600.0, "queue_seconds": 0.0})
    raw = Raw(proc.url)
    job = created_job(raw, hotel, model=MODEL)
    raw.wait(f"/fine_tuning/jobs/{job['id']}", "status", ("running",))
    raw.close()
    proc.kill()  # SIGKILL

    proc2 = emulator_process(state, {"training_seconds": 600.0, "queue_seconds": 0.0})
    raw2 = Raw(proc2.url)
    assert [x["id"] for x in raw2.get("/files").json()["data"]] == [job["training_file"]]
    assert raw2.get(f"/fine_tuning/jobs/{job['id']}").json()["status"] == "running"
    assert httpx.post(f"{proc2.url}/++/clock", json={"advance": 600}).status_code == 200  # instead of waiting
    done = raw2.wait(f"/fine_tuning/jobs/{job['id']}", "status", ("succeeded",))
    assert done["result_files"] and raw2.get(f"/files/{done['result_files'][0]}/content").status_code == 200
    assert proc2.stop() == 0


def test_binds_loopback_by_default(emulator):
    assert emulator.bound is not None and emulator.bound[0] == "127.0.0.1"
    assert emulator.url.startswith("http://127.0.0.1:")
    assert emulator.v1_base_url == emulator.url + "/openai/v1/"


def test_cli_defaults_to_loopback_and_prints_its_url(tmp_path, emulator_process):
    from jobs.cli import cli

    host_opt = next(p for p in cli.commands["emulator"].params if p.name == "host")
    assert host_opt.default == "127.0.0.1"
    url = emulator_process(tmp_path / "s").url
    assert url.startswith("http://127.0.0.1:")
    assert httpx.get(url + "/++/health").json()["status"] == "ok"


@pytest.mark.subprocess
def test_cli_bad_config_is_a_usage_error_naming_the_key(tmp_path):
    cfg = tmp_path / "em.json"
    cfg.write_text(json.dumps({"limits": {"window_secs": 5}}))
    r = subprocess.run([sys.executable, "-m", "jobs", "emulator", "--port", "0", "--state-dir", str(tmp_path / "s"),
                        "--config", str(cfg)], cwd=REPO, capture_output=True, text=True, timeout=30)
    assert r.returncode == 2
    assert "limits.window_secs" in r.stderr and "fix:" in r.stderr and "Traceback" not in r.stderr
    cfg.write_text('{\n  "queue_seconds": 1,\n  oops\n}')
    r = subprocess.run([sys.executable, "-m", "jobs", "emulator", "--port", "0", "--config", str(cfg)],
                       cwd=REPO, capture_output=True, text=True, timeout=30)
    assert r.returncode == 2 and f"{cfg}, line 3" in r.stderr and "Traceback" not in r.stderr


@pytest.mark.subprocess
def test_cli_port_in_use_is_a_usage_error(tmp_path, emulator):
    r = subprocess.run([sys.executable, "-m", "jobs", "emulator", "--port", str(emulator.port),
                        "--state-dir", str(tmp_path / "s")], cwd=REPO, capture_output=True, text=True, timeout=30)
    assert r.returncode == 2
    assert f"cannot serve on 127.0.0.1:{emulator.port}" in r.stderr and "--port 0" in r.stderr
    assert "Traceback" not in r.stderr


def test_is_loopback():
    from emulator.server import is_loopback

    assert all(is_loopback(h) for h in ("127.0.0.1", "localhost", "::1", "127.0.0.2"))
    assert not any(is_loopback(h) for h in ("0.0.0.0", "::", "192.168.1.10", "example.com"))


@pytest.mark.subprocess
def test_a_damaged_job_record_stops_the_emulator_instead_of_vanishing(tmp_path, hotel):
    # A job silently dropped from the state would look "gone" to a resuming runner.
    state = tmp_path / "s"
    with EmulatorServer(state, fast_config()) as em:
        raw = Raw(em.url)
        fid = raw.upload(hotel).json()["id"]
        raw.close()
    broken = state / "jobs" / "ftjob-broken.json"
    broken.parent.mkdir(parents=True, exist_ok=True)
    broken.write_text('{"id": "ftjob-broken", "status": ')
    r = subprocess.run([sys.executable, "-m", "jobs", "emulator", "--port", "0", "--state-dir", str(state)],
                       cwd=REPO, capture_output=True, text=True, timeout=30)
    assert r.returncode == 2 and "Traceback" not in r.stderr
    assert str(broken) in r.stderr and "fix:" in r.stderr
    broken.unlink()
    with EmulatorServer(state, fast_config()) as em:  # repaired: the file is still known
        raw = Raw(em.url)
        assert raw.get(f"/files/{fid}").status_code == 200
        raw.close()


def test_the_tuned_model_is_named_after_the_versioned_base(emulator, hotel):
    raw = Raw(emulator.url)
    job = trained_job(raw, hotel, model="gpt-4.1")
    assert job["status"] == "succeeded"
    assert job["fine_tuned_model"].startswith("gpt-4.1-2025-04-14.ft-")
    assert job["fine_tuned_model"].endswith("-ft-travel")
    raw.close()
