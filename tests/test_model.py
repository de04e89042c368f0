"""The models: their sizes, their draw order and init scaling (the MLP's presets, the layer nets' gains)."""

from __future__ import annotations

import math

import pytest
import torch

from mmtui.engine.config import TrainConfig
from mmtui.experiments import LECTURE_SEED, PRESETS
from mmtui.engine.layer_net import BatchNorm1d
from mmtui.engine.model import UnknownPreset, build_model


def mlp(preset: str, w1_scale: float, generator: torch.Generator, model: str = "mlp"):
    return build_model(TrainConfig(init=preset, w1_scale=w1_scale, model=model), 27, generator)


def lecture_draw(seed: int, preset: str, V: int = 27, block_size: int = 3, embed: int = 10,
                 hidden: int = 200):
    """An independent draw in the lecture's order, scaled as the lecture's experiments scale it."""
    g = torch.Generator().manual_seed(seed)
    C = torch.randn((V, embed), generator=g)
    W1 = torch.randn((block_size * embed, hidden), generator=g)
    b1 = torch.randn(hidden, generator=g)
    W2 = torch.randn((hidden, V), generator=g)
    b2 = torch.randn(V, generator=g)
    if preset != "lecture":
        W2 = W2 * 0.01
        b2 = b2 * 0
    if preset == "fix-tanh":
        W1 = W1 * 0.2
        b1 = b1 * 0.01
    if preset == "kaiming":
        W1 = W1 * (5 / 3) / (block_size * embed) ** 0.5
        b1 = b1 * 0.01
    return {"C": C, "W1": W1, "b1": b1, "W2": W2, "b2": b2}


def lecture_layer_draw(g: torch.Generator, model: str, gain: float = 5 / 3, w1_scale: float = 1.0,
                       preset: str = "kaiming", V: int = 27, block_size: int = 3,
                       embed: int = 10) -> dict[str, torch.Tensor]:
    """An independent draw of mlp-bn, deep or deep-bn from g in the lecture's order (C, then the layers in
    order), scaled as the lecture's cells scale them; each BatchNorm's gamma and beta
    under their own names."""
    drawn = {"C": torch.randn((V, embed), generator=g)}
    if model == "mlp-bn":  # the lecture's BatchNorm cell: C, W1, W2, b2; no b1
        assert preset in ("lecture", "kaiming")
        W1 = torch.randn((block_size * embed, 200), generator=g)
        W2 = torch.randn((200, V), generator=g)
        b2 = torch.randn(V, generator=g)
        if preset == "kaiming":
            W1, W2, b2 = W1 * (5 / 3) / (block_size * embed) ** 0.5, W2 * 0.01, b2 * 0
        return drawn | {"W1": W1 * w1_scale, "gamma1": torch.ones(200), "beta1": torch.zeros(200), "W2": W2,
                        "b2": b2}
    batchnorm = model == "deep-bn"
    sizes = [block_size * embed] + [100] * 5 + [V]  # 5 hidden Tanh blocks of 100, then the output layer
    for n, (fan_in, fan_out) in enumerate(zip(sizes, sizes[1:]), 1):
        output = n == len(sizes) - 1
        W = torch.randn((fan_in, fan_out), generator=g) / fan_in ** 0.5
        if not output:
            W = W * gain
        elif not batchnorm:
            W = W * 0.1  # a less confident output at init; with BatchNorm its gamma instead
        drawn[f"W{n}"] = W * w1_scale if n == 1 else W
        if batchnorm:
            drawn[f"gamma{n}"] = torch.ones(fan_out) * (0.1 if output else 1.0)
            drawn[f"beta{n}"] = torch.zeros(fan_out)
        else:
            drawn[f"b{n}"] = torch.zeros(fan_out)
    return drawn


def test_default_net_has_the_lectures_11897_parameters():
    model = mlp("lecture", 1.0, torch.Generator().manual_seed(0))
    assert model.num_params() == 11_897
    assert [tuple(p.shape) for p in model.parameters()] == [(27, 10), (30, 200), (200,), (200, 27), (27,)]


@pytest.mark.parametrize("preset", PRESETS)
@pytest.mark.parametrize("seed", [LECTURE_SEED, 1234])
def test_weights_are_drawn_in_the_lectures_order_and_scaled_by_the_preset(preset, seed):
    expected = lecture_draw(seed, preset)
    model = mlp(preset, 1.0, torch.Generator().manual_seed(seed))
    actual = {"C": model.C, "W1": model.W1, "b1": model.b1, "W2": model.W2, "b2": model.b2}
    for name, tensor in expected.items():
        torch.testing.assert_close(actual[name].detach(), tensor, msg=f"{preset}: {name} differs")


def test_model_leaves_the_generator_where_the_lecture_draws_the_first_batch():
    g_model = torch.Generator().manual_seed(LECTURE_SEED)
    mlp("kaiming", 1.0, g_model)
    g_lecture = torch.Generator().manual_seed(LECTURE_SEED)
    for shape in [(27, 10), (30, 200), (200,), (200, 27), (27,)]:
        torch.randn(shape, generator=g_lecture)
    assert torch.equal(torch.randint(0, 1000, (32,), generator=g_model),
                       torch.randint(0, 1000, (32,), generator=g_lecture))


