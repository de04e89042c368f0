"""The models and their init: the lecture's MLP with a hand-written backward pass, and the layer nets."""

from __future__ import annotations

import math
from typing import Protocol

import torch
import torch.nn.functional as F

from mmtui.engine.config import TrainConfig
from mmtui.engine.layer_net import build_deep, build_mlp_bn
from mmtui.engine.recurrent import CELL_WEIGHTS, build_recurrent, draw_recurrent
from mmtui.engine.step import StepResult
from mmtui.experiments import MODELS, PRESETS, RECURRENT

TANH_GAIN = 5 / 3  # Kaiming gain for tanh
DEEP_HIDDEN, DEEP_BLOCKS = 100, 5  # the lecture's deep net: 5 tanh blocks of 100 units
RECURRENT_HIDDEN = 64  # makemore's n_embd2: the recurrent nets' hidden state


class UnknownPreset(ValueError):
    """An init preset or model name that mmtui does not know."""


class Model(Protocol):
    """What the trainer, the statistics and sampling need of a model."""

    def parameters(self) -> list[torch.Tensor]: ...

    # state that is not trained by SGD: BatchNorm's running statistics
    def buffers(self) -> list[torch.Tensor]: ...

    def weights(self) -> dict[str, int]: ...  # 2-D weights: name -> index in parameters()

    def num_params(self) -> int: ...

    def forward(self, X: torch.Tensor) -> torch.Tensor: ...  # logits in evaluation mode, no gradients

    def step(self, X: torch.Tensor, Y: torch.Tensor, record: bool) -> StepResult: ...


class MLP:
    """C (V x embed), W1 (block*embed x hidden), b1, W2 (hidden x V), b2: the lecture's starting code."""

    def __init__(self, C: torch.Tensor, W1: torch.Tensor, b1: torch.Tensor, W2: torch.Tensor,
                 b2: torch.Tensor):
        self.C, self.W1, self.b1, self.W2, self.b2 = C, W1, b1, W2, b2

    def parameters(self) -> list[torch.Tensor]:
        return [self.C, self.W1, self.b1, self.W2, self.b2]

    def buffers(self) -> list[torch.Tensor]:
        return []

    def weights(self) -> dict[str, int]:
        return {"C": 0, "W1": 1, "W2": 3}

    def num_params(self) -> int:
        return sum(p.nelement() for p in self.parameters())

    @torch.no_grad()
    def forward(self, X: torch.Tensor) -> torch.Tensor:
        emb = F.embedding(X, self.C).view(X.shape[0], -1)  # (B, block_size * embed)
        return torch.addmm(self.b2, torch.tanh(torch.addmm(self.b1, emb, self.W1)), self.W2)  # (B, V)

    def step(self, X: torch.Tensor, Y: torch.Tensor, record: bool) -> StepResult:
        """Loss, gradients and h for one minibatch.

        The backward pass is written out, as makemore part 4 derives it: for this small net it runs about
        1.35x faster than autograd, which spends most of a step on bookkeeping.
        """
        B = X.shape[0]
        rows = torch.arange(B, device=X.device)
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
        dh = dlogits @ self.W2.t()  # (B, hidden)
        dhpreact = dh * (1 - h * h) if record else dh.mul_(1 - h * h)  # tanh' = 1 - tanh^2; dh kept if asked
        dW1 = emb.t() @ dhpreact  # (block_size * embed, hidden)
        db1 = dhpreact.sum(0)  # (hidden,)
        demb = dhpreact @ self.W1.t()  # (B, block_size * embed)
        dC = torch.zeros_like(self.C).index_add_(0, X.view(-1), demb.view(-1, self.C.shape[1]))  # (V, embed)
        return StepResult(loss, [dC, dW1, db1, dW2, db2], [h], [dh] if record else None)


def draw_mlp(vocab_size: int, block_size: int, embed: int, hidden: int, generator: torch.Generator,
             with_b1: bool = True) -> dict[str, torch.Tensor]:
    """Raw randn draws in the lecture's order: C, W1, b1, W2, b2 (b1 not drawn for BatchNorm)."""
    drawn = {"C": torch.randn((vocab_size, embed), generator=generator),
             "W1": torch.randn((block_size * embed, hidden), generator=generator)}
    if with_b1:
        drawn["b1"] = torch.randn(hidden, generator=generator)
    drawn["W2"] = torch.randn((hidden, vocab_size), generator=generator)
    drawn["b2"] = torch.randn(vocab_size, generator=generator)
    return drawn


@torch.no_grad()
def apply_preset(drawn: dict[str, torch.Tensor], preset: str, w1_scale: float,
                 hidden: tuple[str, ...] = ("W1",)) -> None:
    """Scale the raw draws as the lecture's experiments do, then the hidden weights (W1; a recurrent cell's
    weights) by w1_scale; a hidden weight Wx's bias is bx."""
    if preset not in PRESETS:
        raise UnknownPreset(f"unknown init preset {preset!r}; choose one of {', '.join(PRESETS)}")
    if preset != "lecture":
        drawn["W2"] *= 0.01  # small logits: every character about 1/V at init
        drawn["b2"] *= 0  # not exactly 0 in W2 keeps symmetry breaking; b2 may be 0
    for weight in hidden:
        if preset in ("fix-tanh", "kaiming"):
            fan_in = drawn[weight].shape[0]
            drawn[weight] *= 0.2 if preset == "fix-tanh" else TANH_GAIN / math.sqrt(fan_in)
            bias = "b" + weight[1:]
            if bias in drawn:
                drawn[bias] *= 0.01
        drawn[weight] *= w1_scale


def build_model(config: TrainConfig, vocab_size: int, generator: torch.Generator) -> Model:
    """Draw the configured model from the generator; presets apply to the MLPs and the recurrent nets (their
    cells' weights as W1), the gain to the deep nets."""
    if config.model not in MODELS:
        raise UnknownPreset(f"unknown model {config.model!r}; choose one of {', '.join(MODELS)}")
    if config.model.startswith("deep"):
        return build_deep(vocab_size, config.block_size, config.embed, DEEP_HIDDEN, DEEP_BLOCKS, config.gain,
                          config.w1_scale, config.model == "deep-bn", generator)
    if config.model in RECURRENT:
        drawn = draw_recurrent(config.model, vocab_size, config.embed, RECURRENT_HIDDEN, generator)
        apply_preset(drawn, config.init, config.w1_scale, CELL_WEIGHTS[config.model])
        return build_recurrent(config.model, drawn, RECURRENT_HIDDEN)
    batchnorm = config.model == "mlp-bn"
    drawn = draw_mlp(vocab_size, config.block_size, config.embed, config.hidden, generator,
                     with_b1=not batchnorm)
    apply_preset(drawn, config.init, config.w1_scale)
    return build_mlp_bn(**drawn) if batchnorm else MLP(**drawn)
