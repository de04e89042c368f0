"""The `mmtui view` benchmark: opening run files, a 1 GB one among them, and following one as it grows.

    python benchmarks/view_bench.py --data ../shared/data/names.txt

Writes the lecture's 200,000-step run at the TUI's pace (~40 s of training) and a ~1 GB file made of it, then
measures, each case in a fresh process: the time from launch to the first drawn frame with data and to the
whole file drawn, beside the baseline of reading the same file with the run-file reader and no app; peak RSS
beside an app on an empty file; and while following, the time from a line written to its step on the screen.
Writes every figure to --out as JSON.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import resource
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path


def rss_peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


# ---- making the files

def write_lecture_run(data: str, path: Path, steps: int) -> float:
    """The lecture's run (fix-tanh) through the TUI's trainer and pacing, logged to
    `path`; returns seconds."""
    from mmtui.engine.config import RunFiles, TrainConfig
    from mmtui.engine.words import read_words
    from mmtui.sources.trainer import TrainerSource

    path.unlink(missing_ok=True)
    started = time.perf_counter()
    source = TrainerSource(TrainConfig(data=data, init="fix-tanh", steps=steps), read_words(data),
                           files=RunFiles(log=str(path)))
    source.start()
    try:
        while not any(getattr(item, "ended", False) for item in source.receive(0.5)):
            pass
    finally:
        source.close()
    return time.perf_counter() - started


def write_big_file(template: Path, path: Path, target_bytes: int) -> int:
    """One long run: the template run's snapshot lines again and again, their steps moved on each time."""
    from mmtui.runfile import SHORT_KEYS

    STEP = SHORT_KEYS["step"]  # a layer's step, under its version 2 key
    lines = template.read_text().splitlines()
    header, start = lines[0], json.loads(lines[1])
    snapshots = [json.loads(line) for line in lines[2:] if '"event":"snapshot"' in line]
    span = snapshots[-1]["step"]
    start["total_steps"] = None
    written = 0
    with path.open("w") as out:
        for line in (header, json.dumps(start)):
            written += out.write(line + "\n")
        repeat = 0
        while written < target_bytes:
            for snapshot in snapshots:
                moved = dict(snapshot, step=snapshot["step"] + repeat * span, state="running",
                             first_loss_step=snapshot["first_loss_step"] + repeat * span)
                moved["layers"] = [dict(layer, **{STEP: layer[STEP] + repeat * span})
                                   for layer in snapshot["layers"]]
                written += out.write(json.dumps(moved, separators=(",", ":")) + "\n")
            repeat += 1
    return written


# ---- the cases, each in its own process

def parse_only(path: str) -> dict:
    """The baseline: the run-file reader alone, no app."""
    from mmtui.runfile import RunFileReader

    started = time.perf_counter()
    reader, count = RunFileReader(path), 0
    with open(path, "rb") as file:
        for line in file:
            count += reader.read_line(line) is not None
    return {"parse_s": time.perf_counter() - started, "snapshots": count, "rss_mb": rss_peak_mb()}


def open_file(path: str, launched: float, follow: bool = False, write_lines: int = 0,
              every_s: float = 0.3) -> dict:
    """The app on one file at 160x48: first frame with data and the whole file drawn, from launch; with
    write_lines, a writer appends that many lines and each one's way to the screen is timed."""
    from mmtui.sources.run_file import RunFileSource
    from mmtui.tui.app import MmtuiApp

    class MeasuredApp(MmtuiApp):
        first_frame: float | None = None
        whole: float | None = None
        progress_seen = 0
        painted: list[tuple[int, float]] = []  # (latest step, when) of every painted frame with data

        def on_source_status_changed(self, message) -> None:
            self.progress_seen += message.status.progress is not None
            super().on_source_status_changed(message)

        def redraw(self, force: bool = False) -> bool:
            drew = super().redraw(force)
            if drew:
                version = self.history.version
                self.call_after_refresh(lambda: self._painted(version))
            return drew

        def _painted(self, version: int) -> None:
            now = time.time()
            ended = self.source_status is not None and self.source_status.ended
            if ended and self.whole is None and version == self.history.version:
                self.whole = now - launched  # an empty file's: the app's own start-up, the baseline
            latest = self.history.latest
            if latest is not None:
                self.first_frame = self.first_frame or now - launched
                self.painted.append((latest.step, now))

        def shown_at(self, step: int) -> float | None:
            """When a painted frame first showed `step` or a later one."""
            return next((at for shown, at in self.painted if shown >= step), None)

    app = MeasuredApp(RunFileSource([Path(path)], follow=follow))
    written: dict[int, float] = {}

    def writer() -> None:
        template = [line for line in Path(path).read_text().splitlines() if '"event":"snapshot"' in line][-1]
        last = json.loads(template)
        with open(path, "a") as out:
            for number in range(1, write_lines + 1):
                time.sleep(every_s)
                step = last["step"] + number
                line = dict(last, state="running", step=step, first_loss_step=step - 1, losses=[2.0],
                            evals=[], samples=[])
                out.write(json.dumps(line) + "\n")
                out.flush()
                written[step] = time.time()

    async def drive() -> None:
        async with app.run_test(size=(160, 48)) as pilot:
            while app.whole is None and not follow:
                await pilot.pause(0.05)
            if follow:
                while app.first_frame is None:
                    await pilot.pause(0.05)
                thread = threading.Thread(target=writer)
                thread.start()
                while thread.is_alive() or any(app.shown_at(step) is None for step in written):
                    await pilot.pause(0.05)

    asyncio.run(drive())
    latencies = sorted(app.shown_at(step) - at for step, at in written.items())
    result = {"first_frame_s": app.first_frame, "whole_s": app.whole, "rss_mb": rss_peak_mb(),
              "progress_updates": app.progress_seen}
    if latencies:
        result.update(follow_median_s=statistics.median(latencies), follow_max_s=latencies[-1],
                      follow_lines=len(latencies))
    return result


