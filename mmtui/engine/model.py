"""The lecture's MLP as plain tensors and its init presets; knows nothing about training."""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from mmtui.engine.config import PRESETS

TANH_GAIN = 5 / 3  # Kaiming gain for tanh


class UnknownPreset(ValueError):
    """An init preset name that is not in config.PRESETS."""


class MLP:
    """C (V x embed), W1 (block*embed x hidden), b1, W2 (hidden x V), b2: the lecture's starting code."""

    def __init__(self, vocab_size: int, block_size: int, embed: int, hidden: int, generator: torch.Generator):
        fan_in = block_size * embed
        # The draw order is the lecture's, so one seed gives the lecture's numbers.
        self.C = torch.randn((vocab_size, embed), generator=generator)
        self.W1 = torch.randn((fan_in, hidden), generator=generator)
        self.b1 = torch.randn(hidden, generator=generator)
        self.W2 = torch.randn((hidden, vocab_size), generator=generator)
        self.b2 = torch.randn(vocab_size, generator=generator)
        self.fan_in = fan_in

    def parameters(self) -> list[torch.Tensor]:
        return [self.C, self.W1, self.b1, self.W2, self.b2]

    def weights(self) -> dict[str, torch.Tensor]:
        """The 2-D weights by name, for per-parameter diagnostics."""
        return {"C": self.C, "W1": self.W1, "W2": self.W2}

    def num_params(self) -> int:
        return sum(p.nelement() for p in self.parameters())

    @torch.no_grad()
    def apply_preset(self, preset: str, w1_scale: float) -> None:
        """Scale the raw randn draws as the lecture's experiments do, then W1 by w1_scale."""
        if preset not in PRESETS:
            raise UnknownPreset(f"unknown init preset {preset!r}; choose one of {', '.join(PRESETS)}")
        if preset != "lecture":
            self.W2 *= 0.01  # small logits: every character about 1/V at init
            self.b2 *= 0  # not exactly 0 in W2 keeps symmetry breaking; b2 may be 0
        if preset == "fix-tanh":
            self.W1 *= 0.2
            self.b1 *= 0.01
        elif preset == "kaiming":
            self.W1 *= TANH_GAIN / math.sqrt(self.fan_in)
            self.b1 *= 0.01
        self.W1 *= w1_scale

    def forward(self, X: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Logits (B, V) and the hidden tanh activations h (B, hidden) for contexts X (B, block_size)."""
        emb = F.embedding(X, self.C).view(X.shape[0], -1)  # (B, block_size * embed)
        h = torch.tanh(torch.addmm(self.b1, emb, self.W1))  # (B, hidden)
        logits = torch.addmm(self.b2, h, self.W2)  # (B, V)
        return logits, h

    def loss_and_grads(self, X: torch.Tensor, Y: torch.Tensor) -> tuple[torch.Tensor, list[torch.Tensor], torch.Tensor]:
        """Cross-entropy loss, the gradient of every parameter and h, for one minibatch.

        The backward pass is written out, as makemore part 4 derives it: for this small net it runs about
        1.35x faster than autograd, which spends most of a step on bookkeeping.
        """
        B = X.shape[0]
        rows = torch.arange(B)
        emb = F.embedding(X, self.C).view(B, -1)  # (B, block_size * embed)
        h = torch.addmm(self.b1, emb, self.W1).tanh_()  # (B, hidden)
        logits = torch.addmm(self.b2, h, self.W2)  # (B, V)
        logprobs = torch.log_softmax(logits, dim=1)  # (B, V)
        loss = -logprobs[rows, Y].mean()
        dlogits = logprobs.exp_()  # softmax - one_hot(Y), over B: the gradient of the mean cross-entropy
        dlogits[rows, Y] -= 1
        dlogits /= B
        dW2 = h.t() @ dlogits  # (hidden, V)
        db2 = dlogits.sum(0)  # (V,)
        dhpreact = (dlogits @ self.W2.t()).mul_(1 - h * h)  # (B, hidden): tanh' = 1 - tanh^2
        dW1 = emb.t() @ dhpreact  # (block_size * embed, hidden)
        db1 = dhpreact.sum(0)  # (hidden,)
        demb = dhpreact @ self.W1.t()  # (B, block_size * embed)
        dC = torch.zeros_like(self.C).index_add_(0, X.view(-1), demb.view(-1, self.C.shape[1]))  # (V, embed)
        return loss, [dC, dW1, db1, dW2, db2], h


def build_model(vocab_size: int, block_size: int, embed: int, hidden: int, preset: str, w1_scale: float,
                generator: torch.Generator) -> MLP:
    """Draw a model from the generator and apply an init preset."""
    model = MLP(vocab_size, block_size, embed, hidden, generator)
    model.apply_preset(preset, w1_scale)
    return model
