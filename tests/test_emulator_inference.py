"""Chat completions for compare/grade/chat (issue 9's emulator part) and the minimal Responses API (issue 12, item 2).

Chat: ``n``, ``max_tokens``/``max_completion_tokens``, ``seed``, ``response_format`` (json_object, json_schema),
the content filter, multi-turn answers that stay on the conversation's place, latency and rate-limit headers.
Responses: ``input`` as text or messages, ``instructions``, ``output_text``, ``max_output_tokens``, streaming.
"""

from __future__ import annotations

import asyncio
import json
import re
import time
from typing import Any

import httpx
import jsonschema
import openai
import pytest
from pydantic import BaseModel

from emulator import chat
from jobs import tokens
from tests.support.clients import sdk_client
from tests.support.http import Raw
from tests.support.spec import check_response, check_response_event

STAY = [{"role": "system", "content": "You should not provide any hotel, flight, rental car or restaurant "
                                      "recommendations."},
        {"role": "user", "content": "Where should I stay in Rome?"}]
CHAT = "/deployments/gpt-4.1/chat/completions"


def post_chat(raw: Raw, **body: Any) -> Any:
    return raw.post(CHAT, json={"messages": STAY, **body})


def sse(raw: Raw, path: str, body: dict[str, Any]) -> list[Any]:
    out: list[Any] = []
    with raw.client.stream("POST", raw.prefix + path, json=body) as s:
        assert s.headers["x-emulator"] == "stand-in"
        for line in s.iter_lines():
            if line.startswith("data: "):
                out.append("[DONE]" if line == "data: [DONE]" else json.loads(line[6:]))
    return out


# --------------------------------------------------------------------------- chat


def test_n_gives_n_labelled_choices(emulator, spec_validator) -> None:
    r = post_chat(Raw(emulator.url), n=3)
    spec_validator.check_inference("createChatCompletionResponse", r.json())
    choices = r.json()["choices"]
    assert [c["index"] for c in choices] == [0, 1, 2]
    assert all(c["message"]["content"].startswith(chat.LABEL) for c in choices)
    assert len({c["message"]["content"] for c in choices}) >= 2  # another wording per choice
    total = sum(len(c["message"]["content"]) for c in choices)
    assert r.json()["usage"]["completion_tokens"] > 0 and total > 0
    bad = post_chat(Raw(emulator.url), n=0)
    assert bad.status_code == 400 and bad.json()["error"]["param"] == "n"


LABEL_TOKENS = 7  # "[emulator stand-in] " in o200k_base, the trailing space joined to the next word


@pytest.mark.parametrize("limit", [9, 3, 1])
@pytest.mark.parametrize("param", ["max_tokens", "max_completion_tokens"])
def test_max_tokens_truncates_every_choice(emulator, param: str, limit: int) -> None:
    """Never more than ``limit`` tokens, the label included: below its 7 tokens the label is cut too."""
    raw = Raw(emulator.url)
    r = post_chat(raw, n=2, **{param: limit}).json()
    assert [c["finish_reason"] for c in r["choices"]] == ["length", "length"]
    contents = [c["message"]["content"] for c in r["choices"]]
    assert [tokens.count(c, "o200k_base") for c in contents] == [limit, limit]
    assert r["usage"]["completion_tokens"] == 2 * limit
    assert r["usage"]["total_tokens"] == r["usage"]["prompt_tokens"] + 2 * limit
    if limit >= LABEL_TOKENS:
        assert all(c.startswith(chat.LABEL) for c in contents)
    else:  # the label's first tokens, nothing after them
        assert contents == [{3: "[emulator", 1: "["}[limit]] * 2
    # streamed: the same cut answers, the same usage
    chunks = sse(raw, CHAT, {"messages": STAY, "n": 2, param: limit, "stream": True,
                             "stream_options": {"include_usage": True}})
    for index in (0, 1):
        text = "".join(ch["choices"][0]["delta"].get("content") or "" for ch in chunks[:-1]
                       if ch["choices"] and ch["choices"][0]["index"] == index)
        assert text == contents[index]
    finishes = [ch["choices"][0]["finish_reason"] for ch in chunks[:-1] if ch["choices"]]
    assert [f for f in finishes if f] == ["length", "length"]
    assert chunks[-2]["usage"] == r["usage"]


def test_seed_makes_answers_repeatable(emulator) -> None:
    raw = Raw(emulator.url)
    a, b = post_chat(raw, seed=7).json(), post_chat(raw, seed=7).json()
    assert a["choices"][0]["message"]["content"] == b["choices"][0]["message"]["content"]
    other = post_chat(raw, seed=8).json()["choices"][0]["message"]["content"]
    assert other != a["choices"][0]["message"]["content"]
    assert a["system_fingerprint"] == b["system_fingerprint"]


