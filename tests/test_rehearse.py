"""rehearse: the whole offline flow end to end, as `make rehearse` runs it."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from jobs.commands import rehearse as rh
from jobs.errors import UsageError
from tests.support.cli import MARKER_ENV, processes_marked
from tests.support.fake_pulumi import FakePulumi, path_without_pulumi
from tests.support.paths import REPO

FT_MODEL = re.compile(r"^gpt-4\.1-2025-04-14\.ft-[0-9a-f]{32}-ft-travel$")
SECRET = "sk-rehearsal-must-not-leak-0123456789"


def _env(fake: FakePulumi | None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("FTJOBS_", "AZURE_OPENAI_"))}
    env.update(fake.env if fake else {"PATH": path_without_pulumi()})
    env.update({"PYTHONPATH": str(REPO), "AZURE_OPENAI_API_KEY": SECRET, "PYTHONUNBUFFERED": "1"})
    return env


@pytest.fixture(scope="module")
def text_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[subprocess.CompletedProcess[str], Path, FakePulumi]:
    work = tmp_path_factory.mktemp("rehearse-cwd")
    fake = FakePulumi.create(tmp_path_factory.mktemp("rehearse-bin"))
    # no DATA argument: the README's first command, on the project's data/travel-train.jsonl
    proc = subprocess.run([sys.executable, "-m", "jobs", "rehearse", "--backend", "stand-in"], cwd=work,
                          env={**_env(fake), MARKER_ENV: "rehearse-text-run"}, capture_output=True, text=True,
                          timeout=120)
    return proc, work, fake


@pytest.mark.slow
@pytest.mark.subprocess
def test_rehearse_leaves_no_process_behind(text_run: tuple[subprocess.CompletedProcess[str], Path, FakePulumi]) -> None:
    assert text_run[0].returncode == 0
    assert processes_marked("rehearse-text-run") == []  # the emulator, the plan's program: all stopped


@pytest.mark.slow
@pytest.mark.subprocess
def test_rehearse_exits_0_with_a_fine_tuned_model(text_run: tuple[subprocess.CompletedProcess[str], Path, FakePulumi]) -> None:
    proc, _, _ = text_run
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert f"data: {REPO / 'data' / 'travel-train.jsonl'}" in proc.stdout
    models = set(re.findall(r"gpt-4\.1-2025-04-14\.ft-[0-9a-f]+-ft-travel", proc.stdout))
    assert len(models) == 1
    assert FT_MODEL.match(models.pop())


@pytest.mark.subprocess
def test_rehearse_asks_the_five_questions_to_both_deployments(
        text_run: tuple[subprocess.CompletedProcess[str], Path, FakePulumi]) -> None:
    out = text_run[0].stdout
    for i, q in enumerate(rh.QUESTIONS, 1):
        assert f"Q{i}: {q}" in out
    assert out.count("  base (gpt-4.1) [emulator stand-in]:") == 5
    assert out.count("  fine-tuned (gpt-4.1-ft-travel) [emulator stand-in]:") == 5
    answer_lines = [ln for ln in out.splitlines() if ln.startswith("    [emulator stand-in] ")]
    assert len(answer_lines) == 10
    assert all(len(ln) > len("    [emulator stand-in] ") + 20 for ln in answer_lines)
    assert "what to look for" in out and "end with a question" in out
    # compare's checks under every answer (they replaced the three regex checks of the first rehearsal)
    assert out.count("    -> no_recommendations: ") == 10


@pytest.mark.slow
@pytest.mark.subprocess
def test_rehearse_compares_with_the_lab_outcome(text_run: tuple[subprocess.CompletedProcess[str], Path, FakePulumi]) -> None:
    """The rehearsal runs compare on the default suite: the tuned stand-in is ahead on no_recommendations, the
    verdict and the report's path are printed, and the report is marked stand-in throughout."""
    out = text_run[0].stdout
    verdict = next(ln for ln in out.splitlines() if ln.startswith("verdict: "))
    assert verdict.startswith("verdict: [emulator stand-in] tuned beats base on no_recommendations")
    report = Path(re.search(r"^report \(compare\): (\S+report\.html)", out, re.M).group(1))  # type: ignore[union-attr]
    assert report.is_file() and (report.parent / "report.json").is_file() and (report.parent / "report.md").is_file()
    data = json.loads((report.parent / "report.json").read_text())
    assert data["stand_in"] is True and "[emulator stand-in]" in report.read_text()
    assert {r["variant"] for r in data["rows"]} == {"base", "tuned"}
    assert all(r["answer"].startswith("[emulator stand-in] ") for r in data["rows"] if r["answer"] is not None)
    assert SECRET not in report.read_text() and SECRET not in (report.parent / "report.json").read_text()