@pytest.mark.parametrize("preset", PRESETS)
def test_w1_scale_multiplies_only_w1_on_top_of_the_preset(preset):
    plain = mlp(preset, 1.0, torch.Generator().manual_seed(7))
    scaled = mlp(preset, 2.5, torch.Generator().manual_seed(7))
    torch.testing.assert_close(scaled.W1.detach(), plain.W1.detach() * 2.5)
    for name in ("C", "b1", "W2", "b2"):
        assert torch.equal(getattr(scaled, name), getattr(plain, name)), name


def test_fix_logits_leaves_w2_small_but_not_zero():
    model = mlp("fix-logits", 1.0, torch.Generator().manual_seed(LECTURE_SEED))
    assert torch.count_nonzero(model.b2) == 0
    assert 0 < model.W2.abs().max().item() < 0.1


def test_kaiming_gives_hidden_preactivations_about_unit_std():
    model = mlp("kaiming", 1.0, torch.Generator().manual_seed(LECTURE_SEED))
    x = torch.randn(1000, 30, generator=torch.Generator().manual_seed(0))
    std = (x @ model.W1.detach()).std().item()
    assert std == pytest.approx(5 / 3, rel=0.1)


def test_unknown_preset_is_refused():
    with pytest.raises(UnknownPreset, match="nope"):
        mlp("nope", 1.0, torch.Generator().manual_seed(0))


def test_forward_gives_the_lectures_logits_and_h():
    model = mlp("lecture", 1.0, torch.Generator().manual_seed(0))
    X = torch.randint(0, 27, (5, 3), generator=torch.Generator().manual_seed(1))
    logits = model.forward(X)
    assert logits.shape == (5, 27)
    emb = model.C[X].view(5, -1)
    expected_h = torch.tanh(emb @ model.W1 + model.b1)
    torch.testing.assert_close(logits, expected_h @ model.W2 + model.b2)


@pytest.mark.parametrize("preset", ["lecture", "fix-tanh"])
def test_hand_written_gradients_equal_autograds(preset):
    model = mlp(preset, 1.0, torch.Generator().manual_seed(0))
    X = torch.randint(0, 27, (32, 3), generator=torch.Generator().manual_seed(1))
    X[0] = X[1]  # a repeated context: the embedding gradient must add up over repeats
    Y = torch.randint(0, 27, (32,), generator=torch.Generator().manual_seed(2))
    result = model.step(X, Y, record=True)
    loss, grads, (h,), (dh,) = result.loss, result.grads, result.activations, result.activation_grads
    params = [p.clone().requires_grad_(True) for p in model.parameters()]
    C, W1, b1, W2, b2 = params
    expected_h = torch.tanh(C[X].view(32, -1) @ W1 + b1)
    expected_h.retain_grad()
    expected_loss = torch.nn.functional.cross_entropy(expected_h @ W2 + b2, Y)
    expected_loss.backward()
    torch.testing.assert_close(loss, expected_loss.detach())
    torch.testing.assert_close(h, expected_h.detach())
    torch.testing.assert_close(dh, expected_h.grad, rtol=1e-4, atol=1e-7)
    for grad, param in zip(grads, params, strict=True):
        torch.testing.assert_close(grad, param.grad, rtol=1e-4, atol=1e-6)


def test_expected_init_loss_is_minus_log_one_over_v():
    from mmtui.engine.config import expected_init_loss

    assert expected_init_loss(27) == pytest.approx(-math.log(1 / 27)) == pytest.approx(3.2958, abs=1e-4)


@pytest.mark.parametrize("model, count",
                         [("mlp", 11_897), ("mlp-bn", 12_097), ("deep", 46_497), ("deep-bn", 47_024)])
def test_each_model_has_the_lectures_parameter_count(model, count):
    assert mlp("kaiming", 1.0, torch.Generator().manual_seed(0), model=model).num_params() == count


@pytest.mark.parametrize("model", ["mlp-bn", "deep", "deep-bn"])
def test_layer_nets_report_every_tanh_output_and_its_gradient(model):
    net = mlp("kaiming", 1.0, torch.Generator().manual_seed(0), model=model)
    X = torch.randint(0, 27, (32, 3), generator=torch.Generator().manual_seed(1))
    Y = torch.randint(0, 27, (32,), generator=torch.Generator().manual_seed(2))
    result = net.step(X, Y, record=True)
    layers = 1 if model == "mlp-bn" else 5
    assert len(result.activations) == len(result.activation_grads) == layers
    assert all(g.shape == a.shape for a, g in zip(result.activations, result.activation_grads))
    assert len(result.grads) == len(net.parameters())
    assert net.step(X, Y, record=False).activation_grads is None


