"""An optimizer as watch sees it: the torch optimizer inside a framework's wrapper, hooks on its updates."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch

# Where a wrapper keeps the optimizer it wraps: accelerate's AcceleratedOptimizer (a torch Optimizer subclass
# that never ran Optimizer.__init__, so it has no hooks), Lightning's LightningOptimizer
WRAPPED = ("optimizer", "_optimizer")
MAX_WRAPPERS = 8


def is_optimizer_like(optimizer: Any) -> bool:
    """A torch optimizer, or any object that updates weights as one does: step() and param_groups."""
    return callable(getattr(optimizer, "step", None)) and \
        isinstance(getattr(optimizer, "param_groups", None), list)


def innermost(optimizer: Any) -> Any:
    """The optimizer that really updates the weights: through the wrappers, the first one with torch's step
    hooks, else the innermost optimizer-like object."""
    for _ in range(MAX_WRAPPERS):
        if isinstance(optimizer, torch.optim.Optimizer) and hasattr(optimizer, "_optimizer_step_pre_hooks"):
            return optimizer
        inner = next((getattr(optimizer, name) for name in WRAPPED
                      if is_optimizer_like(getattr(optimizer, name, None))), None)
        if inner is None or inner is optimizer:
            return optimizer
        optimizer = inner
    return optimizer


class _StepWrapper:
    """The handle of a step() wrapped on an optimizer-like object that has no step hooks of torch's."""

    def __init__(self, optimizer: Any, before: Callable[[], None], after: Callable[[], None]):
        self._optimizer = optimizer
        self._own_step = vars(optimizer).get("step")  # a step of the object's own before: back at remove()
        step = optimizer.step

        def wrapped_step(*args, **kwargs):
            before()
            result = step(*args, **kwargs)
            after()
            return result

        optimizer.step = wrapped_step  # this object's: its class and other instances are untouched

    def remove(self) -> None:
        if self._own_step is None:
            vars(self._optimizer).pop("step", None)
        else:
            self._optimizer.step = self._own_step


def described(optimizer: Any) -> dict[str, Any]:
    """The run's settings that name the optimizer: its class (the one inside a wrapper) and first lr."""
    lr = optimizer.param_groups[0].get("lr") if optimizer.param_groups else None
    return {"optimizer": type(innermost(optimizer)).__name__,
            "lr": lr if isinstance(lr, (int, float, type(None))) else str(lr)}  # a scheduler's tensor lr


def step_hooks(optimizer: Any, before: Callable[[], None], after: Callable[[], None]) -> list:
    """Call `before` ahead of each update and `after` once it is made; the handles remove the hooks. On a
    wrapper the hooks go on the optimizer inside: an accumulation step the wrapper skips is no update."""
    inner = innermost(optimizer)
    if isinstance(inner, torch.optim.Optimizer) and hasattr(inner, "_optimizer_step_pre_hooks"):
        return [inner.register_step_pre_hook(lambda *_: before()),
                inner.register_step_post_hook(lambda *_: after())]
    return [_StepWrapper(inner, before, after)]
