"""The losses of the local trainer (imports torch: only the worker imports this module).

Two things make this faster than a plain causal-LM loss on a padded batch (docs/benchmarks.md):
- logits only at the positions that predict a target token: the vocabulary projection (49152 x 576 for
  SmolLM2) at every position of every padded row is most of the memory and a good part of the time;
- a prefix every row of the batch shares and none trains (in the lab's data the 84-token system message and
  the start of the user turn, 43% of all tokens) runs once per batch, not once per row.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F

from emulator.local.encode import Encoded

MIN_SHARED_PREFIX = 16  # below this, one forward pass over the padded batch is as fast


@dataclass
class TokenStats:
    logp: Any  # tensor [rows]: the summed log-probability of each row's target tokens
    n_targets: Any  # tensor [rows]: target tokens per row
    correct: Any  # tensor [rows]: target tokens predicted right (greedy)


def collate(examples: list[Encoded], pad_id: int) -> tuple[Any, Any, Any]:
    """Right-padded ids, attention mask and target mask, each [rows, longest]."""
    width = max(len(e.ids) for e in examples)
    ids = torch.full((len(examples), width), pad_id, dtype=torch.long)
    attention = torch.zeros((len(examples), width), dtype=torch.long)
    targets = torch.zeros((len(examples), width), dtype=torch.bool)
    for row, e in enumerate(examples):
        n = len(e.ids)
        ids[row, :n] = torch.tensor(e.ids, dtype=torch.long)
        attention[row, :n] = 1
        targets[row, :n] = torch.tensor(e.targets, dtype=torch.bool)
    return ids, attention, targets


def shared_prefix(ids: Any, targets: Any) -> int:
    """How many leading tokens every row shares and none of them trains (the system message and the start of
    the first user turn, in the lab's data): computed once for the batch instead of once per row."""
    if ids.shape[0] < 2:
        return 0
    same = (ids == ids[:1]).all(dim=0)
    first_target = int(targets.float().argmax(dim=1).min())  # every row has a target
    limit = min(first_target - 1, int(same.float().argmin()) if not bool(same.all()) else ids.shape[1])
    return limit if limit >= MIN_SHARED_PREFIX else 0


def _hidden(decoder: Any, ids: Any, attention: Any, prefix: int) -> Any:
    """The last hidden states of positions ``prefix..end`` of each row; the shared prefix runs once (batch 1)
    and its keys and values are repeated for the rows (gradients flow back through them)."""
    if not prefix:
        return decoder(input_ids=ids, attention_mask=attention, use_cache=False).last_hidden_state
    cache = decoder(input_ids=ids[:1, :prefix], use_cache=True).cache
    cache.batch_repeat_interleave(ids.shape[0])
    return decoder(input_ids=ids[:, prefix:], attention_mask=attention, cache=cache, use_cache=True).last_hidden_state


def token_stats(model: Any, examples: list[Encoded], pad_id: int, share_prefix: bool = True) -> TokenStats:
    """One forward pass over ``examples``: per-row target log-probabilities and the greedy hits."""
    ids, attention, targets = collate(examples, pad_id)
    causal_lm = model.get_base_model() if hasattr(model, "get_base_model") else model
    prefix = shared_prefix(ids, targets) if share_prefix else 0
    hidden = _hidden(causal_lm.model, ids, attention, prefix)  # position prefix + j predicts token prefix + j + 1
    predicts = targets[:, prefix + 1:]
    picked = hidden[:, :-1][predicts]
    wanted = ids[:, prefix + 1:][predicts]
    logits = causal_lm.lm_head(picked).float()
    logp_tok = -F.cross_entropy(logits, wanted, reduction="none")
    rows = torch.arange(ids.shape[0]).unsqueeze(1).expand_as(predicts)[predicts]
    logp = torch.zeros(ids.shape[0], dtype=logp_tok.dtype).index_add(0, rows, logp_tok)
    n_targets = predicts.sum(dim=1)
    hits = (logits.detach().argmax(dim=-1) == wanted).long()
    correct = torch.zeros(ids.shape[0], dtype=torch.long).index_add(0, rows, hits)
    return TokenStats(logp=logp, n_targets=n_targets, correct=correct)


def supervised(model: Any, examples: list[Encoded], pad_id: int, share_prefix: bool = True) -> tuple[Any, float]:
    """The mean cross-entropy over the batch's target tokens (a tensor), and the token accuracy."""
    stats = token_stats(model, examples, pad_id, share_prefix)
    total = max(1, int(stats.n_targets.sum()))
    return -stats.logp.sum() / total, int(stats.correct.sum()) / total


def dpo(model: Any, pairs: list[list[Encoded]], pad_id: int, beta: float,
        share_prefix: bool = True) -> tuple[Any, float]:
    """Direct preference optimization against the base model (the adapter disabled) as the reference:
    mean of -log sigmoid(beta * ((policy - reference) on preferred - (policy - reference) on non-preferred)).
    The accuracy reported is the token accuracy on the preferred outputs."""
    rows = [p[0] for p in pairs] + [p[1] for p in pairs]
    policy = token_stats(model, rows, pad_id, share_prefix)
    with torch.no_grad(), model.disable_adapter():
        reference = token_stats(model, rows, pad_id, share_prefix)
    n = len(pairs)
    margin = (policy.logp - reference.logp.detach())
    loss = -F.logsigmoid(beta * (margin[:n] - margin[n:])).mean()
    accuracy = int(policy.correct[:n].sum()) / max(1, int(policy.n_targets[:n].sum()))
    return loss, accuracy


def evaluate(model: Any, examples: list[list[Encoded]], pad_id: int, batch_size: int, method: str,
             beta: float, share_prefix: bool = True) -> tuple[float, float]:
    """Loss and accuracy over ``examples`` (each a record's encodings), without gradients, batch by batch."""
    loss_sum, acc_sum, weight = 0.0, 0.0, 0
    with torch.no_grad():
        for start in range(0, len(examples), batch_size):
            chunk = examples[start:start + batch_size]
            if method == "dpo":
                loss, acc = dpo(model, chunk, pad_id, beta, share_prefix)
            else:
                loss, acc = supervised(model, [e[0] for e in chunk], pad_id, share_prefix)
            loss_sum += float(loss) * len(chunk)
            acc_sum += acc * len(chunk)
            weight += len(chunk)
    return loss_sum / max(1, weight), acc_sum / max(1, weight)
