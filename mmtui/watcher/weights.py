"""A model's weights as the lecture measures them: gradient statistics, grad:data, and the update the
optimizer made."""

from __future__ import annotations

import time

import torch

from mmtui.measure.sampling import Samples
from mmtui.measure.reductions import StepStats, spread


class WeightTaps:
    """Each weight's spread and sampled values before an update, to measure the update the optimizer really
    made (Adam's, not lr * grad), and their gradients after it; only on the steps that carry statistics. A
    large weight keeps its sample's values only (sampling.SAMPLE_ELEMENTS), never a copy of the whole."""

    def __init__(self, named: list[tuple[str, torch.Tensor]], samples: Samples):
        # the weights, not biases
        self.named = [(name, p) for name, p in named if p.dim() >= 2 and p.requires_grad]
        self.samples = samples
        self.spent = 0.0  # seconds this took the training thread since the last look
        # per weight: its sampled elements (None: all), their values and the whole's std, before the update
        self._before: list[tuple[torch.Tensor | None, torch.Tensor, torch.Tensor]] | None = None

    @torch.no_grad()
    def before_update(self) -> None:
        """Keep what the update's size is measured against."""
        started = time.perf_counter()
        self._before = []
        for name, p in self.named:
            flat = p.detach().reshape(-1)  # (n,)
            elements = self.samples.elements(name, flat.numel(), flat.device)
            kept = flat.clone() if elements is None else flat.index_select(0, elements)  # (n or sample,)
            self._before.append((elements, kept, spread(flat)[1]))
        self.spent += time.perf_counter() - started

    @property
    def waiting(self) -> bool:
        return self._before is not None

    @torch.no_grad()
    def after_update(self, stats: StepStats) -> None:
        """Each weight's grad mean and std, grad:data, and std(update) / std(data before), into the step's
        stats."""
        started = time.perf_counter()
        before, self._before = self._before or [], None
        for (name, p), (elements, kept, data_std) in zip(self.named, before):
            flat = p.detach().reshape(-1)  # (n,)
            now = flat if elements is None else flat.index_select(0, elements)
            stats.weight(name, p, p.grad, data_std, spread(now.float() - kept.float())[1], elements)
        self.spent += time.perf_counter() - started
