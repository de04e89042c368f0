"""A model's activation layers: which modules are watched, their names, and the hooks that tap one step's outputs."""

from __future__ import annotations

import fnmatch

import torch
from torch import nn

from mmtui.measure.activations import Activation, activation_of
from mmtui.measure.stats import activation_stats
from mmtui.records import OTHER, ActivationStats

PREFIXES = ("module.", "_orig_mod.")  # DistributedDataParallel's and torch.compile's wrappers: not the user's names


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
