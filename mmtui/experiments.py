"""The lecture's experiments by name: init presets, models, gains; plain values the engine, the TUI's keys and
the CLI share."""

from __future__ import annotations

import math

LECTURE_SEED = 2147483647

# Init presets in the lecture's order; each key of the TUI (1-4) picks one.
PRESETS: tuple[str, ...] = ("lecture", "fix-logits", "fix-tanh", "kaiming")

# Models (--model, the TUI's m key); b toggles BatchNorm: mlp <-> mlp-bn, deep <-> deep-bn.
MODELS: tuple[str, ...] = ("mlp", "mlp-bn", "deep", "deep-bn", "rnn", "gru")
RECURRENT: tuple[str, ...] = ("rnn", "gru")  # the models that read their context one character a time step
# Characters a recurrent model reads, whatever --block-size: the MLPs' 3 leave no time to see a gradient fade
# through, and 8 covers most of a name (the lecture's names are 6.1 characters on average)
RECURRENT_CONTEXT = 8
BATCHNORM_TWIN: dict[str, str] = {"mlp": "mlp-bn", "mlp-bn": "mlp", "deep": "deep-bn", "deep-bn": "deep"}
GAINS: tuple[float, ...] = (5 / 3, 1.0, 0.5, 3.0)  # the lecture's gain experiments, in the g key's order

MODEL_HELP: dict[str, str] = {
    "mlp": "the lecture's starting MLP: embedding, one tanh layer of --hidden units",
    "mlp-bn": "the same with BatchNorm on the pre-activations (no b1)",
    "deep": "5 Linear -> Tanh blocks of 100 units; hidden weights x gain, output weight x 0.1",
    "deep-bn": "5 Linear -> BatchNorm -> Tanh blocks; the last BatchNorm's gamma x 0.1",
    "rnn": "makemore's tanh RNN cell over 8 characters, one a time step; the last hidden state predicts",
    "gru": "makemore's GRU cell over 8 characters: gates let the gradient reach the early steps",
}

PRESET_HELP: dict[str, str] = {
    "lecture": "raw randn everywhere: confidently wrong at init (step-0 loss ~27)",
    "fix-logits": "W2 *= 0.01, b2 *= 0: step-0 loss near -ln(1/V)",
    "fix-tanh": "fix-logits plus W1 *= 0.2, b1 *= 0.01: tanh no longer saturated",
    "kaiming": "fix-logits plus W1 *= (5/3)/sqrt(fan_in), b1 *= 0.01",
}


def lecture_run(model: str, settings: dict) -> bool:
    """Whether a run is the lecture trainer's, live or read back from its run file: one of MODELS, its
    settings the trainer's config, which names the model too; a watched script's name its script, a log's
    its kind. Only such a run has the lecture's presets, gains and step-0 loss to speak of."""
    return model in MODELS and settings.get("model") == model and not {"script", "log"} & settings.keys()


def context_for(model: str, block_size: int) -> int:
    """The characters of context a model reads: RECURRENT_CONTEXT for the recurrent ones, else block_size."""
    return RECURRENT_CONTEXT if model in RECURRENT else block_size


def gain_label(gain: float) -> str:
    """5/3 as the lecture writes it, other gains as numbers."""
    return "5/3" if math.isclose(gain, 5 / 3) else f"{gain:g}"


def next_gain(gain: float) -> float:
    """The gain after `gain` in GAINS; the first one when `gain` is not among them."""
    index = next((i for i, g in enumerate(GAINS) if math.isclose(g, gain)), -1)
    return GAINS[(index + 1) % len(GAINS)]


def run_name(model: str, init: str, w1_scale: float, gain: float) -> str:
    """How a lecture run is named in legends: the settings that tell its experiments apart."""
    if model.startswith("deep"):
        return f"{model} gain {gain_label(gain)}"
    return f"{model} {init} x{w1_scale:g}"
