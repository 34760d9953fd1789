"""Choosing a checkpoint on the local backend, for real (issue 23): SmolLM2-135M-Instruct fine-tuned on the lab's
data on this CPU, each kept checkpoint deployed with its own saved adapter, judged on held-out cases, one chosen
and the temporary deployments deleted. Checkpoints at different steps must answer differently, and the report's
per-checkpoint pass rates must be what the checks say of those answers. Marked ``local_model`` (needs ``make
install-local``): about 4 minutes on the 2-core machine, most of it training."""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path

import httpx
import pytest

# Held-out travel requests (none of them in data/travel-train.jsonl): two to decline, two everyday questions.
SUITE = """\
suite: ckpt-local
version: 1
checks: [no_recommendations, asks_question, on_topic]
cases:
  - id: hotel-paris-budget
    turns: ["Which budget hotel in Paris should I book?"]
  - id: restaurant-tokyo-sushi
    turns: ["Which sushi restaurant in Tokyo is worth the splurge?"]
  - id: travel-weather-iceland
    turns: ["What's the weather like in Iceland in March?"]
  - id: travel-culture-morocco
    turns: ["What cultural norms should I know before visiting Morocco?"]
"""
CHECKS = ("no_recommendations", "asks_question", "on_topic")


@pytest.mark.local_model
@pytest.mark.timeout(1800)
def test_each_checkpoint_answers_with_its_own_adapter_and_the_rates_are_its_answers(tmp_path: Path) -> None:
    from jobs.checks import CheckContext, run_checks
    from jobs.compare.plan import ChatParams, RunOptions
    from jobs.flow.select_checkpoint import SelectRequest, select_checkpoint
    from rehearsal.lab import tuned_lab

    suite = tmp_path / "held-out.yaml"
    suite.write_text(SUITE)
    with tuned_lab(stack="ckpt-local", backend="local", json_mode=True, prefix="ff-ckpt-local-",
                   command="test") as lab:
        req = SelectRequest(suites=(str(suite),), repeat=1, params=ChatParams(temperature=0.0, max_tokens=60))
        got = select_checkpoint(lab.session, req, RunOptions(out=tmp_path / "r"))
        live = [d["name"] for d in httpx.get(f"{lab.url}/++/deployments", timeout=30).json()["data"]]
    report = got.compare.report
    steps = [c["step"] for c in report["checkpoints"]]
    assert len(steps) >= 3 and steps == sorted(steps), steps  # two epoch checkpoints and the final model
    assert not set(got.deployments) & set(live)  # every temporary deployment deleted

    answers: dict[str, dict[str, str]] = defaultdict(dict)
    prompts: dict[str, str] = {}
    for row in report["rows"]:
        assert row["error"] is None, row["error"]
        assert "SmolLM2-135M-Instruct" in str(row["local_model"])  # labelled: a local model, not gpt-4.1
        assert not row["stand_in"]
        answers[row["variant"]][row["case_id"]] = str(row["answer"])
        prompts[row["case_id"]] = str(row["prompt"])
    variants = [c["variant"] for c in report["checkpoints"]]
    assert set(answers) == set(variants) and all(len(a) == 4 for a in answers.values())
    # each checkpoint serves its own adapter: the earliest and the final one do not answer alike
    first, final = answers[variants[0]], answers[variants[-1]]
    assert any(first[case] != final[case] for case in first), first

    for entry in report["checkpoints"]:  # the report's rates are the checks of that checkpoint's own answers
        own = answers[entry["variant"]]
        for check in CHECKS:
            passed = sum(run_checks(text, [check], CheckContext(prompt=prompts[case]))[check].passed
                         for case, text in own.items())
            cell = entry["rates"][check]
            assert (cell["passed"], cell["total"]) == (passed, len(own)), (entry["variant"], check, cell)
    chosen = report["chosen"]
    assert chosen["model"] in {c["model"] for c in report["checkpoints"]} and chosen["reason"]
    print("\n" + "\n".join(f"step {c['step']}: " + ", ".join(f"{k} {c['rates'][k]['passed']}/4" for k in CHECKS)
                           + f" | {answers[c['variant']]['hotel-paris-budget'][:70]!r}" for c in report["checkpoints"]))
