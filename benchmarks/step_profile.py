"""Where a training step's time goes, on the eager path and the compiled one: torch's profiler
over the same steps.

    python benchmarks/step_profile.py --data ../shared/data/names.txt --model mlp

Prints, per path, the wall time of a step, the operator calls a step makes, the share of the wall time spent
inside operators (the rest is Python: the step's code and torch's dispatch around each call), and the
operators that take the most time.
"""

from __future__ import annotations

import argparse
import time
import warnings

warnings.filterwarnings("ignore", message="Failed to initialize NumPy")


def main() -> None:
    import torch
    from torch.profiler import ProfilerActivity, profile

    from mmtui.engine.compiled import CompiledSteps, sgd_steps
    from mmtui.engine.config import STEPS_PER_CALL, TrainConfig
    from mmtui.engine.data import load_dataset
    from mmtui.engine.model import build_model

    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", default=None, help="word list (default: the bundled names)")
    parser.add_argument("--model", default=TrainConfig.model, help="mlp, mlp-bn, deep or deep-bn")
    parser.add_argument("--calls", type=int, default=100, help="profiled calls of STEPS_PER_CALL steps each")
    parser.add_argument("--top", type=int, default=8, help="operators listed per path")
    args = parser.parse_args()

    torch.set_num_threads(1)
    config = TrainConfig(model=args.model, init="fix-tanh")
    dataset = load_dataset(args.data, config.block_size)

    def model():
        return build_model(config, dataset.vocab.size, torch.Generator().manual_seed(config.seed))

    batches = torch.randint(0, len(dataset.Ytr), (STEPS_PER_CALL, config.batch_size))  # (K, B)
    lrs = torch.full((STEPS_PER_CALL,), config.lr)  # (K,)
    compiled = CompiledSteps(model, dataset.Xtr, dataset.Ytr, config.batch_size)
    compiled.build()
    if compiled.error:
        raise SystemExit(f"step_profile: the compiled step failed: {compiled.error}")
    paths = {"eager": lambda net: sgd_steps(net, dataset.Xtr, dataset.Ytr, batches, lrs),
             "compiled": lambda net: compiled(net, batches, lrs)}
    for name, call in paths.items():
        net = model()
        for _ in range(10):  # warm: the allocator's caches, the first calls' one-off work
            call(net)
        started = time.perf_counter()
        for _ in range(args.calls):
            call(net).tolist()  # as the trainer takes the losses
        plain = time.perf_counter() - started
        with profile(activities=[ProfilerActivity.CPU]) as profiled:
            started = time.perf_counter()
            for _ in range(args.calls):
                call(net).tolist()
            wall = time.perf_counter() - started
        steps = args.calls * STEPS_PER_CALL
        events = [e for e in profiled.key_averages() if not e.key.startswith("ProfilerStep")]
        # Self time counts each operator's own work once; ops called inside other ops are not counted twice.
        inside_s = sum(e.self_cpu_time_total for e in events) / 1e6
        calls = sum(e.count for e in events)
        print(f"\n{args.model} {name}: {1e6 * plain / steps:.0f} us a step "
              f"({1e6 * wall / steps:.0f} profiled), {calls / steps:.1f} operator calls a step, "
              f"{100 * min(inside_s / wall, 1):.0f}% of the profiled time inside them")
        for e in sorted(events, key=lambda e: e.self_cpu_time_total, reverse=True)[:args.top]:
            print(f"  {e.key[:60]:60} {e.count / steps:6.2f} a step  "
                  f"{e.self_cpu_time_total / steps:7.1f} us a step")


if __name__ == "__main__":
    main()
