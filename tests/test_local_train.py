"""The local backend's trainer (emulator/local/train.py and its parts).

Seam tests without torch: the progress-file protocol, the batch order, the spec, the target mask (with a
fake tokenizer), and the worker's stop/resume bookkeeping with a scripted fake run in a real spawned process.
Real tests (marker ``local_model``): a tiny random Llama trains, checkpoints, keeps the newest checkpoints,
stops and resumes to the same adapter as an uninterrupted run.
"""

from __future__ import annotations

import functools
import json
import os
import time
from pathlib import Path
from typing import Any

import pytest

from emulator.local import encode, progress, worker
from emulator.local.trainspec import TrainSpec, TrainSpecError, from_hyperparameters, read_jsonl
from tests.support.imports import model_packages_loaded_by
from tests.support.paths import REPO

CHAT = [{"messages": [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Hi?"},
                      {"role": "assistant", "content": "Hello! Where to?"}]}]


# --- the progress file ---------------------------------------------------------------------------------------

def _lines(workdir: Path, *lines: dict[str, Any]) -> None:
    with (workdir / progress.PROGRESS_FILE).open("a", encoding="utf-8") as f:
        for line in lines:
            f.write(json.dumps(line) + "\n")


def test_progress_read_drops_steps_a_resumed_run_redoes(tmp_path: Path) -> None:
    _lines(tmp_path, {"type": "started", "step": 0, "total_steps": 6},
           *({"type": "step", "step": i, "train_loss": 3.0 - i / 10} for i in (1, 2)),
           {"type": "checkpoint", "step": 2, "path": "checkpoints/step-000002", "removed": []},
           {"type": "step", "step": 3, "train_loss": 9.9},  # then the worker was killed
           {"type": "started", "step": 2, "total_steps": 6, "resumed_from": "checkpoints/step-000002"},
           {"type": "step", "step": 3, "train_loss": 2.6})
    (tmp_path / progress.PROGRESS_FILE).open("a").write('{"type": "step", "st')  # a torn last line
    folded = progress.read(tmp_path)
    assert [(s["step"], s["train_loss"]) for s in folded.steps] == [(1, 2.9), (2, 2.8), (3, 2.6)]
    assert folded.state == "running"
    assert [c["step"] for c in folded.checkpoints] == [2]


def test_progress_read_keeps_checkpoints_retention_left(tmp_path: Path) -> None:
    _lines(tmp_path, {"type": "started", "step": 0, "total_steps": 8},
           *({"type": "checkpoint", "step": s, "path": f"checkpoints/step-{s:06d}",
              "removed": [f"checkpoints/step-{s - 6:06d}"] if s > 6 else []} for s in (2, 4, 6, 8)),
           {"type": "done", "step": 8, "adapter": "checkpoints/step-000008/adapter"})
    folded = progress.read(tmp_path)
    assert [c["step"] for c in folded.checkpoints] == [4, 6, 8]
    assert folded.state == "done" and folded.last is not None and folded.last["adapter"].endswith("000008/adapter")


def test_progress_writer_lines_are_readable_while_open(tmp_path: Path) -> None:
    writer = progress.ProgressWriter(tmp_path)
    writer.write("started", step=0, total_steps=2)
    writer.write("step", step=1, train_loss=1.5)
    assert [s["step"] for s in progress.read(tmp_path).steps] == [1]  # flushed: another reader sees it now
    writer.close()


# --- batches, spec, target mask --------------------------------------------------------------------------------

def test_batch_order_covers_each_example_once_and_replays_per_seed_and_epoch() -> None:
    lengths = [(i * 37) % 50 + 10 for i in range(62)]
    batches = encode.batch_order(lengths, 4, seed=7, epoch=0)
    assert sorted(i for b in batches for i in b) == list(range(62))
    assert len(batches) == encode.steps_per_epoch(62, 4) == 16
    assert batches == encode.batch_order(lengths, 4, seed=7, epoch=0)
    assert batches != encode.batch_order(lengths, 4, seed=7, epoch=1)
    padded = sum(len(b) * max(lengths[i] for i in b) for b in batches)
    assert padded < 1.15 * sum(lengths)  # sorted within megabatches: little padding


def test_spec_refuses_bad_values_naming_the_field() -> None:
    with pytest.raises(TrainSpecError, match="n_epochs.*at least 1") as err:
        TrainSpec(training=CHAT, n_epochs=0, learning_rate_multiplier=-1, method="rl")
    assert "learning_rate_multiplier" in str(err.value) and "method 'rl'" in str(err.value)
    with pytest.raises(TrainSpecError, match="no examples"):
        TrainSpec(training=[])


