"""Checkpoints: a run's tensors, config, data identity, step and generator states; written
atomically, read safely."""

from __future__ import annotations

import dataclasses
import io
import typing
import warnings
import zipfile
from dataclasses import dataclass
from pathlib import Path

import torch

from mmtui.engine.config import FORMER_PACING_FIELDS, RUN_FIELDS, TrainConfig
from mmtui.engine.model import build_model
from mmtui.engine.words import DataError
from mmtui.paths import write_whole

FORMAT = "mmtui-checkpoint"
FORMAT_VERSION = 1  # raise it when the stored fields change; load_checkpoint refuses any other version
# a checkpoint larger than this is refused unread: the lecture's nets take tens of kilobytes
MAX_BYTES = 1 << 30


class CheckpointError(DataError):
    """A checkpoint that cannot be written, read or resumed; a DataError, so the CLI
    reports it in one line."""


@dataclass(frozen=True)
class Checkpoint:
    """Everything a trainer needs to continue a run with the numbers the uninterrupted run would give."""

    config: TrainConfig
    vocab: tuple[str, ...]  # Vocab.chars of the words trained on
    num_words: int
    words_sha256: str  # words_digest of the words trained on
    step: int  # updates done
    parameters: tuple[torch.Tensor, ...]  # in the model's parameters() order
    buffers: tuple[torch.Tensor, ...]  # in the model's buffers() order: BatchNorm's running mean and variance
    batch_generator_state: torch.Tensor  # the minibatch generator before it drew the current block of indices
    batch_position: int  # minibatches of that block already trained on
    sample_generator_state: torch.Tensor
    init_loss: float | None  # the run's step-0 loss, None when saved before step 0

    def to_dict(self) -> dict:
        """Plain tensors, lists, dicts, strings and numbers: what torch.load(weights_only=True) reads back."""
        return {"format": FORMAT, "version": FORMAT_VERSION, "config": dataclasses.asdict(self.config),
                "vocab": list(self.vocab), "num_words": self.num_words, "words_sha256": self.words_sha256,
                "step": self.step, "parameters": [p.detach() for p in self.parameters],
                "buffers": [b.detach() for b in self.buffers],
                "batch_generator_state": self.batch_generator_state,
                "batch_position": self.batch_position, "sample_generator_state": self.sample_generator_state,
                "init_loss": self.init_loss}


# Each stored field and the type its value must have.
FIELD_TYPES: dict[str, type | tuple[type, ...]] = {
    "config": dict, "vocab": list, "num_words": int, "words_sha256": str, "step": int, "parameters": list,
    "buffers": list, "batch_generator_state": torch.Tensor, "batch_position": int,
    "sample_generator_state": torch.Tensor, "init_loss": (float, type(None)),
}


def save_checkpoint(checkpoint: Checkpoint, path: str | Path) -> None:
    """Write the checkpoint whole or not at all (write_whole): a crash or a full disk leaves the previous one
    whole. torch serializes into memory first (a checkpoint is tens of kilobytes): its zip writer words a full
    disk as an "enforce fail", the file system's own error says it."""
    buffer = io.BytesIO()
    torch.save(checkpoint.to_dict(), buffer)
    try:
        write_whole(path, buffer.getvalue())
    except OSError as error:
        raise CheckpointError(f"cannot write checkpoint {path}: {error.strerror or error}") from None


def load_checkpoint(path: str | Path) -> Checkpoint:
    """Read and check a checkpoint: its archive (sizes checked before torch allocates a tensor), format,
    version, fields, config, and tensors that fit the config's net. torch's own warnings stay off the screen:
    a failure is the one line of the CheckpointError."""
    path = Path(path)
    if not path.exists():
        raise CheckpointError(f"checkpoint not found: {path}")
    if path.is_dir():
        raise CheckpointError(f"checkpoint path is a directory, not a file: {path}")
    try:
        if path.stat().st_size > MAX_BYTES:
            raise CheckpointError(f"checkpoint {path} is larger than {MAX_BYTES >> 20} MiB: "
                                  "not an mmtui checkpoint")
        raw = path.read_bytes()  # once: what is checked is what torch reads
    except OSError as error:
        raise CheckpointError(f"cannot read checkpoint {path}: {error.strerror or error}") from None
    _check_archive(raw, path)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            # plain values only: no code
            data = torch.load(io.BytesIO(raw), map_location="cpu", weights_only=True)
    except Exception:  # noqa: BLE001 - a truncated or foreign file fails in torch.load in many ways
        raise CheckpointError(f"not an mmtui checkpoint, or truncated or corrupt: {path}") from None
    return _parse(data, path)


def _check_archive(raw: bytes, path: Path) -> None:
    """torch.save's zip archive, as save_checkpoint writes it: entries stored, never compressed, so the
    tensors it holds cannot be larger than the file. A zip bomb (a 2 GiB tensor deflated into 2 MB, which
    torch would inflate before any check) and a pickle outside an archive are refused here."""
    try:
        with zipfile.ZipFile(io.BytesIO(raw)) as archive:
            entries = archive.infolist()
    except (zipfile.BadZipFile, ValueError, OSError):
        raise CheckpointError(f"not an mmtui checkpoint, or truncated or corrupt: {path}") from None
    for entry in entries:
        if entry.compress_type != zipfile.ZIP_STORED or entry.file_size != entry.compress_size:
            raise CheckpointError(f"not an mmtui checkpoint: {path} holds a compressed entry "
                                  f"({entry.filename}, {entry.file_size:,} bytes inflated)")
    if sum(entry.file_size for entry in entries) > len(raw):
        raise CheckpointError(f"not an mmtui checkpoint: {path} claims more than it holds")