def run_case(*args: str, follow_lines: int = 0) -> dict:
    command = [sys.executable, __file__, "--case", *args, "--follow-lines", str(follow_lines),
               "--launched", str(time.time())]
    output = subprocess.run(command, check=True, capture_output=True, text=True).stdout
    return json.loads(output.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", default="../shared/data/names.txt",
                        help="word list: the lecture's names.txt")
    parser.add_argument("--steps", type=int, default=200_000, help="steps of the lecture's run")
    parser.add_argument("--big-mb", type=int, default=1024, help="size of the large file in MiB (0: skip it)")
    parser.add_argument("--rounds", type=int, default=3, help="rounds of the 200,000-step cases (medians)")
    parser.add_argument("--follow-lines", type=int, default=20, help="lines the follow case writes")
    parser.add_argument("--workdir", default="benchmarks/.view",
                        help="where the run files are written (kept)")
    parser.add_argument("--out", default="benchmarks/view_results.json",
                        help="where to write the JSON results")
    parser.add_argument("--case", nargs="+", help=argparse.SUPPRESS)  # a case in this fresh process
    parser.add_argument("--launched", type=float, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.case:
        kind, path = args.case
        result = {"parse": lambda: parse_only(path), "open": lambda: open_file(path, args.launched),
                  "follow": lambda: open_file(path, args.launched, follow=True,
                                              write_lines=args.follow_lines)}[kind]()
        print(json.dumps(result))
        return

    work = Path(args.workdir)
    work.mkdir(parents=True, exist_ok=True)
    lecture, empty, big, grown = (work / name for name in ("lecture.jsonl", "empty.jsonl", "big.jsonl",
                                                           "follow.jsonl"))
    results: dict = {"steps": args.steps}
    if not lecture.exists():
        results["write_s"] = write_lecture_run(args.data, lecture, args.steps)
    results["lecture_mb"] = lecture.stat().st_size / 2**20
    empty.write_text(lecture.read_text().split("\n", 1)[0] + "\n")
    rounds = {"open": [], "parse": [], "empty": []}
    for number in range(args.rounds):  # interleaved, so that the machine's drifts hit every case alike
        rounds["open"].append(run_case("open", str(lecture)))
        rounds["parse"].append(run_case("parse", str(lecture)))
        rounds["empty"].append(run_case("open", str(empty)))
        print(f"round {number + 1}: {rounds['open'][-1]}", file=sys.stderr)

    def median(case: str, key: str) -> float:
        return statistics.median(r[key] for r in rounds[case] if r.get(key) is not None)

    results["lecture"] = {"first_frame_s": median("open", "first_frame_s"),
                          "whole_s": median("open", "whole_s"),
                          "parse_s": median("parse", "parse_s"), "rss_mb": median("open", "rss_mb"),
                          "empty_app_drawn_s": median("empty", "whole_s"),
                          "empty_app_rss_mb": median("empty", "rss_mb")}
    # What the file adds to the app's own start-up, against reading it with no app at all.
    lecture_result = results["lecture"]
    lecture_result["file_s"] = lecture_result["whole_s"] - lecture_result["empty_app_drawn_s"]
    lecture_result["file_over_parse"] = lecture_result["file_s"] / lecture_result["parse_s"]
    if args.big_mb:
        if not big.exists() or big.stat().st_size < args.big_mb * 2**20:
            write_big_file(lecture, big, args.big_mb * 2**20)
        results["big"] = {"mb": big.stat().st_size / 2**20, **run_case("open", str(big)),
                          "parse_s": run_case("parse", str(big))["parse_s"]}
        big_result = results["big"]
        big_result["file_s"] = big_result["whole_s"] - lecture_result["empty_app_drawn_s"]
        big_result["file_over_parse"] = big_result["file_s"] / big_result["parse_s"]
    grown.write_text(lecture.read_text())
    results["follow"] = run_case("follow", str(grown), follow_lines=args.follow_lines)
    results["rounds"] = rounds
    Path(args.out).write_text(json.dumps(results, indent=2) + "\n")
    print(json.dumps({k: v for k, v in results.items() if k != "rounds"}, indent=2))


if __name__ == "__main__":
    main()