def test_auto_hyperparameters_take_the_local_defaults() -> None:
    spec = from_hyperparameters(CHAT, None, {"n_epochs": -1, "batch_size": "auto", "learning_rate_multiplier": 2})
    assert (spec.n_epochs, spec.batch_size) == (3, 4)
    assert spec.learning_rate == pytest.approx(2e-3)


def test_fingerprint_follows_what_the_weights_depend_on_only() -> None:
    spec = TrainSpec(training=CHAT, seed=1, threads=1, cache_dir="/a")
    assert spec.fingerprint() == TrainSpec(training=CHAT, seed=1, threads=2, cache_dir="/b").fingerprint()
    assert spec.fingerprint() != TrainSpec(training=CHAT, seed=2, threads=1).fingerprint()
    assert spec.fingerprint() != TrainSpec(training=CHAT * 2, seed=1).fingerprint()


def test_read_jsonl_names_file_and_line(tmp_path: Path) -> None:
    path = tmp_path / "train.jsonl"
    path.write_text(json.dumps(CHAT[0]) + "\n{not json\n", encoding="utf-8")
    with pytest.raises(TrainSpecError, match=r"train\.jsonl:2: not JSON"):
        read_jsonl(path)


class _CharTokenizer:
    """ChatML rendering and one id per character: enough to check which characters are targets."""

    def apply_chat_template(self, messages: list[dict[str, str]], tokenize: bool = False,
                            add_generation_prompt: bool = False) -> str:
        text = "".join(f"<s>{m['role']}\n{m['content']}</s>\n" for m in messages)
        return text + ("<s>assistant\n" if add_generation_prompt else "")

    def __call__(self, text: str, add_special_tokens: bool = False) -> dict[str, list[int]]:
        return {"input_ids": [ord(c) for c in text]}


def _trained_text(e: encode.Encoded) -> str:
    return "".join(chr(i) if t else "|" for i, t in zip(e.ids, e.targets)).strip("|")


def test_only_assistant_tokens_with_weight_are_targets() -> None:
    record = {"messages": [{"role": "system", "content": "S"}, {"role": "user", "content": "Q1"},
                           {"role": "assistant", "content": "A1", "weight": 0}, {"role": "user", "content": "Q2"},
                           {"role": "assistant", "content": "A2"}]}
    [e] = encode.encode_record(_CharTokenizer(), record, "supervised", 1000, "training file line 1")
    assert _trained_text(e) == "A2</s>"
    assert "".join(map(chr, e.ids)) == _CharTokenizer().apply_chat_template(record["messages"])


def test_dpo_pair_trains_each_output_and_refuses_nothing_to_train() -> None:
    pair = {"input": {"messages": [{"role": "user", "content": "Q"}]},
            "preferred_output": [{"role": "assistant", "content": "good"}],
            "non_preferred_output": [{"role": "assistant", "content": "bad"}]}
    good, bad = encode.encode_record(_CharTokenizer(), pair, "dpo", 1000, "training file line 1")
    assert (_trained_text(good), _trained_text(bad)) == ("good</s>", "bad</s>")
    silent = {"messages": [{"role": "user", "content": "Q"}, {"role": "assistant", "content": "A", "weight": 0}]}
    with pytest.raises(TrainSpecError, match="training file line 3: no assistant message"):
        encode.encode_record(_CharTokenizer(), silent, "supervised", 1000, "training file line 3")


# --- the worker, with a scripted fake run ----------------------------------------------------------------------

def scripted_run(spec: TrainSpec, workdir: Path) -> dict[str, Any]:
    """A fake train.run: a step every 0.05 s, honouring stop requests, resuming from a saved step."""
    saved = workdir / "saved-step"
    step = int(saved.read_text()) if saved.exists() else 0
    writer = progress.ProgressWriter(workdir)
    writer.write("started", step=step, total_steps=spec.n_epochs, resumed_from="resume" if step else None)
    while step < spec.n_epochs:
        time.sleep(0.05)
        step += 1
        writer.write("step", step=step, train_loss=1.0 / step)
        if progress.stop_requested(workdir) and step < spec.n_epochs:
            saved.write_text(str(step))
            progress.clear_stop(workdir)
            return writer.write("stopped", step=step)
    return writer.write("done", step=step, adapter="checkpoints/step-x/adapter")


def crashing_run(spec: TrainSpec, workdir: Path) -> None:
    progress.ProgressWriter(workdir).write("started", step=0, total_steps=5)
    os._exit(9)  # as if killed mid-step: no last line


def env_run(spec: TrainSpec, workdir: Path) -> dict[str, Any]:
    """Writes the OpenMP settings the worker process runs with."""
    (workdir / "env.json").write_text(json.dumps({k: os.environ.get(k) for k in ("GOMP_SPINCOUNT", "OMP_NUM_THREADS")}))
    return {"type": "done"}


def _wait_for(predicate: Any, seconds: float = 30.0) -> None:
    deadline = time.monotonic() + seconds
    while not predicate():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.02)


