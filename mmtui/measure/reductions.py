"""Statistics of activations, their gradients and the weights: reductions on the tensors' own device into
fixed-size results, one Readout per measured step, turned into records once its copy has landed."""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F

from mmtui.measure.readout import Readout
from mmtui.measure.through_time import ThroughTime
from mmtui.records import (BOUNDED, FLAT, OTHER, RECTIFIER, SATURATED_AT, WHITE_AT, ActivationStats,
                           ParamStats, TimeStats)

HIST_BINS = 50  # the lecture's histograms: 50 bins
MAP_EXAMPLES = 32  # examples in the dead-neuron bitmap: the lecture's batch
MAP_UNITS = 512  # units in it: wider than any map a terminal draws
MAP_BITS = 16  # bits of the map packed into one float32 of the readout: its integers are exact below 2 ** 24
# a tensor up to this size (the lecture's every one) gets torch.std_mean's two-pass mean
# and std on the CPU too
TWO_PASS_UP_TO = 2 ** 13
# sizes of a layer's readout pieces: mean and std; troubled, white, dead units and whether the function is
# elementwise; low and high
SPREAD, TROUBLE, RANGE = 2, 4, 2


def as_examples_by_units(t: torch.Tensor) -> torch.Tensor:
    """An activation of any shape as (examples, units): a unit is a channel, the last dimension of a
    transformer's (batch, time, channels) and the second of a convolution's (batch, channels, height,
    width)."""
    if t.dim() >= 4:
        t = t.movedim(1, -1)
    if t.dim() == 0:
        return t.reshape(1, 1)
    return t.reshape(-1, t.shape[-1])


def spread(t: torch.Tensor) -> torch.Tensor:
    """Mean and (sample) standard deviation of every element, (2,). On the CPU a large tensor's come from its
    sum and its dot with itself (25 us for 131,072 values, where std_mean's two-pass kernel takes 2.5 ms),
    within float32's rounding of the same figures: 1e-6 x (1 + mean**2 / var) of the variance."""
    flat = t.reshape(-1).float()  # (n,)
    if flat.is_cuda or flat.numel() <= TWO_PASS_UP_TO:
        std, mean = torch.std_mean(flat)
        return torch.stack([mean, std])
    total, squares = flat.sum(), flat.dot(flat)
    mean = total / flat.numel()
    variance = (squares - total * mean) / (flat.numel() - 1)
    return torch.stack([mean, variance.clamp(min=0).sqrt()])


