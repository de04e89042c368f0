"""The runs each source's screen is tested and pictured on: a watched transformer's run file, a transformers
Trainer's TensorBoard log (scalars only), a Lightning log with histograms of many runs, a script that never
calls mmtui.watch. Run as a script, it saves the README's SVG screenshots of every source into docs/."""

from __future__ import annotations

import math
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
# a transformers Trainer's scalars, as its TensorBoard callback names them (eval/loss joins the Loss panel)
TRAINER_SCALARS = ("train/learning_rate", "train/grad_norm", "train/epoch", "eval/runtime",
                   "eval/samples_per_second", "eval/steps_per_second", "train/train_runtime",
                   "train/train_samples_per_second", "train/train_steps_per_second", "train/total_flos")
QUIET_SCRIPT = "import time\nfor epoch in range(12):\n" \
               "    print(f'epoch {epoch}: loss {3 - epoch / 10:.2f}')\n" \
               "    time.sleep(0.02)\nprint('done')\n"


def transformer_run(folder: Path, words: Path, steps: int = 20) -> Path:
    """The char transformer example watched for `steps` steps: its GELUs, weights and returned loss."""
    path = folder / "char_transformer.jsonl"
    subprocess.run([sys.executable, str(ROOT / "examples" / "char_transformer.py"), "--data", str(words),
                    "--steps", str(steps), "--run-file", str(path)],
                   check=True, capture_output=True, cwd=folder, timeout=180)
    return path


def trainer_log(folder: Path, points: int = 30) -> Path:
    """A transformers Trainer's log: its arguments' text tag, a loss every 10 steps, eleven other scalars."""
    from torch.utils.tensorboard import SummaryWriter

    log = folder / "hf-run"
    with SummaryWriter(str(log)) as writer:
        # the Trainer logs its arguments: "args/text_summary"
        writer.add_text("args", "{\"output_dir\": \"out\"}")
        for i in range(points):
            step, loss = i * 10, 1.7 + 2.0 * math.exp(-i / 8) + 0.05 * math.sin(i)
            writer.add_scalar("train/loss", loss, step)
            writer.add_scalar("eval/loss", loss + 0.1, step)
            for k, tag in enumerate(TRAINER_SCALARS):
                writer.add_scalar(tag, (k + 1) * (1 + 0.1 * math.sin(i + k)), step)
    return log


def lightning_log(folder: Path, runs: int = 11) -> Path:
    """A Lightning log folder: version_0 ... each with hparams.yaml, a loss, a validation loss, and histograms
    of two weights and two activation layers every 50 steps."""
    import torch
    from torch.utils.tensorboard import SummaryWriter

    log = folder / "lightning_logs"
    generator = torch.Generator().manual_seed(0)
    for run in range(runs):
        version = log / f"version_{run}"
        with SummaryWriter(str(version)) as writer:
            for step in range(0, 300, 5):
                writer.add_scalar("train_loss", 1.8 + 0.02 * run + 1.5 * math.exp(-step / 80), step)
                if step % 50 == 0:
                    writer.add_scalar("val_loss", 1.9 + 0.02 * run + 1.5 * math.exp(-step / 80), step)
                    x = torch.randn(2000, generator=generator)  # (2000,)
                    writer.add_histogram("weights/encoder.0.weight", x * 0.1, step)
                    writer.add_histogram("encoder.0.bias", x[:64] * 0.01, step)
                    writer.add_histogram("activations/encoder.1", torch.relu(x), step)
                    writer.add_histogram("activations/decoder.1", torch.tanh(2 * x), step)
        (version / "hparams.yaml").write_text("lr: 0.001\n")
    return log


def quiet_script(folder: Path) -> Path:
    """A script that prints and never calls mmtui.watch."""
    path = folder / "train.py"
    path.write_text(QUIET_SCRIPT)
    return path


def save_screenshots(folder: Path, sizes: tuple[str, ...] = ("80x24", "160x48")) -> None:
    """docs/screen-<source>-<size>.svg of every source, through the command a user runs."""
    words = ROOT / "data" / "names.txt"
    sources = {"lecture": ["--steps", "3000", "--compile", "off"],
               "transformer": ["view", str(transformer_run(folder, words, steps=300))],
               "trainer-log": ["view", str(trainer_log(folder))],
               "lightning-log": ["view", str(lightning_log(folder))],
               "script": ["run", str(quiet_script(folder))]}
    for name, args in sources.items():
        for size in sizes:
            shot = ROOT / "docs" / f"screen-{name}-{size}.svg"
            command, *rest = args
            at = [command, "--no-terminal", "--screenshot", str(shot), "--size", size, *rest] if command in (
                "view", "run") else ["--no-terminal", "--screenshot", str(shot), "--size", size, *args]
            subprocess.run([sys.executable, "-m", "mmtui", *at], check=True, cwd=folder, timeout=300)


if __name__ == "__main__":
    import tempfile

    with tempfile.TemporaryDirectory() as scratch:
        save_screenshots(Path(scratch))
