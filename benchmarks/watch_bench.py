"""The cost of mmtui.watch: the examples' loops watched against the same loops bare, in one process, in turns.

    python benchmarks/watch_bench.py --data ../shared/data/names.txt
    python benchmarks/watch_bench.py --cases scale --out benchmarks/watch_scale_results.json

Each round trains a bare segment and a watched one (a fresh watch, closed after it) of the same loop, in
alternating order, and takes their ratio of steps/s; the medians of the rounds' ratios are reported, for the
default pace (statistics about twice a second) and for statistics at every step (what W&B's log_freq=1 asks).
The memory case watches the lecture's loop for --memory-steps and reports RSS at 10% and at the end.
The scale case trains a GPT-style transformer of growing size (0.1M, 3M and 14M parameters on the CPU; 85M,
GPT-2 small's 12 x 768, where CUDA is found) watched against bare at the default pace, and reports the cost of
one measured step and the run file's bytes per hour at that pace (for the 85M shape on the CPU too, from one
measured step: the file's size depends on the model's shape, not on the device).
Writes every round to --out as JSON.
"""

from __future__ import annotations

import argparse
import dataclasses
import importlib.util
import io
import json
import random
import resource
import statistics
import sys
import tempfile
import time
from pathlib import Path

import torch
import torch.nn as nn
import torch.nn.functional as F

import mmtui
from mmtui.engine.words import read_words
from mmtui.measure.pacing import Pacing, StatsClock
from mmtui.records import RUNNING
from mmtui.runfile import RunFileWriter, read_run_file

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"
EVERY_STEP = Pacing(snapshot_every=1)


