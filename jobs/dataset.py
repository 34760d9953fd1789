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
from typing import IO, Any, Iterable, Iterator

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
# Four parts: the problems found (_Problems), the bytes of the file line by line (_Reader, _BlankRun), the
# token counts (_TokenTally), and the validator that runs the rules over them (_Validator).


class _Problems:
    """The problems of one file: the first :data:`MAX_STORED_PROBLEMS` of each kind kept, the totals exact."""

    def __init__(self) -> None:
        self.errors: list[Problem] = []
        self.warnings: list[Problem] = []
        self.counts: dict[str, int] = {}
        self.errors_total = 0
        self.warnings_total = 0

    def add(self, p: Problem) -> None:
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
        self.add(Problem(line, rule, message))


class _Reader:
    """The file's lines, read with a byte limit (a 100 MB line is never held whole) and hashed as they pass."""

    def __init__(self, stream: IO[bytes], limit: int):
        self.stream, self.limit = stream, limit
        self.sha = hashlib.sha256()
        self.nbytes = 0

    def _read(self, size: int) -> bytes:
        raw = self.stream.readline(size)
        self.sha.update(raw)
        self.nbytes += len(raw)
        return raw

    def lines(self) -> Iterator[tuple[int, bytes]]:
        """(1-based line number, at most ``limit + 1`` bytes of the line)."""
        n = 0
        while raw := self._read(self.limit + 1):
            n += 1
            yield n, raw

    def over_limit(self, raw: bytes) -> bool:
        return len(raw) > self.limit and not raw.endswith(b"\n")

    def image_line(self, raw: bytes) -> tuple[bytes, bool]:
        """The rest of a line over the limit that holds a base64 image: images are not tokens, so a vision
        example may be far longer than the token bound (64 images of up to 10 MB each); it is read whole up to
        Azure's file limit. Returns (the line, whether it was read whole)."""
        parts = [raw]
        length = len(raw)
        while not parts[-1].endswith(b"\n") and length < MAX_FILE_BYTES:
            chunk = self._read(1 << 20)
            if not chunk:
                break
            length += len(chunk)
            parts.append(chunk)
        return b"".join(parts), length < MAX_FILE_BYTES

    def skip_line(self, raw: bytes) -> int:
        """Read past the rest of a line without keeping it; its length in bytes."""
        length = len(raw)
        while not raw.endswith(b"\n"):
            raw = self._read(1 << 20)
            if not raw:
                break
            length += len(raw)
        return length

    def drain(self) -> None:
        """Hash the rest of the file unread (a UTF-16 file is reported once)."""
        for chunk in iter(lambda: self.stream.read(1 << 20), b""):
            self.sha.update(chunk)
            self.nbytes += len(chunk)


class _BlankRun:
    """Runs of blank lines: one problem per run between examples (a file of a million newlines stays cheap),
    one for the run at the end of the file."""

    def __init__(self, problems: _Problems):
        self.problems = problems
        self.first = self.count = 0

    def add(self, n: int) -> None:
        if not self.count:
            self.first = n
        self.count += 1

    def end(self) -> None:
        if self.count:
            first, count = self.first, self.count
            where = "an empty line" if count == 1 else f"{count} empty lines (lines {first}-{first + count - 1})"
            self.problems.error(first, R.BLANK_LINE, f"{where} between examples; every line must be one JSON "
                                                     "object (delete the empty lines)")
        self.first = self.count = 0

    def trailing(self) -> None:
        if self.count:
            self.problems.error(self.first, R.TRAILING_BLANK_LINES,
                                f"{_plural(self.count, 'blank line')} at the end of the file; remove them")


