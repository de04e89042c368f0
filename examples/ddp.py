"""A DistributedDataParallel job watched by mmtui: `torchrun --nproc_per_node 2 examples/ddp.py`.

Rank 0 writes the run file by default; --all-ranks writes one per rank, which `mmtui view runs/` compares.
mmtui makes no collective call, so it cannot make the ranks wait for each other.
"""

import argparse

import torch
import torch.distributed as dist
import torch.nn as nn
from torch.nn.parallel import DistributedDataParallel

import mmtui  # 1/2


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--steps", type=int, default=500, help="SGD steps")
    parser.add_argument("--all-ranks", action="store_true", help="every rank writes its own run file")
    parser.add_argument("--run-file", default=None, help="the run file (default: runs/ddp-<time>.jsonl)")
    args = parser.parse_args()

    dist.init_process_group("gloo")  # the CPU backend; "nccl" on GPUs
    rank = dist.get_rank()
    torch.manual_seed(rank)
    torch.set_num_threads(1)
    model = DistributedDataParallel(nn.Sequential(nn.Linear(20, 64), nn.ReLU(), nn.Linear(64, 64), nn.Tanh(),
                                                  nn.Linear(64, 1)))
    optimizer = torch.optim.SGD(model.parameters(), lr=0.05)
    run = mmtui.watch(model, optimizer, log=args.run_file, ranks="all" if args.all_ranks else 0)  # 2/2
    true_w = torch.randn(20, 1, generator=torch.Generator().manual_seed(0))
    for step in range(args.steps):
        x = torch.randn(64, 20)
        loss = (model(x) - x @ true_w).pow(2).mean()
        optimizer.zero_grad()
        loss.backward()  # DDP averages the gradients across the ranks here
        optimizer.step()
        run.log(loss=loss)
    run.close()
    if rank == 0:
        print(f"rank 0 done: loss {loss.item():.4f}, run file {run.path}")
    dist.barrier()  # gloo aborts a rank that tears down while its peer is still using the group
    dist.destroy_process_group()


if __name__ == "__main__":
    main()