def _parse(data, path: Path) -> Checkpoint:
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        raise CheckpointError(f"not an mmtui checkpoint: {path}")
    if data.get("version") != FORMAT_VERSION:
        raise CheckpointError(f"checkpoint {path} has format version {data.get('version')!r}; "
                              f"this mmtui reads version {FORMAT_VERSION}")
    for name, kind in FIELD_TYPES.items():
        if not isinstance(data.get(name, ...), kind):
            raise CheckpointError(f"checkpoint {path} is corrupt: its {name!r} is missing or "
                                  "of the wrong type")
    config = _config(data["config"], path)
    vocab = data["vocab"]
    if not all(isinstance(ch, str) and len(ch) == 1 for ch in vocab):
        raise CheckpointError(f"checkpoint {path} is corrupt: its vocabulary is not a list of characters")
    if not 0 <= data["batch_position"] <= data["step"]:
        raise CheckpointError(f"checkpoint {path} is corrupt: batch position {data['batch_position']} "
                              f"at step {data['step']}")
    parameters, buffers = _tensors(data, config, len(vocab) + 1, path)
    generator_size = torch.Generator().get_state().shape
    for name in ("batch_generator_state", "sample_generator_state"):
        state = data[name]
        if state.dtype != torch.uint8 or state.shape != generator_size:
            raise CheckpointError(f"checkpoint {path} is corrupt: its {name!r} is no generator state")
    return Checkpoint(config, tuple(vocab), data["num_words"], data["words_sha256"], data["step"], parameters,
                      buffers, data["batch_generator_state"], data["batch_position"],
                      data["sample_generator_state"], data["init_loss"])


def _config(stored: dict, path: Path) -> TrainConfig:
    hints = typing.get_type_hints(TrainConfig)
    stored = {name: value for name, value in stored.items() if name not in FORMER_PACING_FIELDS}
    if set(stored) != set(hints):
        raise CheckpointError(f"checkpoint {path} has other config fields than this mmtui's TrainConfig")
    for name, value in stored.items():
        # a whole number in a float field (TrainConfig(lr=1)) is still that number
        fits = isinstance(value, hints[name]) or (type(value) is int and isinstance(1.0, hints[name]))
        if not fits:
            raise CheckpointError(f"checkpoint {path} is corrupt: config field {name!r} holds {value!r}")
    return TrainConfig(**stored)


def _tensors(data: dict, config: TrainConfig, vocab_size: int, path: Path):
    """The stored parameters and buffers, checked against those of the net that the config draws."""
    try:
        template = build_model(config, vocab_size, torch.Generator())
    except (ValueError, RuntimeError) as error:  # an unknown model or preset, a size torch cannot draw
        raise CheckpointError(f"checkpoint {path} has an invalid config: {error}") from None
    stored = {"parameters": data["parameters"], "buffers": data["buffers"]}
    expected = {"parameters": template.parameters(), "buffers": template.buffers()}
    for kind, tensors in stored.items():
        shapes = [tuple(t.shape) if isinstance(t, torch.Tensor) and t.dtype == torch.float32 else None
                  for t in tensors]
        wanted = [tuple(t.shape) for t in expected[kind]]
        if shapes != wanted:
            raise CheckpointError(f"checkpoint {path} does not fit its config: {kind} {shapes} where the "
                                  f"{config.model} net has float32 {wanted}")
    return tuple(stored["parameters"]), tuple(stored["buffers"])


def check_resumable(checkpoint: Checkpoint, config: TrainConfig, vocab: tuple[str, ...],
                    words_sha256: str) -> None:
    """Raise CheckpointError unless `config` continues the checkpoint's run on the words it was trained on."""
    if vocab != checkpoint.vocab:
        def listed(chars: set[str]) -> str:
            return repr("".join(sorted(chars))) if chars else "none"

        raise CheckpointError(f"the checkpoint's vocabulary ({len(checkpoint.vocab) + 1} tokens) "
                              f"is not the data's ({len(vocab) + 1}): characters only in the checkpoint: "
                              f"{listed(set(checkpoint.vocab) - set(vocab))}, only in the data: "
                              f"{listed(set(vocab) - set(checkpoint.vocab))}")
    if words_sha256 != checkpoint.words_sha256:
        raise CheckpointError("the checkpoint was trained on another word list "
                              f"({checkpoint.num_words} words, same characters): "
                              f"resume it with the --data it was trained on")
    changed = [name for name in RUN_FIELDS if getattr(config, name) != getattr(checkpoint.config, name)]
    if changed:
        raise CheckpointError(f"the checkpoint's run has other {', '.join(changed)}; "
                              "a resumed run keeps them")
    if config.steps <= checkpoint.step:
        raise CheckpointError(f"the checkpoint is at step {checkpoint.step}: the run's total steps "
                              f"({config.steps}) must be above it to train further")
    if config.stop_at is not None and config.stop_at <= checkpoint.step:
        raise CheckpointError(f"the stop step ({config.stop_at}) must be above the checkpoint's step "
                              f"({checkpoint.step})")
