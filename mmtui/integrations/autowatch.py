"""The zero-line watch of `mmtui run`: a script that never imports mmtui, run with its model and optimizer
watched.

`mmtui run train.py` starts `python -m mmtui.integrations.autowatch train.py ARGS`, which runs the script as
python would, after setting two of torch's global hooks the moment the script imports torch: a module forward
pre-hook finds the model (the first module called with grad enabled that has weights to train: evaluation and
sampling run without grad), and an optimizer step pre-hook finds the optimizer that updates it (at its first
step, before the update). The model is watched from its first training forward, so step 0 is measured. Where
the model returns no loss, the loss is what the script calls backward() on. A Hugging Face Trainer or a
Lightning Trainer gets mmtui's callback instead, for its own loss, logs and evaluations. A script that calls
mmtui.watch itself is left to it.
"""

from __future__ import annotations

import importlib.abc
import importlib.util
import os
import runpy
import sys
import warnings
from collections.abc import Callable
from types import ModuleType

USAGE = "usage: python -m mmtui.integrations.autowatch (SCRIPT | -m MODULE) [ARGS]..."


class AfterImport(importlib.abc.MetaPathFinder):
    """Calls a function with a module once it has been imported, before its importer goes on: one per name."""

    def __init__(self, then: dict[str, Callable[[ModuleType], None]]):
        self.then = dict(then)

    def find_spec(self, fullname, path, target=None):
        then = self.then.pop(fullname, None)
        if then is None:
            return None
        if not self.then:
            sys.meta_path.remove(self)
        spec = importlib.util.find_spec(fullname)  # as the other finders see it (this one no longer looks)
        if spec is None or spec.loader is None:
            return spec
        execute = spec.loader.exec_module

        def execute_then(module: ModuleType) -> None:
            execute(module)
            then(module)

        spec.loader.exec_module = execute_then
        return spec


def with_callback(integration: str) -> Callable[[ModuleType], None]:
    """Gives every trainer of a framework's trainer module the integration's MmtuiCallback, unless it has one:
    the Trainer's and Lightning's own loss, logs and evaluations, which no global hook of torch sees."""

    def give(module: ModuleType) -> None:
        init = module.Trainer.__init__

        def init_with_callback(trainer, *args, **kwargs) -> None:
            init(trainer, *args, **kwargs)
            callback = importlib.import_module(integration).MmtuiCallback  # the framework is whole by now
            callbacks = trainer.callback_handler.callbacks if hasattr(trainer, "callback_handler") \
                else trainer.callbacks
            if not any(isinstance(c, callback) for c in callbacks):
                callbacks.append(callback())

        module.Trainer.__init__ = init_with_callback

    return give


FRAMEWORKS = {  # each framework's module that defines its Trainer, and the integration that watches it
    "transformers.trainer": "mmtui.integrations.transformers",
    "lightning.pytorch.trainer.trainer": "mmtui.integrations.lightning",
}


