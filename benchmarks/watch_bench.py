"""The cost of mmtui.watch: the examples' loops watched against the same loops bare, in one process, in turns.

    python benchmarks/watch_bench.py --data ../shared/data/names.txt

Each round trains a bare segment and a watched one (a fresh watch, closed after it) of the same loop, in
alternating order, and takes their ratio of steps/s; the medians of the rounds' ratios are reported, for the
default pace (statistics about twice a second) and for statistics at every step (what W&B's log_freq=1 asks).
The memory case watches the lecture's loop for --memory-steps and reports RSS at 10% and at the end.
Writes every round to --out as JSON.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import random
import resource
import statistics
import sys
import tempfile
import time
from pathlib import Path

import torch
import torch.nn.functional as F

import mmtui
from mmtui.measure.pacing import Pacing
from mmtui.engine.words import read_words

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"
EVERY_STEP = Pacing(snapshot_every=1)


def load_example(name: str):
    spec = importlib.util.spec_from_file_location(name, EXAMPLES / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


class LectureLoop:
    """The notebook's loop (examples/lecture_mlp.py) with its own `lossi` tracking, and fix-tanh's init so that it
    trains as the lecture's does."""

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


def rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", default="../shared/data/names.txt", help="word list: the lecture's names.txt")
    parser.add_argument("--rounds", type=int, default=7, help="rounds per case (medians reported)")
    parser.add_argument("--seconds", type=float, default=3.0, help="seconds of one bare or watched segment")
    parser.add_argument("--memory-steps", type=int, default=100_000, help="steps of the memory case (0: skip)")
    parser.add_argument("--out", default="benchmarks/watch_results.json", help="where to write the JSON results")
    args = parser.parse_args()
    torch.set_num_threads(1)
    words = read_words(args.data)
    results: dict = {}
    with tempfile.TemporaryDirectory() as folder:
        for name, loop in (("lecture", LectureLoop(list(words))), ("transformer", TransformerLoop(list(words)))):
            for pace, pacing in (("default", Pacing()), ("every_step", EVERY_STEP)):
                print(f"{name}, statistics at the {pace} pace", file=sys.stderr)
                rounds = ratio_rounds(loop, args.rounds, args.seconds, pacing, folder)
                results[f"{name}_{pace}"] = {
                    "ratio_median": statistics.median(r["ratio"] for r in rounds),
                    "bare_steps_per_s": statistics.median(r["bare"] for r in rounds),
                    "watched_steps_per_s": statistics.median(r["watched"] for r in rounds), "rounds": rounds}
        if args.memory_steps:
            loop = LectureLoop(list(words))
            log = str(Path(folder) / "memory.jsonl")
            run = loop.watch(log, Pacing())
            loop.steps(args.memory_steps // 10, run)
            early = rss_mb()
            loop.steps(args.memory_steps - args.memory_steps // 10, run)
            run.close()
            results["memory"] = {"steps": args.memory_steps, "rss_mb_at_10pct": early, "rss_mb_at_end": rss_mb(),
                                 "run_file_mb": Path(log).stat().st_size / 2**20}
    Path(args.out).write_text(json.dumps(results, indent=2) + "\n")
    print(json.dumps({k: {x: y for x, y in v.items() if x != "rounds"} for k, v in results.items()}, indent=2))


if __name__ == "__main__":
    main()
