"""Builders for the training-data tests: valid examples and files with one defect."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

SYSTEM = ("You are an AI travel assistant that helps people plan their trips. Your objective is to offer "
          "support for travel-related inquiries, such as visa requirements, weather forecasts, local "
          "attractions, and cultural norms. You should not provide any hotel, flight, rental car or "
          "restaurant recommendations. Ask engaging questions to help someone plan their trip and think "
          "about what they want to do on their holiday.")

PLACES = ["Lisbon", "Kyoto", "Oaxaca", "Tallinn", "Hoi An", "Cusco", "Porto", "Busan", "Tbilisi",
          "Valparaíso", "Ljubljana", "Zanzibar", "Reykjavík", "Matera", "Luang Prabang"]


def example(i: int, **extra: Any) -> dict[str, Any]:
    place = PLACES[i % len(PLACES)]
    ex: dict[str, Any] = {"messages": [
        {"role": "system", "content": SYSTEM},
        {"role": "user", "content": f"What should I see in {place}? (trip {i})"},
        {"role": "assistant", "content": f"{place} is wonderful for wandering its old quarter and markets. "
                                         f"What kind of experiences do you enjoy most? ({i})"},
    ]}
    ex.update(extra)
    return ex


def line(obj: Any) -> str:
    return json.dumps(obj, ensure_ascii=False)


def valid_lines(n: int = 12) -> list[str]:
    return [line(example(i)) for i in range(n)]


def with_defect(bad: str | bytes, at: int = 5, n: int = 12) -> bytes:
    """n valid examples with line ``at`` (1-based) replaced by ``bad``."""
    lines: list[bytes] = [s.encode() for s in valid_lines(n)]
    lines[at - 1] = bad if isinstance(bad, bytes) else bad.encode()
    return b"\n".join(lines) + b"\n"


def write(tmp_path: Path, data: bytes, name: str = "train.jsonl") -> Path:
    p = tmp_path / name
    p.write_bytes(data)
    return p


def messages(*msgs: dict[str, Any], **top: Any) -> str:
    return line({"messages": list(msgs), **top})


SYS = {"role": "system", "content": SYSTEM}
USER = {"role": "user", "content": "Where can I see the northern lights?"}
ASSISTANT = {"role": "assistant", "content": "Tromsø and Abisko are magical in winter. When are you travelling?"}
TOOLS = [{"type": "function", "function": {"name": "get_weather", "description": "Weather for a city",
                                           "parameters": {"type": "object",
                                                          "properties": {"city": {"type": "string"}}}}}]


def tool_call(args: Any = '{"city": "Tromsø"}', call_id: Any = "call_1") -> dict[str, Any]:
    call: dict[str, Any] = {"type": "function", "function": {"name": "get_weather", "arguments": args}}
    if call_id is not None:
        call["id"] = call_id
    return call


def preference(i: int, **extra: Any) -> dict[str, Any]:
    """A valid DPO pair in the lab's style: the preferred answer follows the system rule, the other breaks it."""
    place = PLACES[i % len(PLACES)]
    ex: dict[str, Any] = {
        "input": {"messages": [{"role": "system", "content": SYSTEM},
                               {"role": "user", "content": f"Where should I stay in {place}? (trip {i})"}]},
        "preferred_output": [{"role": "assistant", "content": f"{place} has lovely neighbourhoods to explore. "
                                                              f"What pace do you like for your days? ({i})"}],
        "non_preferred_output": [{"role": "assistant", "content": f"Book the Grand Hotel {place}, and I can "
                                                                  f"reserve your flight too. ({i})"}],
    }
    ex.update(extra)
    return ex


def preference_lines(n: int = 12) -> list[str]:
    return [line(preference(i)) for i in range(n)]


def with_preference_defect(bad: str | bytes, at: int = 5, n: int = 12) -> bytes:
    """n valid DPO pairs with line ``at`` (1-based) replaced by ``bad``."""
    lines: list[bytes] = [s.encode() for s in preference_lines(n)]
    lines[at - 1] = bad if isinstance(bad, bytes) else bad.encode()
    return b"\n".join(lines) + b"\n"
