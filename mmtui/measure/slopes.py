"""Each activation function's slope, by autograd at the inputs it was given: what judges a FLAT function's
outputs."""

from __future__ import annotations

import torch
from torch import nn

from mmtui.records import NEAR_FLAT_SLOPE

# a function's peak slope is looked for on [-10, 10]: GELU's 1.13 at 1.4, softplus's 1 far right
PROBE_SPAN = 10.0
PROBE_POINTS = 2001


def _slopes(module: nn.Module, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """The module's outputs at x and |d output / d x| there, elementwise for an elementwise function; on
    copies (an in-place function cannot touch the run's tensors) and with the run's random numbers left as
    they were."""
    devices = [x.device] if x.is_cuda else []
    with torch.random.fork_rng(devices=devices), torch.enable_grad():
        leaf = x.detach().float().requires_grad_()
        y = module.forward(leaf.clone())
        (slope,) = torch.autograd.grad(y.sum(), leaf, allow_unused=True)
    slope = torch.zeros_like(leaf) if slope is None else slope.abs()
    return y.detach(), slope


def peak_slope(module: nn.Module, device: torch.device) -> torch.Tensor | None:
    """The function's largest |slope| on the probe, 0-d on `device`; None where it does not take a 1-D input
    (a PReLU with a slope per channel): its sample's own largest slope stands in."""
    probe = torch.linspace(-PROBE_SPAN, PROBE_SPAN, PROBE_POINTS, device=device)  # (PROBE_POINTS,)
    try:
        return _slopes(module, probe)[1].max()
    except (RuntimeError, ValueError, TypeError):
        return None


def near_flat(module: nn.Module, inputs: torch.Tensor, outputs: torch.Tensor, peak: torch.Tensor | None,
              check: bool) -> tuple[torch.Tensor, torch.Tensor]:
    """Which sampled outputs (examples, units) are on the function's near-flat part: slope below
    NEAR_FLAT_SLOPE x its peak slope; and whether the slopes mean anything, 0-d: with `check` (a module of the
    user's whose class mmtui does not know), only where the module applied to the inputs one by one gives the
    outputs it gave."""
    try:
        y, slope = _slopes(module, inputs.reshape(-1) if check else inputs)
    except (RuntimeError, ValueError, TypeError):  # not a function of its input alone
        return torch.zeros_like(outputs, dtype=torch.bool), outputs.new_zeros(())
    slope = slope.reshape(outputs.shape) if slope.numel() == outputs.numel() else torch.zeros_like(outputs)
    top = slope.max() if peak is None else torch.maximum(peak, slope.max())
    elementwise = outputs.new_ones(())
    if check:
        same = y.shape == outputs.reshape(-1).shape and y.dtype.is_floating_point
        elementwise = torch.isclose(y, outputs.reshape(-1).float(), rtol=1e-4, atol=1e-6).all() if same \
            else outputs.new_zeros(())
    return slope < NEAR_FLAT_SLOPE * top, elementwise
