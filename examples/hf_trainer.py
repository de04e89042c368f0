"""A tiny GPT-2, randomly initialised (nothing downloaded), trained on names by the Hugging Face Trainer and
watched by mmtui's TrainerCallback: one line, the callback.

    mmtui run examples/hf_trainer.py --steps 1000

Every GELU's activations and gradients, every weight's update:data (AdamW's real update, through accelerate's
wrapped optimizer), each step's loss as the model returns it, and eval_loss as the loss panel's val points.
"""

import argparse
import tempfile

import torch
from torch.utils.data import Dataset
from transformers import GPT2Config, GPT2LMHeadModel, Trainer, TrainingArguments
from transformers.utils import logging

from mmtui.engine.words import read_words  # the bundled names, when --data is not given
from mmtui.integrations.transformers import MmtuiCallback


class Names(Dataset):
    """Each word as '.' + word + '.', padded to the block: input ids, and labels (-100 where none is)."""

    def __init__(self, words: list[str], stoi: dict[str, int], block_size: int):
        self.ids = torch.zeros(len(words), block_size, dtype=torch.long)  # (N, T)
        self.labels = torch.full((len(words), block_size), -100, dtype=torch.long)  # (N, T)
        for i, w in enumerate(words):
            ids = [0] + [stoi[c] for c in w[:block_size - 1]] + [0]
            self.ids[i, :len(ids)] = torch.tensor(ids)[:block_size]
            self.labels[i, :len(ids)] = torch.tensor(ids)[:block_size]  # the model shifts them itself

    def __len__(self) -> int:
        return len(self.ids)

    def __getitem__(self, i: int) -> dict[str, torch.Tensor]:
        return {"input_ids": self.ids[i], "labels": self.labels[i]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", default=None, help="word list, one per line (default: the bundled names)")
    parser.add_argument("--steps", type=int, default=1000, help="AdamW steps")
    parser.add_argument("--eval-every", type=int, default=250, help="steps between evaluations")
    parser.add_argument("--run-file", default=None,
                        help="the run file (default: runs/hf_trainer-<time>.jsonl)")
    args = parser.parse_args()

    torch.manual_seed(1337)
    torch.set_num_threads(1)
    logging.set_verbosity_error()  # the config's notes on token ids a names model does not use
    words = read_words(args.data)
    stoi = {c: i + 1 for i, c in enumerate(sorted(set("".join(words))))}
    block_size = max(len(w) for w in words) + 2
    n = int(0.9 * len(words))
    model = GPT2LMHeadModel(GPT2Config(vocab_size=len(stoi) + 1, n_positions=block_size, n_embd=32, n_layer=2,
                                       n_head=2, bos_token_id=0, eos_token_id=0, pad_token_id=0))
    training = TrainingArguments(tempfile.mkdtemp(prefix="hf_trainer-"), max_steps=args.steps,
                                 per_device_train_batch_size=32, learning_rate=1e-3, eval_strategy="steps",
                                 eval_steps=args.eval_every, logging_steps=args.eval_every,
                                 save_strategy="no", report_to=[], use_cpu=True, disable_tqdm=True)
    trainer = Trainer(model=model, args=training, train_dataset=Names(words[:n], stoi, block_size),
                      eval_dataset=Names(words[n:n + 512], stoi, block_size),
                      callbacks=[MmtuiCallback(log=args.run_file)])  # the one line
    trainer.train()


if __name__ == "__main__":
    main()
