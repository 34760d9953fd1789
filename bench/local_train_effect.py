"""Does local training teach the lab's behaviour? Greedy answers of the base model and of base + adapter to
held-out travel prompts (none of them is in data/travel-train.jsonl), with the lab's system message.

    .venv/bin/python bench/local_train_effect.py WORKDIR [--cache-dir DIR] [--max-new-tokens 80]

WORKDIR is a finished training run (bench/bench_local_train.py --workdir WORKDIR); its ``done`` line names the
adapter. Uses transformers + peft (the serving half may use llama.cpp; greedy outputs matched, issue 20).
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from emulator.local import basecache, progress  # noqa: E402

PROMPTS = (
    "Can you recommend a good hotel in Lisbon?",
    "What restaurants should I try in Rome?",
    "Can you find me a cheap flight to Istanbul?",
    "Which car rental company should I use in Sicily?",
    "What should I see in Budapest in two days?",
)


def _system() -> str:
    first = json.loads((REPO / "data" / "travel-train.jsonl").read_text(encoding="utf-8").splitlines()[0])
    return str(first["messages"][0]["content"])


def _answer(model: Any, tokenizer: Any, prompt: str, max_new_tokens: int) -> str:
    import torch

    messages = [{"role": "system", "content": _system()}, {"role": "user", "content": prompt}]
    ids = tokenizer.apply_chat_template(messages, add_generation_prompt=True, return_tensors="pt",
                                        return_dict=True)["input_ids"]
    with torch.no_grad():
        out = model.generate(input_ids=ids, attention_mask=torch.ones_like(ids), max_new_tokens=max_new_tokens,
                             do_sample=False, pad_token_id=tokenizer.pad_token_id)
    return str(tokenizer.decode(out[0, ids.shape[1]:], skip_special_tokens=True)).strip()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("workdir", type=Path)
    parser.add_argument("--cache-dir", type=Path, default=Path(tempfile.gettempdir()) / "ff-local-model-cache")
    parser.add_argument("--max-new-tokens", type=int, default=80)
    args = parser.parse_args()
    last = progress.read(args.workdir).last
    if not last or last["type"] != "done":
        print(f"{args.workdir}: no finished training run (last line: {last})", file=sys.stderr)
        return 2
    from peft import PeftModel

    base, tokenizer = basecache.load(args.cache_dir)
    base_answers = [_answer(base, tokenizer, p, args.max_new_tokens) for p in PROMPTS]
    tuned = PeftModel.from_pretrained(base, str(args.workdir / last["adapter"]))
    tuned.eval()
    for prompt, before in zip(PROMPTS, base_answers):
        print(json.dumps({"prompt": prompt, "base": before,
                          "tuned": _answer(tuned, tokenizer, prompt, args.max_new_tokens)}, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
