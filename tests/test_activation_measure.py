"""Every activation function judged by its own derivative: an output is in trouble where the function's slope
is below NEAR_FLAT_SLOPE x its peak slope. Each family's figure, from a watched run, against that rule
computed here by autograd on the layer's real inputs; tanh's is the lecture's |t| > 0.97, exactly."""

from __future__ import annotations

import pytest
import torch
from torch import nn

import mmtui
from mmtui.measure.activations import activation_of
from mmtui.measure.pacing import Pacing
from mmtui.measure.reductions import activation_stats
from mmtui.records import BOUNDED, FLAT, NEAR_FLAT_SLOPE, OTHER, RECTIFIER, SATURATED_AT
from mmtui.runfile import read_run_file


class Bump(nn.Module):
    """A function of the user's own that mmtui knows nothing of: flat at 0 and far out, steep between."""

    def forward(self, x):
        return torch.exp(-x * x)


class Net(nn.Module):
    """One layer of each kind, each fed its own pre-activation (B, 64)."""

    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(8, 64 * 6)
        self.gelu, self.relu, self.gate, self.tanh = nn.GELU(), nn.ReLU(), nn.Sigmoid(), nn.Tanh()
        self.bump, self.soft = Bump(), nn.Softmax(dim=-1)
        self.head = nn.Linear(64 * 6, 1)
        with torch.no_grad():
            self.fc.weight *= 6  # pre-activations of std ~3: sigmoid's and tanh's both ends in use

    def forward(self, x):
        parts = self.fc(x).chunk(6, dim=-1)  # six (B, 64)
        layers = (self.gelu, self.relu, self.gate, self.tanh, self.bump, self.soft)
        return self.head(torch.cat([layer(part) for layer, part in zip(layers, parts)], -1)).pow(2).mean()


def slope_rule(function, x: torch.Tensor, peak: float) -> float:
    """Percent of x where |f'(x)| < NEAR_FLAT_SLOPE x the peak slope, by autograd."""
    x = x.detach().clone().requires_grad_()
    (slope,) = torch.autograd.grad(function(x).sum(), x)
    return (slope.abs() < NEAR_FLAT_SLOPE * peak).float().mean().item() * 100


@pytest.fixture(scope="module")
def watched(tmp_path_factory):
    """Step 0 of a watched run: each layer's record and the pre-activation it was fed."""
    torch.manual_seed(0)
    model = Net()
    inputs = {}
    for name in ("gelu", "relu", "gate", "tanh", "bump"):
        getattr(model, name).register_forward_pre_hook(
            lambda m, args, name=name: inputs.update({name: args[0]}))
    log = tmp_path_factory.mktemp("run") / "run.jsonl"
    optimizer = torch.optim.SGD(model.parameters(), lr=0.01)
    run = mmtui.watch(model, optimizer, log=log, pacing=Pacing(snapshot_every=1),
                      layers=["gelu", "relu", "gate", "tanh", "bump", "soft"])
    model(torch.randn(256, 8)).backward()
    optimizer.step()
    run.close()
    layers = {s.name.split()[0]: s for s in read_run_file(str(log))[0].layers}
    return layers, {name: x.detach() for name, x in inputs.items()}


def test_each_family_gets_its_kind(watched):
    layers, _ = watched
    assert {name: s.kind for name, s in layers.items()} == {
        "gelu": FLAT, "relu": RECTIFIER, "gate": BOUNDED, "tanh": BOUNDED, "bump": FLAT, "soft": OTHER}


def test_gelu_at_init_is_judged_by_its_slope_not_as_half_dead(watched, tmp_path):
    layers, inputs = watched
    gelu = layers["gelu"]
    peak = 1.1289  # GELU's slope peaks at x = 1.41
    assert gelu.saturation == pytest.approx(slope_rule(nn.functional.gelu, inputs["gelu"], peak), abs=0.05)
    torch.manual_seed(0)
    mlp = nn.Sequential(nn.Linear(64, 256), nn.GELU(), nn.Linear(256, 1))  # torch's own init
    optimizer = torch.optim.SGD(mlp.parameters(), lr=0.01)
    run = mmtui.watch(mlp, optimizer, log=tmp_path / "run.jsonl", pacing=Pacing(snapshot_every=1))
    mlp(torch.randn(512, 64)).pow(2).mean().backward()
    optimizer.step()
    run.close()
    at_init = read_run_file(str(tmp_path / "run.jsonl"))[0].layers[0]
    assert at_init.kind == FLAT and 3 < at_init.saturation < 20  # the bottom of its dip near x = -0.75 and
    # its far-negative tail; not the ~50% of outputs on the negative side that judging it as a ReLU said
    assert at_init.dead_units == 0


