"""What a scalar's name says it is, for the names TensorBoard writers and run.log() use."""

from __future__ import annotations

import pytest

from mmtui.scalar_names import is_learning_rate, is_training_loss, is_validation_loss

# name -> (training loss, validation loss), as the trainers that log them name them
NAMES = {
    "loss": (True, False),  # run.log(loss=...), makemore-style loops
    "train/loss": (True, False),  # Hugging Face's Trainer
    "Loss/train": (True, False),  # makemore
    "train_loss": (True, False),
    "train_loss_step": (True, False),  # Lightning, on_step and on_epoch
    "train_loss_epoch": (True, False),
    "epoch_loss": (True, False),  # Keras's TensorBoard callback
    "batch_loss": (True, False),
    "val/loss": (False, True),
    "eval/loss": (False, True),  # Hugging Face's Trainer
    "val_loss_epoch": (False, True),
    "Loss/test": (False, False),  # a test loss is a scalar of its own, not the val points
    "train/split_loss": (False, False),  # what `mmtui export --tensorboard` calls the full train split's loss
    "train/accuracy": (False, False),
}


@pytest.mark.parametrize("name", list(NAMES))
def test_a_loss_is_told_by_its_name(name):
    assert (is_training_loss(name), is_validation_loss(name)) == NAMES[name]


@pytest.mark.parametrize("name, said", [("lr", True), ("train/learning_rate", True), ("lr-Adam", True),
                                        ("lr/pg1", True), ("lrelu", False), ("rate", False)])
def test_a_learning_rate_is_told_by_its_name(name, said):
    assert is_learning_rate(name) is said
