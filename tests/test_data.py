"""Word lists (reading, the vocabulary, the lecture's split) and their context windows."""

from __future__ import annotations

import random
import string

import pytest
import torch

from mmtui.engine.data import build_examples, load_dataset
from mmtui.engine.words import DataError, Vocab, read_words, split_words


def lecture_examples(words: list[str], block_size: int, all_words: list[str] | None = None):
    """The lecture's build_dataset loop, written out plainly: the oracle for build_examples (X, Y as lists).

    The vocabulary comes from all_words (the whole list, as in the lecture), by default from words.
    """
    chars = sorted(set("".join(all_words or words)))
    stoi = {s: i + 1 for i, s in enumerate(chars)}
    stoi["."] = 0
    X, Y = [], []
    for w in words:
        context = [0] * block_size
        for ch in w + ".":
            ix = stoi[ch]
            X.append(context)
            Y.append(ix)
            context = context[1:] + [ix]
    return X, Y


# ---- vocabulary


def test_vocab_puts_end_token_first_then_sorted_characters():
    vocab = Vocab.from_words(["bob", "amy", "zed"])
    assert vocab.chars == ("a", "b", "d", "e", "m", "o", "y", "z")
    assert vocab.size == 9
    assert vocab.stoi() == {".": 0, "a": 1, "b": 2, "d": 3, "e": 4, "m": 5, "o": 6, "y": 7, "z": 8}
    assert [vocab.itos(i) for i in range(vocab.size)] == [".", "a", "b", "d", "e", "m", "o", "y", "z"]


def test_bundled_names_have_the_lectures_27_token_vocabulary(bundled_words):
    vocab = Vocab.from_words(bundled_words)
    assert vocab.size == 27
    assert "".join(vocab.chars) == string.ascii_lowercase
    assert vocab.stoi()["."] == 0 and vocab.stoi()["a"] == 1 and vocab.stoi()["z"] == 26


# ---- split


@pytest.mark.parametrize("count", [10, 11, 29, 1000])
def test_split_is_80_10_10_of_the_lectures_seed_42_shuffle(count):
    words = [f"w{i}" for i in range(count)]
    saved = random.getstate()
    try:  # the lecture's own code, on the global generator
        expected = list(words)
        random.seed(42)
        random.shuffle(expected)
    finally:
        random.setstate(saved)
    n1, n2 = int(0.8 * count), int(0.9 * count)

    train, dev, test = split_words(words)

    assert (train, dev, test) == (expected[:n1], expected[n1:n2], expected[n2:])
    assert (len(train), len(dev), len(test)) == (n1, n2 - n1, count - n2)
    assert len(dev) >= 1 and len(test) >= 1


def test_split_leaves_the_callers_list_unshuffled():
    words = [f"w{i}" for i in range(50)]
    split_words(words)
    assert words == [f"w{i}" for i in range(50)]


# ---- examples


@pytest.mark.parametrize("block_size", [1, 2, 3, 5])
def test_build_examples_equals_the_lectures_loop(block_size):
    words = ["emma", "a", "olivia", "ab", "bartholomew", "zoe"]
    vocab = Vocab.from_words(words)
    X_expected, Y_expected = lecture_examples(words, block_size)

    X, Y = build_examples(words, vocab, block_size)

    assert X.dtype == torch.long and Y.dtype == torch.long
    assert X.shape == (len(Y_expected), block_size)
    assert X.tolist() == X_expected
    assert Y.tolist() == Y_expected


def test_bundled_dataset_holds_one_example_per_character_plus_end(names_dataset, bundled_words):
    train, dev, test = split_words(bundled_words)
    assert names_dataset.num_words == len(bundled_words) == 29_910
    assert len(names_dataset.Ytr) == sum(len(w) + 1 for w in train)
    assert len(names_dataset.Ydev) == sum(len(w) + 1 for w in dev)
    assert len(names_dataset.Yte) == sum(len(w) + 1 for w in test)
    assert names_dataset.Xtr.shape == (len(names_dataset.Ytr), 3)


def test_load_dataset_builds_train_examples_from_the_shuffled_train_words(tmp_path):
    words = [f"{a}{b}" for a in "abcdef" for b in "ghij"]  # 24 words
    path = tmp_path / "words.txt"
    path.write_text("\n".join(words), encoding="utf-8")
    vocab = Vocab.from_words(words)
    train, dev, _ = split_words(words)

    dataset = load_dataset(path, 3)

    assert dataset.vocab == vocab
    assert dataset.Xtr.tolist() == lecture_examples(train, 3, words)[0]
    assert dataset.Ytr.tolist() == lecture_examples(train, 3, words)[1]
    assert dataset.Xdev.tolist() == lecture_examples(dev, 3, words)[0]
    assert dataset.Ydev.tolist() == lecture_examples(dev, 3, words)[1]


