"""The validator beyond plain chat data (issue 12): DPO preference pairs (``--method dpo``), vision limits,
tool-calling token counts, the legacy prompt/completion format, and validation files."""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from jobs import dataset
from jobs.cli import cli
from tests.support.datasets import (ASSISTANT, SYS, SYSTEM, USER, example, line, messages, preference,
                                   preference_lines, tool_call, valid_lines, with_defect, with_preference_defect,
                                   write)

A, U = ASSISTANT, USER


def run_cli(path: Path, *args: str) -> tuple[int, dict[str, Any]]:
    result = CliRunner().invoke(cli, ["validate", str(path), "--json", *args])
    assert result.exception is None or isinstance(result.exception, SystemExit), result.output
    return result.exit_code, json.loads(result.output)


def rules(report: dataset.Report) -> list[tuple[int, str]]:
    return [(p.line, p.rule) for p in report.errors]


# --------------------------------------------------------------------------- DPO


def test_dpo_file_is_valid_with_method_dpo_and_counts_both_outputs(tmp_path: Path) -> None:
    path = write(tmp_path, ("\n".join(preference_lines(12)) + "\n").encode())
    code, out = run_cli(path, "--method", "dpo")
    assert (code, out["errors"], out["warnings"]) == (0, [], [])
    assert out["method"] == "dpo" and out["examples"] == 12
    from jobs.tokens import get_encoding

    enc = get_encoding("o200k_base")
    ex = preference(0)
    msgs = ex["input"]["messages"] + ex["preferred_output"] + ex["non_preferred_output"]
    cookbook = 3 + sum(3 + len(enc.encode(m["role"])) + len(enc.encode(m["content"])) for m in msgs)
    report = dataset.validate_file(path, method="dpo")
    assert report.stats.tokens_min <= cookbook <= report.stats.tokens_max
    outputs = ex["preferred_output"] + ex["non_preferred_output"]
    assert report.stats.assistant_tokens >= 12 * min(len(enc.encode(m["content"])) for m in outputs)
    assert "DPO (preference) examples" in dataset.validate_file(path, method="dpo").to_text()


def test_dpo_file_checked_as_supervised_says_what_it_is(tmp_path: Path) -> None:
    path = write(tmp_path, ("\n".join(preference_lines(12)) + "\n").encode())
    code, out = run_cli(path)
    assert code == 1
    assert {e["rule"] for e in out["errors"]} == {"format_mismatch"}
    assert "--method dpo" in out["errors"][0]["message"]


def test_chat_file_checked_as_dpo_says_what_it_is(tmp_path: Path) -> None:
    code, out = run_cli(write(tmp_path, ("\n".join(valid_lines()) + "\n").encode()), "--method", "dpo")
    assert code == 1 and {e["rule"] for e in out["errors"]} == {"format_mismatch"}
    assert "supervised (chat) example" in out["errors"][0]["message"]


P = preference(99)
DPO_DEFECTS: list[tuple[str, Any, str]] = [
    ("no_input", {k: v for k, v in P.items() if k != "input"}, "missing_input"),
    ("input_not_object", {**P, "input": [U]}, "missing_input"),
    ("input_empty_messages", {**P, "input": {"messages": []}}, "missing_input"),
    ("no_preferred", {k: v for k, v in P.items() if k != "preferred_output"}, "missing_output"),
    ("non_preferred_empty", {**P, "non_preferred_output": []}, "missing_output"),
    ("output_not_list", {**P, "preferred_output": A}, "missing_output"),
    ("user_in_output", {**P, "preferred_output": [U, A]}, "invalid_output_role"),
    ("output_without_assistant", {**P, "non_preferred_output": [
        {"role": "tool", "tool_call_id": "c", "content": "x"}]}, "invalid_output_role"),
    ("input_without_user", {**P, "input": {"messages": [SYS]}}, "input_missing_user"),
    ("unknown_top_key", {**P, "score": 0.7}, "unrecognized_key"),
    ("unknown_input_key", {**P, "input": {**P["input"], "temperature": 1}}, "unrecognized_key"),
    ("bad_message_in_output", {**P, "preferred_output": [{"role": "assistant", "content": ""}]}, "missing_content"),
    ("legacy_line", {"prompt": "hi", "completion": "there"}, "legacy_prompt_completion"),
]