def test_relus_dead_side_is_where_its_slope_is_zero(watched):
    layers, inputs = watched
    assert layers["relu"].saturation == pytest.approx(slope_rule(torch.relu, inputs["relu"], 1.0), abs=0.05)
    assert layers["relu"].saturation > 40


def test_sigmoid_is_in_trouble_at_both_ends_by_its_slope(watched):
    layers, inputs = watched
    gate, x = layers["gate"], inputs["gate"]
    assert gate.saturation == pytest.approx(slope_rule(torch.sigmoid, x, 0.25), abs=0.05)
    t = torch.sigmoid(x)
    assert (t < 0.015).any() and (t > 0.985).any()  # both ends were reached, and counted
    assert (gate.hist_edges[0], gate.hist_edges[-1]) == (0.0, 1.0)


def test_tanh_keeps_the_lectures_measure_which_is_the_slope_rule(watched):
    layers, inputs = watched
    t = torch.tanh(inputs["tanh"])
    lecture = (t.abs() > SATURATED_AT).float().mean().item() * 100
    assert layers["tanh"].saturation == pytest.approx(lecture, abs=1e-4)
    assert layers["tanh"].saturation == pytest.approx(slope_rule(torch.tanh, inputs["tanh"], 1.0), abs=0.05)
    assert NEAR_FLAT_SLOPE == pytest.approx(1 - SATURATED_AT ** 2)


def test_a_users_own_function_is_judged_by_its_autograd_slope(watched):
    layers, inputs = watched
    peak = 2 ** 0.5 * torch.exp(torch.tensor(-0.5)).item()  # |d/dx exp(-x^2)| peaks at x = 1/sqrt(2)
    assert layers["bump"].saturation == pytest.approx(slope_rule(Bump(), inputs["bump"], peak), abs=0.05)
    assert layers["bump"].saturation > 1 and layers["bump"].white_rows


def test_a_function_that_is_not_elementwise_has_no_trouble_measure(watched):
    layers, _ = watched
    soft = layers["soft"]
    assert soft.saturation == 0 and soft.dead_units == 0 and soft.white_rows == ()


@pytest.mark.parametrize("module, kind", [
    (nn.Tanh(), BOUNDED), (nn.Sigmoid(), BOUNDED), (nn.Hardtanh(), BOUNDED), (nn.Softsign(), BOUNDED),
    (nn.ReLU(), RECTIFIER), (nn.ReLU6(), RECTIFIER), (nn.LeakyReLU(), RECTIFIER), (nn.PReLU(), FLAT),
    (nn.GELU(), FLAT), (nn.SiLU(), FLAT), (nn.Mish(), FLAT), (nn.ELU(), FLAT), (nn.CELU(), FLAT),
    (nn.SELU(), FLAT), (nn.Softplus(), FLAT), (nn.Hardswish(), FLAT), (nn.Linear(2, 2), None),
], ids=lambda v: type(v).__name__ if isinstance(v, nn.Module) else str(v))
def test_the_families_by_class(module, kind):
    found = activation_of(module)
    assert (found.kind if found else None) == kind


def test_softsigns_saturation_is_where_its_slope_is_near_flat():
    found = activation_of(nn.Softsign())
    x = torch.linspace(-40, 40, 10_001)
    t = nn.functional.softsign(x)
    stats = activation_stats(t[None], None, 0, kind=found.kind, saturated_at=found.saturated_at,
                             white_at=found.white_at)
    assert stats.saturation == pytest.approx(slope_rule(nn.functional.softsign, x, 1.0), abs=0.05)
