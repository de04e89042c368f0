"""Measuring a training run: statistics taken on the tensors' own device, the pace they are taken at, the
snapshots they go into. Torch, but no lecture; the engine and the watcher both use it.

This file imports nothing, so the CLI reads the pace (measure.pacing) without loading torch.
"""