def test_worker_stops_at_a_step_boundary_and_resumes_where_it_stopped(tmp_path: Path) -> None:
    spec = TrainSpec(training=CHAT, n_epochs=200)  # the fake's steps
    w = worker.start(spec, tmp_path, target=scripted_run, nice=0)
    _wait_for(lambda: len(progress.read(tmp_path).steps) >= 3)
    assert w.stop(timeout=30) is True
    assert w.state() == "stopped" and w.exitcode == 0
    stopped_at = progress.read(tmp_path).steps[-1]["step"]
    assert not progress.stop_requested(tmp_path)
    progress.request_stop(tmp_path)  # a stale request from before is cleared by start
    w2 = worker.start(spec, tmp_path, target=scripted_run, nice=0)
    assert progress.read(tmp_path).state in ("starting", "running")  # not the earlier run's "stopped"
    assert w2.wait(60)
    folded = progress.read(tmp_path)
    assert folded.state == "done" and w2.state() == "done"
    assert [s["step"] for s in folded.steps] == list(range(1, 201))  # nothing lost, nothing twice
    assert sum(1 for s in folded.steps if s["step"] == stopped_at + 1) == 1


@pytest.mark.parametrize("spin, seen", [("1000", None), ("5000", "5000")])
def test_a_training_worker_drops_the_serving_runtimes_openmp_spin(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                                   spin: str, seen: str | None) -> None:
    """The serving process's GOMP_SPINCOUNT=1000 (emulator/local/cpu.py RUNTIME_ENV) slows torch's training
    1.6x: the worker it spawns starts without it; a value the user chose, and everything else, stay."""
    monkeypatch.setenv("GOMP_SPINCOUNT", spin)
    monkeypatch.setenv("OMP_NUM_THREADS", "2")
    w = worker.start(TrainSpec(training=CHAT), tmp_path, target=env_run, nice=0)
    assert w.wait(60) and w.exitcode == 0
    assert json.loads((tmp_path / "env.json").read_text()) == {"GOMP_SPINCOUNT": seen, "OMP_NUM_THREADS": "2"}
    assert os.environ["GOMP_SPINCOUNT"] == spin  # the serving process keeps its own


def test_threads_follow_the_cores_busy_now_not_the_load_average(monkeypatch: pytest.MonkeyPatch) -> None:
    from emulator.local import cpu

    samples: list[tuple[int, int]] = []
    monkeypatch.setattr(cpu, "_cpu_times", lambda: samples.pop(0))
    monkeypatch.setattr(cpu, "usable_cores", lambda: 2)
    monkeypatch.setattr(os, "cpu_count", lambda: 2)
    monkeypatch.setattr(os, "getloadavg", lambda: (1.4, 1.4, 1.4))  # this VM's idle load: not what decides
    monkeypatch.setattr(cpu.time, "sleep", lambda s: None)
    samples[:] = [(1000, 2000), (1190, 2200)]  # 95% idle over the sample
    assert cpu.default_threads() == 2
    samples[:] = [(1000, 2000), (1100, 2200)]  # half idle: one core busy elsewhere
    assert cpu.default_threads() == 1
    samples[:] = [(1000, 2000), (1000, 2200)]  # both busy
    assert cpu.default_threads() == 1
    monkeypatch.setattr(cpu, "_cpu_times", lambda: None)  # no /proc/stat: the load average
    assert cpu.default_threads() == 1


def test_worker_gone_without_a_last_line_is_crashed(tmp_path: Path) -> None:
    w = worker.start(TrainSpec(training=CHAT), tmp_path, target=crashing_run, nice=0)
    assert w.wait(60)
    assert w.exitcode == 9 and w.state() == "crashed"
    assert worker.state(tmp_path / "never", alive=False) == "new"


def test_importing_the_trainer_does_not_import_torch() -> None:
    assert model_packages_loaded_by("emulator.local.train", "emulator.local.worker", "emulator.local.checkpoints",
                                    "emulator.local.basecache") == []


# --- real training on a tiny random model ----------------------------------------------------------------------

@functools.cache
def _gguf_tokenizer() -> Any:
    from transformers import AutoTokenizer

    from emulator.local import weights

    path = weights.gguf_path()
    return AutoTokenizer.from_pretrained(path.parent, gguf_file=path.name, local_files_only=True)


def _tiny_loader(spec: TrainSpec) -> tuple[Any, Any]:
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    tokenizer = _gguf_tokenizer()
    torch.manual_seed(0)
    config = LlamaConfig(vocab_size=len(tokenizer), hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                         num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=512,
                         tie_word_embeddings=True, pad_token_id=tokenizer.pad_token_id)
    return LlamaForCausalLM(config), tokenizer


