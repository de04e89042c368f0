"""The performance benchmark: mmtui against the lecture's plain loop, cases interleaved, medians of rounds.

    python benchmarks/bench.py --data ../shared/data/names.txt

Prints steps/s per case, the ratios headless/bare, tui/bare and tui/headless, the TUI's frame times, key
latency, time to the first frame with data, tui/headless once more from a run where the two take turns, memory
growth, and the compiled step's build time and peak RSS; writes them all to --out as JSON. The -compiled cases
run COMPILED_STEPS_FACTOR times the steps, from a compile cache warmed before the rounds, as a user's second
start finds it (the cold build is the compile cases' figure).
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import subprocess
import sys
import time
from pathlib import Path

CASES = Path(__file__).with_name("cases.py")
# a compiled case's steps against its eager twin's: about as many seconds of training
COMPILED_STEPS_FACTOR = 3


def run_case(case: str, data: str, steps: int, **extra) -> dict:
    command = [sys.executable, str(CASES), case, "--data", data, "--steps", str(steps), "--launched",
               str(time.time())]
    for name, value in extra.items():
        command += [f"--{name.replace('_', '-')}", str(value)]
    output = subprocess.run(command, check=True, capture_output=True, text=True).stdout
    return json.loads(output.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", default="../shared/data/names.txt",
                        help="word list: the lecture's names.txt")
    parser.add_argument("--steps", type=int, default=20_000, help="training steps per MLP case and round")
    parser.add_argument("--deep-steps", type=int, default=5_000,
                        help="training steps per deep-bn case and round")
    parser.add_argument("--rounds", type=int, default=7,
                        help="rounds of the interleaved cases (medians reported)")
    parser.add_argument("--cases",
                        default="bare,headless,tui-trainer,tui,tui-thread,headless-compiled,tui-compiled,"
                        "bare-deep-bn,headless-deep-bn,tui-deep-bn,headless-compiled-deep-bn",
                        help="comma-separated cases; a case ending in -deep-bn is compared with bare-deep-bn")
    parser.add_argument("--turns", type=int, default=30,
                        help="turns each of headless and tui in the alternating run (0: skip it)")
    parser.add_argument("--turn-s", type=float, default=3.0,
                        help="seconds of one turn of the alternating run")
    parser.add_argument("--memory-steps", type=int, default=200_000,
                        help="steps of the memory run (0: skip it)")
    parser.add_argument("--compile-cost", action=argparse.BooleanOptionalAction, default=True,
                        help="measure the compiled step's cold and warm build and peak RSS for mlp and "
                             "deep-bn")
    parser.add_argument("--out", default="benchmarks/results.json", help="where to write the JSON results")
    args = parser.parse_args()

    cases = args.cases.split(",")
    _warm_compile_cache(args.data, cases)
    rounds: dict[str, list[dict]] = {case: [] for case in cases}
    for number in range(args.rounds):
        # Interleaved, so that drifts in machine load hit every case alike, and in reverse order every other
        # round, so that a steady drift favours no case.
        for case in cases if number % 2 == 0 else cases[::-1]:
            steps = args.deep_steps if case.endswith("deep-bn") else args.steps
            result = run_case(case, args.data, steps * (COMPILED_STEPS_FACTOR if "compiled" in case else 1))
            rounds[case].append(result)
            print(f"round {number + 1} {case:>16}: {result['steps_per_s']:7.0f} steps/s", file=sys.stderr)

    def median(case: str, key: str) -> float | None:
        values = [r[key] for r in rounds.get(case, []) if r.get(key) is not None]
        return statistics.median(values) if values else None

    summary = {case: {key: median(case, key) for key in rounds[case][0] if key != "case"} for case in cases}
    pairs = [(case, _baseline(case)) for case in cases if not case.startswith("bare")]
    pairs += [(case, _headless_twin(case)) for case in cases if case.startswith("tui")]
    ratios = {f"{case}/{base}": summary[case]["steps_per_s"] / summary[base]["steps_per_s"]
              for case, base in pairs if base in summary}
    # The same ratio per round (its two cases ran minutes apart at most), then the median: a second estimate.
    paired_ratios = {f"{case}/{base}": statistics.median(a["steps_per_s"] / b["steps_per_s"]
                                                          for a, b in zip(rounds[case], rounds[base]))
                     for case, base in pairs if base in summary}
    alternating = (run_case("alternating", args.data, 0, turns=args.turns, turn_s=args.turn_s)
                   if args.turns else None)
    memory = run_case("memory", args.data, args.memory_steps) if args.memory_steps else None
    compile_cost = ([run_case(case, args.data, 0) for case in ("compile", "compile-deep-bn")]
                    if args.compile_cost else None)
    report = {"date": time.strftime("%Y-%m-%d"),
              "machine": f"{platform.machine()}, {_cores()} cores, Python {platform.python_version()}",
              "steps": args.steps, "deep_steps": args.deep_steps, "rounds": args.rounds,
              "median": summary, "ratios": ratios,
              "paired_ratios": paired_ratios, "alternating": alternating, "memory": memory,
              "compile": compile_cost, "all_rounds": rounds}
    Path(args.out).write_text(json.dumps(report, indent=2) + "\n")

    print(f"\n{'case':>16}  {'steps/s':>8}  ratio to its bare loop")
    for case in cases:
        ratio = ratios.get(f"{case}/{_baseline(case)}")
        print(f"{case:>16}  {summary[case]['steps_per_s']:8.0f}  {'' if ratio is None else f'{ratio:6.2f}'}")
    for name, ratio in ratios.items():
        if name.startswith("tui") and "/headless" in name:
            print(f"{name}: {ratio:.2f} (median of the rounds' own ratios: {paired_ratios[name]:.2f})")
    for case in (c for c in cases if c.startswith("tui") and "frame_p50_ms" in summary[c]):
        s = summary[case]
        print(f"{case}: frame p50 {s['frame_p50_ms']:.1f} ms, p95 {s['frame_p95_ms']:.1f} ms; "
              f"reinit key to screen {s['key_latency_ms']:.0f} ms; first paint {s['first_paint_s']:.2f} s, "
              f"first frame with data {s['first_frame_s']:.2f} s")
    if alternating:
        a = alternating
        print(f"alternating, {args.turns} turns of {args.turn_s:g} s each: "
              f"headless {a['headless_steps_per_s']:.0f}, "
              f"tui {a['tui_steps_per_s']:.0f} steps/s: tui/headless {a['ratio']:.2f} "
              f"(median of the turns' own ratios {statistics.median(a['turn_ratios']):.2f})")
    if memory:
        print(f"memory: app {memory['app_rss_mb'][0]:.0f} -> {memory['app_rss_mb'][1]:.0f} MB, trainer "
              f"{memory['trainer_rss_mb'][0]:.0f} -> {memory['trainer_rss_mb'][1]:.0f} MB between 10,000 and "
              f"{args.memory_steps:,} steps: growth {memory['growth_mb']:.1f} MB")
    for cost in compile_cost or ():
        print(f"compile {cost['model']}: cold build {cost['cold_build_s']:.1f} s, "
              f"warm {cost['warm_build_s']:.1f} s; peak RSS {cost['compile_peak_rss_mb']:.0f} MB "
              f"against {cost['eager_peak_rss_mb']:.0f} MB eager")
    print(f"written to {args.out}")


def _baseline(case: str) -> str:
    return "bare-deep-bn" if case.endswith("deep-bn") else "bare"


def _headless_twin(case: str) -> str:
    """The headless case that runs what a TUI case runs: tui-compiled-deep-bn's is
    headless-compiled-deep-bn."""
    return ("headless" + ("-compiled" if "compiled" in case else "")
            + ("-deep-bn" if case.endswith("deep-bn") else ""))


def _warm_compile_cache(data: str, cases: list[str]) -> None:
    """Build the compiled steps that the cases will use once, so that every round finds them in the cache."""
    for model in {"deep-bn" if case.endswith("deep-bn") else "mlp" for case in cases if "compiled" in case}:
        subprocess.run([sys.executable, "-m", "mmtui", "--headless", "--model", model, "--data", data,
                        "--steps", "16",
                        "--eval-every", "0", "--compile", "on"], check=True, capture_output=True)


def _cores() -> int:
    import os

    return os.cpu_count() or 0


if __name__ == "__main__":
    main()
