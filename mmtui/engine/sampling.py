"""Sampling names from a model: the lecture's loop, with its own generator."""

from __future__ import annotations

import torch
import torch.nn.functional as F

from mmtui.engine.words import Vocab
from mmtui.engine.model import Model

MAX_LENGTH = 50  # a net that never emits the end token still stops


@torch.no_grad()
def sample_names(model: Model, vocab: Vocab, block_size: int, count: int,
                 generator: torch.Generator) -> list[str]:
    """Start from an all-'.' context, draw each next character from softmax(logits), stop at '.'.

    The draw is on the CPU with the CPU generator, wherever the model is: a seed gives the same names.
    """
    device = model.parameters()[0].device
    names = []
    for _ in range(count):
        context = [0] * block_size
        chars = []
        for _ in range(MAX_LENGTH):
            logits = model.forward(torch.tensor([context], device=device))  # (1, V)
            probs = F.softmax(logits, dim=1).cpu()
            index = torch.multinomial(probs, num_samples=1, generator=generator).item()
            if index == 0:
                break
            context = context[1:] + [index]
            chars.append(vocab.itos(index))
        names.append("".join(chars))
    return names
