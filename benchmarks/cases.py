"""One benchmark case in a fresh process: prints one JSON line of measurements (run by bench.py)."""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import resource
import statistics
import subprocess
import sys
import time
import warnings

warnings.filterwarnings("ignore", message="Failed to initialize NumPy")

WARMUP_FRACTION = 0.1  # steps/s is measured after this share of the steps, past start-up and step 0
VIEW_KEYS = ("y", "p", "o")  # the TUI's layers, parameters and overview views
COMPILED_NOTE = "compiled step in use"  # how the trainer's note on switching to the compiled step begins
# alternating: a turn is measured from this long after it starts, once the resumed trainer runs
SETTLE_S = 0.3


def bare(data: str, steps: int) -> dict:
    """The lecture's loop as a user would copy it from the notebook (fix-tanh init)."""
    import torch
    import torch.nn.functional as F

    torch.set_num_threads(1)
    Xtr, Ytr, vocab_size = _lecture_train_split(data)
    g = torch.Generator().manual_seed(2147483647)
    C = torch.randn((vocab_size, 10), generator=g)
    W1 = torch.randn((30, 200), generator=g) * 0.2
    b1 = torch.randn(200, generator=g) * 0.01
    W2 = torch.randn((200, vocab_size), generator=g) * 0.01
    b2 = torch.randn(vocab_size, generator=g) * 0
    parameters = [C, W1, b1, W2, b2]
    for p in parameters:
        p.requires_grad = True
    lossi = []
    warm = int(steps * WARMUP_FRACTION)
    for i in range(steps):
        if i == warm:
            started = time.perf_counter()
        ix = torch.randint(0, Xtr.shape[0], (32,), generator=g)
        Xb, Yb = Xtr[ix], Ytr[ix]
        emb = C[Xb]
        embcat = emb.view(emb.shape[0], -1)
        hpreact = embcat @ W1 + b1
        h = torch.tanh(hpreact)
        logits = h @ W2 + b2
        loss = F.cross_entropy(logits, Yb)
        for p in parameters:
            p.grad = None
        loss.backward()
        lr = 0.1 if i < steps // 2 else 0.01
        for p in parameters:
            p.data += -lr * p.grad
        lossi.append(loss.log10().item())
    return {"steps_per_s": (steps - warm) / (time.perf_counter() - started)}


def bare_deep_bn(data: str, steps: int) -> dict:
    """The lecture's "torchified" deep net with BatchNorm, as a user would copy it from the notebook."""
    import torch
    import torch.nn.functional as F

    torch.set_num_threads(1)

    class Linear:
        def __init__(self, fan_in, fan_out, bias=True):
            self.weight = torch.randn((fan_in, fan_out), generator=g) / fan_in**0.5
            self.bias = torch.zeros(fan_out) if bias else None

        def __call__(self, x):
            self.out = x @ self.weight
            if self.bias is not None:
                self.out += self.bias
            return self.out

        def parameters(self):
            return [self.weight] + ([] if self.bias is None else [self.bias])

    class BatchNorm1d:
        def __init__(self, dim, eps=1e-5, momentum=0.1):
            self.eps, self.momentum, self.training = eps, momentum, True
            self.gamma, self.beta = torch.ones(dim), torch.zeros(dim)
            self.running_mean, self.running_var = torch.zeros(dim), torch.ones(dim)

        def __call__(self, x):
            xmean, xvar = x.mean(0, keepdim=True), x.var(0, keepdim=True)
            self.out = self.gamma * (x - xmean) / torch.sqrt(xvar + self.eps) + self.beta
            with torch.no_grad():
                self.running_mean = (1 - self.momentum) * self.running_mean + self.momentum * xmean
                self.running_var = (1 - self.momentum) * self.running_var + self.momentum * xvar
            return self.out

        def parameters(self):
            return [self.gamma, self.beta]

    class Tanh:
        def __call__(self, x):
            self.out = torch.tanh(x)
            return self.out

        def parameters(self):
            return []

    Xtr, Ytr, vocab_size = _lecture_train_split(data)
    g = torch.Generator().manual_seed(2147483647)
    n_embd, n_hidden = 10, 100
    C = torch.randn((vocab_size, n_embd), generator=g)
    layers = [Linear(n_embd * 3, n_hidden, bias=False), BatchNorm1d(n_hidden), Tanh()]
    for _ in range(4):
        layers += [Linear(n_hidden, n_hidden, bias=False), BatchNorm1d(n_hidden), Tanh()]
    layers += [Linear(n_hidden, vocab_size, bias=False), BatchNorm1d(vocab_size)]
    with torch.no_grad():
        layers[-1].gamma *= 0.1
        for layer in layers[:-1]:
            if isinstance(layer, Linear):
                layer.weight *= 5 / 3
    parameters = [C] + [p for layer in layers for p in layer.parameters()]
    for p in parameters:
        p.requires_grad = True
    lossi = []
    warm = int(steps * WARMUP_FRACTION)
    for i in range(steps):
        if i == warm:
            started = time.perf_counter()
        ix = torch.randint(0, Xtr.shape[0], (32,), generator=g)
        Xb, Yb = Xtr[ix], Ytr[ix]
        x = C[Xb].view(32, -1)
        for layer in layers:
            x = layer(x)
        loss = F.cross_entropy(x, Yb)
        for p in parameters:
            p.grad = None
        loss.backward()
        lr = 0.1 if i < steps * 3 // 4 else 0.01
        for p in parameters:
            p.data += -lr * p.grad
        lossi.append(loss.log10().item())
    return {"steps_per_s": (steps - warm) / (time.perf_counter() - started)}


