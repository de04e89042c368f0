"""A small character transformer on the bundled names, a loop nobody wrote for mmtui, watched with two lines.

    mmtui run examples/char_transformer.py --steps 2000

Every GELU's activations and gradients, every weight's update:data (AdamW's real update), and the loss the
model returns beside its logits, as makemore's and nanoGPT's models do.
"""

import argparse
import math

import torch
import torch.nn as nn
import torch.nn.functional as F

import mmtui  # 1/2
from mmtui.engine.words import read_words  # the bundled names, when --data is not given


class NewGELU(nn.Module):
    """makemore's GELU, a class of its own: mmtui watches it by its name."""

    def forward(self, x):
        return 0.5 * x * (1.0 + torch.tanh(math.sqrt(2.0 / math.pi) * (x + 0.044715 * torch.pow(x, 3.0))))


class Block(nn.Module):
    def __init__(self, dim: int, heads: int, block_size: int):
        super().__init__()
        self.ln1, self.ln2 = nn.LayerNorm(dim), nn.LayerNorm(dim)
        self.attn = nn.MultiheadAttention(dim, heads, batch_first=True)
        self.mlp = nn.Sequential(nn.Linear(dim, 4 * dim), NewGELU(), nn.Linear(4 * dim, dim))
        self.register_buffer("mask", torch.triu(torch.ones(block_size, block_size, dtype=torch.bool), 1))

    def forward(self, x):
        T = x.shape[1]
        h = self.ln1(x)
        x = x + self.attn(h, h, h, attn_mask=self.mask[:T, :T], need_weights=False)[0]
        return x + self.mlp(self.ln2(x))


class Transformer(nn.Module):
    def __init__(self, vocab_size: int, block_size: int, dim: int = 64, heads: int = 4, layers: int = 2):
        super().__init__()
        self.tok, self.pos = nn.Embedding(vocab_size, dim), nn.Embedding(block_size, dim)
        self.blocks = nn.Sequential(*[Block(dim, heads, block_size) for _ in range(layers)])
        self.ln, self.head = nn.LayerNorm(dim), nn.Linear(dim, vocab_size)

    def forward(self, idx, targets=None):
        x = self.tok(idx) + self.pos(torch.arange(idx.shape[1]))  # (B, T, dim)
        logits = self.head(self.ln(self.blocks(x)))  # (B, T, vocab)
        loss = None
        if targets is not None:
            loss = F.cross_entropy(logits.view(-1, logits.shape[-1]), targets.view(-1), ignore_index=-1)
        return logits, loss


def encode(words, stoi, block_size):
    """Each word as '.' + word + '.', padded: inputs and next-character targets (-1 where there is none)."""
    X = torch.zeros(len(words), block_size, dtype=torch.long)
    Y = torch.full((len(words), block_size), -1, dtype=torch.long)
    for i, w in enumerate(words):
        ids = [0] + [stoi[c] for c in w[:block_size - 1]] + [0]
        X[i, :len(ids) - 1] = torch.tensor(ids[:-1])
        Y[i, :len(ids) - 1] = torch.tensor(ids[1:])
    return X, Y


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", default=None, help="word list, one per line (default: the bundled names)")
    parser.add_argument("--steps", type=int, default=2000, help="AdamW steps")
    parser.add_argument("--batch-size", type=int, default=32, help="words per batch")
    parser.add_argument("--no-watch", action="store_true", help="the same loop unwatched (for the benchmark)")
    parser.add_argument("--run-file", default=None,
                        help="the run file (default: runs/char_transformer-<time>.jsonl)")
    args = parser.parse_args()

    torch.manual_seed(1337)
    torch.set_num_threads(1)
    words = read_words(args.data)
    stoi = {c: i + 1 for i, c in enumerate(sorted(set("".join(words))))}
    block_size = max(len(w) for w in words) + 1
    X, Y = encode(words, stoi, block_size)
    model = Transformer(len(stoi) + 1, block_size)
    optimizer = torch.optim.AdamW(model.parameters(), lr=3e-3, weight_decay=0.01)
    run = None if args.no_watch else mmtui.watch(model, optimizer, log=args.run_file,  # 2/2
                                                 total_steps=args.steps)

    for step in range(args.steps):
        ix = torch.randint(0, len(X), (args.batch_size,))
        _, loss = model(X[ix], Y[ix])
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        if step % 500 == 0:
            print(f"step {step:5d}: loss {loss.item():.4f}")
    if run is not None:
        run.close()


if __name__ == "__main__":
    main()
