"""Word lists: reading and checking them, the vocabulary and the lecture's split; plain Python, no torch."""

from __future__ import annotations

import hashlib
import random
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

SPLIT_SEED = 42  # the lecture's random.seed(42) before shuffling the words
MIN_WORDS = 10  # fewer words leave the 80/10/10 split an empty val or test part


class DataError(ValueError):
    """A word list that cannot be trained on; the message names the problem in one line."""


def bundled_names_path() -> Path:
    """The bundled names (data/README.md): inside an installed wheel, or in data/ of a source checkout."""
    packaged = Path(str(resources.files("mmtui") / "names.txt"))
    return packaged if packaged.is_file() else Path(__file__).parents[2] / "data" / "names.txt"


def read_words(path: str | Path | None) -> list[str]:
    """Read a UTF-8 word list, one word per line, stripping whitespace and skipping blank lines."""
    path = Path(path) if path is not None else bundled_names_path()
    if not path.exists():
        raise DataError(f"data file not found: {path}")
    if path.is_dir():
        raise DataError(f"data path is a directory, not a file: {path}")
    try:
        raw = path.read_bytes()
    except OSError as error:
        raise DataError(f"cannot read data file {path}: {error.strerror}") from None
    if b"\x00" in raw:
        raise DataError(f"data file looks binary (it holds NUL bytes): {path}")
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        raise DataError(f"data file is not valid UTF-8 (byte {error.start}): {path}") from None
    words = [line.strip() for line in text.splitlines()]
    words = [word for word in words if word]
    if not words:
        raise DataError(f"data file has no words (it is empty or blank): {path}")
    for number, word in enumerate(words, start=1):
        if Vocab.END in word:
            raise DataError(f"word {number} ({word[:40]!r}) holds '{Vocab.END}', which is reserved for the "
                            f"end token")
    if len(words) < MIN_WORDS:
        raise DataError(f"data file has {len(words)} words; the 80/10/10 split needs at least {MIN_WORDS}: "
                        f"{path}")
    return words


@dataclass(frozen=True)
class Vocab:
    """'.' = 0 marks the start and end of a word; the data's characters, sorted, are 1..V-1."""

    chars: tuple[str, ...]  # index i+1 is chars[i]

    END = "."

    @classmethod
    def from_words(cls, words: list[str]) -> Vocab:
        return cls(tuple(sorted(set("".join(words)))))

    @property
    def size(self) -> int:
        return len(self.chars) + 1

    def itos(self, index: int) -> str:
        return self.END if index == 0 else self.chars[index - 1]

    def stoi(self) -> dict[str, int]:
        return {self.END: 0} | {ch: i + 1 for i, ch in enumerate(self.chars)}


def words_digest(words: list[str]) -> str:
    """SHA-256 of the word list in its order: a checkpoint resumes only on the words it was trained on."""
    return hashlib.sha256("\n".join(words).encode("utf-8")).hexdigest()


def split_words(words: list[str]) -> tuple[list[str], list[str], list[str]]:
    """The lecture's split: shuffle with seed 42, then 80% train, 10% val, 10% test."""
    shuffled = list(words)
    random.Random(SPLIT_SEED).shuffle(shuffled)  # same sequence as random.seed(42); random.shuffle(words)
    n1, n2 = int(0.8 * len(shuffled)), int(0.9 * len(shuffled))
    return shuffled[:n1], shuffled[n1:n2], shuffled[n2:]
