"""Tensors for training: the lecture's context windows over each part of the split."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import torch

from mmtui.engine.words import Vocab, read_words, split_words, words_digest


def build_examples(words: list[str], vocab: Vocab, block_size: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Every (context, next character) pair: X (N, block_size) of the previous characters, 0-padded, Y (N,)."""
    stoi = vocab.stoi()
    lengths = torch.tensor([len(word) + 1 for word in words])  # (W,) each word plus its end token
    # Each character becomes the code point of its index, so one translate and encode do the lookup for all.
    text = (Vocab.END.join(words) + Vocab.END).translate({ord(ch): index for ch, index in stoi.items()})
    codes = torch.frombuffer(bytearray(text.encode("utf-32-le")), dtype=torch.int32).long()  # (N,) = Y
    starts = torch.cumsum(lengths, 0) - lengths  # (W,) index of each word's first character
    position = torch.arange(len(codes)) - torch.repeat_interleave(starts, lengths)  # (N,) index within the word
    index = torch.arange(len(codes))
    columns = []
    for back in range(block_size, 0, -1):  # oldest context character first, as the lecture's list
        previous = codes[(index - back).clamp(min=0)]
        columns.append(torch.where(position >= back, previous, 0))
    X = torch.stack(columns, dim=1) if columns else torch.zeros(len(codes), 0, dtype=torch.long)  # (N, block_size)
    return X, codes


@dataclass(frozen=True)
class Dataset:
    """The word list made ready for training."""

    vocab: Vocab
    Xtr: torch.Tensor  # (Ntr, block_size)
    Ytr: torch.Tensor  # (Ntr,)
    Xdev: torch.Tensor  # (Ndev, block_size)
    Ydev: torch.Tensor  # (Ndev,)
    Xte: torch.Tensor  # (Nte, block_size)
    Yte: torch.Tensor  # (Nte,)
    num_words: int
    words_sha256: str  # words_digest of the list, which a checkpoint must match


def load_dataset(path: str | Path | None, block_size: int) -> Dataset:
    """Read, split and window a word list (None: the bundled names)."""
    return dataset_from_words(read_words(path), block_size)


def dataset_from_words(words: list[str], block_size: int) -> Dataset:
    vocab = Vocab.from_words(words)
    train, dev, test = split_words(words)
    return Dataset(
        vocab,
        *build_examples(train, vocab, block_size),
        *build_examples(dev, vocab, block_size),
        *build_examples(test, vocab, block_size),
        num_words=len(words),
        words_sha256=words_digest(words),
    )