class _TokenTally:
    """Each example's tokens by the cookbook's convention (jobs/tokens.py), their histogram (exact median and
    p90) and the billable total (each example capped at the training context)."""

    def __init__(self, encoding_name: str, context: int | None, model_id: str, problems: _Problems):
        from jobs import tokens  # heavy import (tiktoken) only when validating

        self.tokens = tokens
        self.encoding_name, self.context, self.model_id, self.problems = encoding_name, context, model_id, problems
        self.counter = tokens.counter(encoding_name)
        self.count = self.counter.count  # exact tiktoken counts
        self.encode: Any = None  # tiktoken's encode_ordinary, once the counter uses it (big files)
        self.hist: dict[int, int] = {}
        self.total_tokens = self.assistant_tokens = self.messages = self.multi_turn = 0
        self.image_parts = self.counted = 0
        self.billable = 0  # sum(min(context, tokens))
        self.cache: dict[str, int] = {}
        self._reset_cache()
        self.role_tokens = {role: self.count(role) for role in R.ROLES}
        self.per_message, self.per_name = tokens.TOKENS_PER_MESSAGE, tokens.TOKENS_PER_NAME
        self.priming = tokens.REPLY_PRIMING

    def use_tiktoken(self) -> None:
        """A big file: tiktoken's encoder repays building its tables."""
        self.encode = self.counter.use_tiktoken()

    def add(self, n: int, info: R.ExampleInfo) -> None:
        """The cookbook's count for one example. Likely-repeated strings (system messages, tool definitions) come
        from a small cache; the rest are tokenized directly (once each)."""
        total = self.per_message * info.n_messages + self.per_name * info.n_names + self.priming + info.fixed
        if info.shared:
            total += self._shared(info.shared)
        encode = self.encode
        if encode is not None:  # tiktoken's encoder: map() keeps the per-string loop in C
            trained = sum(map(len, map(encode, info.trained)))
            total += sum(map(len, map(encode, info.plain))) + trained
        else:
            count = self.count
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
        if context and total > context:
            self.billable += context
            self.problems.error(n, R.EXAMPLE_TOO_LONG, f"{total:,} tokens, over {self.model_id}'s training "
                                                       f"context of {context:,}; shorten or split it")
        else:
            self.billable += total

    def _shared(self, strings: list[str]) -> int:
        cache, total = self.cache, 0
        for s in strings:
            v = cache.get(s)
            if v is None:
                v = self.count(s)
                if len(cache) >= CACHE_MAX_ENTRIES:
                    self._reset_cache()
                cache[s] = v
            total += v
        return total

    def _reset_cache(self) -> None:
        """Bound the cache: drop everything, keep the roles. Hot strings come back at once."""
        self.cache.clear()
        for role in R.ROLES:
            self.cache[role] = self.count(role)

    def stats(self, distinct_system_messages: int, image_examples: int) -> Stats:
        hist = self.hist
        return Stats(
            tokens_min=min(hist) if hist else 0, tokens_median=quantile(hist, 0.5), tokens_p90=quantile(hist, 0.9),
            tokens_max=max(hist) if hist else 0, total_tokens=self.total_tokens,
            assistant_tokens=self.assistant_tokens, messages=self.messages, multi_turn_examples=self.multi_turn,
            distinct_system_messages=distinct_system_messages, image_parts=self.image_parts,
            image_examples=image_examples, counted_examples=self.counted, encoding=self.encoding_name,
            convention=self.tokens.CONVENTION)


