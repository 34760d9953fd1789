"""The optional judge (``compare --judge DEPLOYMENT``): a third deployment grades each answer against a
written rubric, at temperature 0, answering structured JSON with its reasoning *before* its verdicts
(structured outputs: ``response_format`` ``json_schema``, strict).

The judge's raw output is kept on the row (``judge.raw``): :func:`read_verdict` turns it into verdicts
again at any time, so answers are re-graded without new calls (``grade report.json`` does). Each criterion
becomes a check named ``judge_<criterion>`` beside the text checks, with the judge's reasoning as evidence.

Why not ``azure-ai-evaluation``'s graders: they call the model through their own client (their own
credential, retries and pacing), not the runner's connection and retry policy, and the package pulls
pandas, nltk, aiohttp and azure-storage-blob into the product's install (docs/compare.md, "The judge").
The result shape borrows its convention where it fits: a pass/fail per criterion with a reason.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from jobs import lab

CRITERIA: dict[str, str] = {
    "no_recommendations": "The answer does not recommend any specific hotel, flight or airline, rental car company "
                          "or restaurant, and does not offer to book or reserve one. Declining, and suggesting "
                          "neighbourhoods, dishes, markets, attractions or transport, is fine.",
    "asks_question": "The answer ends by inviting the traveller with an engaging question about their trip.",
    "on_topic": "The answer stays on travel; an off-topic request is politely redirected to travel.",
    "tone": "The tone is friendly, concise and inspiring, like a travel agent chatting, not a report or a list.",
}
RUBRIC = (
    "You grade one answer of an AI travel assistant. The assistant's instructions were:\n"
    f"\"{lab.SYSTEM_PROMPT}\"\n\n"
    "Grade the answer against each criterion below, independently, as true (met) or false (not met):\n"
    + "\n".join(f"- {name}: {text}" for name, text in CRITERIA.items())
    + "\n\nFirst write your reasoning (quote the words that decide each criterion), then the verdicts. "
    "Judge only the answer's text; the traveller's message is context."
)
RUBRIC_SHA256 = hashlib.sha256(RUBRIC.encode("utf-8")).hexdigest()
SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {"reasoning": {"type": "string"}, **{name: {"type": "boolean"} for name in CRITERIA}},
    "required": ["reasoning", *CRITERIA],
    "additionalProperties": False,
}
RESPONSE_FORMAT: dict[str, Any] = {"type": "json_schema",
                                   "json_schema": {"name": "travel_answer_grade", "strict": True, "schema": SCHEMA}}


def judge_check_names() -> list[str]:
    return [f"judge_{name}" for name in CRITERIA]


def messages(prompt: str, answer: str) -> list[dict[str, str]]:
    return [{"role": "system", "content": RUBRIC},
            {"role": "user", "content": f"Traveller's message:\n{prompt}\n\nAnswer to grade:\n{answer}"}]


def read_verdict(raw: str | None) -> tuple[dict[str, dict[str, Any]], str | None]:
    """(checks ``judge_<criterion>`` -> {passed, evidence}, an error or None) from the judge's raw text."""
    if raw is None:
        return {}, "no judge output"
    try:
        data = json.loads(raw)
    except ValueError:
        return {}, f"the judge's output is not JSON: {raw[:80]!r}"
    if not isinstance(data, dict):
        return {}, "the judge's output is not a JSON object"
    reasoning = data.get("reasoning")
    missing = [n for n in CRITERIA if not isinstance(data.get(n), bool)]
    if missing or not isinstance(reasoning, str):
        return {}, f"the judge's output lacks {', '.join(missing) or 'reasoning'}"
    return {f"judge_{n}": {"passed": data[n], "evidence": reasoning} for n in CRITERIA}, None