def _histogram(x: torch.Tensor, span: torch.Tensor) -> torch.Tensor:
    """Counts (HIST_BINS,) of x's values in even bins on [low, high] = span (2,), found on the device:
    torch.histc's bins, which needs the range as Python floats (a device sync). Values outside, and NaN, are
    in no bin; where low == high every value is in the middle bin, as histc's on a range widened by 1e-12
    either side."""
    low, high = span[0], span[1]
    width = high - low
    inside = (x >= low) & (x <= high)  # (n,)
    position = torch.where(width > 0, (x - low) * HIST_BINS / width, float(HIST_BINS // 2))  # (n,)
    # the top edge in the last bin; outside and NaN one bin past it, dropped
    index = torch.where(inside, position.clamp(0, HIST_BINS - 1), float(HIST_BINS)).long()  # (n,)
    if x.is_cuda:  # bincount on CUDA reads its input's max back: a sync
        counts = torch.zeros(HIST_BINS + 1, device=x.device).index_add_(0, index, torch.ones_like(x))
    else:  # ~3x index_add_'s speed on the CPU
        counts = torch.bincount(index, minlength=HIST_BINS + 1).float()
    return counts[:HIST_BINS]  # (HIST_BINS,)


def _span(whole: torch.Tensor, sample: torch.Tensor) -> torch.Tensor:
    """The least and greatest value of the whole tensor, (2,), one pass; where it holds NaN or inf, the least
    and greatest finite value of the sample (inf and -inf where there is none: the record then has no
    histogram)."""
    low, high = torch.aminmax(whole)
    finite = torch.isfinite(sample)
    fallback = torch.stack([torch.where(finite, sample, math.inf).min(),
                            torch.where(finite, sample, -math.inf).max()])
    span = torch.stack([low, high]).float()
    return torch.where(torch.isfinite(span).all(), span, fallback)


def _symmetric(whole: torch.Tensor, sample: torch.Tensor) -> torch.Tensor:
    """The bound b = max |whole| of a histogram on [-b, b] and the sample's counts in it, (1 + HIST_BINS,); b
    is inf or NaN where the whole is not finite, and the record then has no histogram."""
    low, high = torch.aminmax(whole)
    bound = torch.maximum(-low, high).float()
    return torch.cat([bound[None], _histogram(sample, torch.stack([-bound, bound]))])


def _trouble(t: torch.Tensor, kind: str, bounds: tuple[float, float], flat_below: float, saturated_at: float,
             white_at: float) -> tuple[torch.Tensor, torch.Tensor]:
    """Which outputs are in trouble and which are white pixels, by a BOUNDED or a RECTIFIER function's
    rule."""
    if kind == RECTIFIER:
        troubled = t <= flat_below
        return troubled, troubled
    low, high = bounds
    scaled = t if bounds == (-1.0, 1.0) else (t - low) * (2 / (high - low)) - 1  # on [-1, 1]
    magnitude = scaled.abs()
    return magnitude > saturated_at, magnitude > white_at


def _packed_map(white: torch.Tensor) -> torch.Tensor:
    """The first MAP_EXAMPLES x MAP_UNITS of a white mask (examples, units), MAP_BITS units to a value, unit u
    of a chunk in bit u: (rows, chunks)."""
    white = white[:MAP_EXAMPLES, :MAP_UNITS].float()
    white = F.pad(white, (0, -white.shape[1] % MAP_BITS))  # (rows, chunks * MAP_BITS)
    bits = torch.exp2(torch.arange(MAP_BITS, device=white.device, dtype=torch.float32))  # (MAP_BITS,)
    return (white.view(white.shape[0], -1, MAP_BITS) * bits).sum(-1)  # (rows, chunks)


@dataclass(frozen=True)
class _Layer:
    """What a layer's record needs besides its readout values."""

    order: int  # where the layer comes in the model: records go out in this order
    name: str
    kind: str
    units: int
    numel: int  # every output's count, for the std of one value
    at: int  # where its outputs' results start in the readout
    map_rows: int
    map_chunks: int
    flat_below: float
    saturated_at: float
    white_at: float


@dataclass(frozen=True)
class _Weight:
    name: str
    shape: tuple[int, ...]
    at: int  # where its results start in the readout; -1: it had no gradient


class StepStats:
    """One measured step's statistics, taken as the step goes (outputs in the forward, gradients in the
    backward, weights around the update) into one Readout; records() once sent and ready().

    A tensor up to sampling.SAMPLE_ELEMENTS is measured whole; of a larger one, the mean and std are of every
    element and the rest (shares, dead units, histograms, the update) of the sample the caller passes.
    """

    def __init__(self, step: int):
        self.step = step
        self.readout = Readout()
        self._layers: list[_Layer] = []
        # layer handle -> where its gradient's results start, numel
        self._grads: dict[int, tuple[int, int]] = {}
        self._weights: list[_Weight] = []
        self.times = ThroughTime(self.readout)  # the figures by time step of layers that run through time

    # ---- taking them, on the device

    @torch.no_grad()
    def activation(self, t: torch.Tensor, *, order: int | None = None, name: str = "", kind: str = BOUNDED,
                   bounds: tuple[float, float] = (-1.0, 1.0), flat_below: float = 0.0,
                   saturated_at: float = SATURATED_AT, white_at: float = WHITE_AT,
                   rows: torch.Tensor | None = None,
                   near_flat: torch.Tensor | None = None, elementwise: torch.Tensor | None = None) -> int:
        """One activation layer's outputs t; returns its handle for gradient(). rows: the examples of the
        sample (None: all). A BOUNDED or RECTIFIER function's shares and dead units are of every output
        (comparisons are cheap); a FLAT function's near_flat mask of the sampled outputs (examples, units)
        comes from its slopes, and elementwise (0-d) says whether the slopes mean anything (else the record
        says OTHER)."""
        whole = as_examples_by_units(t.detach())  # (N, units)
        sample = (whole if rows is None else whole.index_select(0, rows)).float()  # (R, units)
        if kind in (BOUNDED, RECTIFIER):
            troubled, white = _trouble(whole, kind, bounds, flat_below, saturated_at, white_at)  # (N, units)
            mapped = white if rows is None else white.index_select(0, rows)  # (R, units)
        else:  # FLAT's mask comes with it; OTHER has none
            none = torch.zeros_like(sample, dtype=torch.bool)
            troubled = white = mapped = near_flat if kind == FLAT else none
        if kind == BOUNDED:
            span = torch.stack([sample.new_full((), bounds[0]), sample.new_full((), bounds[1])])
        else:
            span = _span(whole, sample)
        flag = elementwise.float().reshape(1) if elementwise is not None else sample.new_ones(1)
        trouble = torch.cat([torch.stack([troubled.float().mean(), white.float().mean(),
                                          white.all(dim=0).sum().float()]), flag])
        packed = _packed_map(mapped) if kind != OTHER else sample.new_zeros(0, 0)
        at = self.readout.put(spread(whole), trouble, span, _histogram(sample.reshape(-1), span), packed)
        handle = len(self._layers)
        self._layers.append(_Layer(handle if order is None else order, name, kind, whole.shape[1],
                                   whole.numel(),
                                   at, packed.shape[0], packed.shape[1], flat_below, saturated_at, white_at))
        return handle

    @torch.no_grad()
    def gradient(self, handle: int, grad: torch.Tensor, rows: torch.Tensor | None = None) -> None:
        """The gradient reaching layer `handle`'s outputs, sampled as its outputs were."""
        whole = as_examples_by_units(grad.detach())  # (N, units)
        sample = (whole if rows is None else whole.index_select(0, rows)).float()  # (R, units)
        at = self.readout.put(spread(whole), _symmetric(whole, sample.reshape(-1)))
        self._grads[handle] = (at, whole.numel())

    @torch.no_grad()
    def weight(self, name: str, p: torch.Tensor, grad: torch.Tensor | None, data_std: torch.Tensor,
               update_std: torch.Tensor | None, elements: torch.Tensor | None = None) -> None:
        """One weight's gradient and update: data_std (0-d) of its values before the update (the watcher) or
        after it (the lecture's), update_std (0-d) of the update it got (None: no gradient, so none).
        elements: the gradient's sampled elements for its histogram (None: all)."""
        if grad is None:
            self._weights.append(_Weight(name, tuple(p.shape), -1))
            return
        flat = grad.detach().reshape(-1)  # (n,)
        sample = (flat if elements is None else flat.index_select(0, elements)).float()
        at = self.readout.put(spread(flat), data_std, update_std, _symmetric(flat, sample))
        self._weights.append(_Weight(name, tuple(p.shape), at))

    def send(self) -> None:
        """Start the one copy of everything taken; nothing waits for it."""
        self.readout.send()

    def ready(self) -> bool:
        return self.readout.ready()

    # ---- reading them, once landed

    def records(self) -> tuple[tuple[ActivationStats, ...], tuple[ParamStats, ...]]:
        """The layers' records in the model's order, numbered from 1, and the weights'."""
        values = self.readout.values()
        layers = [(layer.order, self._layer_record(values, handle, layer))
                  for handle, layer in enumerate(self._layers)]
        ordered = [stats for _, stats in sorted(layers, key=lambda pair: pair[0])]
        numbered = tuple(_renumbered(stats, number) for number, stats in enumerate(ordered, 1))
        return numbered, tuple(_weight_record(values, weight) for weight in self._weights)

    def through_time(self) -> tuple[TimeStats, ...]:
        """The figures by time step of every layer that ran through time."""
        return self.times.records(self.readout.values(), self.step)

    def _layer_record(self, values: list[float], handle: int, layer: _Layer) -> ActivationStats:
        at = layer.at
        mean, std = values[at:at + SPREAD]
        troubled, white, dead, elementwise = values[at + SPREAD:at + SPREAD + TROUBLE]
        at += SPREAD + TROUBLE
        low, high = values[at:at + RANGE]
        counts = values[at + RANGE:at + RANGE + HIST_BINS]
        at += RANGE + HIST_BINS
        kind = layer.kind if elementwise else OTHER
        white_rows = ()
        if kind != OTHER:
            packed = values[at:at + layer.map_rows * layer.map_chunks]
            white_rows = tuple(_unpacked(packed[r * layer.map_chunks:(r + 1) * layer.map_chunks])
                               for r in range(layer.map_rows))
        else:
            troubled = white = dead = 0.0
        edges, counts = _edges_and_counts(low, high, counts) if math.isfinite(low) else ((), ())
        grad_mean = grad_std = None
        grad_edges, grad_counts = (), ()
        if handle in self._grads:
            at, numel = self._grads[handle]
            grad_mean, grad_std, bound = values[at:at + 3]
            grad_std = grad_std if numel > 1 else None
            grad_edges, grad_counts = _symmetric_edges_and_counts(bound, values[at + 3:at + 3 + HIST_BINS])
        return ActivationStats(
            step=self.step, saturation=troubled * 100, share_99=white * 100, dead_units=round(dead),
            units=layer.units, mean=mean, std=std if layer.numel > 1 else 0.0, hist_edges=edges,
            hist_counts=counts,
            grad_mean=grad_mean, grad_std=grad_std, grad_hist_edges=grad_edges, grad_hist_counts=grad_counts,
            white_rows=white_rows, saturated_at=layer.saturated_at, white_at=layer.white_at, name=layer.name,
            kind=kind, flat_below=layer.flat_below)


def _renumbered(stats: ActivationStats, number: int) -> ActivationStats:
    return ActivationStats(**{**stats.__dict__, "layer": number})


def _unpacked(chunks: list[float]) -> int:
    """One example's white units as an int, bit u for unit u."""
    return sum(int(chunk) << (MAP_BITS * k) for k, chunk in enumerate(chunks))


Edges = tuple[tuple[float, ...], tuple[int, ...]]  # a histogram's edges and counts, as the records hold them


def _edges_and_counts(low: float, high: float, counts: list[float]) -> Edges:
    if not high > low:  # one value (or all equal): one flat bin around it
        low, high = low - 1e-12, low + 1e-12
    return tuple(torch.linspace(low, high, HIST_BINS + 1).tolist()), tuple(round(c) for c in counts)


def _symmetric_edges_and_counts(bound: float, counts: list[float]) -> Edges:
    return _edges_and_counts(-bound, bound, counts) if math.isfinite(bound) else ((), ())


def _weight_record(values: list[float], weight: _Weight) -> ParamStats:
    if weight.at < 0:
        return ParamStats(name=weight.name, shape=weight.shape, grad_mean=math.nan, grad_std=math.nan,
                          grad_data_ratio=math.inf, update_ratio_log10=-math.inf, grad_hist_edges=(),
                          grad_hist_counts=())
    at = weight.at
    grad_mean, grad_std, data_std, update_std, bound = values[at:at + 5]
    edges, counts = _symmetric_edges_and_counts(bound, values[at + 5:at + 5 + HIST_BINS])
    numel = math.prod(weight.shape)
    grad_std, data_std = (grad_std, data_std) if numel > 1 else (0.0, 0.0)
    ratio = update_std / data_std if data_std > 0 else math.inf
    return ParamStats(name=weight.name, shape=weight.shape, grad_mean=grad_mean, grad_std=grad_std,
                      grad_data_ratio=grad_std / data_std if data_std > 0 else math.inf,
                      update_ratio_log10=math.log10(ratio) if 0 < ratio < math.inf else -math.inf,
                      grad_hist_edges=edges, grad_hist_counts=counts)


def activation_stats(t: torch.Tensor, grad: torch.Tensor | None, step: int, layer: int = 1,
                     **how) -> ActivationStats:
    """One layer's record at once: a measurement of its own, read back as soon as taken (tests, one-off
    uses)."""
    stats = StepStats(step)
    handle = stats.activation(t, **how)
    if grad is not None:
        stats.gradient(handle, grad)
    stats.send()
    return _renumbered(stats.records()[0][0], layer)
