"""watch(): the lecture's views for any PyTorch training loop, written as a run file that
`mmtui view` follows."""

from __future__ import annotations

import inspect
import os
import sys
from pathlib import Path
from typing import Any

import torch
from torch import nn

from mmtui.measure.pacing import Pacing
from mmtui.watcher.files import rank_and_world, run_file_path, script_name, writing_ranks
from mmtui.watcher.layers import find_layers
from mmtui.watcher.optimizer import described, is_optimizer_like
from mmtui.watcher.run import InertRun, WatchedRun, parameter_names

__all__ = ["watch", "WatchedRun"]


def watch(model: nn.Module | None = None, optimizer: torch.optim.Optimizer | Any = None, *,
          params: list[torch.Tensor] | dict[str, torch.Tensor] | None = None, layers: list[str] | None = None,
          log: str | os.PathLike | None = None, name: str | None = None, ranks: int | str | list[int] = 0,
          total_steps: int | None = None, pacing: Pacing = Pacing(),
          framework: str | None = None) -> WatchedRun | InertRun:
    """Watch a training loop; returns the run (call run.log() for losses and scalars the model does not
    return, run.close() or use it in a with block; interpreter exit closes it too).

    model: every activation module's outputs and gradients (Tanh, Sigmoid, the ReLU family, GELU ..., and
        modules of your own whose class name says so), its 2-D weights, and the loss it returns
        (alone or beside logits).
    optimizer: counts the steps and measures the update each one made to the weights (Adam's, not lr * grad);
        a framework's wrapper of one (accelerate's AcceleratedOptimizer, Lightning's) or any object with
        step() and param_groups.
    params: a loop of raw tensors instead of a model (the lecture's notebook): the weights to measure, a list
        named as your variables are, or a dict; then run.log(loss=loss, h=h) each step.
    layers: module paths (* and ? allowed) to watch instead of the activation modules.
    log: the run file; default $MMTUI_LOG (set by `mmtui run`), else runs/<script>-<time>.jsonl.
    ranks: under torchrun, the rank that writes (0), a list of ranks, or "all" (a file per rank).
    total_steps: the run's length, where known: the status line shows it.
    pacing: how often snapshots and statistics are taken (about ten and two a second).
    framework: what trains the loop ("Lightning", "transformers"), named on the status line; the integrations
        give it.
    """
    if model is not None and not isinstance(model, nn.Module):
        raise TypeError(f"mmtui.watch(model, optimizer): model must be a torch.nn.Module, not "
                        f"{type(model).__name__}; for a loop of raw tensors use mmtui.watch(params=[...])")
    if model is None and params is None:
        raise TypeError("mmtui.watch needs a model (an nn.Module) or params=[...] "
                        "(the tensors a loop updates)")
    if optimizer is not None and not is_optimizer_like(optimizer):
        raise TypeError(f"mmtui.watch(model, optimizer): optimizer must be a torch.optim.Optimizer, not "
                        f"{type(optimizer).__name__} (a wrapper of one, or any with step() and param_groups)")
    if model is not None and getattr(model.__dict__.get("_mmtui_run"), "automatic", False):
        model.__dict__["_mmtui_run"].close()  # `mmtui run`'s zero-line watch gives way to the script's own
    if model is not None and "_mmtui_run" in model.__dict__:
        first = model.__dict__["_mmtui_run"]
        raise RuntimeError(f"mmtui.watch: this model is watched already, by the run writing {first.path}; "
                           f"call that run's close() first")
    rank, world = rank_and_world()
    writers = writing_ranks(ranks, world)
    if rank not in writers:
        return InertRun()  # no collective call anywhere: a rank that does not watch cannot hang one that does
    per_rank = len(writers) > 1
    path = run_file_path(log, rank, per_rank)
    caller = inspect.currentframe().f_back
    named = parameter_names(model, params,
                            {**caller.f_globals, **caller.f_locals} if params is not None else {})
    found = find_layers(model, layers) if model is not None else []
    label = _model_label(model)
    run_name = name or (f"{script_name()} {label}" if model is not None else script_name())
    settings: dict[str, Any] = {"model": label, "script": script_name(), "argv": sys.argv[1:],
                                **({"framework": framework} if framework else {})}
    if optimizer is not None:
        settings |= described(optimizer)
    if world > 1:
        settings |= {"rank": rank, "world_size": world}
        if per_rank:
            run_name += f" rank {rank}"
    run = WatchedRun(model, optimizer, named, found, Path(path), run_name, _jsonable(settings), pacing,
                     total_steps)
    if model is not None:
        model.__dict__["_mmtui_run"] = run  # not an attribute torch sees: no state_dict entry, no submodule
    return run


def _model_label(model: nn.Module | None) -> str:
    """The user's model class, through the wrappers of DistributedDataParallel and torch.compile."""
    while model is not None and hasattr(model, "module") and isinstance(model.module, nn.Module):
        model = model.module
    return type(model).__name__ if model is not None else "tensors"


def _jsonable(settings: dict[str, Any]) -> dict[str, Any]:
    return {key: value if isinstance(value, (int, float, str, bool, list, type(None))) else str(value)
            for key, value in settings.items()}