def test_batchnorm_nets_sample_with_running_statistics():
    net = mlp("kaiming", 1.0, torch.Generator().manual_seed(0), model="deep-bn")
    X = torch.randint(0, 27, (32, 3), generator=torch.Generator().manual_seed(1))
    one = net.forward(X[:1])
    # evaluation mode: an example's logits ignore its batch
    torch.testing.assert_close(one, net.forward(X)[:1])
    Y = torch.randint(0, 27, (32,), generator=torch.Generator().manual_seed(2))
    net.step(X, Y, record=False)  # training mode moves the running statistics
    assert not torch.allclose(one, net.forward(X[:1]))


LAYER_NET_DRAWS = [("mlp-bn", 5 / 3, 1.0, "lecture"), ("mlp-bn", 5 / 3, 1.0, "kaiming"),
                   ("mlp-bn", 5 / 3, 2.0, "kaiming"), ("deep", 5 / 3, 1.0, "lecture"),
                   ("deep", 0.5, 2.0, "lecture"), ("deep-bn", 5 / 3, 1.0, "lecture"),
                   ("deep-bn", 3.0, 1.0, "lecture")]


@pytest.mark.parametrize("model, gain, w1_scale, preset", LAYER_NET_DRAWS,
                         ids=[f"{m}-gain{g:.2f}-w1x{w:g}-{p}" for m, g, w, p in LAYER_NET_DRAWS])
def test_layer_nets_are_drawn_in_the_lectures_order_and_scaled_as_the_lecture(model, gain, w1_scale, preset):
    g_plain = torch.Generator().manual_seed(LECTURE_SEED)
    expected = lecture_layer_draw(g_plain, model, gain, w1_scale, preset)
    g_model = torch.Generator().manual_seed(LECTURE_SEED)
    net = build_model(TrainConfig(model=model, gain=gain, w1_scale=w1_scale, init=preset), 27, g_model)
    parameters = net.parameters()
    assert len(parameters) == len(expected), [tuple(p.shape) for p in parameters]
    for (name, want), got in zip(expected.items(), parameters):
        torch.testing.assert_close(got.detach(), want, msg=f"{model}: {name} differs")
    for mean, var in zip(net.buffers()[::2], net.buffers()[1::2]):  # BatchNorm starts from the identity
        assert torch.equal(mean, torch.zeros_like(mean)) and torch.equal(var, torch.ones_like(var))
    # Nothing else drew from the generator: the first minibatch is the lecture's.
    assert torch.equal(torch.randint(0, 1000, (32,), generator=g_model),
                       torch.randint(0, 1000, (32,), generator=g_plain))


def test_mlp_bn_running_statistics_follow_the_batch_with_momentum_0001():
    net = mlp("kaiming", 1.0, torch.Generator().manual_seed(0), model="mlp-bn")
    norm = next(layer for layer in net.layers if isinstance(layer, BatchNorm1d))
    C, W1 = net.parameters()[:2]
    batches = torch.Generator().manual_seed(1)
    running_mean, running_var = torch.zeros(200), torch.ones(200)  # where the lecture's bnmean_running starts
    for _ in range(2):  # the second step starts from the first's statistics
        X = torch.randint(0, 27, (32, 3), generator=batches)
        Y = torch.randint(0, 27, (32,), generator=batches)
        hpreact = (C[X].view(32, -1) @ W1).detach()  # no b1: BatchNorm's beta takes its place
        net.step(X, Y, record=False)
        running_mean = 0.999 * running_mean + 0.001 * hpreact.mean(0)
        running_var = 0.999 * running_var + 0.001 * hpreact.var(0)
        torch.testing.assert_close(norm.running_mean, running_mean, rtol=1e-5, atol=1e-8)
        torch.testing.assert_close(norm.running_var, running_var, rtol=1e-5, atol=1e-8)


def test_batchnorm_matches_the_lectures_formula_and_its_gradients():
    """The lecture's BatchNorm1d, written as in the notebook, against ours: output,
    gradients, running stats."""
    x = (torch.randn(32, 100, generator=torch.Generator().manual_seed(3)) * 2 + 0.5).requires_grad_()
    norm = BatchNorm1d(100)
    gamma = (torch.rand(100, generator=torch.Generator().manual_seed(4)) + 0.5).requires_grad_()
    beta = torch.randn(100, generator=torch.Generator().manual_seed(5)).requires_grad_()
    norm.gamma, norm.beta = gamma, beta
    out = norm(x, training=True)
    xmean, xvar = x.mean(0, keepdim=True), x.var(0, keepdim=True)
    expected = gamma * (x - xmean) / torch.sqrt(xvar + 1e-5) + beta
    torch.testing.assert_close(out, expected)
    upstream = torch.randn(32, 100, generator=torch.Generator().manual_seed(6))
    ours = torch.autograd.grad(out, [x, gamma, beta], upstream)
    lectures = torch.autograd.grad(expected, [x, gamma, beta], upstream)
    for got, want in zip(ours, lectures):
        torch.testing.assert_close(got, want)
    torch.testing.assert_close(norm.running_mean, 0.9 * torch.zeros(100) + 0.1 * xmean.detach().squeeze(0))
    torch.testing.assert_close(norm.running_var, 0.9 * torch.ones(100) + 0.1 * xvar.detach().squeeze(0))
