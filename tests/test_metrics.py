"""results.csv parsing (column variants, empty cells, base64), checkpoints, and the PNG chart."""

from __future__ import annotations

import base64
import json
import struct
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from jobs import metrics
from jobs.errors import UsageError
from tests.support.cli import stack_env
from tests.support.clients import FinishedJob

AZURE_CSV = """step,train_loss,train_mean_token_accuracy,valid_loss,validation_mean_token_accuracy,full_valid_loss,full_valid_mean_token_accuracy
1,2.5,0.41,2.7,0.38,,
2,2.1,0.47,,,,
3,1.6,0.58,1.9,0.52,,
4,1.2,0.66,1.5,0.6,1.45,0.61
"""

OPENAI_CSV = """Step, Train Loss, Train Accuracy, Validation Loss, Validation Accuracy
10,1.0,0.5,1.1,0.45
20,0.8,0.6,nan,
"""


def test_azure_columns_map_to_canonical_names() -> None:
    table = metrics.parse_results_csv(AZURE_CSV)
    assert table.columns == [
        "step", "train_loss", "train_mean_token_accuracy", "valid_loss", "valid_mean_token_accuracy",
        "full_valid_loss", "full_valid_mean_token_accuracy",
    ]
    assert len(table.rows) == 4
    assert table.rows[1] == {
        "step": 2.0, "train_loss": 2.1, "train_mean_token_accuracy": 0.47, "valid_loss": None,
        "valid_mean_token_accuracy": None, "full_valid_loss": None, "full_valid_mean_token_accuracy": None,
    }
    assert table.series("valid_loss") == ([1.0, 3.0, 4.0], [2.7, 1.9, 1.5])
    assert table.last("full_valid_loss") == 1.45
    assert table.summary()["train_loss"] == 1.2


def test_other_spellings_and_missing_markers() -> None:
    table = metrics.parse_results_csv(OPENAI_CSV)
    assert table.columns == ["step", "train_loss", "train_mean_token_accuracy", "valid_loss",
                             "valid_mean_token_accuracy"]
    assert table.rows[1]["valid_loss"] is None and table.rows[1]["valid_mean_token_accuracy"] is None
    assert table.rows[0]["valid_mean_token_accuracy"] == 0.45


@pytest.mark.parametrize("header,expected", [
    ("train_accuracy", "train_mean_token_accuracy"),
    ("valid_loss", "valid_loss"),
    ("validation_loss", "valid_loss"),
    ("full_validation_loss", "full_valid_loss"),
    ("Full-Valid-Mean-Token-Accuracy", "full_valid_mean_token_accuracy"),
    ("valid_accuracy", "valid_mean_token_accuracy"),
    ("learning_rate", None),
])
def test_canonical_column(header: str, expected: str | None) -> None:
    assert metrics.canonical_column(header) == expected


def test_unknown_columns_are_kept_as_extras_and_rows_sorted() -> None:
    text = "step,train_loss,learning_rate\n3,0.5,1e-5\n1,0.9,1e-5\n\n2,0.7,1e-5\n"
    table = metrics.parse_results_csv(text)
    assert table.extra_columns == ["learning_rate"]
    assert [r["step"] for r in table.rows] == [1.0, 2.0, 3.0]
    assert table.columns == ["step", "train_loss"]


def test_base64_content_is_decoded() -> None:
    encoded = base64.b64encode(AZURE_CSV.encode()).decode()
    assert metrics.decode_content(encoded) == AZURE_CSV
    assert metrics.decode_content(encoded.encode()) == AZURE_CSV
    # wrapped in a JSON string, with line breaks in the base64
    wrapped = json.dumps("\n".join(encoded[i:i + 76] for i in range(0, len(encoded), 76)))
    assert metrics.decode_content(wrapped) == AZURE_CSV
    assert metrics.load_results(encoded).last("train_loss") == 1.2


def test_plain_csv_passes_through_with_bom() -> None:
    assert metrics.decode_content(("\ufeff" + AZURE_CSV).encode()) == AZURE_CSV


