"""One measurement's way to the host: its results gathered on their device, one asynchronous copy, read when
landed."""

from __future__ import annotations

import torch


class Readout:
    """The fixed-size results of one measurement (1-D float32 pieces on the tensors' device), gathered into
    one flat tensor per device and copied to pinned host memory without waiting; values() reads them once
    ready() says the copies landed. On the CPU there is no copy: the flat tensor is the result, ready at once.
    """

    def __init__(self):
        self._parts: list[torch.Tensor] = []  # each (n,) float32, on its tensor's device, in put() order
        self._size = 0
        # the parts' indices, their host tensor and its copy's event, one per device
        self._copies: list[tuple[list[int], torch.Tensor, torch.cuda.Event | None]] = []
        self._values: list[float] | None = None

    def put(self, *pieces: torch.Tensor) -> int:
        """Add pieces (any shape, flattened in order); returns where the first one starts in values()."""
        start = self._size
        for piece in pieces:
            flat = piece.detach().reshape(-1).float()  # (n,)
            self._parts.append(flat)
            self._size += flat.numel()
        return start

    def send(self) -> None:
        """Gather the pieces, one flat tensor per device, and start their copies; the caller does not wait."""
        by_device: dict[torch.device, list[int]] = {}
        for index, part in enumerate(self._parts):
            by_device.setdefault(part.device, []).append(index)
        for device, indices in by_device.items():
            flat = torch.cat([self._parts[i] for i in indices])  # (n,)
            if device.type == "cuda":
                host = torch.empty(flat.shape, dtype=flat.dtype, pin_memory=True)
                host.copy_(flat, non_blocking=True)
                event = torch.cuda.Event()
                event.record()
                self._copies.append((indices, host, event))
            else:
                self._copies.append((indices, flat, None))

    def ready(self) -> bool:
        """Whether every copy has landed; never waits."""
        return all(event is None or event.query() for _, _, event in self._copies)

    def values(self) -> list[float]:
        """The results in put() order; waits for copies not yet landed (a run's end only: the training thread
        asks after ready())."""
        if self._values is None:
            pieces: list[list[float]] = [[] for _ in self._parts]
            for indices, host, event in self._copies:
                if event is not None:
                    event.synchronize()
                landed, at = host.tolist(), 0
                for i in indices:
                    size = self._parts[i].numel()
                    pieces[i], at = landed[at:at + size], at + size
            self._values = [value for piece in pieces for value in piece]
            self._parts = []
        return self._values
