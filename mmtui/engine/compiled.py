"""The compiled fast path: several SGD steps of a model in one torch.compile'd call, built off the training
thread."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

import torch

from mmtui.engine.model import Model
from mmtui.processes import die_with_parent

INDUCTOR_OPTIONS = {
    # the calls between kernels in C++ too: 1.4x the Python wrapper for these tiny kernels
    "cpp_wrapper": True,
    # no pool of compile workers: one C++ file per graph, and nothing to shut down on exit
    "compile_threads": 1,
}
CACHE_ENV = "TORCHINDUCTOR_CACHE_DIR"  # torch's own on-disk cache of compiled graphs; mmtui only says where
WARM_CODE = "from mmtui.engine.compiled import warm; warm()"  # the compiling process's program


def compile_cache_dir() -> Path:
    """Where torch keeps mmtui's compiled steps: $TORCHINDUCTOR_CACHE_DIR if set, else the user's cache
    folder."""
    if os.environ.get(CACHE_ENV):
        return Path(os.environ[CACHE_ENV])
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "mmtui" / "torch-compile"


def sgd_steps(model: Model, Xtr: torch.Tensor, Ytr: torch.Tensor, batches: torch.Tensor,
              lrs: torch.Tensor) -> torch.Tensor:
    """len(batches) SGD steps on the minibatches Xtr[batches[k]], as the trainer takes them one at a time: the
    loss before each update, then every parameter moved by -lrs[k] times its gradient. Returns the losses
    (K,)."""
    params = model.parameters()
    losses = []
    for k in range(batches.shape[0]):  # unrolled when compiled: K is fixed by the shape
        ix = batches[k]  # (B,)
        result = model.step(Xtr[ix], Ytr[ix], record=False)
        with torch.no_grad():
            torch._foreach_add_(params, result.grads, alpha=-lrs[k])
        losses.append(result.loss)
    return torch.stack(losses)  # (K,)


class CompiledSteps:
    """sgd_steps compiled for one kind of model (its shapes and layers), built once by build(), then called.

    build() compiles by running a throwaway model of the kind, so the live one is never touched; a model of
    the same kind (a reinit with another init or seed) then runs the same compiled code. torch.compile keeps
    the compiled code with sgd_steps itself, so two CompiledSteps of one kind share it.
    """

    def __init__(self, throwaway: Callable[[], Model], Xtr: torch.Tensor, Ytr: torch.Tensor, batch_size: int,
                 steps_per_call: int, kind: dict | None = None):
        """`kind`: the model's TrainConfig as a dict and its "vocab_size", with which a process of its own can
        draw the same kind of model: build_in_background then warms torch's cache there first."""
        self._throwaway = throwaway
        self._kind = kind
        self.Xtr, self.Ytr = Xtr, Ytr
        self.batch_size = batch_size
        self.steps_per_call = steps_per_call
        self._compiled: Callable[..., torch.Tensor] | None = None  # sgd_steps compiled, from build()
        self.ready = threading.Event()  # built and working: calls run compiled code
        # why the build failed, in one line; the trainer stays on the eager path
        self.error: str | None = None
        self.built_in_s: float | None = None
        self._thread: threading.Thread | None = None

    def build(self) -> None:
        """Compile, then set `ready`, or `error` if torch could not (no C++ compiler, an unsupported
        op...)."""
        started = time.perf_counter()
        os.environ.setdefault(CACHE_ENV, str(compile_cache_dir()))
        batches = torch.zeros((self.steps_per_call, self.batch_size), dtype=torch.long)  # (K, B)
        try:
            # Here, not in __init__: torch.compile imports torch's compiler (~1.5 s),
            # which no first step waits for.
            compiled = torch.compile(sgd_steps, fullgraph=True, dynamic=False, options=INDUCTOR_OPTIONS)
            # The deep nets' steps call torch.autograd.grad, which dynamo traces only when asked to.
            with torch._dynamo.config.patch(trace_autograd_ops=True):
                compiled(self._throwaway(), self.Xtr, self.Ytr, batches, torch.zeros(self.steps_per_call))
        # any failure of the compiler leaves training on the eager path
        except Exception as error:  # noqa: BLE001
            self.error = _one_line(error)
            return
        self._compiled = compiled
        self.built_in_s = time.perf_counter() - started
        self.ready.set()

    def build_in_background(self) -> bool:
        """build() in a daemon thread: training goes on meanwhile, and an exit does not wait for the compiler.
        With a `kind`, a process of its own compiles first, filling torch's cache: its compiler holds that
        process's GIL, not the trainer's (the in-process build of the lecture's MLP held it ~27 s, the eager
        steps crawling at 12-50 a second); build() then loads from the warm cache (~4 s of tracing). True if
        this call started it, False if it was started before."""
        if self._thread is not None:
            return False
        self._thread = threading.Thread(target=self._build_warmed, name="mmtui-compile", daemon=True)
        self._thread.start()
        return True

    def _build_warmed(self) -> None:
        started = time.perf_counter()
        if self._kind is not None:
            self.error = self._warm_in_a_child()
            if self.error is not None:
                return
        self.build()
        if self.built_in_s is not None:
            self.built_in_s = time.perf_counter() - started

    def _warm_in_a_child(self) -> str | None:
        """Compile this kind of step in a child process, which fills torch's on-disk cache; why not, or
        None."""
        os.environ.setdefault(CACHE_ENV, str(compile_cache_dir()))
        order = {"kind": self._kind, "train_shape": list(self.Xtr.shape), "batch_size": self.batch_size,
                 "steps_per_call": self.steps_per_call, "parent": os.getpid()}
        child = subprocess.run([sys.executable, "-c", WARM_CODE], input=json.dumps(order),
                               capture_output=True, text=True)  # the wait releases the GIL: training goes on
        if child.returncode != 0:
            lines = (child.stdout or child.stderr).strip().splitlines()
            return lines[-1] if lines else f"the compiling process ended with code {child.returncode}"
        return None

    def __call__(self, model: Model, batches: torch.Tensor, lrs: torch.Tensor) -> torch.Tensor:
        """steps_per_call steps of `model` on batches (K, B) at the learning rates lrs (K,); their losses
        (K,)."""
        return self._compiled(model, self.Xtr, self.Ytr, batches, lrs)


def warm() -> None:
    """The compiling process: reads its order (json on stdin), compiles the step on a model of that kind and
    training tensors of that shape (zeros: the compiled code depends on shapes, not values), so that torch's
    cache holds it; prints why not and exits 1 if it cannot. It ends with its parent, killed or not."""
    from mmtui.engine.config import TrainConfig
    from mmtui.engine.model import build_model

    order = json.loads(sys.stdin.read())
    die_with_parent(order["parent"])
    torch.set_num_threads(1)
    config, vocab_size = TrainConfig(**order["kind"]["config"]), order["kind"]["vocab_size"]
    rows, block = order["train_shape"]
    steps = CompiledSteps(lambda: build_model(config, vocab_size, torch.Generator()),
                          torch.zeros(rows, block, dtype=torch.long), torch.zeros(rows, dtype=torch.long),
                          order["batch_size"], order["steps_per_call"])
    steps.build()
    if steps.error is not None:
        print(steps.error, flush=True)
        sys.exit(1)


def _one_line(error: Exception) -> str:
    lines = [line.strip() for line in str(error).splitlines() if line.strip()]
    text = f"{type(error).__name__}: {lines[0]}" if lines else type(error).__name__
    return text if len(text) <= 200 else text[:199] + "…"
