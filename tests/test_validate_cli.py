"""``python -m jobs validate``: compiler-style lines, the summary, --json, exit codes, big inputs."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from jobs.cli import cli
from tests.support.datasets import SYS, USER, line, example, messages, with_defect, write
from tests.support.paths import REPO



def run(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(cli, ["validate", *args])
    return result.exit_code, result.stdout, result.stderr


def test_text_output_is_compiler_style(tmp_path: Path) -> None:
    path = write(tmp_path, with_defect(messages(SYS, USER), at=3))
    code, out, _ = run(str(path))
    assert code == 1
    lines = out.splitlines()
    assert lines[0].startswith(f"{path}:3: example_missing_assistant_message: ")
    assert f"{path}: INVALID: 12 examples, 1 error, 0 warnings" in lines


def test_text_summary(mslearn_data: Path) -> None:
    code, out, _ = run(str(mslearn_data / "travel-finetune-hotel.jsonl"), "--price-per-1m", "25")
    assert code == 0
    assert ": valid: 10 examples, 0 errors, 0 warnings" in out
    assert "tokens per example: min " in out and "median " in out and "p90 " in out and "max " in out
    assert "assistant (trained) tokens" in out
    assert "num_tokens_from_messages" in out  # the convention is stated
    assert "epochs: 10 (cookbook default" in out
    assert "billed tokens: " in out
    assert "estimated training cost: $" in out and "$25 per 1M" in out


def test_json_output_shape(mslearn_data: Path) -> None:
    code, out, _ = run(str(mslearn_data / "travel-finetune-validation.jsonl"), "--json")
    assert code == 1
    obj = json.loads(out)
    assert {"valid", "examples", "errors", "warnings", "stats", "estimate"} <= set(obj)
    assert obj["valid"] is False
    assert obj["errors"][0] == {"line": 0, "rule": "too_few_examples",
                                "message": obj["errors"][0]["message"]}
    assert {"tokens_min", "tokens_median", "tokens_p90", "tokens_max", "total_tokens",
            "assistant_tokens"} <= set(obj["stats"])
    assert {"epochs", "billed_tokens", "cost_usd", "model"} <= set(obj["estimate"])


@pytest.mark.parametrize("args,needle", [
    (["/no/such/file.jsonl"], "no such file"),
    (["{hotel}", "--model", "gpt-99"], "unknown model"),
    (["{hotel}", "--price-per-1m", "-3"], "--price-per-1m"),
    (["{dir}"], "is a folder, not a file"),
    ([""], "no file given (the path is empty)"),
    (["/dev/zero"], "/dev/zero is not a regular file"),  # a device never ends: refused, not read
    (["{hotel}", "--price-per-1m", "inf"], "--price-per-1m"),
    (["{hotel}", "--price-per-1m", "nan"], "--price-per-1m"),
])
def test_usage_errors_exit_2(mslearn_data: Path, tmp_path: Path, args: list[str], needle: str) -> None:
    args = [a.format(hotel=mslearn_data / "travel-finetune-hotel.jsonl", dir=tmp_path) for a in args]
    code, out, err = run(*args)
    assert code == 2
    assert needle in err
    assert "fix:" in err or "validate --help' for help" in err
    assert "Traceback" not in out + err


def test_usage_error_in_json_mode_is_json() -> None:
    code, out, _ = run("/no/such/file.jsonl", "--json")
    assert code == 2
    assert json.loads(out)["error"]["exit_code"] == 2


@pytest.mark.subprocess
def test_real_process_exit_codes(tmp_path: Path, mslearn_data: Path) -> None:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    good = subprocess.run([sys.executable, "-m", "jobs", "validate", str(mslearn_data / "travel-finetune-hotel.jsonl")],
                          capture_output=True, text=True, cwd=REPO, env=env)
    bad = subprocess.run([sys.executable, "-m", "jobs", "validate", str(mslearn_data / "travel-finetune-validation.jsonl")],
                         capture_output=True, text=True, cwd=REPO, env=env)
    assert (good.returncode, bad.returncode) == (0, 1)
    assert "Traceback" not in good.stderr + bad.stderr


_RSS = ("import resource, sys\n"
        "from jobs.dataset import validate_file\n"
        "r = validate_file(sys.argv[1])\n"
        "print(r.exit_code, ','.join(sorted({p.rule for p in r.errors})), "
        "resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, sep='|')\n")


def _rss(path: Path) -> tuple[int, str, int]:
    out = subprocess.run([sys.executable, "-c", _RSS, str(path)], capture_output=True, text=True, cwd=REPO,
                         env={**os.environ, "PYTHONPATH": str(REPO)}, check=True).stdout.strip().split("|")
    return int(out[0]), out[1], int(out[2])  # ru_maxrss is in KiB on Linux


@pytest.mark.subprocess
def test_100mb_single_line_keeps_memory_flat(tmp_path: Path) -> None:
    small = write(tmp_path, with_defect(line(example(3))), "small.jsonl")
    big = tmp_path / "big.jsonl"
    with open(big, "wb") as f:
        f.write(b'{"messages": [{"role": "user", "content": "')
        chunk = b"a" * (1 << 20)
        for _ in range(100):
            f.write(chunk)
        f.write(b'"}]}')  # no newline at all: one 100 MB line
    code_s, _, rss_small = _rss(small)
    code_b, rules, rss_big = _rss(big)
    assert code_s == 0
    assert code_b == 1
    assert rules == "example_too_long,too_few_examples"
    assert rss_big - rss_small < 40 * 1024, (rss_small, rss_big)  # far below the line's 100 MB


@pytest.mark.subprocess
def test_help_does_not_import_the_validator() -> None:
    code = ("import sys, jobs.cli\n"
            "from click.testing import CliRunner\n"
            "CliRunner().invoke(jobs.cli.cli, ['validate', '--help'])\n"
            "print('tiktoken' in sys.modules, 'jobs.dataset' in sys.modules)\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO, check=True)
    assert out.stdout.split() == ["False", "False"]


def test_lone_surrogates_and_odd_keys_print_safely(tmp_path: Path) -> None:
    bad = b'{"messages": [{"role": "\\ud800", "content": "x", "\\udfff": 1}, {"role": "assistant", "content": "\\ud83d"}]}'
    path = write(tmp_path, with_defect(bad, at=2))
    for args in ([], ["--json"]):
        code, out, err = run(str(path), *args)
        assert code == 1
        assert "Traceback" not in out + err
    code, out, _ = run(str(path), "--json")
    rules = {(e["line"], e["rule"]) for e in json.loads(out)["errors"]}
    assert rules == {(2, "unrecognized_role"), (2, "message_unrecognized_key")}


# --------------------------------------------------------------------------- issue 21, items 12 and 13

_COST_WORDS = ("epochs:", "billed tokens", "estimated training cost", "--price-per-1m")


@pytest.mark.parametrize("name, data", [
    ("empty", b""),
    ("blank", b"\n\n"),
    ("binary", bytes(range(128, 256)) * 30),
    ("one line too long to parse", b'{"messages": "' + b"a" * (65_536 * 128 + 10) + b'"}\n'),
])
def test_an_invalid_file_gets_no_training_estimate(tmp_path: Path, name: str, data: bytes) -> None:
    path = write(tmp_path, data)
    code, out, _ = run(str(path), "--price-per-1m", "25")
    assert code == 1 and f"{path}: INVALID: " in out
    for words in _COST_WORDS:
        assert words not in out, (name, out)
    assert "tokens per example" not in out  # nothing was counted
    assert "no training estimate for an invalid file" in out


def test_an_invalid_file_with_counted_examples_keeps_its_token_figures(tmp_path: Path) -> None:
    path = write(tmp_path, with_defect(messages(SYS, USER), at=3))
    code, out, _ = run(str(path), "--price-per-1m", "25")
    assert code == 1 and "tokens per example: min " in out
    for words in _COST_WORDS:
        assert words not in out


def test_counts_are_singular_for_one(tmp_path: Path) -> None:
    path = write(tmp_path, (line(example(1)) + "\n\n").encode())
    code, out, _ = run(str(path))
    assert code == 1
    assert f"{path}: INVALID: 1 example, 1 error, 1 warning" in out
    assert "too_few_examples: 1 example; Azure needs at least 10" in out
    assert "trailing_blank_lines: 1 blank line at the end" in out


@pytest.mark.parametrize("data", [b"", b"\n"])
def test_an_empty_validation_file_is_invalid(tmp_path: Path, data: bytes) -> None:
    path = write(tmp_path, data, name="valid.jsonl")
    code, out, _ = run(str(path), "--validation")
    assert code == 1
    assert "too_few_examples: " in out and "a validation file needs at least one example" in out
    code, out, _ = run(str(path), "--validation", "--json")
    assert json.loads(out)["valid"] is False and json.loads(out)["validation"] is True


def test_a_validation_file_gets_no_training_cost(tmp_path: Path) -> None:
    path = write(tmp_path, "".join(line(example(i)) + "\n" for i in range(3)).encode(), name="valid.jsonl")
    code, out, _ = run(str(path), "--validation", "--price-per-1m", "25")
    assert code == 0 and f"{path}: valid: 3 validation examples, 0 errors, 0 warnings" in out
    assert "tokens per example: min " in out
    for words in _COST_WORDS:
        assert words not in out
    assert "a validation file is not trained on" in out


def test_run_refuses_an_empty_validation_file(tmp_path: Path) -> None:
    from jobs.errors import JobFailedError
    from jobs.flow.data import VALIDATION, check_data

    path = write(tmp_path, b"", name="valid.jsonl")
    with pytest.raises(JobFailedError, match="a validation file needs at least one example"):
        check_data(path, model=None, say=lambda _: None, what=VALIDATION)
    ok = write(tmp_path, (line(example(1)) + "\n").encode(), name="one.jsonl")
    assert check_data(ok, model=None, say=lambda _: None, what=VALIDATION).examples == 1
