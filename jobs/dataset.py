"""Streaming validator, analyser and price estimate for chat-format fine-tuning JSONL.

Public API (used by ``validate``, the runner's ``upload``/``run`` and the emulator)::

    validate_file(path, *, model=None, price_per_1m=None, method="supervised", min_examples=10,
                  validation=False) -> Report
    validate_bytes(data, filename="upload.jsonl", *, model=None, price_per_1m=None, method=..., min_examples=...)
    validate_stream(stream, filename, *, model=None, price_per_1m=None, size=None, method=..., min_examples=...)

``method`` is ``"supervised"`` (chat ``messages`` lines), ``"dpo"`` (preference pairs: ``input``,
``preferred_output``, ``non_preferred_output``) or ``"any"`` (each line by its own format: what the emulator
checks at upload, before a job says which method the file is for). ``min_examples`` is Azure's minimum for a
training file (10); ``validation=True`` checks a validation file instead: Azure sets no minimum, but an empty
one is an error, and its report carries no training estimate (it is not trained on).

A :class:`Report` has ``valid``, ``examples``, ``errors`` / ``warnings`` (lists of
:class:`Problem` ``(line, rule, message)``, 1-based lines, 0 for the file), ``stats``,
``estimate``, the ``sha256`` of the file content (computed in the same pass),
``exit_code`` (0 valid, 1 invalid), ``to_text()`` and ``to_json()``.

Usage errors (no such file, unknown model) raise :class:`jobs.errors.UsageError`;
a retired model (gpt-4 0613) is reported as ``model_not_fine_tunable``.

Memory stays flat whatever the file size: the file is read in binary, one line at
a time (``readline`` with a byte limit, so a 100 MB line is never held whole);
per example we keep a 64-bit hash and a line number (~24 bytes with the table's slack) and
one entry in a histogram of token counts (exact median/p90). Strings that repeat
by nature (system messages, tool definitions, names) have their token counts
cached; the rest are tokenized where they occur. (tiktoken's encode holds the
GIL, so threads would not help; see bench/bench_validate.py.)
"""

from __future__ import annotations

import hashlib
import io
import json
import os
from array import array
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import IO, Any, Iterable

from jobs import dataset_rules as R
from jobs import models
from jobs.errors import UsageError

MIN_EXAMPLES = 10  # training files: "Fine tuning jobs will not proceed without at least 10 training examples"
MIN_VALIDATION_EXAMPLES = 1  # Azure sets no minimum for a validation file, but an empty one validates nothing
METHODS = ("supervised", "dpo")
MAX_FILE_BYTES = 512 * 1024 * 1024  # Azure: training files must be under 512 MB
# The longest o200k/cl100k token is 128 bytes; a line over context x 128 bytes cannot be
# a real example within any model's context, so it is reported without being parsed
# (the only exception: JSON padded with megabytes of insignificant whitespace).
BYTES_PER_TOKEN_BOUND = 128
MIN_LINE_LIMIT = 1 << 20
MAX_STORED_PROBLEMS = 1000  # per kind; the totals per rule are always exact
CACHE_MAX_ENTRIES = 64  # token counts of system messages / tool definitions / names (cleared when full)

# The cookbook's default-epochs heuristic.
TARGET_EPOCHS = 3
MIN_TARGET_EXAMPLES = 100
MAX_TARGET_EXAMPLES = 25_000
MIN_DEFAULT_EPOCHS = 1
MAX_DEFAULT_EPOCHS = 25

_BOM = b"\xef\xbb\xbf"
_IMAGE_DATA = b"data:image/"  # a base64 image in a data: URL
_UTF16_BOMS = (b"\xff\xfe", b"\xfe\xff")


@dataclass(frozen=True)
class Problem:
    line: int
    rule: str
    message: str

    def format(self, path: str) -> str:
        return f"{path}:{self.line}: {self.rule}: {self.message}"


@dataclass
class Stats:
    tokens_min: int = 0
    tokens_median: float = 0.0
    tokens_p90: float = 0.0
    tokens_max: int = 0
    total_tokens: int = 0
    assistant_tokens: int = 0
    messages: int = 0
    multi_turn_examples: int = 0
    distinct_system_messages: int = 0
    image_parts: int = 0
    image_examples: int = 0  # examples with at least one image
    counted_examples: int = 0  # examples whose tokens were counted (had a messages list)
    encoding: str = ""
    convention: str = ""


