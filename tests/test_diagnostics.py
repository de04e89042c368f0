"""The lecture's deep-net diagnostics at step 0: per-layer activations and gradients, parameter ratios."""

from __future__ import annotations

import json
import threading

import pytest
from click.testing import CliRunner

from mmtui.cli import cli
from mmtui.engine.config import TrainConfig
from mmtui.engine.trainer import Trainer
from mmtui.measure.pacing import Pacing


def first_snapshot(dataset, **config):
    """Step 0's snapshot, the run cancelled there: its end would evaluate the deep net on every example."""
    snapshots, cancel = [], threading.Event()

    def emit(snapshot) -> None:
        snapshots.append(snapshot)
        cancel.set()

    config = TrainConfig(steps=1000, eval_every=0, num_samples=1, compile="off", **config)
    trainer = Trainer(config, dataset, emit, cancel=cancel, pacing=Pacing(snapshot_every=1))
    trainer.run()
    assert snapshots[0].first_layer.step == 0
    return snapshots[0]


@pytest.fixture(scope="module")
def gains(names_dataset):
    return {gain: first_snapshot(names_dataset, model="deep", gain=gain) for gain in (0.5, 5 / 3, 3.0)}


def test_gain_half_shrinks_the_activations_layer_by_layer(gains):
    stds = [layer.std for layer in gains[0.5].layers]
    assert stds == sorted(stds, reverse=True)
    assert stds[-1] < 0.05 < 0.3 < stds[0]


def test_gain_five_thirds_keeps_the_layers_level_and_layer_one_as_the_lecture(gains):
    layers = gains[5 / 3].layers
    assert layers[0].std == pytest.approx(0.75, abs=0.05)
    assert layers[0].saturation == pytest.approx(20, abs=5)
    assert max(layer.std for layer in layers) - min(layer.std for layer in layers) < 0.15


def test_gain_three_saturates_every_layer(gains):
    assert all(layer.saturation > 30 for layer in gains[3.0].layers)


def test_batchnorm_puts_every_layer_near_std_063_whatever_the_gain(names_dataset):
    for gain in (0.5, 3.0):
        layers = first_snapshot(names_dataset, model="deep-bn", gain=gain).layers
        assert all(layer.std == pytest.approx(0.63, abs=0.05) for layer in layers)


def test_the_output_layers_grad_to_data_ratio_is_outsized_at_init(gains):
    params = {p.name: p for p in gains[5 / 3].params}
    assert set(params) == {"C", "W1", "W2", "W3", "W4", "W5", "W6"}
    others = max(p.grad_data_ratio for name, p in params.items() if name != "W6")
    assert params["W6"].grad_data_ratio > 10 * others
    assert params["W6"].shape == (100, 27)


def test_layers_carry_gradient_statistics_and_the_dead_unit_image(gains):
    layer = gains[5 / 3].layers[0]
    assert layer.grad_std > 0 and len(layer.grad_hist_counts) == 50
    assert len(layer.white_rows) == 32  # one row per example of the batch
    white_pixels = sum(bin(row).count("1") for row in layer.white_rows)
    assert white_pixels == pytest.approx(layer.share_99 / 100 * 32 * layer.units, abs=0.5)


def test_deep_nets_drop_the_learning_rate_for_the_last_quarter():
    config = TrainConfig(model="deep", steps=100)
    assert [config.lr_at(s) for s in (74, 75)] == [0.1, pytest.approx(0.01)]


def test_headless_step_lines_carry_layers_and_params(small_words_path):
    result = CliRunner().invoke(cli, ["--headless", "--model", "deep-bn", "--data", str(small_words_path),
                                      "--steps", "3", "--eval-every", "0", "--num-samples", "1"])
    assert result.exit_code == 0, result.output
    step0 = next(e for e in map(json.loads, result.stdout.splitlines()) if e["event"] == "step")
    assert len(step0["layers"]) == 5
    assert set(step0["layers"][0]) >= {"mean", "std", "saturation", "grad_std"}
    assert [p["name"] for p in step0["params"]] == ["C", "W1", "W2", "W3", "W4", "W5", "W6"]
    assert set(step0["params"][0]) >= {"shape", "grad_data_ratio", "update_ratio_log10"}