def test_not_a_csv_is_a_clear_error() -> None:
    with pytest.raises(metrics.MetricsError, match="not a results CSV"):
        metrics.decode_content("hello world")
    with pytest.raises(metrics.MetricsError, match="no `step` column"):
        metrics.parse_results_csv("a,b\n1,2\n", source="file-abc")


def test_bad_number_names_line_and_column() -> None:
    with pytest.raises(metrics.MetricsError) as info:
        metrics.parse_results_csv("step,train_loss\n1,0.5\n2,oops\n", source="file-r1")
    assert "file-r1 line 3" in info.value.message
    assert "train_loss" in info.value.message


def test_too_many_cells_names_line() -> None:
    with pytest.raises(metrics.MetricsError, match="line 2: 3 cells"):
        metrics.parse_results_csv("step,train_loss\n1,0.5,9\n")


def test_checkpoints_from_objects_and_dicts() -> None:
    items = [
        SimpleNamespace(step_number=20, fine_tuned_model_checkpoint="m:ckpt-step-20", created_at=5,
                        metrics=SimpleNamespace(step=20.0, train_loss=0.5, train_mean_token_accuracy=0.8,
                                                valid_loss=None, valid_mean_token_accuracy=None,
                                                full_valid_loss=0.6, full_valid_mean_token_accuracy=0.77)),
        {"step_number": 10, "fine_tuned_model_checkpoint": "m:ckpt-step-10", "created_at": 3,
         "metrics": {"step": 10, "train_loss": 0.9, "validation_loss": 1.0}},
    ]
    cps = metrics.parse_checkpoints(items)
    assert [c.step for c in cps] == [10, 20]
    assert cps[0].metrics == {"train_loss": 0.9, "valid_loss": 1.0}
    assert cps[1].metrics["full_valid_mean_token_accuracy"] == 0.77
    assert cps[1].to_json()["fine_tuned_model_checkpoint"] == "m:ckpt-step-20"


def test_sample_rows_keeps_first_and_last() -> None:
    rows: list[dict[str, float | None]] = [{"step": float(i)} for i in range(1, 101)]
    picked = metrics.sample_rows(rows, 5)
    assert [r["step"] for r in picked] == [1.0, 26.0, 51.0, 75.0, 100.0]
    assert metrics.sample_rows(rows[:3], 5) == rows[:3]


def test_fmt() -> None:
    assert metrics.fmt(None, "train_loss") == "-"
    assert metrics.fmt(3.0, "step") == "3"
    assert metrics.fmt(0.123456, "train_loss") == "0.1235"
    assert metrics.fmt(0.5, "valid_mean_token_accuracy") == "0.500"


def _png_size(path: Path) -> tuple[int, int]:
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    assert data[12:16] == b"IHDR"
    width, height = struct.unpack(">II", data[16:24])
    return width, height


def test_plot_writes_a_png(tmp_path: Path) -> None:
    out = metrics.plot(metrics.parse_results_csv(AZURE_CSV), tmp_path / "chart.png", title="ftjob-1")
    width, height = _png_size(out)
    assert (width, height) == (900, 700)


def test_plot_without_validation_still_draws(tmp_path: Path) -> None:
    table = metrics.parse_results_csv("step,train_loss\n1,1.0\n2,0.5\n")
    width, height = _png_size(metrics.plot(table, tmp_path / "t.png"))
    assert width > 300 and height > 300


def test_plot_refuses_other_formats_and_missing_folders(tmp_path: Path) -> None:
    table = metrics.parse_results_csv(AZURE_CSV)
    with pytest.raises(UsageError, match="PNG"):
        metrics.plot(table, tmp_path / "chart.jpg")
    with pytest.raises(UsageError, match="does not exist"):
        metrics.plot(table, tmp_path / "nope" / "chart.png")


# ----------------------------------------------------------------- the command, against the emulator

def _jobs_cli(args: list[str], env: dict[str, str]) -> "subprocess.CompletedProcess[str]":
    return subprocess.run([sys.executable, "-m", "jobs", *args], env=env, capture_output=True, text=True, timeout=60)