def _lecture_train_split(data: str):
    import torch

    words = open(data).read().splitlines()
    chars = sorted(set("".join(words)))
    stoi = {s: i + 1 for i, s in enumerate(chars)} | {".": 0}
    X, Y = [], []
    random.seed(42)
    random.shuffle(words)
    for w in words[:int(0.8 * len(words))]:
        context = [0] * 3
        for ch in w + ".":
            X.append(context)
            Y.append(stoi[ch])
            context = context[1:] + [stoi[ch]]
    return torch.tensor(X), torch.tensor(Y), len(stoi)


def headless(data: str, steps: int, model: str, compile: str) -> dict:
    """`mmtui --headless`; speed from the arrival times of its step lines. With --compile on the compiled step
    is built (from the cache that bench.py warmed) before the first step, so the warm-up
    share is compiled too."""
    every = max(steps // 20, 1)
    command = [sys.executable, "-m", "mmtui", "--headless", "--model", model, "--init", "fix-tanh", "--data",
               data, "--steps", str(steps), "--every", str(every), "--eval-every", "0", "--compile", compile]
    arrivals = []
    with subprocess.Popen(command, stdout=subprocess.PIPE, text=True) as process:
        for line in process.stdout:
            event = json.loads(line)
            if event["event"] == "step":
                arrivals.append((time.perf_counter(), event["step"]))
    (t0, s0), (t1, s1) = _measured_span(arrivals, steps)
    return {"steps_per_s": (s1 - s0) / (t1 - t0)}


def _start_tui_trainer(config, words: list[str], process: bool = True):
    """The TUI's trainer, started as the CLI starts it: before Textual is imported, which it overlaps."""
    from mmtui.sources.trainer import TrainerSource

    source = TrainerSource(config, words, process=process)
    source.start()
    return source


def tui_trainer(data: str, steps: int) -> dict:
    """The TUI's trainer process with no app: a loop that only collects its snapshots. Against `headless` it
    prices the child process and the TUI's settings; against `tui`, the live app."""
    from mmtui.engine.config import TrainConfig
    from mmtui.engine.words import read_words

    host = _start_tui_trainer(TrainConfig(data=data, init="fix-tanh", steps=steps, compile="off"),
                              read_words(data))
    arrivals = []
    try:
        while not arrivals or arrivals[-1][1] < steps:
            arrivals += [(time.perf_counter(), item.step)
                         for item in host.receive(0.1) if hasattr(item, "step")]
    finally:
        host.close()
    (t0, s0), (t1, s1) = _measured_span(arrivals, steps)
    return {"steps_per_s": (s1 - s0) / (t1 - t0)}


def tui(data: str, steps: int, trainer: str, launched: float, model: str, compile: str = "off") -> dict:
    """The full app, every panel live at its normal rate, run by Textual's headless driver at 160x48. With
    --compile auto, as a user starts it, training starts on the eager path; the speed is measured from the
    snapshot that says the compiled step is in use, the first frame from launch as always."""
    from mmtui.engine.config import TrainConfig
    from mmtui.engine.words import read_words

    config = TrainConfig(data=data, init="fix-tanh", steps=steps, model=model, compile=compile)
    words = read_words(data)
    host = _start_tui_trainer(config, words, process=trainer == "process")
    from mmtui.tui.app import MmtuiApp

    class MeasuredApp(MmtuiApp):
        """Times each frame (panels redrawn and painted) and each reinit key's way to the screen."""

        frames: list[float] = []
        key_latencies: list[float] = []
        first_frame: float | None = None
        first_paint: float | None = None
        _key_at: float | None = None

        def redraw(self, force: bool = False) -> None:
            if not force and self.history.version == self._drawn_version:
                return
            started = time.perf_counter()
            super().redraw(force)
            self.call_after_refresh(lambda: self._painted(started))

        def _painted(self, started: float) -> None:
            now = time.perf_counter()
            self.frames.append(now - started)
            if self.first_paint is None:
                self.first_paint = time.time() - launched
            if self.first_frame is None and self.history.latest is not None:
                self.first_frame = time.time() - launched
            if self._key_at is not None and self.history.run.info.settings.get("init") == "fix-logits":
                self.key_latencies.append(now - self._key_at)
                self._key_at = None

        def action_preset(self, preset: str) -> None:
            self._key_at = time.perf_counter()
            super().action_preset(preset)

    app = MeasuredApp(host)
    views = VIEW_KEYS if model.startswith("deep") else ()  # the deep nets' per-layer views, then back
    shown = 0
    samples = []

    async def drive() -> None:
        nonlocal shown
        async with app.run_test(size=(160, 48)) as pilot:
            while app.history.latest is None or app.history.latest.state != "done":
                await pilot.pause(0.1)
                if app.history.latest is not None and (compile == "off" or any(
                        note.startswith(COMPILED_NOTE) for note in app.history.notes)):
                    samples.append((time.perf_counter(), app.history.latest.step,
                                    app.history.run.info.run_id))
                    if views and app.history.latest.step >= steps * (shown + 1) // (len(views) + 1):
                        await pilot.press(views[shown % len(views)])  # every view gets its share of the run
                        shown += 1
            for _ in range(3):  # key latency: each reinit to fix-logits and back
                await pilot.press("2")
                await pilot.pause(0.5)
                await pilot.press("3")
                await pilot.pause(0.3)

    asyncio.run(drive())
    measured = [(at, step) for at, step, run_id in samples if run_id == samples[0][2]]
    (t0, s0), (t1, s1) = _measured_span(measured, steps, start=measured[0][1] if compile != "off" else None)
    frames = sorted(app.frames)
    return {"steps_per_s": (s1 - s0) / (t1 - t0),
            **({"compiled_from_step": s0} if compile != "off" else {}),
            "frame_p50_ms": 1000 * statistics.median(frames),
            "frame_p95_ms": 1000 * frames[int(0.95 * (len(frames) - 1))],
            "frames": len(frames),
            "key_latency_ms": 1000 * max(app.key_latencies) if app.key_latencies else None,
            "first_paint_s": app.first_paint, "first_frame_s": app.first_frame}


def alternating(data: str, turns: int, turn_s: float) -> dict:
    """`mmtui --headless` and the live TUI side by side, the CPU theirs in turns: while one trains for turn_s
    seconds the other's trainer is stopped (SIGSTOP). Both are measured in the same minutes of this shared
    machine, so that its drifts, which move one case by ±15% between rounds, cancel out of their ratio. The
    TUI's app stays live throughout; the headless process prints a line every 1,000 steps,
    as in `headless`."""
    import signal
    import threading

    from mmtui.engine.config import TrainConfig
    from mmtui.engine.words import read_words

    endless = 10**9  # neither run ends during the measurement
    command = [sys.executable, "-m", "mmtui", "--headless", "--init", "fix-tanh", "--data", data,
               "--steps", str(endless), "--every", "1000", "--eval-every", "0", "--compile", "off"]
    headless_process = subprocess.Popen(command, stdout=subprocess.PIPE, text=True)
    arrivals: dict[str, list[tuple[float, int]]] = {"headless": [], "tui": []}

    def read_headless() -> None:
        for line in headless_process.stdout:
            event = json.loads(line)
            if event["event"] == "step":
                arrivals["headless"].append((time.perf_counter(), event["step"]))

    threading.Thread(target=read_headless, daemon=True).start()
    config = TrainConfig(data=data, init="fix-tanh", steps=endless, compile="off")
    words = read_words(data)
    host = _start_tui_trainer(config, words)
    from mmtui.tui.app import MmtuiApp

    app = MmtuiApp(host)
    spans: dict[str, list[tuple[float, int]]] = {"headless": [], "tui": []}  # (seconds, steps) of each turn

    async def drive() -> None:
        async with app.run_test(size=(160, 48)) as pilot:
            while not arrivals["headless"] or app.history.latest is None:
                await pilot.pause(0.1)
            pids = {"headless": headless_process.pid, "tui": host.pid}
            try:
                for turn in range(2 * turns):
                    running, stopped = ("tui", "headless") if turn % 2 == 0 else ("headless", "tui")
                    os.kill(pids[stopped], signal.SIGSTOP)
                    os.kill(pids[running], signal.SIGCONT)
                    started = time.perf_counter()
                    while time.perf_counter() - started < turn_s:
                        await pilot.pause(0.1)
                        arrivals["tui"].append((time.perf_counter(), app.history.latest.step))
                    inside = [a for a in arrivals[running] if a[0] >= started + SETTLE_S]
                    (t0, s0), (t1, s1) = inside[0], inside[-1]
                    spans[running].append((t1 - t0, s1 - s0))
            finally:  # a stopped trainer would not see the app's cancel, nor a terminate
                for pid in pids.values():
                    os.kill(pid, signal.SIGCONT)

    try:
        asyncio.run(drive())
    finally:
        headless_process.kill()
    speeds = {case: sum(steps for _, steps in spans[case]) / sum(seconds for seconds, _ in spans[case])
              for case in spans}
    per_turn = [(b[1] / b[0]) / (a[1] / a[0]) for a, b in zip(spans["headless"], spans["tui"])]
    return {"headless_steps_per_s": speeds["headless"], "tui_steps_per_s": speeds["tui"],
            "ratio": speeds["tui"] / speeds["headless"], "turn_ratios": per_turn}


def _measured_span(arrivals: list[tuple[float, int]], steps: int,
                   start: int | None = None) -> tuple[tuple[float, int], tuple[float, int]]:
    """The first (time, step) past the warm-up (or from step `start`) and the last before the final step,
    whose arrival waits for the final evaluation of both splits and the samples."""
    start = next(a for a in arrivals if a[1] >= (steps * WARMUP_FRACTION if start is None else start))
    return start, max((a for a in arrivals if a[1] < steps), key=lambda a: a[1])


def memory(data: str, steps: int, checkpoint: int) -> dict:
    """RSS of the app and of its trainer process at `checkpoint` steps and at the end of `steps`."""
    from mmtui.engine.config import TrainConfig
    from mmtui.engine.words import read_words
    from mmtui.tui.app import MmtuiApp

    def rss_mb(pid: int) -> float:
        with open(f"/proc/{pid}/status") as status:
            return next(int(line.split()[1]) for line in status if line.startswith("VmRSS")) / 1024

    config = TrainConfig(data=data, init="fix-tanh", steps=steps, compile="off")
    app = MmtuiApp(_start_tui_trainer(config, read_words(data)))
    readings = {}

    async def drive() -> None:
        async with app.run_test(size=(160, 48)) as pilot:
            child = app.source.pid
            while app.history.latest is None or app.history.latest.state != "done":
                await pilot.pause(0.2)
                step = app.history.latest.step if app.history.latest else 0
                if "early" not in readings and step >= checkpoint:
                    readings["early"] = (rss_mb(os.getpid()), rss_mb(child))
            readings["end"] = (rss_mb(os.getpid()), rss_mb(child))

    asyncio.run(drive())
    (app_early, child_early), (app_end, child_end) = readings["early"], readings["end"]
    return {"app_rss_mb": [app_early, app_end], "trainer_rss_mb": [child_early, child_end],
            "growth_mb": (app_end - app_early) + (child_end - child_early),
            "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}


def compile_cost(data: str, model: str) -> dict:
    """The compiled step's build, cold (an empty cache of its own) and then warm (that cache), with the peak
    RSS of `mmtui --headless` on each path: what a user's first and later starts cost."""
    import tempfile

    def run(compile: str, cache: str) -> tuple[float | None, float]:
        command = [sys.executable, "-m", "mmtui", "--headless", "--model", model, "--data", data, "--steps",
                   "16", "--eval-every", "0", "--compile", compile]
        environment = {**os.environ, "TORCHINDUCTOR_CACHE_DIR": cache}
        output = subprocess.run(command, check=True, capture_output=True, text=True, env=environment).stdout
        notes = [json.loads(line)["text"] for line in output.splitlines() if '"event": "note"' in line]
        built = next((float(note.rsplit("built in ", 1)[1].split(" s")[0]) for note in notes
                      if note.startswith(COMPILED_NOTE)), None)
        if compile == "on" and built is None:
            raise SystemExit(f"compile {model}: no compiled step: {notes}")
        # The largest RSS of any child waited for so far: the eager run goes first, so later
        # readings are theirs.
        return built, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024

    with tempfile.TemporaryDirectory() as cache:
        _, eager_rss = run("off", cache)
        cold_s, cold_rss = run("on", cache)
        warm_s, _ = run("on", cache)
    return {"model": model, "cold_build_s": cold_s, "warm_build_s": warm_s, "eager_peak_rss_mb": eager_rss,
            "compile_peak_rss_mb": cold_rss}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("case", choices=["bare", "headless", "tui-trainer", "tui", "tui-thread",
                                         "bare-deep-bn", "headless-deep-bn", "tui-deep-bn",
                                         "headless-compiled", "tui-compiled", "headless-compiled-deep-bn",
                                         "compile", "compile-deep-bn", "memory", "alternating"])
    parser.add_argument("--data", required=True, help="word list (the lecture's names.txt)")
    parser.add_argument("--steps", type=int, required=True, help="training steps")
    parser.add_argument("--checkpoint", type=int, default=10_000, help="memory: the early reading's step")
    parser.add_argument("--launched", type=float, default=None,
                        help="tui: time.time() when the case was started")
    parser.add_argument("--turns", type=int, default=30, help="alternating: turns of each case")
    parser.add_argument("--turn-s", type=float, default=3.0, help="alternating: seconds of one turn")
    args = parser.parse_args()
    launched = args.launched or time.time()
    result = {
        "bare": lambda: bare(args.data, args.steps),
        "headless": lambda: headless(args.data, args.steps, "mlp", "off"),
        "tui-trainer": lambda: tui_trainer(args.data, args.steps),
        "tui": lambda: tui(args.data, args.steps, "process", launched, "mlp"),
        "tui-thread": lambda: tui(args.data, args.steps, "thread", launched, "mlp"),
        "bare-deep-bn": lambda: bare_deep_bn(args.data, args.steps),
        "headless-deep-bn": lambda: headless(args.data, args.steps, "deep-bn", "off"),
        "headless-compiled": lambda: headless(args.data, args.steps, "mlp", "on"),
        "tui-compiled": lambda: tui(args.data, args.steps, "process", launched, "mlp", compile="auto"),
        "headless-compiled-deep-bn": lambda: headless(args.data, args.steps, "deep-bn", "on"),
        "compile": lambda: compile_cost(args.data, "mlp"),
        "compile-deep-bn": lambda: compile_cost(args.data, "deep-bn"),
        "tui-deep-bn": lambda: tui(args.data, args.steps, "process", launched, "deep-bn"),
        "memory": lambda: memory(args.data, args.steps, args.checkpoint),
        "alternating": lambda: alternating(args.data, args.turns, args.turn_s),
    }[args.case]()
    print(json.dumps({"case": args.case, **result}), flush=True)
    # As the CLI does: no interpreter teardown, which aborts now and then when a daemon trainer thread (the
    # tui-thread case) is still inside torch.
    os._exit(0)


if __name__ == "__main__":
    main()