def test_json_object_answer_is_a_labelled_json_object(emulator) -> None:
    r = post_chat(Raw(emulator.url), response_format={"type": "json_object"}).json()
    value = json.loads(r["choices"][0]["message"]["content"])
    assert isinstance(value, dict) and value["emulator"] == chat.LABEL.strip()


JUDGE_SCHEMA = {
    "type": "object", "additionalProperties": False, "required": ["score", "verdict", "reasons", "meta"],
    "properties": {
        "score": {"type": "integer", "minimum": 1, "maximum": 5},
        "verdict": {"type": "string", "enum": ["follows_rules", "breaks_rules"]},
        "reasons": {"type": "array", "items": {"type": "string"}, "minItems": 2},
        "meta": {"$ref": "#/$defs/meta"},
    },
    "$defs": {"meta": {"type": "object", "additionalProperties": False, "required": ["confidence", "checked_at"],
                       "properties": {"confidence": {"type": "number", "exclusiveMinimum": 0, "maximum": 1},
                                      "checked_at": {"type": "string", "format": "date-time"},
                                      "note": {"type": ["string", "null"]}}}},
}


def test_json_schema_answer_is_valid_for_the_schema(emulator) -> None:
    fmt = {"type": "json_schema", "json_schema": {"name": "grade", "strict": True, "schema": JUDGE_SCHEMA}}
    r = post_chat(Raw(emulator.url), response_format=fmt, n=2).json()
    for choice in r["choices"]:
        value = json.loads(choice["message"]["content"])
        jsonschema.validate(value, JUDGE_SCHEMA)
        assert value["reasons"][0].startswith(chat.LABEL)  # the first string carries the label
    bad = post_chat(Raw(emulator.url), response_format={"type": "json_schema", "json_schema": {"name": "x"}})
    assert bad.status_code == 400 and bad.json()["error"]["param"] == "response_format"


class Grade(BaseModel):
    score: int
    reason: str


def test_the_sdks_structured_parse_works_for_a_judge(emulator) -> None:
    """The judge path of compare/grade: the SDK's ``parse`` with a pydantic model gets a parsed object."""
    client = sdk_client(emulator.url, api="v1")
    done = client.chat.completions.parse(model="gpt-4.1", messages=STAY, response_format=Grade)
    parsed = done.choices[0].message.parsed
    assert isinstance(parsed, Grade) and parsed.reason.startswith(chat.LABEL)


CONTENT_FILTER_DOC_KEYS = {"message", "type", "param", "code", "status", "innererror"}


def test_content_filter_trigger_is_azures_400(emulator, spec_validator) -> None:
    raw = Raw(emulator.url)
    r = raw.post(CHAT, json={"messages": [{"role": "user", "content": "please [TRIGGER content filter] now"}]})
    assert r.status_code == 400
    err = r.json()["error"]
    assert set(err) == CONTENT_FILTER_DOC_KEYS  # concepts/content-filter.md's example body
    assert (err["code"], err["param"], err["status"], err["type"]) == ("content_filter", "prompt", 400, None)
    assert err["innererror"]["code"] == "ResponsibleAIPolicyViolation"
    result = err["innererror"]["content_filter_result"]
    assert result["violence"] == {"filtered": True, "severity": "medium"}
    assert result["hate"] == {"filtered": False, "severity": "safe"} and result["jailbreak"]["filtered"] is False
    # the inference spec's errorResponse, apart from the documented `"type": null` its `type: string` refuses
    spec_validator.check_inference("errorResponse", {"error": {k: v for k, v in err.items() if v is not None}})
    with pytest.raises(openai.BadRequestError) as info:
        sdk_client(emulator.url, max_retries=0).chat.completions.create(
            model="gpt-4.1", messages=[{"role": "user", "content": "[trigger content filter]"}])
    assert info.value.code == "content_filter"


def test_content_filter_is_configurable(emulator) -> None:
    raw = Raw(emulator.url)
    emulator.set_config(content_filter={"triggers": ["forbidden topic"], "category": "jailbreak"})
    r = raw.post(CHAT, json={"messages": [{"role": "user", "content": "A FORBIDDEN TOPIC"}]})
    assert r.status_code == 400
    assert r.json()["error"]["innererror"]["content_filter_result"]["jailbreak"] == {"filtered": True,
                                                                                   "detected": True}
    assert post_chat(raw).status_code == 200
    emulator.set_config(content_filter={"triggers": []})
    assert raw.post(CHAT, json={"messages": [{"role": "user", "content": "[trigger content filter]"}]}) \
        .status_code == 200
    bad = httpx.patch(emulator.url + "/++/config", json={"content_filter": {"category": "rudeness"}})
    assert bad.status_code == 400 and "content_filter.category" in bad.json()["error"]["message"]


