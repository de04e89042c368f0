"""Statistics of hidden activations, computed only when a snapshot is due."""

from __future__ import annotations

import torch

from mmtui.engine.snapshot import ActivationStats

HIST_BINS = 50  # the lecture's histogram of h: 50 bins on [-1, 1]
SATURATED = 0.97  # |h| above this counts as saturated
WHITE = 0.99  # |h| above this is a white pixel of the lecture's saturation image


@torch.no_grad()
def activation_stats(h: torch.Tensor, step: int) -> ActivationStats:
    """Saturation, dead units and a histogram of h (batch x units)."""
    magnitude = h.abs()
    white = magnitude > WHITE  # (B, units)
    counts = torch.histc(h, bins=HIST_BINS, min=-1.0, max=1.0)
    edges = torch.linspace(-1.0, 1.0, HIST_BINS + 1)
    return ActivationStats(
        step=step,
        saturation=(magnitude > SATURATED).float().mean().item() * 100,
        share_99=white.float().mean().item() * 100,
        dead_units=int(white.all(dim=0).sum().item()),
        units=h.shape[1],
        mean=h.mean().item(),
        std=h.std().item() if h.numel() > 1 else 0.0,
        hist_edges=tuple(edges.tolist()),
        hist_counts=tuple(int(c) for c in counts.tolist()),
    )
