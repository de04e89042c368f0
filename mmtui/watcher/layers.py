"""A model's activation layers: which modules they are, the trouble measure each fits, and one step's outputs."""

from __future__ import annotations

import fnmatch
import math
from dataclasses import dataclass

import torch
from torch import nn

from mmtui.engine.stats import activation_stats
from mmtui.records import BOUNDED, OTHER, RECTIFIER, ActivationStats

# Class names, lower-cased, of the ReLU family (and anything of the user's own that says so: makemore's NewGELU),
# and of bounded functions. "relu" is looked for first: ReLU6 is a Hardtanh in torch, but its trouble is ReLU's.
RECTIFIER_NAMES = ("relu", "gelu", "silu", "swish", "mish", "selu", "celu", "elu", "softplus")
BOUNDED_NAMES = {"tanh": (-1.0, 1.0), "sigmoid": (0.0, 1.0), "softsign": (-1.0, 1.0)}
PREFIXES = ("module.", "_orig_mod.")  # DistributedDataParallel's and torch.compile's wrappers: not the user's names


@dataclass(frozen=True)
class Activation:
    """How one function's outputs are measured."""

    kind: str  # BOUNDED, RECTIFIER or OTHER
    bounds: tuple[float, float] = (-1.0, 1.0)  # a BOUNDED function's range
    flat_below: float = 0.0  # a RECTIFIER's output at or below this came from an input at or below 0


def activation_of(module: nn.Module) -> Activation | None:
    """The measure of an activation module, by its class; None for a module that is none (or holds others)."""
    if any(True for _ in module.children()):
        return None
    name = type(module).__name__.lower()
    if isinstance(module, nn.Hardtanh) and "relu" not in name:
        return Activation(BOUNDED, (float(module.min_val), float(module.max_val)))
    if "relu" in name:
        return Activation(RECTIFIER)
    for bounded, bounds in BOUNDED_NAMES.items():
        # Tanhshrink (x - tanh x) and LogSigmoid are not bounded on both sides
        if bounded in name and "shrink" not in name and not name.startswith("log"):
            return Activation(BOUNDED, bounds)
    if "softplus" in name:
        return Activation(RECTIFIER, flat_below=math.log(2) / float(getattr(module, "beta", 1.0)))
    if any(rectifier in name for rectifier in RECTIFIER_NAMES):
        return Activation(RECTIFIER)
    return None


def activation_of_tensor(t: torch.Tensor) -> Activation:
    """The measure of a tensor a loop logs by name, from the function that made it (its grad_fn)."""
    made_by = type(t.grad_fn).__name__.lower() if t.grad_fn is not None else ""
    if "relu" in made_by or "gelu" in made_by or "silu" in made_by:
        return Activation(RECTIFIER)
    for bounded, bounds in BOUNDED_NAMES.items():
        if bounded in made_by:
            return Activation(BOUNDED, bounds)
    return Activation(OTHER)


def user_name(path: str) -> str:
    """A module's or parameter's path as the user's model names it, without the wrappers' prefixes."""
    changed = True
    while changed:
        changed = False
        for prefix in PREFIXES:
            if path.startswith(prefix):
                path, changed = path[len(prefix):], True
    return path


def find_layers(model: nn.Module, patterns: list[str] | None) -> list[tuple[str, nn.Module, Activation]]:
    """The watched activation layers, in the model's order: every activation module, or with `patterns` (module
    paths, * and ? allowed) exactly the modules they name, measured by class where it says, else OTHER."""
    layers = []
    for path, module in model.named_modules():
        path = user_name(path)
        if patterns is None:
            found = activation_of(module)
        elif path and any(fnmatch.fnmatchcase(path, pattern) for pattern in patterns):
            found = activation_of(module) or Activation(OTHER)
        else:
            found = None
        if found is not None:
            layers.append((path, module, found))
    return layers


def layer_label(path: str, module: nn.Module) -> str:
    """How the panels name a layer: `transformer.h.0.mlp.act  NewGELU`."""
    return f"{path}  {type(module).__name__}"


class LayerTaps:
    """Forward hooks on the activation layers, present only while armed: the outputs of one step's forward (its
    first call of each module) and the gradients reaching them in its backward pass."""

    def __init__(self, layers: list[tuple[str, nn.Module, Activation]]):
        self.layers = layers
        self._handles: list = []
        self._outputs: dict[int, torch.Tensor] = {}
        self._grads: dict[int, torch.Tensor] = {}

    @property
    def armed(self) -> bool:
        return bool(self._handles)

    def arm(self) -> None:
        self._outputs, self._grads = {}, {}
        self._handles = [module.register_forward_hook(self._tap(index))
                         for index, (_, module, _) in enumerate(self.layers)]

    def _tap(self, index: int):
        def hook(module: nn.Module, inputs, output) -> None:
            if torch.compiler.is_compiling() or not torch.is_grad_enabled():
                return  # measured steps run eager (watcher.compiled); a forward without grad is no training step
            if index in self._outputs or not isinstance(output, torch.Tensor):
                return
            # A copy: an in-place op later in the forward (ReLU(inplace=True) after it, dropout) would change it.
            self._outputs[index] = output.detach().clone()
            if output.requires_grad:
                output.register_hook(lambda grad: self._grads.setdefault(index, grad.detach().clone()))
        return hook

    def disarm(self) -> None:
        for handle in self._handles:
            handle.remove()
        self._handles = []

    @property
    def captured(self) -> bool:
        """Whether the armed step's forward reached any layer (a compiled model runs without the hooks)."""
        return bool(self._outputs)

    def stats(self, step: int) -> list[ActivationStats]:
        """The captured step's statistics, layer by layer, in the model's order."""
        stats = []
        for index, (path, module, found) in enumerate(self.layers):
            output = self._outputs.get(index)
            if output is not None and output.is_floating_point() and output.numel():
                stats.append(activation_stats(output, self._grads.get(index), step, len(stats) + 1, kind=found.kind,
                                              bounds=found.bounds, flat_below=found.flat_below,
                                              name=layer_label(path, module)))
        self._outputs, self._grads = {}, {}
        return stats
