"""A large tensor's figures from a fixed sample against the same figures from every element, on real tensors:
the lecture's MLP (its hidden layer over 20,000 examples, at init and trained) and
examples/char_transformer.py's GELUs.

What sampling may change is the histograms' bars and a FLAT function's near-flat share: here by at most
HIST_ERROR points of the values' share per bin (about a third of what one lecture batch of 32 to the next
moves them) and FLAT_ERROR points. Mean, std, range, the bounded and rectifier shares and dead units are
exact.
"""

from __future__ import annotations

import math
import sys
from pathlib import Path

import pytest
import torch

from mmtui.engine.config import TrainConfig
from mmtui.engine.model import build_model
from mmtui.measure.sampling import SAMPLE_ELEMENTS, Samples
from mmtui.measure.slopes import near_flat, peak_slope
from mmtui.measure.reductions import StepStats, as_examples_by_units
from mmtui.records import BOUNDED, FLAT, OTHER
from mmtui.watcher.weights import WeightTaps

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "examples"))
from char_transformer import Transformer, encode  # noqa: E402

HIST_ERROR = 1.0  # points of the values' share, per bin (measured: 0.68 at most; one batch to the next: 1.9)
FLAT_ERROR = 1.0  # points of a FLAT layer's near-flat share (measured: 0.4 at most)
EXAMPLES = 20_000  # the lecture's hidden layer over this many examples: 4M values, 328 of them sampled


@pytest.fixture(scope="module", autouse=True)
def one_thread():
    """These small ops run ~40x slower on two threads of a loaded machine than on one."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def records(t: torch.Tensor, sampled: bool, kind: str = BOUNDED, module=None, inputs=None):
    """The record of t measured whole, or on the fixed sample the watcher would take."""
    whole = as_examples_by_units(t)
    rows = Samples().rows("layer", whole.shape[0], whole.shape[1], t.device) if sampled else None
    flat = elementwise = None
    if kind == FLAT:
        pick = (lambda x: x) if rows is None else (lambda x: x.index_select(0, rows))
        flat, elementwise = near_flat(module, pick(as_examples_by_units(inputs)), pick(whole),
                                      peak_slope(module, t.device), check=False)
    stats = StepStats(0)
    stats.activation(t, kind=kind, rows=rows, near_flat=flat, elementwise=elementwise)
    stats.send()
    return stats.records()[0][0]


def shares(stats) -> torch.Tensor:
    counts = torch.tensor(stats.hist_counts, dtype=torch.float64)
    return counts / counts.sum() * 100


def assert_sampled_close(t: torch.Tensor, kind: str = BOUNDED, **flat) -> None:
    exact, sampled = records(t, False, kind, **flat), records(t, True, kind, **flat)
    assert sum(sampled.hist_counts) < sum(exact.hist_counts)  # it was sampled
    assert (sampled.mean, sampled.std, sampled.hist_edges) == (exact.mean, exact.std, exact.hist_edges)
    assert (shares(sampled) - shares(exact)).abs().max() <= HIST_ERROR
    assert sampled.dead_units == exact.dead_units or kind == FLAT
    if kind == FLAT:
        assert abs(sampled.saturation - exact.saturation) <= FLAT_ERROR
    else:
        assert (sampled.saturation, sampled.share_99) == (exact.saturation, exact.share_99)


@pytest.fixture(scope="module")
def lecture_layers(names_dataset):
    """The lecture MLP's h and dh over EXAMPLES examples, at init and after 2,000 steps at batch 32."""
    config = TrainConfig()
    generator = torch.Generator().manual_seed(config.seed)
    model = build_model(config, names_dataset.vocab.size, generator)
    X, Y = names_dataset.Xtr[:EXAMPLES], names_dataset.Ytr[:EXAMPLES]
    layers = [model.step(X, Y, record=True)]
    params = model.parameters()
    for _ in range(2000):
        ix = torch.randint(0, len(names_dataset.Xtr), (32,), generator=generator)
        torch._foreach_add_(params, model.step(names_dataset.Xtr[ix], names_dataset.Ytr[ix], False).grads,
                            alpha=-0.1)
    layers.append(model.step(X, Y, record=True))
    return [(result.activations[0], result.activation_grads[0]) for result in layers]


@pytest.mark.parametrize("when", [0, 1], ids=["init", "trained"])
def test_the_lecture_layers_sampled_figures_equal_the_exact_ones_within_the_stated_error(lecture_layers,
                                                                                         when):
    h, dh = lecture_layers[when]
    assert h.numel() > 60 * SAMPLE_ELEMENTS
    assert_sampled_close(h)
    assert_sampled_close(dh, OTHER)


def test_the_lectures_own_batch_and_weights_are_measured_whole():
    samples = Samples()
    assert samples.rows("h", 32, 200, torch.device("cpu")) is None  # 32 x 200: the figures are exact
    assert samples.elements("W1", 30 * 200, torch.device("cpu")) is None


@pytest.fixture(scope="module")
def transformer(bundled_words):
    """char_transformer's model and data: its GELU's input and output at init and after 100 AdamW steps."""
    torch.manual_seed(1337)
    words = bundled_words[:4000]
    stoi = {c: i + 1 for i, c in enumerate(sorted(set("".join(words))))}
    block_size = max(len(w) for w in words) + 1
    X, Y = encode(words, stoi, block_size)
    model = Transformer(len(stoi) + 1, block_size)
    optimizer = torch.optim.AdamW(model.parameters(), lr=3e-3)
    act = model.blocks[0].mlp[1]
    seen = []
    act.register_forward_hook(lambda module, args, output: seen.append((args[0].detach(), output.detach())))
    taken = []
    for step in range(101):
        ix = torch.randint(0, len(X), (256 if step in (0, 100) else 32,))
        seen.clear()
        _, loss = model(X[ix], Y[ix])
        if step in (0, 100):
            taken.append(seen[0])
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    return act, taken


@pytest.mark.parametrize("when", [0, 1], ids=["init", "trained"])
def test_the_transformers_gelu_sampled_figures_equal_the_exact_ones_within_the_stated_error(transformer,
                                                                                             when):
    act, taken = transformer
    inputs, outputs = taken[when]
    assert_sampled_close(outputs, FLAT, module=act, inputs=inputs)


def test_update_to_data_from_the_kept_sample_is_adams_real_update():
    torch.manual_seed(0)
    layer = torch.nn.Linear(1024, 512)  # 524,288 weights: the update is measured on 65,536 of them
    optimizer = torch.optim.Adam(layer.parameters(), lr=1e-3)
    taps = WeightTaps([("w", layer.weight)], Samples())
    before = layer.weight.detach().clone()
    layer(torch.randn(64, 1024)).pow(2).mean().backward()
    taps.before_update()
    optimizer.step()
    stats = StepStats(0)
    taps.after_update(stats)
    stats.send()
    (param,) = stats.records()[1]
    exact = math.log10((layer.weight.detach() - before).std().item() / before.std().item())
    assert param.update_ratio_log10 == pytest.approx(exact, abs=0.01)  # 2% of the ratio: a tenth of a pixel
    assert param.grad_std == pytest.approx(layer.weight.grad.std().item(), rel=1e-5)  # of every element