@dataclass
class Estimate:
    model: str
    training_context: int | None
    epochs: int
    epochs_source: str
    billed_tokens: int
    billed_tokens_per_epoch: int = 0  # sum over examples of min(tokens, training context)
    price_per_1m: float | None = None
    cost_usd: float | None = None


@dataclass
class Report:
    path: str
    valid: bool
    examples: int
    errors: list[Problem]
    warnings: list[Problem]
    stats: Stats
    estimate: Estimate
    sha256: str
    size_bytes: int
    rule_counts: dict[str, int] = field(default_factory=dict)
    errors_total: int = 0
    warnings_total: int = 0
    method: str = "supervised"
    validation: bool = False  # a validation file: no minimum of 10, no training cost

    @property
    def exit_code(self) -> int:
        return 0 if self.valid else 1

    def to_json(self) -> dict[str, Any]:
        return {
            "path": self.path,
            "valid": self.valid,
            "examples": self.examples,
            "errors": [asdict(p) for p in self.errors],
            "warnings": [asdict(p) for p in self.warnings],
            "errors_total": self.errors_total,
            "warnings_total": self.warnings_total,
            "rule_counts": dict(self.rule_counts),
            "stats": asdict(self.stats),
            "estimate": asdict(self.estimate),
            "sha256": self.sha256,
            "size_bytes": self.size_bytes,
            "method": self.method,
            "validation": self.validation,
        }

    def to_text(self) -> str:
        out = [p.format(self.path) for p in sorted(self.errors + self.warnings, key=lambda p: p.line)]
        shown_e, shown_w = len(self.errors), len(self.warnings)
        if self.errors_total > shown_e or self.warnings_total > shown_w:
            out.append(f"{self.path}:0: note: {self.errors_total - shown_e} more errors and "
                       f"{self.warnings_total - shown_w} more warnings not shown "
                       f"(counts by rule: {_fmt_counts(self.rule_counts)})")
        verdict = "valid" if self.valid else "INVALID"
        kind = (" DPO (preference)" if self.method == "dpo" else "") + (" validation" if self.validation else "")
        out.append(f"{self.path}: {verdict}: {_plural(self.examples, kind.lstrip() + ' example' if kind else 'example')}"
                   f", {_plural(self.errors_total, 'error')}, {_plural(self.warnings_total, 'warning')}")
        if self.stats.counted_examples:
            out += self._token_lines()
        out += self._cost_lines()
        out.append(f"  sha256: {self.sha256}")
        return "\n".join(out)

    def _token_lines(self) -> list[str]:
        s, e = self.stats, self.estimate
        return [f"  tokens per example: min {s.tokens_min:,}, median {_num(s.tokens_median)}, "
                f"p90 {_num(s.tokens_p90)}, max {s.tokens_max:,}"
                + (f" (limit {e.training_context:,})" if e.training_context else ""),
                f"  total tokens: {s.total_tokens:,}; assistant (trained) tokens: {s.assistant_tokens:,}",
                f"  counted with {s.encoding} for {e.model}, by the OpenAI cookbook's num_tokens_from_messages "
                "convention (3 per message + 1 per name + 3 reply priming; tools and tool calls approximated)"]

    def _cost_lines(self) -> list[str]:
        """Epochs, billed tokens and cost: only for a valid training file (an invalid one is not trained on as
        it is, and a validation file is not trained on at all: fine-tuning is billed by the tokens of the
        training data, help.openai.com "Billing guide for the Reinforcement Fine-Tuning API", read 2026-12-06)."""
        if self.validation:
            return ["  a validation file is not trained on: the training cost is the training file's "
                    "(`python -m jobs validate TRAINING.jsonl`)"] if self.valid else []
        if not self.valid:
            return ["  no training estimate for an invalid file: fix the errors above and validate again"]
        e = self.estimate
        out = [f"  epochs: {e.epochs} ({e.epochs_source})",
               f"  billed tokens: {e.billed_tokens:,} (= training tokens x {e.epochs} epochs)"]
        if e.cost_usd is not None:
            out.append(f"  estimated training cost: ${e.cost_usd:,.2f} at ${_num(e.price_per_1m or 0)} "
                       "per 1M billed tokens")
        else:
            out.append("  cost: pass --price-per-1m USD (the training price per 1M tokens) for an estimate")
        return out