def test_multi_turn_answers_stay_on_the_conversations_place(emulator) -> None:
    raw = Raw(emulator.url)
    turns = STAY + [{"role": "assistant", "content": "Rome is lovely."},
                    {"role": "user", "content": "And what should I eat there?"}]
    text = raw.post(CHAT, json={"messages": turns}).json()["choices"][0]["message"]["content"]
    assert "Rome" in text and "your destination" not in text
    examples = [[{"role": "user", "content": "What should I eat in Lisbon?"},
                 {"role": "assistant", "content": "Pastel de nata in Lisbon! Sweet or savoury?"}],
                [{"role": "user", "content": "What should I eat in Rome?"},
                 {"role": "assistant", "content": "Cacio e pepe in Trastevere! Do you like pecorino?"}]]
    tuned = chat.answer(turns, fine_tuned=True, examples=examples)
    assert tuned == chat.LABEL + "Cacio e pepe in Trastevere! Do you like pecorino?"


def test_base_stand_in_breaks_the_labs_rule_and_offers_bookings(emulator) -> None:
    text = post_chat(Raw(emulator.url)).json()["choices"][0]["message"]["content"]
    assert re.search(r"\bHotel\b", text) and re.search(r"Air(lines)?\b", text) and "book" in text


def test_streaming_n_and_usage_match_the_plain_answer(emulator, spec_validator) -> None:
    raw = Raw(emulator.url)
    plain = post_chat(raw, n=2, seed=3).json()
    chunks = sse(raw, CHAT, {"messages": STAY, "n": 2, "seed": 3, "stream": True,
                             "stream_options": {"include_usage": True}})
    assert chunks[-1] == "[DONE]"
    for c in chunks[:-1]:
        spec_validator.check_inference("createChatCompletionStreamResponse", c)
    for index in (0, 1):
        text = "".join(ch["choices"][0]["delta"].get("content") or "" for ch in chunks[:-1]
                       if ch["choices"] and ch["choices"][0]["index"] == index)
        assert text == plain["choices"][index]["message"]["content"]
    assert chunks[-2]["usage"] == plain["usage"]


def test_latency_is_base_plus_per_completion_token(emulator) -> None:
    """compare's benchmark: 200 ms + 5 ms per completion token (here 100 ms + 2 ms, to keep the test short)."""
    emulator.set_config(latency={"fixed_ms": 100, "per_token_ms": 2})
    raw = Raw(emulator.url)
    start = time.monotonic()
    r = post_chat(raw)
    elapsed = time.monotonic() - start
    assert elapsed >= 0.1 + 0.002 * r.json()["usage"]["completion_tokens"]


def test_concurrent_requests_get_azures_rate_limit_headers(emulator_factory) -> None:
    em = emulator_factory({"deployments": {"small": {"model": "gpt-4.1", "tpm": 2000, "rpm": 6}}})

    async def burst() -> list[httpx.Response]:
        async with httpx.AsyncClient(base_url=em.url, params={"api-version": "2024-10-21"},
                                     headers={"api-key": "k"}) as client:
            return list(await asyncio.gather(*[
                client.post("/openai/deployments/small/chat/completions", json={"messages": STAY, "max_tokens": 50})
                for _ in range(10)]))

    responses = asyncio.run(burst())
    ok = [r for r in responses if r.status_code == 200]
    limited = [r for r in responses if r.status_code == 429]
    assert ok and limited and len(ok) <= 6
    for r in ok:
        assert int(r.headers["x-ratelimit-remaining-requests"]) < 6
        assert int(r.headers["x-ratelimit-remaining-tokens"]) < 2000
    for r in limited:
        assert int(r.headers["retry-after"]) >= 1 and int(r.headers["retry-after-ms"]) > 0
        assert "x-ratelimit-remaining-tokens" in r.headers


# --------------------------------------------------------------------------- responses


@pytest.mark.parametrize("api", ["v1", "dated"])
def test_responses_create_text_and_messages(emulator, api: str) -> None:
    client = sdk_client(emulator.url, api=api)
    r = client.responses.with_raw_response.create(model="gpt-4.1", input="Where should I stay in Rome?",
                                                  instructions="Answer briefly.")
    assert r.headers["x-emulator"] == "stand-in"
    body = json.loads(r.http_response.text)
    check_response(body)
    resp = r.parse()
    assert resp.output_text.startswith(chat.LABEL) and "Rome" in resp.output_text
    assert resp.instructions == "Answer briefly." and resp.status == "completed"
    assert resp.usage.input_tokens > 0 and resp.usage.total_tokens == resp.usage.input_tokens + resp.usage.output_tokens
    # the SDK sample's `infer`: a list of messages, on a deployment
    r2 = client.responses.create(model="gpt-4.1", input=[{"role": "user", "content": "Who invented the telephone?"}])
    assert r2.output_text.startswith(chat.LABEL)


