"""Property-based: whatever the bytes or JSON shapes, the validator never raises and exits 0 or 1."""

from __future__ import annotations

import json
import tempfile
from pathlib import Path
from typing import Any

from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from jobs import dataset
from jobs.cli import cli
from tests.support.datasets import valid_lines

json_scalars = st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20)
json_values = st.recursive(json_scalars, lambda inner: st.lists(inner, max_size=4)
                           | st.dictionaries(st.text(max_size=8), inner, max_size=4), max_leaves=12)
roles = st.sampled_from(["system", "user", "assistant", "tool", "function", "bot", ""]) | json_scalars
message_keys = st.sampled_from(["role", "content", "name", "weight", "tool_calls", "tool_call_id",
                                "function_call", "other"])
messages = st.dictionaries(message_keys, json_values, max_size=5) | st.fixed_dictionaries({"role": roles, "content": json_values})
examples = st.one_of(
    json_values,
    st.fixed_dictionaries({"messages": st.lists(messages | json_values, max_size=5)}),
    st.fixed_dictionaries({"messages": st.lists(messages, min_size=1, max_size=5), "tools": json_values}),
)

SETTINGS = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def _check(report: dataset.Report) -> None:
    assert report.exit_code in (0, 1)
    assert report.valid == (report.errors_total == 0)
    assert all(p.line >= 0 for p in report.errors + report.warnings)
    report.to_text()
    json.dumps(report.to_json())


@SETTINGS
@given(st.binary(max_size=2000))
def test_arbitrary_bytes(data: bytes) -> None:
    _check(dataset.validate_bytes(data))


@SETTINGS
@given(st.lists(examples, min_size=0, max_size=14), st.integers(min_value=0, max_value=12))
def test_arbitrary_json_shapes(objs: list[Any], n_valid: int) -> None:
    lines = valid_lines(n_valid) + [json.dumps(o) for o in objs]
    report = dataset.validate_bytes(("\n".join(lines) + "\n").encode())
    _check(report)
    if not objs and n_valid >= 10:
        assert report.exit_code == 0


@settings(max_examples=15, deadline=None)
@given(st.binary(max_size=400) | st.lists(examples, max_size=12).map(
    lambda objs: "\n".join(json.dumps(o) for o in objs).encode()))
def test_cli_never_tracebacks(data: bytes) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "f.jsonl"
        path.write_bytes(data)
        result = CliRunner().invoke(cli, ["validate", str(path)])
    assert result.exit_code in (0, 1), result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)
    assert "Traceback" not in result.output
