"""The losses of the local trainer (imports torch: only the worker imports this module).

Logits are computed only at the positions that predict a target token: the vocabulary projection
(49152 x 576 for SmolLM2) on every position of every padded row is most of the memory and a good part of
the time of a naive causal-LM loss.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F

from emulator.local.encode import Encoded


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


def token_stats(model: Any, examples: list[Encoded], pad_id: int) -> TokenStats:
    """One forward pass over ``examples``: per-row target log-probabilities and the greedy hits."""
    ids, attention, targets = collate(examples, pad_id)
    causal_lm = model.get_base_model() if hasattr(model, "get_base_model") else model
    hidden = causal_lm.model(input_ids=ids, attention_mask=attention).last_hidden_state
    predicts = targets[:, 1:]  # position t predicts token t+1
    picked = hidden[:, :-1][predicts]
    wanted = ids[:, 1:][predicts]
    logits = causal_lm.lm_head(picked).float()
    logp_tok = -F.cross_entropy(logits, wanted, reduction="none")
    rows = torch.arange(ids.shape[0]).unsqueeze(1).expand_as(predicts)[predicts]
    logp = torch.zeros(ids.shape[0], dtype=logp_tok.dtype).index_add(0, rows, logp_tok)
    n_targets = predicts.sum(dim=1)
    hits = (logits.detach().argmax(dim=-1) == wanted).long()
    correct = torch.zeros(ids.shape[0], dtype=torch.long).index_add(0, rows, hits)
    return TokenStats(logp=logp, n_targets=n_targets, correct=correct)


def supervised(model: Any, examples: list[Encoded], pad_id: int) -> tuple[Any, float]:
    """The mean cross-entropy over the batch's target tokens (a tensor), and the token accuracy."""
    stats = token_stats(model, examples, pad_id)
    total = max(1, int(stats.n_targets.sum()))
    return -stats.logp.sum() / total, int(stats.correct.sum()) / total


def dpo(model: Any, pairs: list[list[Encoded]], pad_id: int, beta: float) -> tuple[Any, float]:
    """Direct preference optimization against the base model (the adapter disabled) as the reference:
    mean of -log sigmoid(beta * ((policy - reference) on preferred - (policy - reference) on non-preferred)).
    The accuracy reported is the token accuracy on the preferred outputs."""
    rows = [p[0] for p in pairs] + [p[1] for p in pairs]
    policy = token_stats(model, rows, pad_id)
    with torch.no_grad(), model.disable_adapter():
        reference = token_stats(model, rows, pad_id)
    n = len(pairs)
    margin = (policy.logp - reference.logp.detach())
    loss = -F.logsigmoid(beta * (margin[:n] - margin[n:])).mean()
    accuracy = int(policy.correct[:n].sum()) / max(1, int(policy.n_targets[:n].sum()))
    return loss, accuracy


def evaluate(model: Any, examples: list[list[Encoded]], pad_id: int, batch_size: int, method: str,
             beta: float) -> tuple[float, float]:
    """Loss and accuracy over ``examples`` (each a record's encodings), without gradients, batch by batch."""
    loss_sum, acc_sum, weight = 0.0, 0.0, 0
    with torch.no_grad():
        for start in range(0, len(examples), batch_size):
            chunk = examples[start:start + batch_size]
            if method == "dpo":
                loss, acc = dpo(model, chunk, pad_id, beta)
            else:
                loss, acc = supervised(model, [e[0] for e in chunk], pad_id)
            loss_sum += float(loss) * len(chunk)
            acc_sum += acc * len(chunk)
            weight += len(chunk)
    return loss_sum / max(1, weight), acc_sum / max(1, weight)