def load_example(name: str):
    spec = importlib.util.spec_from_file_location(name, EXAMPLES / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


class LectureLoop:
    """The notebook's loop (examples/lecture_mlp.py) with its own `lossi` tracking, and fix-tanh's init so
    that it trains as the lecture's does."""

    def __init__(self, words: list[str]):
        lecture = load_example("lecture_mlp")
        chars = sorted(set("".join(words)))
        stoi = {s: i + 1 for i, s in enumerate(chars)} | {".": 0}
        random.seed(42)
        random.shuffle(words)
        self.X, self.Y = lecture.build_dataset(words[:int(0.8 * len(words))], stoi)
        self.g = torch.Generator().manual_seed(2147483647)
        V = len(stoi)
        self.C = torch.randn((V, 10), generator=self.g)
        self.W1 = torch.randn((30, 200), generator=self.g) * 0.2
        self.b1 = torch.randn(200, generator=self.g) * 0.01
        self.W2 = torch.randn((200, V), generator=self.g) * 0.01
        self.b2 = torch.randn(V, generator=self.g) * 0
        self.parameters = [self.C, self.W1, self.b1, self.W2, self.b2]
        for p in self.parameters:
            p.requires_grad = True
        self.lossi: list[float] = []

    def watch(self, log: str, pacing: Pacing):
        return mmtui.watch(params=self.parameters, log=log, pacing=pacing)

    def steps(self, count: int, run) -> None:
        for _ in range(count):
            ix = torch.randint(0, self.X.shape[0], (32,), generator=self.g)
            emb = self.C[self.X[ix]]
            h = torch.tanh(emb.view(emb.shape[0], -1) @ self.W1 + self.b1)
            loss = F.cross_entropy(h @ self.W2 + self.b2, self.Y[ix])
            for p in self.parameters:
                p.grad = None
            loss.backward()
            for p in self.parameters:
                p.data += -0.1 * p.grad
            self.lossi.append(loss.log10().item())  # the lecture's own tracking, watched or not
            if run is not None:
                run.log(loss=loss, h=h)


class TransformerLoop:
    """examples/char_transformer.py's model and AdamW loop."""

    def __init__(self, words: list[str]):
        example = load_example("char_transformer")
        torch.manual_seed(1337)
        stoi = {c: i + 1 for i, c in enumerate(sorted(set("".join(words))))}
        block_size = max(len(w) for w in words) + 1
        self.X, self.Y = example.encode(words, stoi, block_size)
        self.model = example.Transformer(len(stoi) + 1, block_size)
        self.optimizer = torch.optim.AdamW(self.model.parameters(), lr=3e-3, weight_decay=0.01)

    def watch(self, log: str, pacing: Pacing):
        return mmtui.watch(self.model, self.optimizer, log=log, pacing=pacing)

    def steps(self, count: int, run) -> None:
        for _ in range(count):
            ix = torch.randint(0, len(self.X), (32,))
            _, loss = self.model(self.X[ix], self.Y[ix])
            self.optimizer.zero_grad(set_to_none=True)
            loss.backward()
            self.optimizer.step()


class Block(nn.Module):
    """nanoGPT's block: pre-norm causal self-attention and a 4x GELU MLP."""

    def __init__(self, dim: int, heads: int):
        super().__init__()
        self.heads = heads
        self.ln1, self.ln2 = nn.LayerNorm(dim), nn.LayerNorm(dim)
        self.attn, self.proj = nn.Linear(dim, 3 * dim), nn.Linear(dim, dim)
        self.mlp = nn.Sequential(nn.Linear(dim, 4 * dim), nn.GELU(), nn.Linear(4 * dim, dim))

    def forward(self, x):
        B, T, C = x.shape
        q, k, v = self.attn(self.ln1(x)).view(B, T, 3, self.heads, C // self.heads).permute(2, 0, 3, 1, 4)
        y = F.scaled_dot_product_attention(q, k, v, is_causal=True)  # (B, heads, T, C / heads)
        x = x + self.proj(y.transpose(1, 2).reshape(B, T, C))
        return x + self.mlp(self.ln2(x))


class GPT(nn.Module):
    def __init__(self, vocab: int, block_size: int, layers: int, dim: int):
        super().__init__()
        self.tok, self.pos = nn.Embedding(vocab, dim), nn.Embedding(block_size, dim)
        self.blocks = nn.Sequential(*[Block(dim, max(dim // 64, 1)) for _ in range(layers)])
        self.ln, self.head = nn.LayerNorm(dim), nn.Linear(dim, vocab)

    def forward(self, idx, targets):
        x = self.tok(idx) + self.pos(torch.arange(idx.shape[1], device=idx.device))  # (B, T, dim)
        logits = self.head(self.ln(self.blocks(x)))  # (B, T, vocab)
        return logits, F.cross_entropy(logits.flatten(0, 1), targets.flatten())


# name, layers, width, batch, block, seconds of a segment, where it runs
SCALES = (("0.1M", 2, 64, 16, 32, 10.0, "cpu"), ("3M", 4, 256, 4, 32, 15.0, "cpu"),
          ("14M", 8, 384, 2, 32, 25.0, "cpu"), ("85M", 12, 768, 32, 256, 20.0, "cuda"))


class ScaleLoop:
    """A GPT of one of SCALES on random tokens (the cost does not depend on what it learns), AdamW."""

    def __init__(self, layers: int, dim: int, batch: int, block: int, device: str, vocab: int = 27):
        torch.manual_seed(0)
        self.model = GPT(vocab, block, layers, dim).to(device)
        self.optimizer = torch.optim.AdamW(self.model.parameters(), lr=3e-4)
        # on the device before the loop: the loop's own copies are no part of the cost
        self.batches = [torch.randint(0, vocab, (batch, block + 1), device=device) for _ in range(8)]
        self.params = sum(p.numel() for p in self.model.parameters())
        self.device = device
        self._next = 0

    def watch(self, log: str, pacing: Pacing):
        return mmtui.watch(self.model, self.optimizer, log=log, pacing=pacing)

    def steps(self, count: int, run) -> None:
        for _ in range(count):
            tokens = self.batches[self._next % len(self.batches)]
            self._next += 1
            _, loss = self.model(tokens[:, :-1], tokens[:, 1:])
            self.optimizer.zero_grad(set_to_none=True)
            loss.backward()
            self.optimizer.step()
        if self.device == "cuda":
            torch.cuda.synchronize()  # a segment's clock stops when its steps are done, not queued


def segment(loop, seconds: float, watched: Pacing | None, folder: str) -> float:
    """Steps/s of the loop for about `seconds`, bare or watched at the given pace."""
    run = loop.watch(tempfile.mktemp(suffix=".jsonl", dir=folder), watched) if watched is not None else None
    loop.steps(20, run)  # the first snapshot and its statistics are in every watched segment, as in a run
    done, started = 0, time.perf_counter()
    while time.perf_counter() - started < seconds:
        loop.steps(50, run)
        done += 50
    rate = done / (time.perf_counter() - started)
    if run is not None:
        run.close()
    return rate


def ratio_rounds(loop, rounds: int, seconds: float, pacing: Pacing, folder: str) -> list[dict]:
    results = []
    for number in range(rounds):
        order = [None, pacing] if number % 2 == 0 else [pacing, None]  # no case always goes first
        rates = {("watched" if p is not None else "bare"): segment(loop, seconds, p, folder) for p in order}
        results.append({**rates, "ratio": rates["watched"] / rates["bare"]})
        print(f"  round {number + 1}: {results[-1]}", file=sys.stderr)
    return results


def measured_step(loop: ScaleLoop, folder: str, steps: int = 3) -> tuple[float, float, Path]:
    """Seconds of a bare step and of a measured one (statistics at every step), medians of `steps` each after
    a first of each; and the run file the measured steps wrote."""
    now = clock(loop)

    def timed(run) -> float:
        started = now()
        loop.steps(1, run)
        return now() - started

    log = Path(tempfile.mktemp(suffix=".jsonl", dir=folder))
    run = loop.watch(str(log), EVERY_STEP)
    timed(run)  # the first measured step draws the samples, once per tensor
    measured = statistics.median(timed(run) for _ in range(steps))
    run.close()
    timed(None)
    bare = statistics.median(timed(None) for _ in range(steps))
    return bare, measured, log


def run_file_bytes(log: Path, steps_per_s: float, cost_s: float) -> dict:
    """The run file's bytes per hour at the default pace, from a file of measured steps: the statistics
    snapshots an hour (StatsClock's rule, with this measurement cost) at the bytes one takes, plus a snapshot
    of losses every snapshot_interval_s, each with that interval's losses. Written through the run file's own
    writer, so the figure follows its format."""
    pacing = Pacing()
    snapshot = next(s for s in read_run_file(str(log)) if s.layers)

    def size(snap) -> int:
        """Bytes of a running snapshot's line as the writer writes it, after its run's start line."""
        stream = io.StringIO()
        writer = RunFileWriter(stream)
        snap = dataclasses.replace(snap, state=RUNNING)
        writer.write(snap)
        before = len(stream.getvalue())
        writer.write(snap)
        return len(stream.getvalue()) - before

    per_snapshot = max(1, round(steps_per_s * pacing.snapshot_interval_s))
    losses = dataclasses.replace(snapshot, layers=(), params=(), losses=(2.0123456789,) * per_snapshot)
    stats_bytes = size(snapshot) - size(dataclasses.replace(snapshot, layers=(), params=()))
    clock, stats_per_hour, now = StatsClock(pacing, 0.0), 0, 0.0
    while now < 3600:
        if clock.due(now):
            stats_per_hour += 1
            clock.spent(cost_s)
        now += max(pacing.snapshot_interval_s, 1 / steps_per_s)
    snapshots_per_hour = 3600 / max(pacing.snapshot_interval_s, 1 / steps_per_s)
    return {"stats_bytes_per_snapshot": stats_bytes, "stats_snapshots_per_hour": stats_per_hour,
            "loss_bytes_per_snapshot": size(losses), "snapshots_per_hour": round(snapshots_per_hour),
            "mb_per_hour": (stats_per_hour * stats_bytes + snapshots_per_hour * size(losses)) / 1e6}


def clock(loop: ScaleLoop):
    """The training thread's own CPU time on the CPU (torch runs there on one thread), so that the other
    processes of a shared machine, which take the core away for whole turns, do not count; the wall clock on a
    GPU, whose work the thread only queues."""
    return time.thread_time if loop.device == "cpu" else time.perf_counter


def interleaved(bare: ScaleLoop, watched: ScaleLoop, seconds: float, folder: str) -> dict:
    """Two copies of one model, one bare and one watched at the default pace for the whole round, trained in
    turns of about 0.2 s each (which goes first alternates), so that the machine's drifts fall on both alike;
    their steps per second of clock() over the round's `seconds`."""
    now = clock(bare)
    run = watched.watch(tempfile.mktemp(suffix=".jsonl", dir=folder), Pacing())
    chunk = max(1, round(0.2 / bare_step_s(bare)))
    watched.steps(chunk, run)  # step 0's statistics, which every run takes once, and the samples' draw
    spent, done = {"bare": 0.0, "watched": 0.0}, {"bare": 0, "watched": 0}
    turns = [("bare", bare, None), ("watched", watched, run)]
    while sum(spent.values()) < seconds:
        for name, loop, watching in turns:
            started = now()
            loop.steps(chunk, watching)
            spent[name] += now() - started
            done[name] += chunk
        turns.reverse()
    run.close()
    rates = {name: done[name] / spent[name] for name in spent}
    return {**rates, "ratio": rates["watched"] / rates["bare"]}


def bare_step_s(loop: ScaleLoop) -> float:
    now = clock(loop)
    started = now()
    loop.steps(2, None)
    return (now() - started) / 2


def scale_case(rounds: int, folder: str) -> dict:
    """Each size of SCALES this machine can run: watched against bare, one measured step's
    cost, bytes an hour."""
    results = {}
    cuda = torch.cuda.is_available()
    for name, layers, dim, batch, block, seconds, device in SCALES:
        if device == "cuda" and not cuda:
            continue
        bare, watched = (ScaleLoop(layers, dim, batch, block, device) for _ in range(2))
        print(f"scale {name} ({bare.params / 1e6:.2f}M parameters, {device})", file=sys.stderr)
        bare_s, measured_s, log = measured_step(watched, folder)
        rounds_done = []
        for number in range(rounds):
            rounds_done.append(interleaved(bare, watched, seconds, folder))
            print(f"  round {number + 1}: {rounds_done[-1]}", file=sys.stderr)
        rate = statistics.median(r["bare"] for r in rounds_done)
        results[name] = {"parameters": bare.params, "device": device, "batch": batch, "block": block,
                         "ratio_median": statistics.median(r["ratio"] for r in rounds_done),
                         "bare_steps_per_s": rate, "bare_step_ms": bare_s * 1e3,
                         "measured_step_ms": measured_s * 1e3, "measurement_ms": (measured_s - bare_s) * 1e3,
                         **run_file_bytes(log, rate, max(measured_s - bare_s, 0.0)), "rounds": rounds_done}
    if not cuda:  # the 85M shape's file on the CPU: one measured step of a tiny batch gives its bytes
        name, layers, dim, *_ = SCALES[-1]
        loop = ScaleLoop(layers, dim, 1, 16, "cpu")
        print(f"scale {name} run file ({loop.params / 1e6:.2f}M parameters, one measured step on the cpu)",
              file=sys.stderr)
        _, _, log = measured_step(loop, folder, steps=1)
        # the issue's H200 step of 33.6 ms; the statistics' cost on a GPU unknown here, so the pace's thinning
        # alone
        results[f"{name}_file"] = {"parameters": loop.params, **run_file_bytes(log, 1 / 0.0336, 0.0)}
    return results


def rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", default="../shared/data/names.txt",
                        help="word list: the lecture's names.txt")
    parser.add_argument("--rounds", type=int, default=7, help="rounds per case (medians reported)")
    parser.add_argument("--seconds", type=float, default=3.0, help="seconds of one bare or watched segment")
    parser.add_argument("--memory-steps", type=int, default=100_000,
                        help="steps of the memory case (0: skip)")
    parser.add_argument("--scale-rounds", type=int, default=3, help="rounds per size of the scale case")
    parser.add_argument("--cases", default="examples,memory,scale",
                        help="which cases, comma-separated: examples (the lecture's and the transformer's "
                             "loops), memory, scale")
    parser.add_argument("--out", default="benchmarks/watch_results.json",
                        help="where to write the JSON results")
    args = parser.parse_args()
    cases = set(args.cases.split(","))
    torch.set_num_threads(1)
    words = read_words(args.data) if "examples" in cases or "memory" in cases else []
    results: dict = {}
    with tempfile.TemporaryDirectory() as folder:
        examples = (("lecture", LectureLoop(list(words))), ("transformer", TransformerLoop(list(words)))) \
            if "examples" in cases else ()
        for name, loop in examples:
            for pace, pacing in (("default", Pacing()), ("every_step", EVERY_STEP)):
                print(f"{name}, statistics at the {pace} pace", file=sys.stderr)
                rounds = ratio_rounds(loop, args.rounds, args.seconds, pacing, folder)
                results[f"{name}_{pace}"] = {
                    "ratio_median": statistics.median(r["ratio"] for r in rounds),
                    "bare_steps_per_s": statistics.median(r["bare"] for r in rounds),
                    "watched_steps_per_s": statistics.median(r["watched"] for r in rounds), "rounds": rounds}
        if "scale" in cases:
            results["scale"] = scale_case(args.scale_rounds, folder)
        if "memory" in cases and args.memory_steps:
            loop = LectureLoop(list(words))
            log = str(Path(folder) / "memory.jsonl")
            run = loop.watch(log, Pacing())
            loop.steps(args.memory_steps // 10, run)
            early = rss_mb()
            loop.steps(args.memory_steps - args.memory_steps // 10, run)
            run.close()
            results["memory"] = {"steps": args.memory_steps, "rss_mb_at_10pct": early,
                                 "rss_mb_at_end": rss_mb(), "run_file_mb": Path(log).stat().st_size / 2**20}
    Path(args.out).write_text(json.dumps(results, indent=2) + "\n")
    print(json.dumps(_without_rounds(results), indent=2))


def _without_rounds(results):
    if isinstance(results, dict):
        return {key: _without_rounds(value) for key, value in results.items() if key != "rounds"}
    return results


if __name__ == "__main__":
    main()
