"""The lecture's "torchified" layers (Linear, BatchNorm1d, Tanh) and the nets built from them, trained with
autograd."""

from __future__ import annotations

import torch
import torch.nn.functional as F

from mmtui.engine.step import StepResult


class Linear:
    """x @ weight (+ bias)."""

    def __init__(self, weight: torch.Tensor, bias: torch.Tensor | None):
        self.weight, self.bias = weight, bias

    @classmethod
    def drawn(cls, fan_in: int, fan_out: int, generator: torch.Generator, bias: bool = True) -> Linear:
        """The lecture's init: weight randn / sqrt(fan_in), bias zeros."""
        return cls(torch.randn((fan_in, fan_out), generator=generator) / fan_in ** 0.5,
                   torch.zeros(fan_out) if bias else None)

    def __call__(self, x: torch.Tensor, training: bool) -> torch.Tensor:
        return x @ self.weight if self.bias is None else torch.addmm(self.bias, x, self.weight)

    def parameters(self) -> list[torch.Tensor]:
        return [self.weight] if self.bias is None else [self.weight, self.bias]


class BatchNorm1d:
    """Normalize over the batch while training; running mean and variance for evaluation and sampling."""

    def __init__(self, dim: int, momentum: float = 0.1, eps: float = 1e-5):
        self.eps, self.momentum = eps, momentum
        self.gamma = torch.ones(dim)
        self.beta = torch.zeros(dim)
        self.running_mean = torch.zeros(dim)
        self.running_var = torch.ones(dim)

    def __call__(self, x: torch.Tensor, training: bool) -> torch.Tensor:
        """The lecture's gamma * (x - mean) / sqrt(var + eps) + beta, in fewer ops: a deep-bn step is ~200
        tiny ops, each costing about the same, so one var_mean and a per-unit scale make it ~15% faster."""
        if training:
            var, mean = torch.var_mean(x, 0, keepdim=True)  # (1, dim) each; var unbiased, as the lecture's
            with torch.no_grad():
                self.running_mean.lerp_(mean.squeeze(0), self.momentum)
                self.running_var.lerp_(var.squeeze(0), self.momentum)
        else:
            mean, var = self.running_mean, self.running_var
        return torch.addcmul(self.beta, x - mean, self.gamma * torch.rsqrt(var + self.eps))  # (B, dim)

    def parameters(self) -> list[torch.Tensor]:
        return [self.gamma, self.beta]


class Tanh:
    def __call__(self, x: torch.Tensor, training: bool) -> torch.Tensor:
        return torch.tanh(x)

    def parameters(self) -> list[torch.Tensor]:
        return []


class LayerNet:
    """An embedding table C and a stack of layers; every Tanh's output is recorded for the diagnostics."""

    def __init__(self, C: torch.Tensor, layers: list):
        self.C = C
        self.layers = layers
        for p in self.parameters():
            p.requires_grad_(True)

    def parameters(self) -> list[torch.Tensor]:
        return [self.C] + [p for layer in self.layers for p in layer.parameters()]

    def buffers(self) -> list[torch.Tensor]:
        """Each BatchNorm1d's running mean and variance, in layer order."""
        norms = [layer for layer in self.layers if isinstance(layer, BatchNorm1d)]
        return [t for norm in norms for t in (norm.running_mean, norm.running_var)]

    def weights(self) -> dict[str, int]:
        """Each 2-D weight's name and index in parameters(): C, then W1, W2, ... in layer order."""
        indices = {id(p): i for i, p in enumerate(self.parameters())}
        linears = [layer.weight for layer in self.layers if isinstance(layer, Linear)]
        return {"C": 0} | {f"W{n}": indices[id(w)] for n, w in enumerate(linears, 1)}

    def num_params(self) -> int:
        return sum(p.nelement() for p in self.parameters())

    def _run(self, X: torch.Tensor, training: bool) -> tuple[torch.Tensor, list[torch.Tensor]]:
        x = self.C[X].view(X.shape[0], -1)  # (B, block_size * embed)
        activations = []
        for layer in self.layers:
            x = layer(x, training)
            if isinstance(layer, Tanh):
                activations.append(x)
        return x, activations  # logits (B, V), each Tanh's output (B, units)

    @torch.no_grad()
    def forward(self, X: torch.Tensor) -> torch.Tensor:
        """Logits (B, V) in evaluation mode: BatchNorm uses its running statistics."""
        return self._run(X, training=False)[0]

    def step(self, X: torch.Tensor, Y: torch.Tensor, record: bool) -> StepResult:
        logits, activations = self._run(X, training=True)
        loss = F.cross_entropy(logits, Y)
        params = self.parameters()
        wanted = params + activations if record else params  # the lecture's retain_grad, only when asked
        grads = torch.autograd.grad(loss, wanted)
        return StepResult(loss.detach(), list(grads[:len(params)]), [a.detach() for a in activations],
                          list(grads[len(params):]) if record else None)


def build_mlp_bn(C: torch.Tensor, W1: torch.Tensor, W2: torch.Tensor, b2: torch.Tensor) -> LayerNet:
    """The lecture's MLP with BatchNorm on hpreact (momentum 0.001) and no b1, from drawn tensors."""
    return LayerNet(C, [Linear(W1, None), BatchNorm1d(W1.shape[1], momentum=0.001), Tanh(), Linear(W2, b2)])


def build_deep(vocab_size: int, block_size: int, embed: int, hidden: int, blocks: int, gain: float,
               w1_scale: float, batchnorm: bool, generator: torch.Generator) -> LayerNet:
    """C, then `blocks` x (Linear [-> BatchNorm1d] -> Tanh), then an output Linear [-> BatchNorm1d], drawn in
    order."""
    C = torch.randn((vocab_size, embed), generator=generator)
    layers: list = []
    fan_in = block_size * embed
    for _ in range(blocks):
        layers.append(Linear.drawn(fan_in, hidden, generator, bias=not batchnorm))
        if batchnorm:
            layers.append(BatchNorm1d(hidden))
        layers.append(Tanh())
        fan_in = hidden
    layers.append(Linear.drawn(fan_in, vocab_size, generator, bias=not batchnorm))
    if batchnorm:
        layers.append(BatchNorm1d(vocab_size))
    with torch.no_grad():
        linears = [layer for layer in layers if isinstance(layer, Linear)]
        for layer in linears[:-1]:
            layer.weight *= gain  # 5/3 keeps tanh's activations level layer after layer
        linears[0].weight *= w1_scale
        if batchnorm:
            layers[-1].gamma *= 0.1  # a less confident output at init
        else:
            linears[-1].weight *= 0.1
    return LayerNet(C, layers)