@pytest.mark.slow
@pytest.mark.subprocess
def test_rehearse_shows_every_stage(text_run: tuple[subprocess.CompletedProcess[str], Path, FakePulumi]) -> None:
    proc = text_run[0]
    err = proc.stderr
    assert "upload:" in err and "processed" in err
    # the job's stages as its events tell them (the job may finish while compare-base runs, so the status
    # line itself need not pass through queued and running)
    assert "Job enqueued" in err and "Job started" in err and "succeeded" in err
    # promote on the rehearsal's stand-in stack: the pulumi commands it stands in for
    assert "stands in for: pulumi config set --stack rehearsal fineTunedModel gpt-4.1-2025-04-14.ft-" in proc.stdout
    assert "a rehearsal never runs `pulumi`" in proc.stdout
    # the emulator stood in for the second `pulumi up`, and the new deployment answered
    assert "the emulator registered deployment 'gpt-4.1-ft-travel' -> gpt-4.1-2025-04-14.ft-" in proc.stdout
    assert re.search(r"^  ready +done: deployment gpt-4.1-ft-travel answered after \d+ s", proc.stdout, re.M)


@pytest.mark.subprocess
def test_rehearse_touches_no_real_stack_state_or_secret(
        text_run: tuple[subprocess.CompletedProcess[str], Path, FakePulumi]) -> None:
    proc, work, fake = text_run
    assert fake.calls() == []  # the pulumi on PATH was never run
    assert not (work / ".ftjobs").exists() and not (work / ".emulator").exists()
    assert SECRET not in proc.stdout and SECRET not in proc.stderr


@pytest.mark.slow
@pytest.mark.subprocess
def test_rehearse_json_and_keep(tmp_path: Path, mslearn_data: Path) -> None:
    fake = FakePulumi.create(tmp_path / "bin")
    keep = tmp_path / "kept"
    proc = subprocess.run([sys.executable, "-m", "jobs", "rehearse", "--backend", "stand-in", str(mslearn_data / "travel-finetune-hotel.jsonl"),
                           "--keep", str(keep), "--json"], cwd=tmp_path, env=_env(fake),
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-3000:]
    data = json.loads(proc.stdout)
    assert FT_MODEL.match(data["fine_tuned_model"])
    assert data["base_deployment"] == "gpt-4.1" and data["fine_tuned_deployment"] == "gpt-4.1-ft-travel"
    assert [c["question"] for c in data["comparisons"]] == list(rh.QUESTIONS)
    for c in data["comparisons"]:
        for side in ("base", "fine_tuned"):
            assert c[side]["text"].startswith("[emulator stand-in] ")
            assert c[side]["label"] == "[emulator stand-in]"
    assert data["seconds"] < 60
    assert (keep / "ftjobs" / "rehearsal.json").is_file()
    state = json.loads((keep / "ftjobs" / "rehearsal.json").read_text())
    assert state["promoted"]["fine_tuned_model"] == data["fine_tuned_model"]
    assert state["promoted"]["applied"] is True  # in the rehearsal's throwaway stack, not a Pulumi stack
    stand_in = json.loads((keep / "Pulumi.rehearsal.stand-in.json").read_text())
    assert stand_in == {"fineTunedModel": data["fine_tuned_model"]}
    assert set(state["flows"]["pipeline"]) == {"inputs", "preflight", "up-base", "train", "compare-base", "watch",
                                               "metrics", "promote", "up-tuned", "ready", "compare"}
    assert data["compare"]["report"] == str(keep / "report" / "compare" / "report.html")
    assert data["reports"]["compare-base"] == str(keep / "report" / "compare-base" / "report.html")
    assert Path(data["chart"]).parent == keep / "report" and Path(data["chart"]).read_bytes()[:4] == b"\x89PNG"
    assert "tuned beats base on no_recommendations" in data["compare"]["verdict"]
    assert SECRET not in proc.stdout + proc.stderr
    for path in keep.rglob("*"):
        if path.is_file():
            assert SECRET.encode() not in path.read_bytes(), path