class _Validator:
    def __init__(self, filename: str, model: str | None, price_per_1m: float | None, method: str = "supervised",
                 min_examples: int = MIN_EXAMPLES, validation: bool = False):
        if price_per_1m is not None:
            from jobs.settings import check_price

            check_price(price_per_1m)
        if method not in (*METHODS, "any"):
            raise UsageError(f"unknown method {method!r} (--method)", hint=f"use one of: {', '.join(METHODS)}")
        self.filename, self.price, self.method, self.validation = filename, price_per_1m, method, validation
        self.check = R.check_preference_example if method == "dpo" else R.check_example
        self.min_examples = MIN_VALIDATION_EXAMPLES if validation else min_examples
        self.model_id, self.encoding_name, self.context, model_problem, self.row = _resolve_model(model)
        self.problems = _Problems()
        self.error = self.problems.error
        if model_problem:
            self.problems.add(model_problem)
        elif method == "dpo" and self.row is not None and not self.row.dpo:
            dpo_models = ", ".join(m.model_id for m in models.FINE_TUNABLE if m.dpo)
            self.error(0, R.MODEL_NOT_DPO_CAPABLE, f"{self.model_id} cannot be trained with DPO on Azure; "
                                                   f"use one of: {dpo_models} (or --method supervised)")
        self.line_limit = max(MIN_LINE_LIMIT, (self.context or 65_536) * BYTES_PER_TOKEN_BOUND)
        self.tally = _TokenTally(self.encoding_name, self.context, self.model_id, self.problems)
        self.examples = 0
        self._line = 0
        self.dups = _DigestTable()
        self.systems: dict[int, int] = {}
        self.system_count = 0
        self.warned_system = self.warned_vision = False
        self.image_examples = 0

    def _problem(self, rule: str, message: str) -> None:
        self.problems.add(Problem(self._line, rule, message))

    # ---- one line
    def line(self, n: int, raw: bytes) -> None:
        self.examples += 1
        obj = self._parse(n, raw)
        if obj is _UNPARSED:
            return
        self._line = n
        check = self.check
        if self.method == "any" and type(obj) is dict and "messages" not in obj and "input" in obj:
            check = R.check_preference_example
        try:
            info = check(obj, self._problem, self.tally.role_tokens)
        except RecursionError:  # pathological nesting inside a message
            self.error(n, R.DATA_TYPE, "JSON nested too deeply to be a training example")
            return
        if info is not None:
            self._example(n, raw, info)
            self.tally.add(n, info)

    def _parse(self, n: int, raw: bytes) -> Any:
        """The line's JSON value, or :data:`_UNPARSED` after reporting why it has none."""
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            self.error(n, R.INVALID_UTF8, f"byte {exc.start + 1} ({raw[exc.start:exc.start + 1]!r}) is not "
                                          "UTF-8; save the file as UTF-8")
            return _UNPARSED
        try:
            return json.loads(text)
        except ValueError as exc:
            msg = getattr(exc, "msg", str(exc))
            col = getattr(exc, "colno", None)
            self.error(n, R.INVALID_JSON, f"not valid JSON: {msg}" + (f" at column {col}" if col else "")
                       + "; each line must be one complete JSON object")
        except RecursionError:
            self.error(n, R.INVALID_JSON, "JSON nested too deeply to be a training example")
        return _UNPARSED

    def _example(self, n: int, raw: bytes, info: R.ExampleInfo) -> None:
        """The checks across examples: duplicates, images for the model, one system message."""
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
            self._system_message(n, info.system_text)

    def _system_message(self, n: int, text: str) -> None:
        key = hash(text)  # keep hashes, not the (possibly long) texts
        if key in self.systems:
            return
        self.system_count += 1
        if len(self.systems) < 10_000:  # past that, distinct_system_messages is a lower bound
            self.systems[key] = n
        if self.system_count == 2 and not self.warned_system:
            self.warned_system = True
            earlier = next(iter(self.systems.values()))
            self.error(n, R.MULTIPLE_SYSTEM_MESSAGES, f"system message differs from the one on line {earlier}; "
                                                      "train with the one system message your app will use")

    # ---- the file
    def run(self, stream: IO[bytes], size: int | None) -> Report:
        if size is not None and size > self.tally.tokens.LARGE_INPUT_BYTES:
            self.tally.use_tiktoken()
        reader = _Reader(stream, self.line_limit)
        blanks = _BlankRun(self.problems)
        for n, raw in reader.lines():
            if n == 1:
                if raw.startswith(_UTF16_BOMS):
                    self.examples += 1
                    self.error(0, R.INVALID_UTF8, "the file is UTF-16 (it starts with a UTF-16 byte-order mark); "
                                                  "save it as UTF-8")
                    reader.drain()
                    break
                if raw.startswith(_BOM):
                    raw = raw[3:]
            if reader.over_limit(raw):
                kept = self._long_line(reader, n, raw, blanks)
                if kept is None:
                    continue
                raw = kept
            if not raw.strip():
                blanks.add(n)
                continue
            blanks.end()
            self.line(n, raw)
        blanks.trailing()
        size = reader.nbytes if size is None else max(size, reader.nbytes)
        self._file_checks(size, reader.nbytes)
        return self._report(reader.sha.hexdigest(), size)

    def _long_line(self, reader: _Reader, n: int, raw: bytes, blanks: _BlankRun) -> bytes | None:
        """A line longer than the streaming limit: a vision example is read whole; any other is skipped without
        being kept, and reported (None)."""
        whole = False
        if _IMAGE_DATA in raw:
            raw, whole = reader.image_line(raw)
        if whole or not reader.over_limit(raw):
            return raw
        length = reader.skip_line(raw)
        blanks.end()
        self.examples += 1
        self.error(n, R.EXAMPLE_TOO_LONG, f"line is {length:,} bytes, more than any example within "
                                          f"{self.model_id}'s {self.context or 65_536:,}-token context can take "
                                          f"(limit {self.line_limit:,} bytes); not parsed")
        return None

    def _file_checks(self, size: int, nbytes: int) -> None:
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

    def _report(self, sha: str, size: int) -> Report:
        epochs = default_epochs(self.examples)
        billed = self.tally.billable * epochs
        estimate = Estimate(
            model=self.model_id,
            training_context=self.context,
            epochs=epochs,
            epochs_source=f"cookbook default for {self.examples} examples: target {TARGET_EPOCHS}, "
                          f"kept within {MIN_TARGET_EXAMPLES}..{MAX_TARGET_EXAMPLES:,} examples x epochs, "
                          f"{MIN_DEFAULT_EPOCHS}..{MAX_DEFAULT_EPOCHS} epochs",
            billed_tokens=billed,
            billed_tokens_per_epoch=self.tally.billable,
            price_per_1m=self.price,
            cost_usd=None if self.price is None else round(billed * self.price / 1_000_000, 6),
        )
        p = self.problems
        p.errors.sort(key=lambda e: e.line)
        p.warnings.sort(key=lambda w: w.line)
        return Report(path=self.filename, valid=p.errors_total == 0, examples=self.examples, errors=p.errors,
                      warnings=p.warnings, stats=self.tally.stats(self.system_count, self.image_examples),
                      estimate=estimate, sha256=sha, size_bytes=size, rule_counts=dict(p.counts),
                      errors_total=p.errors_total, warnings_total=p.warnings_total, method=self.method,
                      validation=self.validation)


_UNPARSED = object()  # _Validator._parse: the line has no JSON value


# --------------------------------------------------------------------------- public API


def validate_stream(stream: IO[bytes], filename: str, *, model: str | None = None,
                    price_per_1m: float | None = None, size: int | None = None, method: str = "supervised",
                    min_examples: int = MIN_EXAMPLES, validation: bool = False) -> Report:
    """Validate a binary stream (read once, line by line). ``filename`` is used in messages."""
    return _Validator(filename, model, price_per_1m, method, min_examples, validation).run(stream, size)


def validate_bytes(data: bytes, filename: str = "upload.jsonl", *, model: str | None = None,
                   price_per_1m: float | None = None, method: str = "supervised",
                   min_examples: int = MIN_EXAMPLES, validation: bool = False) -> Report:
    """Validate file content held in memory (the emulator's upload and job creation)."""
    return validate_stream(io.BytesIO(data), filename, model=model, price_per_1m=price_per_1m, size=len(data),
                           method=method, min_examples=min_examples, validation=validation)


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
