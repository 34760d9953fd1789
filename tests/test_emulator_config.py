"""Emulator config: every mistake names the key (or file and line) and the fix; limits derive from capacity."""

from __future__ import annotations

import json

import pytest

from emulator.config import EmulatorConfig
from jobs.errors import UsageError


@pytest.mark.parametrize("data,needle", [
    ({"deployments": {"d": {"capacity": 5}}}, "deployments.d"),
    ({"deployments": {"d": {"model": "gpt-4.1", "capacity": -1}}}, "deployments.d.capacity"),
    ({"deployments": ["gpt-4.1"]}, "deployments"),
    ({"faults": {"kinds": ["404"]}}, "faults.kinds"),
    ({"faults": {"rate": 1.5}}, "faults.rate"),
    ({"faults": {"retry_after_seconds": -1}}, "faults.retry_after_seconds"),
    ({"faults": {"rate": "often"}}, "faults.rate"),
    ({"latency": {"fixed": 3}}, "latency.fixed"),
    ({"limits": {"enabled": "yes"}}, "limits.enabled"),
    ({"queue_seconds": -1}, "queue_seconds"),
    ({"api_keys": "one-key"}, "api_keys"),
    ({"default_epochs": 0}, "default_epochs"),
    ({"training_second": 3}, "training_second"),
])
def test_bad_config_names_the_key(data, needle):
    with pytest.raises(UsageError) as info:
        EmulatorConfig.from_dict(data, source="em.json")
    assert needle in info.value.message and info.value.message.startswith("em.json")
    assert info.value.hint


def test_unknown_fault_kind_names_the_key_and_the_allowed_kinds():
    with pytest.raises(UsageError) as info:
        EmulatorConfig.from_dict({"faults": {"rate": 0.2, "kinds": ["429", "timeout"]}}, source="em.json")
    msg = info.value.message
    assert "faults.kinds" in msg and "'timeout'" in msg
    for kind in ("429", "500", "503", "drop"):
        assert f'"{kind}"' in msg and f'"{kind}"' in (info.value.hint or "")


def test_every_fault_kind_is_accepted():
    cfg = EmulatorConfig.from_dict({"faults": {"rate": 0.2, "kinds": ["429", "500", "503", "drop"],
                                               "retry_after_seconds": 0.05}})
    assert cfg.faults.kinds == ["429", "500", "503", "drop"] and cfg.faults.retry_after_seconds == 0.05


def test_apply_is_all_or_nothing():
    cfg = EmulatorConfig()
    with pytest.raises(UsageError):
        cfg.apply({"training_seconds": 1, "faults": {"rate": 7}})
    assert cfg.training_seconds == 30.0 and cfg.faults.rate == 0.0


def test_file_errors_name_file_and_line(tmp_path):
    missing = tmp_path / "nope.json"
    with pytest.raises(UsageError) as info:
        EmulatorConfig.from_file(missing)
    assert str(missing) in info.value.message
    bad = tmp_path / "bad.json"
    bad.write_text('{\n  "queue_seconds": 1,\n  "faults": {rate: 1}\n}')
    with pytest.raises(UsageError) as info:
        EmulatorConfig.from_file(bad)
    assert f"{bad}, line 3" in info.value.message
    arr = tmp_path / "arr.json"
    arr.write_text("[]")
    with pytest.raises(UsageError):
        EmulatorConfig.from_file(arr)


def test_limits_follow_azures_capacity_ratio(tmp_path):
    path = tmp_path / "em.json"
    path.write_text(json.dumps({"deployments": {"a": {"model": "gpt-4.1", "capacity": 10},
                                                "b": {"model": "gpt-4.1", "tpm": 500, "rpm": 2}}}))
    cfg = EmulatorConfig.from_file(path)
    assert (cfg.tpm("a"), cfg.rpm("a")) == (10_000, 60)
    assert (cfg.tpm("b"), cfg.rpm("b")) == (500, 2)


def test_keys_are_redacted_in_dumps():
    cfg = EmulatorConfig.from_dict({"api_keys": ["k-123456789"]})
    dumped = json.dumps(cfg.to_dict())
    assert "k-123456789" not in dumped and "1 key(s) set" in dumped
