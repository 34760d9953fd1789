"""Train a LoRA adapter on the local model: :func:`run`, meant to run in a worker process
(:mod:`emulator.local.worker`). Torch is imported when a run starts, not when this module is imported.

What a run does: encode the records (loss only on assistant tokens), wrap the base model with LoRA, and train
``n_epochs`` x ``ceil(examples / batch_size)`` steps, writing one progress line per step
(:mod:`emulator.local.progress`), a checkpoint per epoch end (:mod:`emulator.local.checkpoints`, the newest
``keep_checkpoints`` kept), and a final ``done`` or ``failed`` line.

Stop and resume: a stop request (``progress.request_stop``) ends the run after its current step; the state at
that step is saved in ``resume/`` and the last line is ``stopped``. :func:`run` on the same workdir continues
from the newest saved state, so nothing is redone after a stop. After a crash or a kill (no ``stopped`` line),
the run continues from the last epoch checkpoint and redoes the steps after it; their progress lines are written
again (``progress.read`` keeps the newest).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Callable

from emulator.local import checkpoints, cpu, encode, progress
from emulator.local.trainspec import TrainSpec, TrainSpecError

SPEC_FINGERPRINT = "spec.sha256"
Loader = Callable[[TrainSpec], tuple[Any, Any]]


def load_for(spec: TrainSpec) -> tuple[Any, Any]:
    """The default loader: SmolLM2 from the weights package, through the spec's cache directory."""
    from emulator.local import basecache

    return basecache.load(Path(spec.cache_dir) if spec.cache_dir else None)


def run(spec: TrainSpec, workdir: Path, loader: Loader | None = None) -> dict[str, Any]:
    """Train (or resume training) in ``workdir``; returns the last progress line written (done, stopped or
    failed). Errors are reported as a ``failed`` line, not raised: this is a worker's whole life."""
    workdir = Path(workdir)
    workdir.mkdir(parents=True, exist_ok=True)
    writer = progress.ProgressWriter(workdir)
    trainer = _Trainer(spec, workdir, writer)
    try:
        trainer.setup(loader or load_for)
        return trainer.train()
    except Exception as err:  # noqa: BLE001 - the worker reports every failure in its progress file
        return writer.write("failed", step=trainer.step, error=f"{type(err).__name__}: {err}")
    finally:
        writer.close()