class AutoWatch:
    """The script's model and optimizer, found by torch's global hooks and watched."""

    def __init__(self):
        self.run = None  # the WatchedRun of the model found, or None
        self._handles: list = []
        self._attached = False  # the optimizer is the run's, or none will be looked for

    def install(self) -> None:
        """torch is imported: look for the model and its optimizer."""
        from torch.nn.modules.module import register_module_forward_pre_hook
        from torch.optim.optimizer import register_optimizer_step_pre_hook

        # The hook is gone at the first training forward; a compiled model called for evaluation before it
        # would warn that global hooks fire twice under torch.compile, which they do not here.
        warnings.filterwarnings("ignore",
                                message=r"Using `torch\.compile\(module\)` when there are global hooks")
        self._handles = [register_module_forward_pre_hook(self._on_forward),
                         register_optimizer_step_pre_hook(self._on_step)]
        self._see_backward()

    def _see_backward(self) -> None:
        """The loss of a script whose model returns none is what it calls backward() on: torch has no hook for
        that call, so Tensor.backward is wrapped (and GradScaler.scale, whose scaled loss is not the loss)."""
        import torch

        backward, scale = torch.Tensor.backward, torch.amp.GradScaler.scale
        scaled: list = [None, None]  # the latest scaled loss and the loss it scaled

        def backward_seen(tensor, *args, **kwargs):
            run = self.run
            if run is not None and not run.closed and tensor.dim() == 0 and not torch.compiler.is_compiling():
                run.log_backward(scaled[1] if tensor is scaled[0] else tensor)
            scaled[:] = None, None
            return backward(tensor, *args, **kwargs)

        def scale_seen(scaler, outputs):
            result = scale(scaler, outputs)
            if isinstance(outputs, torch.Tensor) and outputs.dim() == 0:
                scaled[:] = result, outputs
            return result

        torch.Tensor.backward = backward_seen
        torch.amp.GradScaler.scale = scale_seen

    def _on_forward(self, module, args) -> None:
        import torch

        if not torch.is_grad_enabled() or torch.compiler.is_compiling() or \
                not any(p.requires_grad for p in module.parameters()):
            return
        self._handles.pop(0).remove()  # the outermost module of the first training forward: the model
        from mmtui.watcher import watch
        from mmtui.watcher.files import LOG_ENV

        watched = any("_mmtui_run" in vars(m) for m in module.modules())
        if watched or os.path.exists(os.environ.get(LOG_ENV, "")):  # a framework's callback has the file open
            self._attached = True  # the script watches it itself
            return
        try:
            self.run = watch(module)
        except (OSError, ValueError, TypeError, RuntimeError) as error:  # the script trains on, unwatched
            print(f"mmtui: not watching {type(module).__name__}: {error}", file=sys.stderr)
            self._attached = True
            return
        self.run.automatic = True  # a watch() of the script's own, later, takes over from it

    def _on_step(self, optimizer, args, kwargs) -> None:
        # Called at every step of every optimizer: torch iterates the global hooks while calling this one, so
        # it cannot remove itself; once the optimizer is found it returns at once.
        if self._attached or self.run is None:
            return
        self._attached = True
        if getattr(self.run, "closed", True):
            return
        weights = {id(p) for group in optimizer.param_groups for p in group["params"]}
        if any(id(p) in weights for p in self.run.model.parameters()):
            self.run.attach_optimizer(optimizer)


def from_the_script_on(hook: Callable) -> Callable:
    """sys.excepthook as python's would be for the script: a traceback that starts at the script's own frames,
    without runpy's and this module's, which python running it directly would not have shown."""
    def excepthook(kind, error, traceback) -> None:
        while traceback is not None and traceback.tb_next is not None and (
                traceback.tb_frame.f_code.co_filename in (__file__, runpy.__file__) or
                traceback.tb_frame.f_code.co_filename.startswith("<frozen runpy")):
            traceback = traceback.tb_next
        hook(kind, error.with_traceback(traceback), traceback)  # python prints the error's own traceback

    return excepthook


def main(argv: list[str]) -> None:
    """Run the script (or -m module) as python does, watched."""
    if not argv or argv[0] == "-m" and len(argv) < 2:
        sys.exit(USAGE)
    sys.excepthook = from_the_script_on(sys.excepthook)
    auto = AutoWatch()
    frameworks = {name: with_callback(integration) for name, integration in FRAMEWORKS.items()}
    sys.meta_path.insert(0, AfterImport({"torch": lambda _: auto.install()} | frameworks))
    if argv[0] == "-m":
        sys.argv = [argv[1], *argv[2:]]
        runpy.run_module(argv[1], run_name="__main__", alter_sys=True)
    else:
        sys.argv = list(argv)
        sys.path[0] = os.path.dirname(os.path.abspath(argv[0]))  # as `python SCRIPT` sets it
        runpy.run_path(argv[0], run_name="__main__")


if __name__ == "__main__":
    main(sys.argv[1:])