@pytest.mark.parametrize("bad,rule", [(b, r) for _, b, r in DPO_DEFECTS], ids=[i for i, _, _ in DPO_DEFECTS])
def test_dpo_defect_is_reported_at_its_line(bad: Any, rule: str) -> None:
    report = dataset.validate_bytes(with_preference_defect(line(bad), at=4), method="dpo")
    assert report.exit_code == 1
    assert (4, rule) in rules(report)
    assert {ln for ln, _ in rules(report)} == {4}, report.errors


def test_identical_outputs_warn() -> None:
    same = {**P, "non_preferred_output": P["preferred_output"]}
    report = dataset.validate_bytes(with_preference_defect(line(same), at=2), method="dpo")
    assert report.exit_code == 0 and [(w.line, w.rule) for w in report.warnings] == [(2, "identical_outputs")]


def test_dpo_tools_in_input_are_checked_and_counted() -> None:
    pair = {"input": {"messages": [U], "tools": [], "parallel_tool_calls": True},
            "preferred_output": [{"role": "assistant", "tool_calls": [tool_call()]},
                                 {"role": "tool", "tool_call_id": "call_1", "content": "-3 C"}, A],
            "non_preferred_output": [A | {"content": "No idea."}]}
    report = dataset.validate_bytes(with_preference_defect(line(pair), at=3), method="dpo")
    assert report.errors == [] and report.exit_code == 0


@pytest.mark.parametrize("model,ok", [("gpt-4o", True), ("gpt-4.1", True), ("gpt-4.1-mini", True),
                                      ("gpt-4.1-nano", False), ("gpt-4o-mini", False)])
def test_dpo_only_on_the_models_azure_documents(model: str, ok: bool) -> None:
    data = ("\n".join(preference_lines(12)) + "\n").encode()
    report = dataset.validate_bytes(data, method="dpo", model=model)
    if ok:
        assert report.exit_code == 0, report.errors
    else:
        assert rules(report) == [(0, "model_not_dpo_capable")]
        assert "gpt-4.1-2025-04-14" in report.errors[0].message


def test_dpo_needs_ten_training_examples_but_a_validation_file_does_not(tmp_path: Path) -> None:
    path = write(tmp_path, ("\n".join(preference_lines(4)) + "\n").encode())
    code, out = run_cli(path, "--method", "dpo")
    assert code == 1 and [e["rule"] for e in out["errors"]] == ["too_few_examples"]
    code, out = run_cli(path, "--method", "dpo", "--validation")
    assert code == 0, out["errors"]


def test_any_method_checks_each_line_by_its_own_format() -> None:
    mixed = ("\n".join(valid_lines(3) + preference_lines(3)) + "\n").encode()
    assert dataset.validate_bytes(mixed, method="any", min_examples=0).errors == []
    assert {p.rule for p in dataset.validate_bytes(mixed, min_examples=0).errors} == {"format_mismatch"}


# --------------------------------------------------------------------------- validation files (issue 12, item 8)


def test_validation_file_with_five_examples_passes_as_a_validation_file(tmp_path: Path) -> None:
    path = write(tmp_path, ("\n".join(valid_lines(5)) + "\n").encode())
    assert run_cli(path)[0] == 1
    code, out = run_cli(path, "--validation")
    assert (code, out["errors"]) == (0, [])


# --------------------------------------------------------------------------- vision (issue 12, item 9)


def image(url: str) -> dict[str, Any]:
    return {"type": "image_url", "image_url": {"url": url}}


def image_example(*urls: str) -> str:
    return messages(SYS, {"role": "user", "content": [{"type": "text", "text": "What is this place?"},
                                                      *[image(u) for u in urls]]}, A)


PNG = "data:image/png;base64," + base64.b64encode(b"\x89PNG\r\n\x1a\n" + b"\0" * 64).decode()