class _Trainer:
    def __init__(self, spec: TrainSpec, workdir: Path, writer: progress.ProgressWriter) -> None:
        self.spec, self.workdir, self.writer = spec, workdir, writer
        self.step = 0
        self.model: Any = None
        self.optimizer: Any = None
        self.pad_id = 0
        self.train_set: list[list[encode.Encoded]] = []
        self.valid_set: list[list[encode.Encoded]] = []
        self.per_epoch = 1
        self.threads = 1
        self.bf16 = False

    @property
    def total(self) -> int:
        return self.per_epoch * self.spec.n_epochs

    def setup(self, loader: Loader) -> None:
        import torch

        spec = self.spec
        self.threads = spec.threads or cpu.default_threads()
        torch.set_num_threads(self.threads)
        base, tokenizer = loader(spec)
        self.pad_id = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else 0
        self.train_set = encode.encode_all(tokenizer, spec.training, spec.method, spec.max_tokens, "training file")
        self.valid_set = encode.encode_all(tokenizer, spec.validation or [], spec.method, spec.max_tokens,
                                           "validation file")
        self.per_epoch = encode.steps_per_epoch(len(self.train_set), spec.batch_size)
        torch.manual_seed(spec.seed)
        self.bf16 = spec.precision == "bf16" or (spec.precision == "auto" and cpu.has_native_bf16())
        self.model = _with_lora(base, spec, self.bf16)
        trainable = [p for p in self.model.parameters() if p.requires_grad]
        self.optimizer = torch.optim.AdamW(trainable, lr=spec.learning_rate, weight_decay=0.0)
        _check_same_spec(self.workdir, spec)
        saved = checkpoints.resume_point(self.workdir)
        resumed_from = None
        if saved is not None:
            self.step = checkpoints.restore(self.model, self.optimizer, saved)
            resumed_from = str(saved.path.relative_to(self.workdir))
        self.writer.write("started", step=self.step, total_steps=self.total, steps_per_epoch=self.per_epoch,
                          n_epochs=spec.n_epochs, threads=self.threads, method=spec.method,
                          precision="bf16" if self.bf16 else "fp32", resumed_from=resumed_from)

    def train(self) -> dict[str, Any]:
        self.model.train()
        while self.step < self.total:
            epoch = self.step // self.per_epoch
            batches = encode.batch_order([len(e[0].ids) for e in self.train_set], self.spec.batch_size,
                                         self.spec.seed, epoch)
            for batch in batches[self.step - epoch * self.per_epoch:]:
                self._train_step(batch, epoch + 1)
                if self.step == (epoch + 1) * self.per_epoch:
                    self._checkpoint(epoch + 1)
                if progress.stop_requested(self.workdir) and self.step < self.total:
                    return self._stop()
        last = checkpoints.listed(self.workdir)[-1]
        checkpoints.drop_resume(self.workdir)
        return self.writer.write("done", step=self.step, adapter=_rel(last.adapter, self.workdir))

    def _train_step(self, batch: list[int], epoch: int) -> None:
        import torch

        spec = self.spec
        for group in self.optimizer.param_groups:  # linear decay from the full rate to 0 over the run
            group["lr"] = spec.learning_rate * (1 - self.step / self.total)
        lr = self.optimizer.param_groups[0]["lr"]
        rows = [self.train_set[i] for i in batch]
        loss, accuracy = self._loss(rows)
        loss.backward()
        torch.nn.utils.clip_grad_norm_([p for p in self.model.parameters() if p.requires_grad], 1.0)
        self.optimizer.step()
        self.optimizer.zero_grad(set_to_none=True)
        self.step += 1
        line: dict[str, Any] = {"step": self.step, "epoch": epoch, "train_loss": round(float(loss.detach()), 6),
                                "train_mean_token_accuracy": round(accuracy, 6)}
        line.update(self._validation(epoch_end=self.step % self.per_epoch == 0))
        line.update(learning_rate=lr, tokens=sum(len(e.ids) for r in rows for e in r))
        self.writer.write("step", **line)

    def _autocast(self) -> Any:
        import torch

        return torch.autocast("cpu", dtype=torch.bfloat16, enabled=self.bf16)

    def _loss(self, rows: list[list[encode.Encoded]]) -> tuple[Any, float]:
        from emulator.local import losses

        with self._autocast():
            if self.spec.method == "dpo":
                return losses.dpo(self.model, rows, self.pad_id, self.spec.beta, self.spec.share_prefix)
            return losses.supervised(self.model, [r[0] for r in rows], self.pad_id, self.spec.share_prefix)

    def _validation(self, epoch_end: bool) -> dict[str, Any]:
        """valid_* on one validation batch (a different one each time, in turn) every ``valid_every`` steps and
        full_valid_* on the whole validation set at each epoch end; all None without a validation file."""
        out: dict[str, Any] = dict.fromkeys(("valid_loss", "valid_mean_token_accuracy", "full_valid_loss",
                                             "full_valid_mean_token_accuracy"))
        if not self.valid_set:
            return out
        spec = self.spec
        self.model.eval()
        try:
            if self.step % spec.valid_every == 0:
                n_batches = encode.steps_per_epoch(len(self.valid_set), spec.batch_size)
                start = (self.step // spec.valid_every % n_batches) * spec.batch_size
                loss, acc = self._evaluate(self.valid_set[start:start + spec.batch_size])
                out.update(valid_loss=round(loss, 6), valid_mean_token_accuracy=round(acc, 6))
            if epoch_end:
                loss, acc = self._evaluate(self.valid_set)
                out.update(full_valid_loss=round(loss, 6), full_valid_mean_token_accuracy=round(acc, 6))
        finally:
            self.model.train()
        return out

    def _evaluate(self, rows: list[list[encode.Encoded]]) -> tuple[float, float]:
        from emulator.local import losses

        spec = self.spec
        with self._autocast():
            return losses.evaluate(self.model, rows, self.pad_id, spec.batch_size, spec.method, spec.beta,
                                   spec.share_prefix)

    def _checkpoint(self, epoch: int) -> None:
        target = checkpoints.checkpoint_dir(self.workdir, self.step)
        saved = checkpoints.save(self.model, self.optimizer, target, self.step, epoch)
        removed = checkpoints.prune(self.workdir, self.spec.keep_checkpoints)
        checkpoints.drop_resume(self.workdir)
        self.writer.write("checkpoint", step=self.step, epoch=epoch, path=_rel(saved.path, self.workdir),
                          adapter=_rel(saved.adapter, self.workdir),
                          removed=[_rel(p, self.workdir) for p in removed])

    def _stop(self) -> dict[str, Any]:
        if not any(s.step == self.step for s in checkpoints.listed(self.workdir)):
            checkpoints.save(self.model, self.optimizer, self.workdir / checkpoints.RESUME, self.step,
                             self.step // self.per_epoch + 1)
        progress.clear_stop(self.workdir)
        return self.writer.write("stopped", step=self.step)


def _with_lora(base: Any, spec: TrainSpec, bf16: bool) -> Any:
    """The base wrapped with fresh LoRA layers (float32); with ``bf16`` the frozen base weights are cast to
    bfloat16 (half the memory, and the native bf16 matrix units do the work)."""
    import torch
    from peft import LoraConfig, get_peft_model

    config = LoraConfig(r=spec.lora_r, lora_alpha=spec.lora_alpha, lora_dropout=0.0,
                        target_modules=list(spec.target_modules), task_type="CAUSAL_LM")
    model = get_peft_model(base, config)
    if bf16:
        for param in model.parameters():
            if not param.requires_grad:
                param.data = param.data.to(torch.bfloat16)
    return model


def _check_same_spec(workdir: Path, spec: TrainSpec) -> None:
    """The first run records its spec's fingerprint in ``spec.sha256``; a resumed run must match it."""
    path = workdir / SPEC_FINGERPRINT
    mine = spec.fingerprint()
    if not path.exists():
        path.write_text(mine + "\n", encoding="utf-8")
    elif path.read_text(encoding="utf-8").strip() != mine:
        raise TrainSpecError(f"{workdir} holds a run of other data or hyperparameters ({path} differs); resume "
                             "it with the spec it was started with, or train in a new workdir")


def _rel(path: Path, workdir: Path) -> str:
    return str(path.relative_to(workdir))