@pytest.mark.slow
@pytest.mark.subprocess
def test_metrics_command_table_and_plot(finished_job: FinishedJob, tmp_path: Path) -> None:
    fj = finished_job
    chart = tmp_path / "chart.png"
    proc = _jobs_cli(["metrics", fj.job_id, "--plot", str(chart), "--rows", "5"],
                     stack_env(fj.url, tmp_path / "state"))
    assert proc.returncode == 0, proc.stderr
    out = proc.stdout
    assert f"job {fj.job_id}: succeeded" in out
    assert "checkpoints (" in out and f"{fj.fine_tuned_model}:ckpt-step-" in out
    assert f"results.csv ({fj.result_files[0]})" in out and "5 shown" in out
    header = next(line for line in out.splitlines() if line.strip().startswith("step  train loss"))
    assert "valid loss" in header and "full valid loss" in header
    assert f"chart: {chart}" in out
    width, height = _png_size(chart)
    assert (width, height) == (900, 700)


@pytest.mark.slow
@pytest.mark.subprocess
def test_metrics_command_json(finished_job: FinishedJob, tmp_path: Path) -> None:
    fj = finished_job
    proc = _jobs_cli(["metrics", fj.job_id, "--json"], stack_env(fj.url, tmp_path / "state"))
    assert proc.returncode == 0, proc.stderr
    data = json.loads(proc.stdout)
    assert data["result_file"] == fj.result_files[0]
    rows = data["results"]["rows"]
    assert rows[0]["step"] == 1 and len(rows) >= 10
    assert all(r["train_loss"] is not None for r in rows)
    # full validation metrics only at epoch ends: empty cells elsewhere
    assert any(r["full_valid_loss"] is None for r in rows) and any(r["full_valid_loss"] is not None for r in rows)
    steps = [c["step"] for c in data["checkpoints"]]
    assert steps == sorted(steps) and steps

    # without JOB_ID: this stack's latest job, like status/watch
    from jobs.state import RunState

    RunState("dev", tmp_path / "state").update(lambda d: d.update(latest_job=fj.job_id))
    proc = _jobs_cli(["metrics", "--json"], stack_env(fj.url, tmp_path / "state"))
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["job_id"] == fj.job_id


@pytest.mark.subprocess
def test_metrics_without_job_id_and_without_jobs_names_the_fix(tmp_path: Path) -> None:
    proc = _jobs_cli(["metrics"], stack_env("http://127.0.0.1:9", tmp_path / "state"))
    assert proc.returncode == 2, proc.stderr
    assert "no JOB_ID given" in proc.stderr and "python -m jobs list" in proc.stderr


@pytest.mark.subprocess
def test_metrics_unknown_job_is_a_clear_error(emulator: Any, tmp_path: Path) -> None:
    proc = _jobs_cli(["metrics", "ftjob-doesnotexist"], stack_env(emulator.url, tmp_path / "state"))
    assert proc.returncode in (1, 2)
    assert "ftjob-doesnotexist" in proc.stderr and "Traceback" not in proc.stderr


@pytest.mark.subprocess
def test_metrics_plot_wrong_suffix_is_refused_before_any_call(tmp_path: Path) -> None:
    env = stack_env("http://127.0.0.1:9", tmp_path / "state")
    proc = _jobs_cli(["metrics", "ftjob-x", "--plot", str(tmp_path / "c.svg")], env)
    assert proc.returncode == 2
    assert "PNG" in proc.stderr


def test_collect_handles_base64_result_file() -> None:
    from jobs.flow.metrics import collect
    from tests.support.scripted import ScriptedApi, ScriptedSession

    csv_b64 = base64.b64encode(AZURE_CSV.encode())
    job = SimpleNamespace(id="ftjob-1", status="succeeded", fine_tuned_model="m", result_files=["file-r"])
    api = ScriptedApi(
        jobs=SimpleNamespace(retrieve=lambda job_id: job,
                             checkpoints=SimpleNamespace(list=lambda job_id: SimpleNamespace(data=[]))),
        files=SimpleNamespace(content=lambda fid: SimpleNamespace(content=csv_b64)))
    got = collect(ScriptedSession(api), "ftjob-1")  # type: ignore[arg-type]
    assert got.result_file == "file-r" and got.table is not None
    assert got.table.last("full_valid_mean_token_accuracy") == 0.61
    assert got.checkpoints == [] and got.notes == []


