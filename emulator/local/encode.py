"""Training records to token ids with a target mask, and the order of batches. No torch here.

The prompt is rendered with the tokenizer's own chat template (ChatML for SmolLM2), the same one serving uses.
Only assistant tokens are targets, as Azure trains: an assistant message's content and its end-of-turn token;
an assistant message with ``"weight": 0`` is context only. A DPO pair becomes two examples (preferred, then
non-preferred) whose targets are the outputs.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Any

from emulator.local.trainspec import TrainSpecError

MEGABATCH = 8  # batches sorted by length together: little padding, and still a shuffled order


@dataclass(frozen=True)
class Encoded:
    ids: list[int]
    targets: list[bool]  # targets[i]: token i is trained (predicted from tokens < i)

    @property
    def n_targets(self) -> int:
        return sum(self.targets)


def _text(content: Any) -> str:
    if content is None:
        return ""
    if isinstance(content, str):
        return content
    if isinstance(content, list):  # content parts: keep the text ones
        return "".join(str(p.get("text", "")) for p in content if isinstance(p, dict))
    return str(content)


def _messages(raw: Any, where: str) -> list[dict[str, Any]]:
    if not isinstance(raw, list) or not raw or not all(isinstance(m, dict) for m in raw):
        raise TrainSpecError(f"{where}: 'messages' must be a non-empty list of message objects")
    out = []
    for m in raw:
        role = m.get("role")
        if role not in ("system", "developer", "user", "assistant", "tool"):
            raise TrainSpecError(f"{where}: a message's role must be system, user or assistant (got {role!r})")
        trained = role == "assistant" and m.get("weight", 1) != 0
        out.append({"role": "system" if role == "developer" else role, "content": _text(m.get("content")),
                    "trained": trained})
    return out


def encode_messages(tokenizer: Any, messages: list[dict[str, Any]], max_tokens: int) -> Encoded:
    """One conversation: context pieces and trained assistant pieces, tokenized piece by piece."""
    plain = [{"role": m["role"], "content": m["content"]} for m in messages]
    ids: list[int] = []
    targets: list[bool] = []
    done_text = ""
    for i, m in enumerate(messages):
        if not m["trained"]:
            continue
        prompt = tokenizer.apply_chat_template(plain[:i], tokenize=False, add_generation_prompt=True)
        full = tokenizer.apply_chat_template(plain[:i + 1], tokenize=False)
        if not (prompt.startswith(done_text) and full.startswith(prompt)):
            raise TrainSpecError("the tokenizer's chat template does not render conversations incrementally")
        answer = full[len(prompt):]
        kept = answer.rstrip()  # the answer and its end-of-turn token; the newline after it is context
        for piece, trained in ((prompt[len(done_text):], False), (kept, True), (answer[len(kept):], False)):
            piece_ids = tokenizer(piece, add_special_tokens=False)["input_ids"] if piece else []
            ids += piece_ids
            targets += [trained] * len(piece_ids)
        done_text = full
    return Encoded(ids=ids[:max_tokens], targets=targets[:max_tokens])


def encode_record(tokenizer: Any, record: dict[str, Any], method: str, max_tokens: int,
                  where: str) -> list[Encoded]:
    """A record as examples: one for a chat example, two (preferred, non-preferred) for a DPO pair."""
    if method == "dpo":
        prompt = _messages((record.get("input") or {}).get("messages"), where)
        pair = []
        for key in ("preferred_output", "non_preferred_output"):
            output = _messages(record.get(key), f"{where} ({key})")
            pair.append(encode_messages(tokenizer, [dict(m, trained=False) for m in prompt] + output, max_tokens))
        encoded = pair
    else:
        encoded = [encode_messages(tokenizer, _messages(record.get("messages"), where), max_tokens)]
    if any(e.n_targets == 0 for e in encoded):
        raise TrainSpecError(f"{where}: no assistant message to train on (none is there, all have weight 0, or "
                             f"all lie beyond the first {max_tokens} tokens)")
    return encoded


def encode_all(tokenizer: Any, records: list[dict[str, Any]], method: str, max_tokens: int,
               name: str) -> list[list[Encoded]]:
    return [encode_record(tokenizer, r, method, max_tokens, f"{name} line {n}") for n, r in enumerate(records, 1)]


def batch_order(lengths: list[int], batch_size: int, seed: int, epoch: int) -> list[list[int]]:
    """The batches of one epoch (example indices), a function of (seed, epoch) only, so a resumed run replays
    the same order. Examples are shuffled, sorted by length within groups of MEGABATCH batches (little
    padding), cut into batches, and the batches shuffled."""
    rng = random.Random(f"{seed}:{epoch}")
    order = list(range(len(lengths)))
    rng.shuffle(order)
    group = batch_size * MEGABATCH
    batches: list[list[int]] = []
    for start in range(0, len(order), group):
        chunk = sorted(order[start:start + group], key=lambda i: -lengths[i])
        batches += [chunk[i:i + batch_size] for i in range(0, len(chunk), batch_size)]
    rng.shuffle(batches)
    return batches


def steps_per_epoch(n_examples: int, batch_size: int) -> int:
    return max(1, -(-n_examples // batch_size))