def _plural(n: int, noun: str) -> str:
    return f"{n} {noun}" + ("" if n == 1 else "s")


def _num(v: float) -> str:
    return f"{v:,.0f}" if float(v).is_integer() else f"{v:,.2f}".rstrip("0").rstrip(".")


def _fmt_counts(counts: dict[str, int]) -> str:
    return ", ".join(f"{k} {v}" for k, v in sorted(counts.items()))


# --------------------------------------------------------------------------- helpers


def default_epochs(n_examples: int) -> int:
    """The cookbook's heuristic for the default ``n_epochs``."""
    if n_examples <= 0:
        return TARGET_EPOCHS
    if n_examples * TARGET_EPOCHS < MIN_TARGET_EXAMPLES:
        return min(MAX_DEFAULT_EPOCHS, MIN_TARGET_EXAMPLES // n_examples)
    if n_examples * TARGET_EPOCHS > MAX_TARGET_EXAMPLES:
        return max(MIN_DEFAULT_EPOCHS, MAX_TARGET_EXAMPLES // n_examples)
    return TARGET_EPOCHS


def quantile(hist: dict[int, int], q: float) -> float:
    """numpy's default (linear) quantile of the multiset ``{value: count}``."""
    n = sum(hist.values())
    if n == 0:
        return 0.0
    pos = q * (n - 1)
    lo_rank, frac = int(pos), pos - int(pos)
    lo = hi = None
    seen = 0
    for value in sorted(hist):
        seen += hist[value]
        if lo is None and seen > lo_rank:
            lo = value
        if seen > lo_rank + 1 or (seen > lo_rank and frac == 0):
            hi = value
            break
    assert lo is not None
    if hi is None:
        hi = lo
    return lo + (hi - lo) * frac


class _DigestTable:
    """Open-addressing set of 64-bit digests -> first line: ~12 bytes per example."""

    def __init__(self) -> None:
        self._size = 1 << 12
        self._keys = array("Q", bytes(8 * self._size))
        self._lines = array("I", bytes(4 * self._size))
        self._used = 0

    def add(self, digest: int, line: int) -> int:
        """Insert; return the earlier line with the same digest, or 0."""
        digest |= 1  # 0 marks an empty slot
        mask = self._size - 1
        i = digest & mask
        keys = self._keys
        while True:
            k = keys[i]
            if k == 0:
                break
            if k == digest:
                return self._lines[i]
            i = (i + 1) & mask
        keys[i] = digest
        self._lines[i] = line
        self._used += 1
        if self._used * 2 > self._size:
            self._grow()
        return 0

    def _grow(self) -> None:
        old_k, old_l = self._keys, self._lines
        self._size *= 2
        self._keys = array("Q", bytes(8 * self._size))
        self._lines = array("I", bytes(4 * self._size))
        mask = self._size - 1
        for k, ln in zip(old_k, old_l):
            if k:
                i = k & mask
                while self._keys[i]:
                    i = (i + 1) & mask
                self._keys[i] = k
                self._lines[i] = ln


def _resolve_model(model: str | None) -> tuple[str, str, int | None, Problem | None, models.FineTunableModel | None]:
    """(model id, encoding, training context or None, problem for a retired model, the model's table row)."""
    name = model or models.DEFAULT_MODEL
    try:
        m = models.resolve(name)
        return m.model_id, m.encoding, m.training_context, None, m
    except models.NotFineTunable as exc:
        r = exc.model
        return r.model_id, r.encoding, None, Problem(
            0, R.MODEL_NOT_FINE_TUNABLE,
            f"{r.model_id} cannot be fine-tuned ({r.note}); use one of: {models.alternatives_text()}"), None
    except models.UnknownModel:
        raise UsageError(f"unknown model {name!r} (--model)",
                         hint=f"use one of: {models.alternatives_text()}") from None


# --------------------------------------------------------------------------- the validator


class _Validator:
    def __init__(self, filename: str, model: str | None, price_per_1m: float | None, method: str = "supervised",
                 min_examples: int = MIN_EXAMPLES, validation: bool = False):
        if price_per_1m is not None:
            from jobs.settings import check_price

            check_price(price_per_1m)
        if method not in (*METHODS, "any"):
            raise UsageError(f"unknown method {method!r} (--method)", hint=f"use one of: {', '.join(METHODS)}")
        self.filename = filename
        self.price = price_per_1m
        self.method = method
        self.check = R.check_preference_example if method == "dpo" else R.check_example
        self.validation = validation
        self.min_examples = MIN_VALIDATION_EXAMPLES if validation else min_examples
        self.model_id, self.encoding_name, self.context, model_problem, self.row = _resolve_model(model)
        self.warned_vision = False
        from jobs import tokens  # heavy import (tiktoken) only when validating

        self.tokens = tokens
        self.counter = tokens.counter(self.encoding_name)
        self.count = self.counter.count  # exact tiktoken counts (jobs/tokens.py)
        self.encode: Any = None  # tiktoken's encode_ordinary, once the counter uses it (big files)
        self.errors: list[Problem] = []
        self.warnings: list[Problem] = []
        self.counts: dict[str, int] = {}
        self.errors_total = 0
        self.warnings_total = 0
        if model_problem:
            self._add(model_problem)
        elif method == "dpo" and self.row is not None and not self.row.dpo:
            dpo_models = ", ".join(m.model_id for m in models.FINE_TUNABLE if m.dpo)
            self._add(Problem(0, R.MODEL_NOT_DPO_CAPABLE, f"{self.model_id} cannot be trained with DPO on Azure; "
                                                          f"use one of: {dpo_models} (or --method supervised)"))
        self.line_limit = max(MIN_LINE_LIMIT, (self.context or 65_536) * BYTES_PER_TOKEN_BOUND)
        self.examples = 0
        self._line = 0
        self.hist: dict[int, int] = {}
        self.total_tokens = 0
        self.assistant_tokens = 0
        self.billable = 0  # sum(min(context, tokens))
        self.messages = 0
        self.multi_turn = 0
        self.image_parts = 0
        self.image_examples = 0
        self.counted = 0
        self.dups = _DigestTable()
        self.systems: dict[int, int] = {}
        self.system_count = 0
        self.warned_system = False
        self.cache: dict[str, int] = {}
        self._reset_cache()
        self.role_tokens = {role: self.count(role) for role in R.ROLES}
        self.per_message, self.per_name = tokens.TOKENS_PER_MESSAGE, tokens.TOKENS_PER_NAME
        self.priming = tokens.REPLY_PRIMING

    # ---- problems
    def _add(self, p: Problem) -> None:
        self.counts[p.rule] = self.counts.get(p.rule, 0) + 1
        if p.rule in R.WARNING_RULES:
            self.warnings_total += 1
            if len(self.warnings) < MAX_STORED_PROBLEMS:
                self.warnings.append(p)
        else:
            self.errors_total += 1
            if len(self.errors) < MAX_STORED_PROBLEMS:
                self.errors.append(p)

    def error(self, line: int, rule: str, message: str) -> None:
        self._add(Problem(line, rule, message))

    def _problem(self, rule: str, message: str) -> None:
        self._add(Problem(self._line, rule, message))

    # ---- one line
    def line(self, n: int, raw: bytes) -> None:
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            self.examples += 1
            self.error(n, R.INVALID_UTF8, f"byte {exc.start + 1} ({raw[exc.start:exc.start + 1]!r}) is not "
                                          "UTF-8; save the file as UTF-8")
            return
        self.examples += 1
        try:
            obj = json.loads(text)
        except ValueError as exc:
            msg = getattr(exc, "msg", str(exc))
            col = getattr(exc, "colno", None)
            self.error(n, R.INVALID_JSON, f"not valid JSON: {msg}" + (f" at column {col}" if col else "")
                       + "; each line must be one complete JSON object")
            return
        except RecursionError:
            self.error(n, R.INVALID_JSON, "JSON nested too deeply to be a training example")
            return

        self._line = n
        check = self.check
        if self.method == "any" and type(obj) is dict and "messages" not in obj and "input" in obj:
            check = R.check_preference_example
        try:
            info = check(obj, self._problem, self.role_tokens)
        except RecursionError:  # pathological nesting inside a message
            self.error(n, R.DATA_TYPE, "JSON nested too deeply to be a training example")
            return
        if info is None:
            return
        # Python's own 64-bit hash of the bytes: fast, and stable within one process, which is all
        # duplicate detection needs (2^-64 chance of a false "duplicate" warning).
        dup = self.dups.add(hash(raw.strip()) & 0xFFFF_FFFF_FFFF_FFFF, n)
        if dup:
            self.error(n, R.DUPLICATE_EXAMPLE, f"same example as line {dup}")
        if not (info.has_system or info.has_user):
            self.error(n, R.NO_SYSTEM_OR_USER, "the example has no system or user message")
        if info.image_parts:
            self.image_examples += 1
            if self.row is not None and not self.row.vision and not self.warned_vision:
                self.warned_vision = True  # once per file: every further image example has the same fix
                vision = ", ".join(m.model_id for m in models.FINE_TUNABLE if m.vision)
                self.error(n, R.MODEL_NOT_VISION_CAPABLE,
                           f"the example has images, but {self.model_id} cannot be fine-tuned with images; "
                           f"use a vision model ({vision}) or remove the image parts")
        if info.system_text is not None:
            key = hash(info.system_text)  # keep hashes, not the (possibly long) texts
            first = self.systems.get(key)
            if first is None:
                self.system_count += 1
                if len(self.systems) < 10_000:  # past that, distinct_system_messages is a lower bound
                    self.systems[key] = n
                if self.system_count == 2 and not self.warned_system:
                    self.warned_system = True
                    earlier = next(iter(self.systems.values()))
                    self.error(n, R.MULTIPLE_SYSTEM_MESSAGES,
                               f"system message differs from the one on line {earlier}; train with the "
                               "one system message your app will use")
        self.count_tokens(n, info)

    # ---- tokens
    def count_tokens(self, n: int, info: R.ExampleInfo) -> None:
        """The cookbook's count for one example. Likely-repeated strings (system messages, tool
        definitions) come from a small cache; the rest are tokenized directly (once each)."""
        count = self.count
        total = self.per_message * info.n_messages + self.per_name * info.n_names + self.priming + info.fixed
        if info.shared:
            cache = self.cache
            for s in info.shared:
                v = cache.get(s)
                if v is None:
                    v = count(s)
                    if len(cache) >= CACHE_MAX_ENTRIES:
                        self._reset_cache()
                    cache[s] = v
                total += v
        encode = self.encode
        if encode is not None:  # tiktoken's encoder: map() keeps the per-string loop in C
            trained = sum(map(len, map(encode, info.trained)))
            total += sum(map(len, map(encode, info.plain))) + trained
        else:
            trained = sum(map(count, info.trained))
            total += sum(map(count, info.plain)) + trained
        self.counted += 1
        self.total_tokens += total
        self.assistant_tokens += trained
        self.messages += info.n_messages
        self.image_parts += info.image_parts
        if info.n_messages > 3 or (info.n_messages == 3 and not info.has_system):
            self.multi_turn += 1
        hist = self.hist
        hist[total] = hist.get(total, 0) + 1
        context = self.context
        if context:
            if total > context:
                self.billable += context
                self.error(n, R.EXAMPLE_TOO_LONG, f"{total:,} tokens, over {self.model_id}'s training "
                                                  f"context of {context:,}; shorten or split it")
            else:
                self.billable += total
        else:
            self.billable += total

    def _reset_cache(self) -> None:
        """Bound the cache: drop everything, keep the roles. Hot strings come back at once."""
        self.cache.clear()
        for role in R.ROLES:
            self.cache[role] = self.count(role)

    # ---- the file
    def run(self, stream: IO[bytes], size: int | None) -> Report:
        if size is not None and size > self.tokens.LARGE_INPUT_BYTES:
            self.encode = self.counter.use_tiktoken()  # a big file: tiktoken's encoder repays building its tables
        sha = hashlib.sha256()
        nbytes = 0
        n = 0
        blank_run = [0, 0]  # [first line, count] of blank lines not yet followed by an example
        limit = self.line_limit
        first = True
        while True:
            raw = stream.readline(limit + 1)
            if not raw:
                break
            sha.update(raw)
            nbytes += len(raw)
            n += 1
            if first:
                first = False
                if raw.startswith(_UTF16_BOMS):
                    self.examples += 1
                    self.error(0, R.INVALID_UTF8, "the file is UTF-16 (it starts with a UTF-16 byte-order "
                                                  "mark); save it as UTF-8")
                    for chunk in iter(lambda: stream.read(1 << 20), b""):
                        sha.update(chunk)
                        nbytes += len(chunk)
                    break
                if raw.startswith(_BOM):
                    raw = raw[3:]
            whole_image_line = False
            if len(raw) > limit and not raw.endswith(b"\n") and _IMAGE_DATA in raw:
                # Base64 images are not tokens: a vision example may be far longer than the token bound
                # (64 images of up to 10 MB each), so such a line is read whole, up to Azure's file limit.
                parts = [raw]
                length = len(raw)
                while not parts[-1].endswith(b"\n") and length < MAX_FILE_BYTES:
                    chunk = stream.readline(1 << 20)
                    if not chunk:
                        break
                    sha.update(chunk)
                    nbytes += len(chunk)
                    length += len(chunk)
                    parts.append(chunk)
                raw = b"".join(parts)
                del parts
                whole_image_line = length < MAX_FILE_BYTES
            if len(raw) > limit and not raw.endswith(b"\n") and not whole_image_line:
                # Over the streaming limit: skip the rest of the line without keeping it.
                length = len(raw)
                while not raw.endswith(b"\n"):
                    raw = stream.readline(1 << 20)
                    if not raw:
                        break
                    sha.update(raw)
                    nbytes += len(raw)
                    length += len(raw)
                self._blank_lines_end(blank_run)
                self.examples += 1
                self.error(n, R.EXAMPLE_TOO_LONG,
                           f"line is {length:,} bytes, more than any example within {self.model_id}'s "
                           f"{self.context or 65_536:,}-token context can take "
                           f"(limit {limit:,} bytes); not parsed")
                continue
            if not raw.strip():
                if not blank_run[1]:
                    blank_run[0] = n
                blank_run[1] += 1
                continue
            if blank_run[1]:
                self._blank_lines_end(blank_run)
            self.line(n, raw)
        if blank_run[1]:
            self.error(blank_run[0], R.TRAILING_BLANK_LINES,
                       f"{_plural(blank_run[1], 'blank line')} at the end of the file; remove them")
        size = nbytes if size is None else max(size, nbytes)
        if size >= MAX_FILE_BYTES:
            self.error(0, R.FILE_TOO_LARGE, f"the file is {size:,} bytes; Azure accepts training files "
                                            f"under {MAX_FILE_BYTES:,} bytes (512 MB): split it")
        if self.examples < self.min_examples:
            what = "the file is empty" if nbytes == 0 else _plural(self.examples, "example")
            need = ("a validation file needs at least one example" if self.validation else
                    f"Azure needs at least {self.min_examples} training examples")
            self.error(0, R.TOO_FEW_EXAMPLES, f"{what}; {need}")
        if self.image_examples > R.MAX_IMAGE_EXAMPLES:
            self.error(0, R.TOO_MANY_IMAGE_EXAMPLES, f"{self.image_examples:,} examples with images; Azure takes at "
                                                     f"most {R.MAX_IMAGE_EXAMPLES:,} per training file: split it")
        if self.filename.lower().endswith(".txt"):
            self.error(0, R.TXT_EXTENSION, "the file is named .txt; Azure expects JSON Lines: rename it to .jsonl")
        return self._report(sha.hexdigest(), size)

    def _blank_lines_end(self, blank_run: list[int]) -> None:
        """One problem per run of blank lines (a file of a million newlines stays cheap)."""
        first, count = blank_run
        if count:
            where = "an empty line" if count == 1 else f"{count} empty lines (lines {first}-{first + count - 1})"
            self.error(first, R.BLANK_LINE, f"{where} between examples; every line must be one JSON object "
                                            "(delete the empty lines)")
        blank_run[:] = [0, 0]

    def _report(self, sha: str, size: int) -> Report:
        epochs = default_epochs(self.examples)
        billed = self.billable * epochs
        stats = Stats(
            tokens_min=min(self.hist) if self.hist else 0,
            tokens_median=quantile(self.hist, 0.5),
            tokens_p90=quantile(self.hist, 0.9),
            tokens_max=max(self.hist) if self.hist else 0,
            total_tokens=self.total_tokens,
            assistant_tokens=self.assistant_tokens,
            messages=self.messages,
            multi_turn_examples=self.multi_turn,
            distinct_system_messages=self.system_count,
            image_parts=self.image_parts,
            image_examples=self.image_examples,
            counted_examples=self.counted,
            encoding=self.encoding_name,
            convention=self.tokens.CONVENTION,
        )
        estimate = Estimate(
            model=self.model_id,
            training_context=self.context,
            epochs=epochs,
            epochs_source=f"cookbook default for {self.examples} examples: target {TARGET_EPOCHS}, "
                          f"kept within {MIN_TARGET_EXAMPLES}..{MAX_TARGET_EXAMPLES:,} examples x epochs, "
                          f"{MIN_DEFAULT_EPOCHS}..{MAX_DEFAULT_EPOCHS} epochs",
            billed_tokens=billed,
            billed_tokens_per_epoch=self.billable,
            price_per_1m=self.price,
            cost_usd=None if self.price is None else round(billed * self.price / 1_000_000, 6),
        )
        self.errors.sort(key=lambda p: p.line)
        self.warnings.sort(key=lambda p: p.line)
        return Report(
            path=self.filename,
            valid=self.errors_total == 0,
            examples=self.examples,
            errors=self.errors,
            warnings=self.warnings,
            stats=stats,
            estimate=estimate,
            sha256=sha,
            size_bytes=size,
            rule_counts=dict(self.counts),
            errors_total=self.errors_total,
            warnings_total=self.warnings_total,
            method=self.method,
            validation=self.validation,
        )


# --------------------------------------------------------------------------- public API


def validate_stream(stream: IO[bytes], filename: str, *, model: str | None = None,
                    price_per_1m: float | None = None, size: int | None = None, method: str = "supervised",
                    min_examples: int = MIN_EXAMPLES, validation: bool = False) -> Report:
    """Validate a binary stream (read once, line by line). ``filename`` is used in messages."""
    return _Validator(filename, model, price_per_1m, method, min_examples, validation).run(stream, size)


def validate_bytes(data: bytes, filename: str = "upload.jsonl", *, model: str | None = None,
                   price_per_1m: float | None = None, method: str = "supervised",
                   min_examples: int = MIN_EXAMPLES) -> Report:
    """Validate file content held in memory (the emulator's upload and job creation)."""
    return validate_stream(io.BytesIO(data), filename, model=model, price_per_1m=price_per_1m, size=len(data),
                           method=method, min_examples=min_examples)


def validate_file(path: str | os.PathLike[str], *, model: str | None = None,
                  price_per_1m: float | None = None, method: str = "supervised",
                  min_examples: int = MIN_EXAMPLES, validation: bool = False) -> Report:
    """Validate a JSONL file on disk. Raises UsageError if it cannot be read. ``validation``: the file is a
    validation file (at least one example, no training estimate)."""
    shown = str(path)
    if not shown.strip():
        raise UsageError("no file given (the path is empty)", hint="pass the path of a .jsonl file")
    p = Path(path)
    if not p.exists():
        raise UsageError(f"no such file: {shown}", hint="check the path (training files are .jsonl)")
    if p.is_dir():
        raise UsageError(f"{shown} is a folder, not a file", hint="pass the path of a .jsonl file")
    if not p.is_file():  # a device (/dev/zero never ends), a FIFO, a socket
        raise UsageError(f"{shown} is not a regular file (a device, a pipe or a socket)",
                         hint="pass the path of a .jsonl file on disk")
    validator = _Validator(shown, model, price_per_1m, method, min_examples, validation)
    try:
        with open(p, "rb", buffering=1 << 20) as f:
            return validator.run(f, os.fstat(f.fileno()).st_size)
    except PermissionError:
        raise UsageError(f"cannot read {shown}: permission denied", hint=f"check the file's permissions") from None
    except IsADirectoryError:
        raise UsageError(f"{shown} is a folder, not a file", hint="pass the path of a .jsonl file") from None


def rule_table() -> Iterable[tuple[str, str, str]]:
    """(rule id, kind, meaning) for docs and ``--help``."""
    for rule, text in R.ERROR_RULES.items():
        yield rule, "error", text
    for rule, text in R.WARNING_RULES.items():
        yield rule, "warning", text
