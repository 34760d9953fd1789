"""``python -m jobs grade FILE``: recorded answers checked without calling a model, in both JSONL shapes (and
a compare report); ``validate`` shows the same grading of a training file's answers."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Callable

import pytest

from jobs import lab
from tests.support.cli import CliOutcome
from tests.support.paths import MSLEARN, REPO

LAB = lab.SYSTEM_PROMPT
GOOD = "Rome is a feast! Try cacio e pepe and carbonara, and maritozzi with cream for breakfast. Hungry yet?"
BAD = "Stay at the Hassler above the Spanish Steps, it is lovely. Enjoy the views from the rooftop at night."


def _write(path: Path, lines: list[dict[str, object]]) -> Path:
    path.write_text("".join(json.dumps(x) + "\n" for x in lines), encoding="utf-8")
    return path


def test_grade_a_chat_file_line_by_line(tmp_path: Path, jobs_cli: Callable[..., CliOutcome]) -> None:
    path = _write(tmp_path / "answers.jsonl", [
        {"messages": [{"role": "system", "content": LAB}, {"role": "user", "content": "Food?"},
                      {"role": "assistant", "content": GOOD}]},
        {"messages": [{"role": "system", "content": LAB}, {"role": "user", "content": "Where to stay?"},
                      {"role": "assistant", "content": BAD}]},
        {"messages": [{"role": "user", "content": "no answer here"}]},
    ])
    result = jobs_cli("grade", str(path), "--json")
    assert result.exit_code == 0, result.stderr
    data = result.json
    assert [r["line"] for r in data["rows"]] == [1, 2, 3]
    first, second, third = data["rows"]
    assert all(c["passed"] for c in first["checks"].values())
    assert set(first["checks"]) == {"no_recommendations", "asks_question", "on_topic", "style"}
    assert second["checks"]["no_recommendations"] == {"passed": False, "evidence": "Hassler"}
    assert second["checks"]["asks_question"]["passed"] is False
    assert third["checks"] == {} and "not the assistant's answer" in third["error"]
    assert data["summary"]["no_recommendations"]["passed"] == 1 and data["summary"]["no_recommendations"]["total"] == 2
    text = jobs_cli("grade", str(path))
    assert f"{path}:2: fails no_recommendations (Hassler)" in text.stdout
    assert f"{path}:3: not graded" in text.stdout


def test_grade_query_response_lines_and_the_system_prompt_option(tmp_path: Path,
                                                                 jobs_cli: Callable[..., CliOutcome]) -> None:
    path = _write(tmp_path / "qr.jsonl", [{"query": "Where to stay in Rome?", "response": BAD},
                                          {"query": "Food in Rome?", "response": GOOD}])
    result = jobs_cli("grade", str(path), "--json")
    assert result.exit_code == 0 and result.json["shape"] == "query-response"
    assert [r["checks"]["no_recommendations"]["passed"] for r in result.json["rows"]] == [False, True]
    short = tmp_path / "short.txt"
    short.write_text(lab.SHORT_PROMPT)
    only = jobs_cli("grade", str(path), "--system-prompt", str(short), "--json")
    # the short message states no rule against recommendations and asks for no questions
    assert only.json["checks"] == ["on_topic", "style"]
    assert all(set(r["checks"]) == {"on_topic", "style"} for r in only.json["rows"])


def test_grade_the_training_data_and_the_labs_files(jobs_cli: Callable[..., CliOutcome]) -> None:
    ours = jobs_cli("grade", str(REPO / "data" / "travel-train.jsonl"), "--json")
    assert ours.exit_code == 0
    assert all(c["rate"] == 1.0 for c in ours.json["summary"].values())
    hotel = jobs_cli("grade", str(MSLEARN / "travel-finetune-hotel.jsonl"), "--json")
    assert hotel.json["summary"]["no_recommendations"]["passed"] == 10
    validation = jobs_cli("grade", str(MSLEARN / "travel-finetune-validation.jsonl"), "--json")
    assert validation.exit_code == 0 and all(r["checks"] == {} for r in validation.json["rows"])


@pytest.mark.parametrize("content, words", [
    (None, "does not exist"),
    ('{"messages": [{"role": "user", "content": "q"}, {"role": "assistant", "content": "a"}]}\n'
     '{"query": "q", "response": "r"}\n', "mixes chat lines"),
    ('{"prompt": "x"}\n', "neither chat messages nor a query/response pair"),
    ("not json\n", ":1: not valid JSON"),
    ("\n", "no answers to grade"),
])
def test_grade_usage_errors(tmp_path: Path, jobs_cli: Callable[..., CliOutcome], content: str | None,
                            words: str) -> None:
    path = tmp_path / "x.jsonl"
    if content is not None:
        path.write_text(content)
    result = jobs_cli("grade", str(path))
    assert result.exit_code == 2 and words in result.stderr and "fix:" in result.stderr


def test_grade_refuses_a_json_file_that_is_not_a_report(tmp_path: Path, jobs_cli: Callable[..., CliOutcome]) -> None:
    path = tmp_path / "report.json"
    path.write_text(json.dumps({"schema_version": 1, "rows": "no"}))
    result = jobs_cli("grade", str(path))
    assert result.exit_code == 2 and "is not a compare report" in result.stderr


def test_validate_shows_the_grading_of_the_answers(jobs_cli: Callable[..., CliOutcome], tmp_path: Path) -> None:
    result = jobs_cli("validate", str(REPO / "data" / "travel-train.jsonl"))
    assert "answers vs their system message's rules (python -m jobs grade): no_recommendations 62/62, " \
           "asks_question 62/62, on_topic 62/62" in result.stdout
    lines = [{"messages": [{"role": "system", "content": LAB}, {"role": "user", "content": f"Question {i}?"},
                           {"role": "assistant", "content": BAD if i in (2, 5) else GOOD}]} for i in range(1, 11)]
    mixed = jobs_cli("validate", str(_write(tmp_path / "mixed.jsonl", lines)), "--json")
    assert mixed.exit_code == 0  # the grading never changes validity
    assert mixed.json["answers"]["failing_lines"]["no_recommendations"] == [2, 5]
    assert mixed.json["answers"]["checks"]["no_recommendations"]["passed"] == 8
    assert mixed.json["answers"]["all"] is True and "answers only" not in result.stdout
    invalid = jobs_cli("validate", str(MSLEARN / "travel-finetune-validation.jsonl"), "--json")
    assert invalid.exit_code == 1 and "answers" not in invalid.json


def test_validate_grades_the_first_answers_of_a_big_file(jobs_cli: Callable[..., CliOutcome],
                                                         tmp_path: Path) -> None:
    """validate stays fast on a big file: its first 200 answers are graded, and it says so; grade grades all."""
    lines = [{"messages": [{"role": "system", "content": LAB}, {"role": "user", "content": f"Question {i}?"},
                           {"role": "assistant", "content": BAD if i in (3, 120) else GOOD}]} for i in range(1, 151)]
    path = _write(tmp_path / "big.jsonl", lines)
    text = jobs_cli("validate", str(path))
    assert text.exit_code == 0, text.stderr
    assert "no_recommendations 99/100" in text.stdout
    assert f"(the first 100 answers only; `python -m jobs grade {path}` grades them all)" in text.stdout
    data = jobs_cli("validate", str(path), "--json").json["answers"]
    assert data["graded"] == 100 and data["all"] is False and data["failing_lines"]["no_recommendations"] == [3]
    every = jobs_cli("grade", str(path), "--json").json
    assert every["summary"]["no_recommendations"]["passed"] == 148


# --------------------------------------------------------------------------- bad files (issue 21, items 10 and 11)


@pytest.mark.parametrize("content, words", [
    ('{"messages": [{"role": "user", "content": "Caf\xe9?"}, {"role": "assistant", "content": "Yes."}]}\n'.encode(
        "latin-1"), ":1: byte 47 of the line (b'\\xe9') is not UTF-8"),
    (b'\xef\xbb\xbf{"query": "q", "response": "fine"}\n{"query": "q", "response": "caf\xc3"}\n',
     ":2: byte 32 of the line (b'\\xc3') is not UTF-8"),
    ("\ufeff".encode("utf-16-le") + '{"query": "q", "response": "r"}\n'.encode("utf-16-le"),
     ":1: byte 1 of the line (b'\\xff') is not UTF-8"),
    (bytes(range(128, 256)) * 4, ":1: byte 1 of the line (b'\\x80') is not UTF-8"),
])
def test_grade_a_file_that_is_not_utf8(tmp_path: Path, jobs_cli: Callable[..., CliOutcome], content: bytes,
                                       words: str) -> None:
    path = tmp_path / "answers.jsonl"
    path.write_bytes(content)
    result = jobs_cli("grade", str(path))
    assert result.exit_code == 2, result.stderr
    assert f"error: {path}{words}" in result.stderr and "fix: save the file as UTF-8" in result.stderr


@pytest.mark.parametrize("line, kind", [("[1,2,3]", "an array ([1, 2, 3])"), ('"text"', 'a string ("text")'),
                                        ("42", "a number (42)"), ("null", "null (null)"), ("true", "a boolean")])
def test_grade_refuses_a_line_that_is_not_an_object(tmp_path: Path, jobs_cli: Callable[..., CliOutcome], line: str,
                                                    kind: str) -> None:
    path = tmp_path / "answers.jsonl"
    path.write_text('{"query": "Food in Rome?", "response": "Pasta! Hungry?"}\n' + line + "\n")
    result = jobs_cli("grade", str(path))
    assert result.exit_code == 2, result.stdout
    assert f"error: {path}:2: {kind}" in result.stderr and "not a JSON object" in result.stderr
    assert '{"messages": [' in result.stderr and '{"query": ..., "response": ...}' in result.stderr  # the shapes
    assert "graded" not in result.stdout


def test_grade_counts_only_the_answers_it_graded(tmp_path: Path, jobs_cli: Callable[..., CliOutcome]) -> None:
    path = _write(tmp_path / "answers.jsonl", [
        {"messages": [{"role": "system", "content": LAB}, {"role": "user", "content": "Food?"},
                      {"role": "assistant", "content": GOOD}]},
        {"messages": [{"role": "user", "content": "no answer here"}]},
    ])
    result = jobs_cli("grade", str(path))
    assert result.exit_code == 0
    assert result.stdout.startswith(f"{path}: 1 answer graded, 1 not graded (chat-jsonl)")
