"""How the TUI runs the engine; no Textual import, so the CLI can start the trainer before loading Textual."""

from __future__ import annotations

from dataclasses import replace

from mmtui.engine.config import TrainConfig

SAMPLE_INTERVAL_S = 5.0  # seconds between sampled names while training (each batch costs the trainer ~40 ms)


def tui_config(config: TrainConfig) -> TrainConfig:
    """The run as the TUI trains it: names sampled every few seconds, and interval evaluations of the val
    split only, which is all the Loss panel plots (the train split is 8x larger: ~0.7 s of every 10,000
    steps on the lecture's names)."""
    return replace(config, sample_interval_s=SAMPLE_INTERVAL_S, eval_train_every=False)