def _travel(n: int) -> list[dict[str, Any]]:
    return read_jsonl(REPO / "data" / "travel-train.jsonl")[:n]


def _adapter(workdir: Path, line: dict[str, Any]) -> Any:
    from safetensors.torch import load_file

    return load_file(str(workdir / line["adapter"] / "adapter_model.safetensors"))


@pytest.mark.local_model
@pytest.mark.timeout(240)
def test_tiny_model_trains_checkpoints_and_keeps_the_newest(tmp_path: Path) -> None:
    pytest.importorskip("torch", reason="needs make install-local")
    from emulator.local import train

    spec = TrainSpec(training=_travel(6), validation=_travel(8)[6:], n_epochs=4, batch_size=2, threads=1,
                     keep_checkpoints=2, learning_rate_multiplier=5)
    last = train.run(spec, tmp_path, loader=_tiny_loader)
    assert last["type"] == "done", last
    folded = progress.read(tmp_path)
    assert [s["step"] for s in folded.steps] == list(range(1, 13))
    losses = [s["train_loss"] for s in folded.steps]
    assert all(0 < x < 20 for x in losses) and sum(losses[-3:]) < sum(losses[:3])
    assert all(0 <= s["train_mean_token_accuracy"] <= 1 and s["valid_loss"] > 0 for s in folded.steps)
    ends = [s for s in folded.steps if s["full_valid_loss"] is not None]
    assert [s["step"] for s in ends] == [3, 6, 9, 12]
    assert [c["step"] for c in folded.checkpoints] == [9, 12]
    assert sorted(p.name for p in (tmp_path / "checkpoints").iterdir()) == ["step-000009", "step-000012"]
    assert last["adapter"] == "checkpoints/step-000012/adapter"
    assert (tmp_path / last["adapter"] / "adapter_config.json").is_file()


@pytest.mark.local_model
@pytest.mark.timeout(300)
def test_tiny_model_stop_then_resume_ends_where_an_uninterrupted_run_ends(tmp_path: Path) -> None:
    pytest.importorskip("torch", reason="needs make install-local")
    import torch

    from emulator.local import train

    spec = TrainSpec(training=_travel(6), n_epochs=2, batch_size=2, threads=1, learning_rate_multiplier=5)
    whole = train.run(spec, tmp_path / "whole", loader=_tiny_loader)
    parted = tmp_path / "parted"
    parted.mkdir()
    progress.request_stop(parted)  # honoured after the first step
    stopped = train.run(spec, parted, loader=_tiny_loader)
    assert (stopped["type"], stopped["step"]) == ("stopped", 1)
    assert (parted / "resume" / "state.pt").is_file() and not progress.stop_requested(parted)
    again = train.run(spec, parted, loader=_tiny_loader)
    assert again["type"] == "done"
    started = [json.loads(x) for x in (parted / "progress.jsonl").read_text().splitlines()
               if json.loads(x)["type"] == "started"]
    assert [(s["step"], s["resumed_from"]) for s in started] == [(0, None), (1, "resume")]
    assert [s["step"] for s in progress.read(parted).steps] == list(range(1, 7))
    assert not (parted / "resume").exists()
    a, b = _adapter(tmp_path / "whole", whole), _adapter(parted, again)
    assert a.keys() == b.keys() and all(torch.allclose(a[k], b[k], atol=1e-5) for k in a)
    other = train.run(TrainSpec(training=_travel(6), n_epochs=3, batch_size=2, threads=1), parted,
                      loader=_tiny_loader)
    assert other["type"] == "failed" and "spec.sha256 differs" in other["error"]


@pytest.mark.local_model
@pytest.mark.timeout(240)
def test_tiny_model_trains_dpo_pairs_against_the_base_as_reference(tmp_path: Path) -> None:
    pytest.importorskip("torch", reason="needs make install-local")
    from emulator.local import train

    pairs = []
    for record in _travel(4):
        *prompt, answer = record["messages"][:3]
        pairs.append({"input": {"messages": prompt}, "preferred_output": [answer],
                      "non_preferred_output": [{"role": "assistant", "content": "The Grand Hotel is the best."}]})
    spec = TrainSpec(training=pairs, validation=pairs[:2], method="dpo", n_epochs=3, batch_size=2, threads=1,
                     learning_rate_multiplier=5)
    last = train.run(spec, tmp_path, loader=_tiny_loader)
    assert last["type"] == "done", last
    steps = progress.read(tmp_path).steps
    assert len(steps) == 6
    # at step 1 the adapter is still the identity (LoRA's B starts at 0): the loss is log 2 exactly
    assert steps[0]["train_loss"] == pytest.approx(0.693147, abs=1e-3)
    assert steps[-1]["train_loss"] < steps[0]["train_loss"]
    assert steps[-1]["full_valid_loss"] is not None
