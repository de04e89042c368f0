"""makemore's RNN and GRU (Karpathy's makemore.py, MIT), trained as makemore trains them, watched: its cell is
a module called once per time step, and mmtui measures every call, so the through-time view (t) shows the
gradient reaching each step's hidden state. mmtui's three lines are marked.

    mmtui run examples/makemore_rnn.py --type rnn --steps 5000     # the tanh RNN cell
    mmtui run examples/makemore_rnn.py --type gru --steps 5000     # the GRU cell
    # torch's fused nn.GRU: measured per time step
    mmtui run examples/makemore_rnn.py --type nn-gru

makemore's data: whole names, a start token first, padded to the longest name, every position predicting the
next character (padding masked with -1). So each step's hidden state also gets the gradient of its own
prediction: the view shows what reaches it from all of them.
"""

import argparse
import random

import torch
import torch.nn.functional as F
from torch import nn

import mmtui  # mmtui 1/3
from mmtui.engine.words import read_words  # the bundled names, when --data is not given


class RNNCell(nn.Module):
    """makemore's: h_t = tanh(W [x_t, h_{t-1}])."""

    def __init__(self, n_embd, n_embd2):
        super().__init__()
        self.xh_to_h = nn.Linear(n_embd + n_embd2, n_embd2)

    def forward(self, xt, hprev):
        xh = torch.cat([xt, hprev], dim=1)
        return F.tanh(self.xh_to_h(xh))


class GRUCell(nn.Module):
    """makemore's: a reset gate r, a candidate hbar on [x_t, r * h_{t-1}], an update gate z."""

    def __init__(self, n_embd, n_embd2):
        super().__init__()
        self.xh_to_z = nn.Linear(n_embd + n_embd2, n_embd2)
        self.xh_to_r = nn.Linear(n_embd + n_embd2, n_embd2)
        self.xh_to_hbar = nn.Linear(n_embd + n_embd2, n_embd2)

    def forward(self, xt, hprev):
        xh = torch.cat([xt, hprev], dim=1)
        r = F.sigmoid(self.xh_to_r(xh))
        xhr = torch.cat([xt, r * hprev], dim=1)
        hbar = F.tanh(self.xh_to_hbar(xhr))
        z = F.sigmoid(self.xh_to_z(xh))
        return (1 - z) * hprev + z * hbar


class RNN(nn.Module):
    """makemore's RNN: a learned start state, the cell once per time step, lm_head on every hidden state."""

    def __init__(self, vocab_size, cell_type, n_embd=64, n_embd2=64):
        super().__init__()
        self.start = nn.Parameter(torch.zeros(1, n_embd2))
        self.wte = nn.Embedding(vocab_size, n_embd)
        if cell_type == "nn-gru":
            self.rnn = nn.GRU(n_embd, n_embd2, batch_first=True)
        else:
            self.cell = RNNCell(n_embd, n_embd2) if cell_type == "rnn" else GRUCell(n_embd, n_embd2)
        self.lm_head = nn.Linear(n_embd2, vocab_size)

    def forward(self, idx, targets=None):
        b, t = idx.size()
        emb = self.wte(idx)  # (b, t, n_embd)
        hprev = self.start.expand((b, -1))
        if hasattr(self, "rnn"):
            hidden, _ = self.rnn(emb, hprev.unsqueeze(0).contiguous())  # (b, t, n_embd2)
        else:
            hiddens = []
            for i in range(t):
                hprev = self.cell(emb[:, i, :], hprev)  # (b, n_embd2)
                hiddens.append(hprev)
            hidden = torch.stack(hiddens, 1)  # (b, t, n_embd2)
        logits = self.lm_head(hidden)  # (b, t, vocab_size)
        loss = None
        if targets is not None:
            loss = F.cross_entropy(logits.view(-1, logits.size(-1)), targets.view(-1), ignore_index=-1)
        return logits, loss


def names_as_sequences(words, stoi, length):
    """makemore's CharDataset: x is the start token then the name, y the name then the end token, -1 after."""
    X = torch.zeros(len(words), length, dtype=torch.long)
    Y = torch.zeros(len(words), length, dtype=torch.long)
    for i, word in enumerate(words):
        ix = torch.tensor([stoi[ch] for ch in word], dtype=torch.long)
        X[i, 1:1 + len(ix)] = ix
        Y[i, :len(ix)] = ix
        Y[i, len(ix) + 1:] = -1
    return X, Y


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--type", choices=("rnn", "gru", "nn-gru"), default="rnn", help="the cell")
    parser.add_argument("--data", default=None, help="word list, one per line (default: the bundled names)")
    parser.add_argument("--steps", type=int, default=5000, help="optimization steps")
    parser.add_argument("--run-file", default=None,
                        help="the run file (default: runs/makemore_rnn-<time>.jsonl)")
    args = parser.parse_args()

    words = read_words(args.data)
    chars = sorted(set("".join(words)))
    stoi = {ch: i + 1 for i, ch in enumerate(chars)}  # 0: the start and end token
    random.seed(42)
    random.shuffle(words)
    length = max(len(w) for w in words) + 1
    Xtr, Ytr = names_as_sequences(words[:int(0.9 * len(words))], stoi, length)

    torch.manual_seed(3407)  # makemore's seed
    torch.set_num_threads(1)
    model = RNN(len(chars) + 1, args.type)
    optimizer = torch.optim.AdamW(model.parameters(), lr=5e-4, weight_decay=0.01, betas=(0.9, 0.99), eps=1e-8)
    run = mmtui.watch(model, optimizer, log=args.run_file, total_steps=args.steps)  # 2/3
    for step in range(args.steps):
        ix = torch.randint(0, len(Xtr), (32,))
        _, loss = model(Xtr[ix], Ytr[ix])  # 3/3: watch reads the loss forward returns
        model.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        if step % 500 == 0:
            print(f"step {step} | loss {loss.item():.4f}")
    run.close()


if __name__ == "__main__":
    main()