@pytest.mark.subprocess
def test_rehearse_missing_data_is_a_usage_error(tmp_path: Path) -> None:
    proc = subprocess.run([sys.executable, "-m", "jobs", "rehearse", "--backend", "stand-in", str(tmp_path / "nope.jsonl")], cwd=tmp_path,
                          env=_env(None), capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2
    assert "nope.jsonl does not exist" in proc.stderr and "fix:" in proc.stderr


def test_default_data_missing_names_the_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    import jobs.project

    monkeypatch.setattr(jobs.project, "TRAINING_FILE", Path("data") / "no-such-training-file.jsonl")
    with pytest.raises(UsageError) as info:
        rh.resolve_data(None)
    assert "no-such-training-file.jsonl" in info.value.message
    assert info.value.hint is not None and "python -m jobs rehearse" in info.value.hint


def test_keep_dir_must_be_empty(tmp_path: Path) -> None:
    (tmp_path / "old").mkdir()
    (tmp_path / "old" / "x").write_text("x")
    with pytest.raises(UsageError, match="not empty"):
        rh.rehearse(data=str(REPO.parent / "shared" / "mslearn-data" / "travel-finetune-hotel.jsonl"),
                    keep_dir=str(tmp_path / "old"))


def test_terminal_table_keeps_the_label() -> None:
    """rich would read "[emulator stand-in]" as markup and drop it; the table must print it."""
    a = rh.Answer.of_row({"deployment": "gpt-4.1", "answer": "[emulator stand-in] Visit Trastevere. What do you love "
                          "to eat?", "error": None, "checks": {"asks_question": {"passed": True, "evidence": None}}})
    assert a.text == "Visit Trastevere. What do you love to eat?"
    result = rh.RehearseResult(data="d", endpoint="http://127.0.0.1:1", job_id="j", fine_tuned_model="m",
                               base_deployment="gpt-4.1", fine_tuned_deployment="gpt-4.1-ft-travel", seconds=1.0,
                               run_text="", run_json={}, comparisons=[rh.Comparison("Where?", a, a)])
    table = result._rich_table()
    assert table.count("[emulator stand-in]") == 3  # title + both answers


@pytest.mark.slow
@pytest.mark.subprocess
def test_rehearse_invalid_data_exits_1_and_cleans_up(tmp_path: Path, mslearn_data: Path) -> None:
    tmp_root = tmp_path / "tmp"
    tmp_root.mkdir()
    env = {**_env(None), "TMPDIR": str(tmp_root)}
    proc = subprocess.run([sys.executable, "-m", "jobs", "rehearse", "--backend", "stand-in",
                           str(mslearn_data / "travel-finetune-validation.jsonl")], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 1
    assert "not valid training data" in proc.stderr and "Traceback" not in proc.stderr
    assert list(tmp_root.iterdir()) == []  # the temporary emulator/state folder is removed


@pytest.mark.slow
@pytest.mark.subprocess
def test_rehearse_prints_the_plan_under_mocks(text_run: tuple[subprocess.CompletedProcess[str], Path, FakePulumi]) -> None:
    out = text_run[0].stdout
    assert "plan: what the Pulumi program declares for stack rehearsal (run under Pulumi's mocks; a plan, nothing " \
           "is deployed):" in out
    plan = [ln for ln in out.splitlines() if ln.startswith("  + ")]
    kinds = [ln.split()[1] for ln in plan]
    assert kinds[0] == "resources:ResourceGroup" and "cognitiveservices:Account" in kinds
    assert any("cognitiveservices:Deployment" in ln and "gpt-4.1" in ln and "sku GlobalStandard" in ln for ln in plan)
    assert any(ln.split()[2] == "rg-ftlab-rehearsal" for ln in plan)


@pytest.mark.slow
@pytest.mark.subprocess
def test_rehearse_shows_where_the_report_and_the_chart_are_and_a_three_line_verdict(
        text_run: tuple[subprocess.CompletedProcess[str], Path, FakePulumi]) -> None:
    lines = text_run[0].stdout.splitlines()
    at = max(i for i, ln in enumerate(lines) if ln.startswith("verdict: "))  # after compare's own summary
    verdict = lines[at:at + 3]
    assert verdict[0].startswith("verdict: [emulator stand-in] tuned beats base on no_recommendations")
    assert verdict[1].startswith("no_recommendations: tuned ") and "wins/ties/losses" in verdict[1]
    assert verdict[2].startswith("the base model with the lab's three system messages (no_recommendations): "
                                 "base-no-system ")
    chart = Path(next(ln for ln in lines if ln.startswith("metrics chart: ")).split(": ", 1)[1])
    assert chart.read_bytes()[:4] == b"\x89PNG"
    base = Path(next(ln for ln in lines if ln.startswith("report (compare-base): ")).split(": ", 1)[1])
    assert base.is_file() and base.parent != chart.parent / "compare"
    # and what to try next: the playground's own offline rehearsal
    assert any(ln.startswith("next: chat with base and fine-tuned side by side") and
               ln.endswith("`python -m jobs playground --rehearsal --backend stand-in`") for ln in lines)


@pytest.mark.slow
@pytest.mark.subprocess
def test_ctrl_c_stops_the_rehearsal_and_leaves_nothing_behind(tmp_path: Path) -> None:
    import signal
    import time

    tmp_root = tmp_path / "tmp"
    tmp_root.mkdir()
    proc = subprocess.Popen([sys.executable, "-m", "jobs", "rehearse", "--backend", "stand-in"], cwd=tmp_path,
                            env={**_env(None), "TMPDIR": str(tmp_root), MARKER_ENV: "rehearse-ctrl-c"},
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert proc.stderr is not None
    deadline = time.monotonic() + 60
    seen = ""
    while "pipeline: step watch" not in seen and time.monotonic() < deadline:
        seen += proc.stderr.readline()
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err[-2000:]
    assert "interrupted" in err and "Traceback" not in err
    assert list(tmp_root.iterdir()) == []  # the emulator's folder, the run state and the report folder are gone
    assert processes_marked("rehearse-ctrl-c") == []


@pytest.mark.local_model
@pytest.mark.timeout(2400)
def test_the_local_rehearsal_trains_smollm2_and_labels_what_it_measured(tmp_path: Path) -> None:
    """`make rehearse`'s command on the real local backend: a real loss chart, real generations labelled as the
    local model standing in for gpt-4.1 (never as stand-ins), and the shortened settings said."""
    keep = tmp_path / "kept"
    proc = subprocess.run([sys.executable, "-m", "jobs", "rehearse", "--backend", "local", "--json", "--keep", str(keep)],
                          cwd=tmp_path, env={**_env(None), MARKER_ENV: "rehearse-local"}, capture_output=True,
                          text=True, timeout=2300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert processes_marked("rehearse-local") == []  # the emulator's child process and its worker: all stopped
    got = json.loads(proc.stdout)
    label = "local model (SmolLM2-135M-Instruct on this machine) standing in for gpt-4.1"
    assert got["backend"] == "local" and got["label"] == label
    assert "max_tokens 120" in got["shortened"]
    assert all(not c[side]["text"].startswith("[emulator stand-in]")
               for c in got["comparisons"] for side in ("base", "fine_tuned"))
    assert any(c["base"]["text"] != c["fine_tuned"]["text"] for c in got["comparisons"])
    assert got["verdict_lines"][0].startswith(f"verdict: [{label}]")
    report = json.loads((Path(got["reports"]["compare"]).with_name("report.json")).read_text(encoding="utf-8"))
    assert report["local_model"] == label and report["stand_in"] is False
    assert report["provenance"]["parameters"]["max_tokens"] == 120
    assert got["chart"] and Path(got["chart"]).is_file()
