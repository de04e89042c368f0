"""What a scalar's name says it is: a training loss or a validation loss, as TensorBoard tags and run.log()
name them."""

from __future__ import annotations

import re

VALIDATION_WORDS = frozenset({"val", "valid", "validation", "dev", "eval"})
TRAINING_WORDS = frozenset({"train", "training"})
# What a training loss's name may add to "loss" and TRAINING_WORDS: when it was taken (Lightning's
# train_loss_step and train_loss_epoch, Keras's epoch_loss and batch_loss).
CADENCE_WORDS = frozenset({"step", "batch", "epoch"})


def words(name: str) -> list[str]:
    """"Loss/train", "val_loss", "train-loss" -> their lower-case words."""
    return [word for word in re.split(r"[/_\-.\s]+", name.lower()) if word]


def is_validation_loss(name: str) -> bool:
    """val_loss, val/loss, Loss/val, loss/validation, dev_loss, eval_loss, "val": plotted as the run's val
    points."""
    said = words(name)
    return bool(VALIDATION_WORDS & set(said)) and ("loss" in said or len(said) == 1)


def is_training_loss(name: str) -> bool:
    """loss, train/loss, Loss/train, train_loss, training_loss, train_loss_step, epoch_loss: the run's loss
    curve."""
    said = set(words(name))
    return "loss" in said and said <= TRAINING_WORDS | CADENCE_WORDS | {"loss"}


def is_learning_rate(name: str) -> bool:
    """lr, train/learning_rate, lr-Adam, lr/pg1: the learning rate the status line shows."""
    said = words(name)
    return "lr" in said or "learning" in said and "rate" in said