def test_responses_on_the_fine_tuned_deployment_answer_like_chat(emulator, mslearn_data) -> None:
    from tests.support.clients import run_job_on

    job = run_job_on(emulator.url, mslearn_data / "travel-finetune-hotel.jsonl")
    emulator.add_deployment("tuned", job.fine_tuned_model)
    client = sdk_client(emulator.url, api="v1")
    ask = [{"role": "user", "content": "What's the best way to see the Northern Lights?"}]
    via_responses = client.responses.create(model="tuned", input=ask).output_text
    via_chat = client.chat.completions.create(model="tuned", messages=ask).choices[0].message.content
    assert via_responses == via_chat and "Tromsø" in via_responses


def test_responses_stream_events(emulator) -> None:
    raw = Raw(emulator.url, v1=True)
    events = [e for e in sse(raw, "/responses", {"model": "gpt-4.1", "input": "Where should I stay in Rome?",
                                                 "stream": True}) if e != "[DONE]"]
    for e in events:
        check_response_event(e)
    kinds = [e["type"] for e in events]
    assert kinds[:4] == ["response.created", "response.in_progress", "response.output_item.added",
                         "response.content_part.added"]
    assert kinds[-4:] == ["response.output_text.done", "response.content_part.done", "response.output_item.done",
                          "response.completed"]
    assert [e["sequence_number"] for e in events] == list(range(len(events)))
    text = "".join(e["delta"] for e in events if e["type"] == "response.output_text.delta")
    final = events[-1]["response"]
    check_response(final)
    assert text == final["output"][0]["content"][0]["text"] and text.startswith(chat.LABEL)
    sdk_stream = sdk_client(emulator.url, api="v1").responses.create(model="gpt-4.1", input="Hi", stream=True)
    assert [e.type for e in sdk_stream][-1] == "response.completed"


def test_responses_max_output_tokens_and_formats(emulator) -> None:
    raw = Raw(emulator.url, v1=True)
    short = raw.post("/responses", json={"model": "gpt-4.1", "input": "Where should I stay in Rome?",
                                         "max_output_tokens": 8}).json()
    check_response(short)
    assert short["status"] == "incomplete" and short["incomplete_details"] == {"reason": "max_output_tokens"}
    assert short["usage"]["output_tokens"] == 8
    assert tokens.count(short["output"][0]["content"][0]["text"], "o200k_base") == 8
    # below the label's 7 tokens the label is cut too, plain and streamed
    one = {"model": "gpt-4.1", "input": "Where should I stay in Rome?", "max_output_tokens": 1}
    tiny = raw.post("/responses", json=one).json()
    assert tiny["status"] == "incomplete" and tiny["output"][0]["content"][0]["text"] == "["
    assert tiny["usage"]["output_tokens"] == 1
    events = [e for e in sse(raw, "/responses", {**one, "stream": True}) if e != "[DONE]"]
    assert "".join(e["delta"] for e in events if e["type"] == "response.output_text.delta") == "["
    assert events[-1]["type"] == "response.incomplete" and events[-1]["response"]["usage"]["output_tokens"] == 1
    fmt = {"type": "json_schema", "name": "grade", "schema": JUDGE_SCHEMA, "strict": True}
    graded = raw.post("/responses", json={"model": "gpt-4.1", "input": "Grade this.", "text": {"format": fmt}}).json()
    jsonschema.validate(json.loads(graded["output"][0]["content"][0]["text"]), JUDGE_SCHEMA)
    assert raw.post("/responses", json={"model": "gpt-4.1", "input": []}).status_code == 400
    assert raw.post("/responses", json={"model": "nope", "input": "x"}).json()["error"]["code"] == "DeploymentNotFound"
    filtered = raw.post("/responses", json={"model": "gpt-4.1", "input": "[trigger content filter]"})
    assert filtered.status_code == 400 and filtered.json()["error"]["code"] == "content_filter"


def test_responses_need_a_recent_dated_version(emulator) -> None:
    body = {"model": "gpt-4.1", "input": "hi"}
    assert Raw(emulator.url, api_version="2025-03-01-preview").post("/responses", json=body).status_code == 200
    old = Raw(emulator.url, api_version="2024-10-21").post("/responses", json=body)
    assert old.status_code == 404 and old.json()["error"]["message"] == "Resource not found"
