"""The lecture's MLP as a LightningModule, watched by mmtui's Lightning callback: one line, the callback.

    mmtui run examples/lightning_mlp.py --steps 2000

Every Tanh's activations, saturation and gradients, every weight's update:data (from the training steps only:
the sanity check and validation are not measured), the loss training_step returns, what self.log logs, and
val_loss as the loss panel's val points.
"""

import argparse

import lightning as L
import torch
import torch.nn as nn
import torch.nn.functional as F
from torch.utils.data import DataLoader, TensorDataset

from mmtui.engine.words import read_words  # the bundled names, when --data is not given
from mmtui.integrations.lightning import MmtuiCallback

BLOCK_SIZE = 3  # characters of context, as in the lecture


def examples(words: list[str], stoi: dict[str, int]) -> TensorDataset:
    """Every (context, next character) pair of the words, '.' (0) around each."""
    X, Y = [], []
    for w in words:
        context = [0] * BLOCK_SIZE
        for c in w + ".":
            X.append(context)
            Y.append(stoi[c])
            context = context[1:] + [stoi[c]]
    return TensorDataset(torch.tensor(X), torch.tensor(Y))


class NamesMLP(L.LightningModule):
    def __init__(self, vocab_size: int, embed: int = 10, hidden: int = 200):
        super().__init__()
        self.net = nn.Sequential(nn.Embedding(vocab_size, embed), nn.Flatten(),
                                 nn.Linear(BLOCK_SIZE * embed, hidden, bias=False), nn.BatchNorm1d(hidden),
                                 nn.Tanh(), nn.Linear(hidden, vocab_size))

    def forward(self, x):
        return self.net(x)  # (B, vocab)

    def training_step(self, batch, batch_idx):
        x, y = batch
        logits = self(x)
        self.log("accuracy", (logits.argmax(-1) == y).float().mean())
        return F.cross_entropy(logits, y)

    def validation_step(self, batch, batch_idx):
        x, y = batch
        self.log("val_loss", F.cross_entropy(self(x), y))

    def configure_optimizers(self):
        return torch.optim.SGD(self.parameters(), lr=0.1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", default=None, help="word list, one per line (default: the bundled names)")
    parser.add_argument("--steps", type=int, default=2000, help="SGD steps")
    parser.add_argument("--val-every", type=int, default=500, help="steps between validations")
    parser.add_argument("--run-file", default=None,
                        help="the run file (default: runs/lightning_mlp-<time>.jsonl)")
    args = parser.parse_args()

    torch.manual_seed(42)
    torch.set_num_threads(1)
    words = read_words(args.data)
    stoi = {c: i + 1 for i, c in enumerate(sorted(set("".join(words))))} | {".": 0}
    n = int(0.9 * len(words))
    train = DataLoader(examples(words[:n], stoi), batch_size=32, shuffle=True)
    val = DataLoader(examples(words[n:], stoi), batch_size=1024)
    trainer = L.Trainer(max_steps=args.steps, val_check_interval=min(args.val_every, len(train)),
                        limit_val_batches=4, callbacks=[MmtuiCallback(log=args.run_file)],  # the one line
                        accelerator="cpu", logger=False, enable_checkpointing=False,
                        enable_model_summary=False)
    trainer.fit(NamesMLP(len(stoi)), train, val)


if __name__ == "__main__":
    main()
