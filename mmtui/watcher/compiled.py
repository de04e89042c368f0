"""A watched model under torch.compile: mmtui's hooks kept out of the compiled graph, measured steps eager."""

from __future__ import annotations

import sys
from collections.abc import Callable

import torch
from torch import nn

DYNAMO = "torch._dynamo"  # loaded by torch.compile (nothing is compiled before), and costly to load unasked


class CompileSafeHooks:
    """The model's forward hook, and the pace of measured steps, as torch.compile needs them.

    torch.compile traces a module's hooks into its graph, and calls out of torch there (a loss read, a file
    written) are graph breaks. So once torch.compile is loaded, the hook is registered as one dynamo skips:
    it runs eagerly after the compiled forward, on the real output, and the graph is the user's alone. Before
    that, a traced call does nothing; turning `_skipped` on makes dynamo retrace once, with the skipped hook.
    The layers' hooks run on measured steps only, and those steps run eager (torch.compiler.set_stance):
    every hook runs as in an eager model, the steps between run compiled."""

    def __init__(self, model: nn.Module, hook: Callable):
        self._model, self._hook = model, hook
        self._skipped = False  # the hook is registered as one dynamo skips
        self._handle = model.register_forward_hook(self._until_compile_loads)
        self._stance = None  # the compiler's stance set for a measured step, to put back at its end
        self.check()

    def _until_compile_loads(self, module: nn.Module, inputs, output) -> None:
        if torch.compiler.is_compiling() and not self._skipped:  # dynamo guards on _skipped: check() retraces
            return
        self._hook(module, inputs, output)

    def check(self) -> bool:
        """Whether torch.compile is loaded; once it is, the hook is registered as one dynamo skips."""
        if not self._skipped and DYNAMO in sys.modules:
            import torch._dynamo

            self._handle.remove()
            self._handle = self._model.register_forward_hook(torch._dynamo.disable(self._hook))
            self._skipped = True
        return self._skipped

    @staticmethod
    def outside_graphs(hook: Callable) -> Callable | None:
        """`hook` as torch.compile runs it eagerly where it meets it (the optimizer's step hooks inside a
        compiled training step): a graph break there, but no call traced into the graph; None until
        torch.compile is loaded, which creating a torch optimizer loads. Called only while compiling: through
        it, every call would cost 0.7 us more."""
        if DYNAMO not in sys.modules:
            return None
        import torch._dynamo

        return torch._dynamo.disable(hook)

    def measured_step(self) -> None:
        """The coming step carries statistics: it runs eager, so that the layers' hooks run on it."""
        if self.check() and self._stance is None and not torch.compiler.is_compiling():
            self._stance = torch.compiler.set_stance("force_eager")

    def step_done(self) -> None:
        if self._stance is not None:
            self._stance.__exit__(None, None, None)  # the stance before the measured step
            self._stance = None

    def remove(self) -> None:
        self.step_done()
        self._handle.remove()
