"""The run a command line asks for: its config and words, and the checkpoint it resumes, checked against
both."""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING

from mmtui.engine.config import RUN_FIELDS, TrainConfig
from mmtui.engine.words import DataError, read_words

if TYPE_CHECKING:  # the checkpoint module imports torch, which a run without --load reads its words before
    from mmtui.engine.checkpoint import Checkpoint


def read_run(config: TrainConfig, load: str | None,
             given: set[str]) -> tuple[TrainConfig, list[str], Checkpoint | None]:
    """The run's config and words, and the checkpoint it resumes (None without `load`): the checkpoint's
    config for its run's fields, the data and steps given on the command line (`given`) or else the
    checkpoint's. Raises DataError (a CheckpointError is one) in one line."""
    if load is None:
        _check_stop_at(config)
        return config, read_words(config.data), None
    from mmtui.engine.checkpoint import check_resumable, load_checkpoint
    from mmtui.engine.words import Vocab, words_digest

    checkpoint = load_checkpoint(load)
    saved = checkpoint.config
    config = replace(config, **{name: getattr(saved, name) for name in RUN_FIELDS},
                     data=config.data if "data" in given else saved.data,
                     steps=config.steps if "steps" in given else saved.steps)
    _check_stop_at(config)
    words = read_words(config.data)
    check_resumable(checkpoint, config, Vocab.from_words(words).chars, words_digest(words))
    return config, words, checkpoint


def _check_stop_at(config: TrainConfig) -> None:
    if config.stop_at is not None and config.stop_at > config.steps:
        raise DataError(f"--stop-at ({config.stop_at}) must be at most --steps ({config.steps})")
