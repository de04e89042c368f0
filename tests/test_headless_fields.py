"""Headless start, step and diverged lines hold the numbers a plain lecture loop, written out here, gives."""

from __future__ import annotations

import json
import math
import random
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F
from click.testing import CliRunner

from mmtui.cli import cli
from mmtui.experiments import LECTURE_SEED

# the lecture's own list
LECTURE_NAMES = Path(__file__).resolve().parents[2] / "shared" / "data" / "names.txt"
STEPS = 4  # step lines 0..3: both sides of the MLP's lr drop (step 2) and of the deep net's (step 3)


def headless(*args: str) -> tuple[int, list[dict]]:
    result = CliRunner().invoke(cli, ["--headless", "--eval-every", "0", "--num-samples", "1", *args])
    return result.exit_code, [json.loads(line) for line in result.stdout.splitlines()]


# ---- the lecture's data preparation, written out


def lecture_words(path: Path) -> list[str]:
    return [line.strip() for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def lecture_split(words: list[str]) -> tuple[list[str], list[str], list[str]]:
    shuffled = list(words)
    random.Random(42).shuffle(shuffled)  # the same sequence as the lecture's random.seed(42); random.shuffle
    n1, n2 = int(0.8 * len(shuffled)), int(0.9 * len(shuffled))
    return shuffled[:n1], shuffled[n1:n2], shuffled[n2:]


def lecture_examples(words: list[str], stoi: dict[str, int], block_size: int = 3):
    X, Y = [], []
    for w in words:
        context = [0] * block_size
        for ch in w + ".":
            X.append(context)
            Y.append(stoi[ch])
            context = context[1:] + [stoi[ch]]
    return torch.tensor(X), torch.tensor(Y)


# ---- start: the data's sizes


def test_start_line_counts_the_words_and_each_splits_examples(small_words_path):
    code, lines = headless("--data", str(small_words_path), "--steps", "1")
    assert code == 0
    start = lines[0]
    train, dev, _ = lecture_split(lecture_words(small_words_path))
    assert start["event"] == "start"
    assert start["num_words"] == len(lecture_words(small_words_path)) == 1000
    assert start["train_examples"] == sum(len(w) + 1 for w in train)  # each character, then the end token
    assert start["val_examples"] == sum(len(w) + 1 for w in dev)


@pytest.mark.skipif(not LECTURE_NAMES.exists(), reason="the lecture's names.txt is not beside the project")
def test_start_line_on_the_lectures_list_gives_the_lectures_figures():
    code, lines = headless("--data", str(LECTURE_NAMES), "--steps", "1")
    assert code == 0
    start = lines[0]
    # ../shared/LECTURE.md: 32,033 names, 182,625 / 22,655 examples for train / dev
    assert (start["num_words"], start["train_examples"], start["val_examples"]) == (32_033, 182_625, 22_655)


# ---- step: statistics against plain autograd


def plain_run(words_path: Path, model: str, steps: int, w1_scale: float = 1.0,
              gain: float = 5 / 3) -> list[dict]:
    """The lecture's cells for the MLP (raw init) or the deep net (no BatchNorm), autograd with retain_grad,
    returning per step what the step line reports."""
    words = lecture_words(words_path)
    chars = sorted(set("".join(words)))
    stoi = {".": 0} | {ch: i + 1 for i, ch in enumerate(chars)}
    V = len(stoi)
    Xtr, Ytr = lecture_examples(lecture_split(words)[0], stoi)
    g = torch.Generator().manual_seed(LECTURE_SEED)
    C = torch.randn((V, 10), generator=g)
    if model == "mlp":
        W1 = torch.randn((30, 200), generator=g) * w1_scale
        b1 = torch.randn(200, generator=g)
        W2 = torch.randn((200, V), generator=g)
        b2 = torch.randn(V, generator=g)
        weights = {"C": C, "W1": W1, "W2": W2}
        parameters = [C, W1, b1, W2, b2]
        decay_at = steps // 2
    else:  # 5 x (Linear(fan_in, 100) -> Tanh), Linear(100, V); each weight randn / sqrt(fan_in), biases zero
        Ws, bs = [], []
        for fan_in, fan_out in [(30, 100)] + [(100, 100)] * 4 + [(100, V)]:
            Ws.append(torch.randn((fan_in, fan_out), generator=g) / fan_in**0.5)
            bs.append(torch.zeros(fan_out))
        for W in Ws[:-1]:
            W *= gain
        Ws[0] *= w1_scale
        Ws[-1] *= 0.1  # the output layer less confident
        weights = {"C": C} | {f"W{i}": W for i, W in enumerate(Ws, 1)}
        parameters = [C] + [p for W, b in zip(Ws, bs) for p in (W, b)]
        decay_at = steps * 3 // 4
    for p in parameters:
        p.requires_grad = True
    reports = []
    for i in range(steps):
        ix = torch.randint(0, Xtr.shape[0], (32,), generator=g)
        x = C[Xtr[ix]].view(-1, 30)
        tanhs = []
        if model == "mlp":
            tanhs.append(torch.tanh(x @ W1 + b1))
            logits = tanhs[0] @ W2 + b2
        else:
            for W, b in zip(Ws[:-1], bs[:-1]):
                x = torch.tanh(x @ W + b)
                tanhs.append(x)
            logits = x @ Ws[-1] + bs[-1]
        for t in tanhs:
            t.retain_grad()
        loss = F.cross_entropy(logits, Ytr[ix])
        for p in parameters:
            p.grad = None
        loss.backward()
        lr = 0.1 if i < decay_at else 0.01
        for p in parameters:
            p.data += -lr * p.grad
        h = tanhs[0]
        reports.append({
            "step": i, "loss": loss.item(),
            "saturation": (h.abs() > 0.97).float().mean().item() * 100,
            "share_99": (h.abs() > 0.99).float().mean().item() * 100,
            "dead_units": int((h.abs() > 0.99).all(dim=0).sum().item()),
            "h_mean": h.mean().item(), "h_std": h.std().item(),
            "layers": [{"mean": t.mean().item(), "std": t.std().item(),
                        "saturation": (t.abs() > 0.97).float().mean().item() * 100,
                        "grad_mean": t.grad.mean().item(), "grad_std": t.grad.std().item()} for t in tanhs],
            # after the update, as the lecture's ud list
            "params": [{"name": name, "shape": list(p.shape), "grad_std": p.grad.std().item(),
                        "grad_data_ratio": (p.grad.std() / p.std()).item(),
                        "update_ratio_log10": ((lr * p.grad).std() / p.data.std()).log10().item()}
                       for name, p in weights.items()],
        })
    return reports


def assert_close(reported, expected, path: str = "") -> None:
    """Numbers within float rounding of the trainer's fused ops; counts and names exactly."""
    if isinstance(expected, dict):
        assert set(reported) >= set(expected), path
        for key in expected:
            assert_close(reported[key], expected[key], f"{path}.{key}")
    elif isinstance(expected, list):
        assert len(reported) == len(expected), path
        for i, (r, e) in enumerate(zip(reported, expected)):
            assert_close(r, e, f"{path}[{i}]")
    elif isinstance(expected, float):
        assert reported == pytest.approx(expected, rel=1e-5, abs=1e-7), path
    else:
        assert reported == expected, path


@pytest.mark.parametrize("model, options, plain", [
    ("mlp", ["--w1-scale", "3"], {"w1_scale": 3.0}),  # hpreact std ~15: units saturated for the whole batch
    ("deep", ["--gain", "3"], {"gain": 3.0}),
], ids=["mlp-w1-scale-3", "deep-gain-3"])
def test_step_lines_equal_a_plain_autograd_loop(small_words_path, model, options, plain):
    code, lines = headless("--data", str(small_words_path), "--model", model, "--steps", str(STEPS),
                           "--every", "1", *options)
    assert code == 0
    steps = [e for e in lines if e["event"] == "step"]
    expected = plain_run(small_words_path, model, STEPS, **plain)
    assert [e["step"] for e in steps] == list(range(STEPS))
    assert_close(steps, expected)
    assert len(steps[0]["layers"]) == (1 if model == "mlp" else 5)
    if model == "mlp":  # the dead-unit count is put to the test: some units are white for the whole batch
        assert all(e["dead_units"] > 0 for e in expected)


# ---- diverged: --diverge-at


def test_diverge_at_from_the_command_line_exits_3_with_the_last_finite_loss(small_words_path):
    # fix-tanh starts at ~3.3; lr 10 throws the second batch's loss to ~25, far below the default 100 x ln(27)
    code, lines = headless("--data", str(small_words_path), "--init", "fix-tanh", "--lr", "10",
                           "--diverge-at", "5", "--steps", "300", "--every", "1")
    assert code == 3
    losses = {e["step"]: e["loss"] for e in lines if e["event"] == "step"}
    diverged = lines[-1]
    assert diverged["event"] == "diverged" and "done" not in [e["event"] for e in lines]
    at = diverged["step"]
    assert diverged["loss"] == losses[at] > 5
    assert all(losses[step] < 5 for step in range(at))
    assert diverged["last_finite_loss"] == losses[at - 1]
    assert math.isfinite(diverged["last_finite_loss"])
