"""The fixed random subsets a large tensor's statistics are taken from, drawn once per tensor on its own
device."""

from __future__ import annotations

import torch

# a tensor up to this size is measured whole (the lecture's every tensor); a larger one on this many of its
# elements: a share or a histogram bin of p then errs by sqrt(p (1 - p) / 65536) <= 0.2 points, below a pixel
# of any panel (tests/test_sampling.py measures it on real models)
SAMPLE_ELEMENTS = 2 ** 16
MIN_ROWS = 32  # a sample of examples keeps at least the dead map's examples
SEED = 20_260_101  # the subsets are fixed: the same elements at every measurement, whatever the user's seed


class Samples:
    """The subset of each tensor, by a key the caller gives (a layer, a weight), kept while its shape holds;
    drawn with a generator of mmtui's own, so watching never moves the user's random numbers."""

    def __init__(self):
        self._drawn: dict[tuple, torch.Tensor | None] = {}
        self._generators: dict[torch.device, torch.Generator] = {}

    def _draw(self, count: int, keep: int, device: torch.device) -> torch.Tensor:
        if device not in self._generators:
            self._generators[device] = torch.Generator(device=device).manual_seed(SEED)
        generator = self._generators[device]
        # a permutation of a huge tensor's indices costs its size; a draw with replacement repeats about
        # keep / 32 of them, which the figures cannot tell from a subset
        if count > 16 * keep:
            chosen = torch.randint(count, (keep,), generator=generator, device=device)  # (keep,)
        else:
            chosen = torch.randperm(count, generator=generator, device=device)[:keep]  # (keep,)
        return chosen.sort().values

    def rows(self, key, rows: int, units: int, device: torch.device) -> torch.Tensor | None:
        """Indices of the examples to measure of an (examples, units) activation: all its units, on about
        SAMPLE_ELEMENTS values and at least MIN_ROWS examples; None where the whole is small enough."""
        keep = max(MIN_ROWS, -(-SAMPLE_ELEMENTS // max(units, 1)))
        if rows <= keep:
            return None
        slot = ("rows", key, rows, units, device)
        if slot not in self._drawn:
            self._drawn[slot] = self._draw(rows, keep, device)
        return self._drawn[slot]

    def elements(self, key, count: int, device: torch.device) -> torch.Tensor | None:
        """Indices of SAMPLE_ELEMENTS elements of a flattened tensor; None where it has no more."""
        if count <= SAMPLE_ELEMENTS:
            return None
        slot = ("elements", key, count, device)
        if slot not in self._drawn:
            self._drawn[slot] = self._draw(count, SAMPLE_ELEMENTS, device)
        return self._drawn[slot]