# ---- reading word lists


def test_read_words_strips_whitespace_around_each_word(tmp_path):
    path = tmp_path / "words.txt"
    path.write_text("  emma \n\tliam\t\nava   \n" + "noah\n" * 7, encoding="utf-8")
    assert read_words(path)[:3] == ["emma", "liam", "ava"]


def test_read_words_accepts_crlf_line_endings(tmp_path):
    path = tmp_path / "words.txt"
    path.write_bytes(b"emma\r\nliam\r\n" * 5)
    words = read_words(path)
    assert words == ["emma", "liam"] * 5
    assert "\r" not in Vocab.from_words(words).chars


def test_read_words_skips_blank_lines(tmp_path):
    path = tmp_path / "words.txt"
    path.write_text("\n\nemma\n   \n\nliam\n\t\n" + "ava\n" * 8 + "\n\n", encoding="utf-8")
    assert read_words(path) == ["emma", "liam"] + ["ava"] * 8


def test_read_words_ignores_a_utf8_byte_order_mark(tmp_path):
    path = tmp_path / "words.txt"
    path.write_bytes("\ufeffemma\n".encode("utf-8") + b"liam\n" * 9)
    assert read_words(path)[0] == "emma"


def test_read_words_keeps_non_ascii_characters(tmp_path):
    path = tmp_path / "words.txt"
    path.write_text("zoë\nrené\n" * 5, encoding="utf-8")
    assert {"ë", "é"} <= set(Vocab.from_words(read_words(path)).chars)


def test_read_words_rejects_bad_data_with_a_one_line_message(bad_data):
    path, phrase = bad_data
    with pytest.raises(DataError) as raised:
        read_words(path)
    message = str(raised.value)
    assert phrase in message
    assert "\n" not in message


def test_read_words_names_the_word_that_holds_the_end_token(tmp_path):
    path = tmp_path / "words.txt"
    path.write_text("emma\nliam\nmary.ann\n" + "ava\n" * 10, encoding="utf-8")
    with pytest.raises(DataError, match=r"word 3 \('mary\.ann'\)"):
        read_words(path)


def test_exactly_ten_words_are_enough(tmp_path):
    path = tmp_path / "words.txt"
    path.write_text("\n".join(f"name{c}" for c in "abcdefghij"), encoding="utf-8")
    dataset = load_dataset(path, 3)
    assert dataset.num_words == 10
    assert len(dataset.Ydev) > 0 and len(dataset.Yte) > 0


def test_uppercase_digits_spaces_and_punctuation_are_kept_as_characters(tmp_path):
    path = tmp_path / "words.txt"
    path.write_text("Anne Marie\nO'Brien\nR2-D2\nÉlodie\n" * 3, encoding="utf-8")
    words = read_words(path)
    assert "Anne Marie" in words  # inner spaces are characters; only the ends are stripped
    assert {" ", "'", "-", "2", "A", "É"} <= set(Vocab.from_words(words).chars)
    X, Y = build_examples(words, Vocab.from_words(words), 3)
    assert len(Y) == sum(len(w) + 1 for w in words)


def test_a_ten_thousand_character_line_becomes_that_many_examples(tmp_path):
    path = tmp_path / "words.txt"
    path.write_text("ab" * 5000 + "\n" + "ava\n" * 9, encoding="utf-8")
    words = read_words(path)
    X, Y = build_examples(words, Vocab.from_words(words), 3)
    assert len(Y) == 10_001 + 9 * 4
    assert X[10_000].tolist() == [2, 1, 2] and Y[10_000].item() == 0  # "...bab" predicts the end


def test_a_million_words_load(tmp_path, bundled_words):
    path = tmp_path / "million.txt"
    path.write_text("\n".join(bundled_words[i % 1000] for i in range(1_000_000)) + "\n", encoding="utf-8")
    dataset = load_dataset(path, 3)
    assert dataset.num_words == 1_000_000
    assert len(dataset.Ytr) + len(dataset.Ydev) + len(dataset.Yte) == sum(len(bundled_words[i % 1000]) + 1
                                                                          for i in range(1_000_000))