def test_images_pass_on_vision_models_only() -> None:
    data = with_defect(image_example(PNG, "https://example.com/a.jpg"), at=3)
    for model in ("gpt-4o", "gpt-4.1"):
        assert dataset.validate_bytes(data, model=model).exit_code == 0
    for model in ("gpt-4o-mini", "gpt-4.1-mini", "gpt-4.1-nano"):
        report = dataset.validate_bytes(data, model=model)
        assert rules(report) == [(3, "model_not_vision_capable")], model
        assert "gpt-4o-2024-08-06" in report.errors[0].message


def test_vision_model_error_is_reported_once_per_file() -> None:
    lines = [image_example(PNG)] * 3 + valid_lines(9)
    report = dataset.validate_bytes(("\n".join(lines) + "\n").encode(), model="gpt-4o-mini")
    assert [r for _, r in rules(report)] == ["model_not_vision_capable"]
    assert report.stats.image_examples == 3


@pytest.mark.parametrize("urls,rule", [
    ([PNG] * 65, "too_many_images"),
    (["data:image/gif;base64,R0lGODlhAQABAAAAACw="], "unsupported_image_format"),
    (["https://example.com/pictures/cat.GIF?size=large"], "unsupported_image_format"),
    (["file:///home/me/cat.png"], "unsupported_image_format"),
    (["data:image/jpeg;base64," + "A" * (14 * 1024 * 1024)], "image_too_large"),
])
def test_vision_limits(urls: list[str], rule: str) -> None:
    report = dataset.validate_bytes(with_defect(image_example(*urls), at=6), model="gpt-4.1")
    assert rule in {r for ln, r in rules(report) if ln == 6}, report.errors


def test_64_images_and_webp_are_fine() -> None:
    webp = "data:image/webp;base64,UklGRg=="
    report = dataset.validate_bytes(with_defect(image_example(*([webp] * 64)), at=6), model="gpt-4.1")
    assert report.exit_code == 0 and report.stats.image_parts == 64


# --------------------------------------------------------------------------- tools (issue 12, item 10)


def test_tool_calls_count_as_trained_tokens() -> None:
    """Azure's own tool example (how-to/fine-tuning-functions.md): the assistant's call is what it learns."""
    call_only = messages({"role": "user", "content": "What is the weather in San Francisco?"},
                         {"role": "assistant", "tool_calls": [tool_call('{"location": "San Francisco, USA"}')]},
                         tools=[])
    report = dataset.validate_bytes(("\n".join([call_only] * 10) + "\n").encode())
    assert report.exit_code == 0, report.errors
    from jobs.tokens import count

    per_example = count("get_weather") + count('{"location": "San Francisco, USA"}')
    assert report.stats.assistant_tokens == 10 * per_example
    assert "assistant (trained) tokens: 0;" not in report.to_text()
    weighted = call_only.replace('"role": "assistant"', '"role": "assistant", "weight": 0')
    assert dataset.validate_bytes(("\n".join([weighted] * 10) + "\n").encode()).stats.assistant_tokens == 0


# --------------------------------------------------------------------------- legacy format (issue 12, item 11)


def test_legacy_prompt_completion_line_says_how_to_convert_it(tmp_path: Path) -> None:
    legacy = "\n".join(line({"prompt": f"Where is {p}?", "completion": f" {p} is lovely."})
                       for p in ("Rome", "Oslo", "Lima", "Kyoto", "Porto", "Cusco", "Busan", "Tbilisi", "Matera",
                                 "Hoi An"))
    code, out = run_cli(write(tmp_path, (legacy + "\n").encode()))
    assert code == 1
    assert {e["rule"] for e in out["errors"]} == {"legacy_prompt_completion"}
    msg = out["errors"][0]["message"]
    assert "legacy prompt/completion format" in msg and '"messages"' in msg and '"role": "user"' in msg
    assert "missing_messages_list" not in json.dumps(out["rule_counts"])


def test_unknown_method_is_a_usage_error() -> None:
    from jobs.errors import UsageError

    with pytest.raises(UsageError, match="unknown method"):
        dataset.validate_bytes(b"", method="rlhf")


def test_example_builders_share_the_lab_system_message() -> None:
    assert example(1)["messages"][0]["content"] == SYSTEM == preference(1)["input"]["messages"][0]["content"]
