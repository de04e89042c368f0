"""Statistics of activations, their gradients and the weights' gradients, computed only when a snapshot is due."""

from __future__ import annotations

import math

import torch

from mmtui.records import BOUNDED, OTHER, RECTIFIER, SATURATED_AT, WHITE_AT, ActivationStats, ParamStats

HIST_BINS = 50  # the lecture's histograms: 50 bins
BIT_VALUES = 2 ** torch.arange(8)  # packs 8 units into a byte, unit 0 in the lowest bit
MAP_EXAMPLES = 32  # examples in the dead-neuron bitmap: the lecture's batch
MAP_UNITS = 512  # units in it: wider than any map a terminal draws


def _histogram(values: torch.Tensor, low: float, high: float) -> tuple[tuple[float, ...], tuple[int, ...]]:
    if not high > low:  # all zero (or non-finite): one flat bin around the value
        low, high = low - 1e-12, low + 1e-12
    counts = torch.histc(values.float(), bins=HIST_BINS, min=low, max=high)
    edges = torch.linspace(low, high, HIST_BINS + 1)
    return tuple(edges.tolist()), tuple(int(c) for c in counts.tolist())


def symmetric_histogram(values: torch.Tensor) -> tuple[tuple[float, ...], tuple[int, ...]]:
    bound = values.abs().max().item()
    return _histogram(values, -bound, bound) if math.isfinite(bound) else ((), ())


def _white_rows(white: torch.Tensor) -> tuple[int, ...]:
    """One int per example with bit u set where unit u is white: cheap to send, easy to draw."""
    units = white.shape[1]
    padded = torch.nn.functional.pad(white.to(torch.uint8), (0, -units % 8))  # (B, units rounded up to 8)
    packed = (padded.view(white.shape[0], -1, 8).long() * BIT_VALUES).sum(-1)  # (B, bytes)
    return tuple(int.from_bytes(bytes(row), "little") for row in packed.tolist())


def as_examples_by_units(t: torch.Tensor) -> torch.Tensor:
    """An activation of any shape as (examples, units): a unit is a channel, the last dimension of a
    transformer's (batch, time, channels) and the second of a convolution's (batch, channels, height, width)."""
    if t.dim() >= 4:
        t = t.movedim(1, -1)
    if t.dim() == 0:
        return t.reshape(1, 1)
    return t.reshape(-1, t.shape[-1])


@torch.no_grad()
def activation_stats(t: torch.Tensor, grad: torch.Tensor | None, step: int, layer: int, *, kind: str = BOUNDED,
                     bounds: tuple[float, float] = (-1.0, 1.0), flat_below: float = 0.0,
                     name: str = "") -> ActivationStats:
    """Histograms of one activation layer's outputs t and of their gradient, and the trouble measure of its kind:
    saturation and dead units for a BOUNDED function within `bounds` (the lecture's tanh: |t| > 0.97, 0.99),
    outputs at or below `flat_below` (the flat side) and dead units for a RECTIFIER, none for OTHER."""
    t = as_examples_by_units(t.detach()).cpu()  # (N, units); a batch's worth, no copy on the CPU
    grad = as_examples_by_units(grad).cpu() if grad is not None else None
    low, high = bounds
    if kind == BOUNDED:
        scaled = t if bounds == (-1.0, 1.0) else (t - low) * (2 / (high - low)) - 1  # on [-1, 1]
        magnitude = scaled.abs()
        troubled, white = magnitude > SATURATED_AT, magnitude > WHITE_AT  # (N, units)
        edges, counts = _histogram(t, low, high)
    else:
        white = troubled = t <= flat_below if kind == RECTIFIER else torch.zeros_like(t, dtype=torch.bool)
        finite = t[torch.isfinite(t)]
        edges, counts = (_histogram(t, finite.min().item(), finite.max().item()) if finite.numel() else ((), ()))
    grad_edges, grad_counts = symmetric_histogram(grad) if grad is not None else ((), ())
    return ActivationStats(
        step=step,
        saturation=troubled.float().mean().item() * 100,
        share_99=white.float().mean().item() * 100,
        dead_units=int(white.all(dim=0).sum().item()),
        units=t.shape[1],
        mean=t.mean().item(),
        std=t.std().item() if t.numel() > 1 else 0.0,
        hist_edges=edges,
        hist_counts=counts,
        layer=layer,
        grad_mean=grad.mean().item() if grad is not None else None,
        grad_std=grad.std().item() if grad is not None and grad.numel() > 1 else None,
        grad_hist_edges=grad_edges,
        grad_hist_counts=grad_counts,
        white_rows=_white_rows(white[:MAP_EXAMPLES, :MAP_UNITS]) if kind != OTHER else (),
        name=name,
        kind=kind,
        flat_below=flat_below,
    )


@torch.no_grad()
def param_stats(weights: dict[str, int], params: list[torch.Tensor], grads: list[torch.Tensor],
                lr: float) -> tuple[ParamStats, ...]:
    """Each 2-D weight's gradient statistics and update:data ratio, as the lecture's parameter plots."""
    stats = []
    for name, index in weights.items():
        p, g = params[index].cpu(), grads[index].cpu()
        data_std, grad_std = p.std().item(), g.std().item()
        update = lr * grad_std / data_std if data_std > 0 else math.inf
        edges, counts = symmetric_histogram(g)
        stats.append(ParamStats(
            name=name, shape=tuple(p.shape), grad_mean=g.mean().item(), grad_std=grad_std,
            grad_data_ratio=grad_std / data_std if data_std > 0 else math.inf,
            update_ratio_log10=math.log10(update) if 0 < update < math.inf else -math.inf,
            grad_hist_edges=edges, grad_hist_counts=counts))
    return tuple(stats)
