"""The lecture's MLP as the notebook writes it, a loop of raw tensors, watched: mmtui's
three lines are marked.

    python examples/lecture_mlp.py --steps 20000        # then, in another terminal: mmtui view runs/
    mmtui run examples/lecture_mlp.py --steps 20000     # or both in one

Its step-0 loss and saturation equal `mmtui --init lecture` on the same words: the same split, generator and
draws (see the lecture's facts in the README).
"""

import argparse
import random

import torch
import torch.nn.functional as F

import mmtui  # mmtui 1/3
from mmtui.engine.words import read_words  # the bundled names, when --data is not given


def build_dataset(words, stoi, block_size=3):
    X, Y = [], []
    for w in words:
        context = [0] * block_size
        for ch in w + ".":
            ix = stoi[ch]
            X.append(context)
            Y.append(ix)
            context = context[1:] + [ix]
    return torch.tensor(X), torch.tensor(Y)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", default=None, help="word list, one per line (default: the bundled names)")
    parser.add_argument("--steps", type=int, default=200_000, help="SGD steps (the lecture's 200,000)")
    parser.add_argument("--no-watch", action="store_true", help="the same loop unwatched (for the benchmark)")
    parser.add_argument("--run-file", default=None,
                        help="the run file (default: runs/lecture_mlp-<time>.jsonl)")
    args = parser.parse_args()

    words = read_words(args.data)
    chars = sorted(set("".join(words)))
    stoi = {s: i + 1 for i, s in enumerate(chars)}
    stoi["."] = 0
    vocab_size = len(stoi)
    random.seed(42)
    random.shuffle(words)
    n1 = int(0.8 * len(words))
    Xtr, Ytr = build_dataset(words[:n1], stoi)

    torch.set_num_threads(1)
    g = torch.Generator().manual_seed(2147483647)
    C = torch.randn((vocab_size, 10), generator=g)
    W1 = torch.randn((30, 200), generator=g)
    b1 = torch.randn(200, generator=g)
    W2 = torch.randn((200, vocab_size), generator=g)
    b2 = torch.randn(vocab_size, generator=g)
    parameters = [C, W1, b1, W2, b2]
    for p in parameters:
        p.requires_grad = True

    run = None if args.no_watch else mmtui.watch(params=parameters, log=args.run_file,  # 2/3
                                                 total_steps=args.steps)
    for i in range(args.steps):
        ix = torch.randint(0, Xtr.shape[0], (32,), generator=g)
        Xb, Yb = Xtr[ix], Ytr[ix]
        emb = C[Xb]
        hpreact = emb.view(emb.shape[0], -1) @ W1 + b1
        h = torch.tanh(hpreact)
        logits = h @ W2 + b2
        loss = F.cross_entropy(logits, Yb)
        for p in parameters:
            p.grad = None
        loss.backward()
        lr = 0.1 if i < 100_000 else 0.01
        for p in parameters:
            p.data += -lr * p.grad
        if run is not None:
            run.log(loss=loss, h=h, lr=lr)  # 3/3: the loss, the tanh layer by its name, a scalar
        if i % 10_000 == 0:
            print(f"{i:7d}/{args.steps:7d}: {loss.item():.4f}")


if __name__ == "__main__":
    main()
