"""A model's weights as the lecture measures them: gradient statistics, grad:data, and the update the optimizer made."""

from __future__ import annotations

import math

import torch

from mmtui.measure.stats import symmetric_histogram
from mmtui.records import ParamStats


class WeightTaps:
    """The weights' values before an update, to measure the update the optimizer really made (Adam's, not lr *
    grad), and their gradients; taken only on the steps that carry statistics."""

    def __init__(self, named: list[tuple[str, torch.Tensor]]):
        self.named = [(name, p) for name, p in named if p.dim() >= 2 and p.requires_grad]  # the weights, not biases
        self._before: list[torch.Tensor] | None = None

    def before_update(self) -> None:
        """Keep the values: the update is what changes them."""
        with torch.no_grad():
            self._before = [p.detach().clone() for _, p in self.named]

    @property
    def waiting(self) -> bool:
        return self._before is not None

    @torch.no_grad()
    def after_update(self) -> tuple[ParamStats, ...]:
        """Each weight's statistics: grad mean and std, grad:data, and log10 of std(update) / std(data before)."""
        stats = []
        before, self._before = self._before or [], None
        for (name, p), old in zip(self.named, before):
            grad = p.grad
            old_std = old.float().std().item() if old.numel() > 1 else 0.0
            update_std = (p.detach() - old).float().std().item() if old.numel() > 1 else 0.0
            ratio = update_std / old_std if old_std > 0 else math.inf
            if grad is None:
                grad_mean = grad_std = math.nan
                edges, counts = (), ()
            else:
                g = grad.detach().float()
                grad_mean, grad_std = g.mean().item(), g.std().item() if g.numel() > 1 else 0.0
                edges, counts = symmetric_histogram(g.cpu())
            stats.append(ParamStats(
                name=name, shape=tuple(p.shape), grad_mean=grad_mean, grad_std=grad_std,
                grad_data_ratio=grad_std / old_std if old_std > 0 else math.inf,
                update_ratio_log10=math.log10(ratio) if 0 < ratio < math.inf else -math.inf,
                grad_hist_edges=edges, grad_hist_counts=counts))
        return tuple(stats)