def test_terminal_tables_render_every_value() -> None:
    from jobs.commands.metrics import MetricsResult

    table = metrics.parse_results_csv("step,train_loss,valid_loss\n1,1.0,\n2,0.5,0.7\n")
    cps = metrics.parse_checkpoints([{"step_number": 2, "fine_tuned_model_checkpoint": "m:ckpt-[2]",
                                      "metrics": {"train_loss": 0.5}}])
    result = MetricsResult(job_id="ftjob-1", status="succeeded", fine_tuned_model="m", result_file="file-r",
                           table=table, checkpoints=cps)
    text = result._rich_text()
    assert "m:ckpt-[2]" in text and "0.7000" in text and "results.csv (file-r): 2 steps" in text


def _png_text(path: Path) -> dict[str, str]:
    """The PNG's tEXt chunks."""
    data, at, out = path.read_bytes(), 8, {}
    while at < len(data):
        length, kind = struct.unpack(">I4s", data[at:at + 8])
        if kind == b"tEXt":
            key, _, value = data[at + 8:at + 8 + length].partition(b"\0")
            out[key.decode("latin-1")] = value.decode("latin-1")
        at += 12 + length
    return out


def test_the_stand_in_label_names_the_backend() -> None:
    assert metrics.stand_in_label(None, model="gpt-4.1-2025-04-14") is None  # Azure: no label
    emulated = metrics.stand_in_label("stand-in", model="gpt-4.1-2025-04-14")
    assert emulated and emulated.startswith("[emulator stand-in]") and "gpt-4.1-2025-04-14" in emulated
    local = metrics.stand_in_label("local-model", model="gpt-4.1-2025-04-14", local_model="SmolLM2-135M-Instruct")
    assert local and local.startswith("local model (SmolLM2-135M-Instruct on this machine) standing in for gpt-4.1:")


def test_a_stand_in_chart_says_so(tmp_path: Path) -> None:
    import matplotlib.image

    table = metrics.parse_results_csv(AZURE_CSV)
    label = metrics.stand_in_label("stand-in", model="gpt-4.1-2025-04-14")
    marked = metrics.plot(table, tmp_path / "stand-in.png", title="ftjob-1", stand_in=label)
    plain = metrics.plot(table, tmp_path / "azure.png", title="ftjob-1")
    assert _png_text(marked)["Description"] == label and "Description" not in _png_text(plain)
    banner = (0xff / 255, 0xf4 / 255, 0xd6 / 255)  # the label's background, as in the compare report's banner
    top = matplotlib.image.imread(marked)[:60, :, :3].reshape(-1, 3)
    assert any(abs(p[0] - banner[0]) < 0.02 and abs(p[1] - banner[1]) < 0.02 and abs(p[2] - banner[2]) < 0.02
               for p in top[::7])
    assert _png_size(marked) == _png_size(plain)


def test_collect_reads_the_backend_from_the_results_download() -> None:
    from jobs.flow.metrics import collect
    from tests.support.scripted import ScriptedApi, ScriptedSession

    job = SimpleNamespace(id="ftjob-1", status="succeeded", model="gpt-4.1-2025-04-14", fine_tuned_model="m",
                          result_files=["file-r"])
    for headers, expected in (({}, None),
                              ({"x-emulator": "local-model", "x-emulator-model": "SmolLM2-135M-Instruct"},
                               "local model (SmolLM2-135M-Instruct on this machine) standing in for gpt-4.1: its real training run, not Azure's")):
        api = ScriptedApi(
            jobs=SimpleNamespace(retrieve=lambda job_id: job,
                                 checkpoints=SimpleNamespace(list=lambda job_id: SimpleNamespace(data=[]))),
            files=SimpleNamespace(content=lambda fid, h=headers: SimpleNamespace(content=AZURE_CSV.encode(),
                                                                                   headers=h)))
        got = collect(ScriptedSession(api), "ftjob-1")  # type: ignore[arg-type]
        label = got.stand_in_label()
        assert label == expected or (label or "").startswith(str(expected))
        assert (label in got.notes) if label else got.notes == []
