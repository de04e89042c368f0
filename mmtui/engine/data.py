"""Tensors for training: the lecture's context windows over each part of the split."""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path

import torch

from mmtui.engine.words import Vocab, read_words, split_words, words_digest


def build_examples(words: list[str], vocab: Vocab, block_size: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Every (context, next character) pair: X (N, block_size) of the previous characters,
    0-padded, Y (N,)."""
    stoi = vocab.stoi()
    # Each character becomes the code point of its index, so one translate and encode do the lookup for all.
    text = (Vocab.END.join(words) + Vocab.END).translate({ord(ch): index for ch, index in stoi.items()})
    codes = torch.frombuffer(bytearray(text.encode("utf-32-le")), dtype=torch.int32).long()  # (N,) = Y
    return contexts(codes, block_size), codes


def contexts(codes: torch.Tensor, block_size: int) -> torch.Tensor:
    """X (N, block_size): the block_size characters before each of `codes` (words, each ended by the end token
    0) within its word, 0-padded, oldest first as the lecture's list. Y alone gives X, for any block size."""
    index = torch.arange(len(codes))
    starts = torch.ones(len(codes), dtype=torch.bool)  # (N,) where a word starts: after an end token
    starts[1:] = codes[:-1] == 0
    position = index - torch.where(starts, index, 0).cummax(0).values  # (N,) index within the word
    columns = []
    for back in range(block_size, 0, -1):
        previous = codes[(index - back).clamp(min=0)]
        columns.append(torch.where(position >= back, previous, 0))
    return torch.stack(columns, dim=1) if columns else torch.zeros(len(codes), 0, dtype=torch.long)


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

    @property
    def block_size(self) -> int:
        return self.Xtr.shape[1]

    def with_block_size(self, block_size: int) -> Dataset:
        """The same examples with `block_size` characters of context."""
        if block_size == self.block_size:
            return self
        return replace(self, Xtr=contexts(self.Ytr.cpu(), block_size).to(self.Ytr.device),
                       Xdev=contexts(self.Ydev.cpu(), block_size).to(self.Ydev.device),
                       Xte=contexts(self.Yte.cpu(), block_size).to(self.Yte.device))


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
