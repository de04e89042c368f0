"""The recurrent models: makemore's tanh RNN and GRU cells over the lecture's context, a character a time
step, the last hidden state predicting the next character; trained with autograd."""

from __future__ import annotations

import torch
import torch.nn.functional as F

from mmtui.engine.step import StepResult

# Each cell's Linears on the concatenation [x_t, h_{t-1}] (the GRU's candidate on [x_t, r * h_{t-1}]), in
# makemore's order of definition, which is the order they are drawn in.
CELL_WEIGHTS: dict[str, tuple[str, ...]] = {"rnn": ("Wxh",), "gru": ("Wz", "Wr", "Wh")}
# What the figures by time step are of: each step's tanh output, and the gradient reaching its hidden state.
TIME_NAMES: dict[str, str] = {"rnn": "h = tanh(W [x, h])", "gru": "hbar = tanh(W [x, r * h]); gradient at h"}


class RecurrentNet:
    """C (V x embed), the learned start state (1 x hidden), the cell's weights ((embed + hidden) x hidden) and
    biases, W2 (hidden x V) and b2; makemore's RNN with the lecture's data: the loss is the last step's alone,
    so the gradient reaching each earlier hidden state is what came back through time."""

    def __init__(self, kind: str, C: torch.Tensor, start: torch.Tensor, cell: dict[str, torch.Tensor],
                 W2: torch.Tensor, b2: torch.Tensor):
        self.kind, self.C, self.start, self.cell, self.W2, self.b2 = kind, C, start, cell, W2, b2
        for p in self.parameters():
            p.requires_grad_(True)

    def parameters(self) -> list[torch.Tensor]:
        return [self.C, self.start, *self.cell.values(), self.W2, self.b2]

    def buffers(self) -> list[torch.Tensor]:
        return []

    def weights(self) -> dict[str, int]:
        """C, the cell's weights and W2 by name; the start state (1 x hidden) is a vector, not a weight."""
        names = ["C", "start", *self.cell, "W2", "b2"]
        return {name: i for i, name in enumerate(names) if name == "C" or name.startswith("W")}

    def num_params(self) -> int:
        return sum(p.nelement() for p in self.parameters())

    def _run(self, X: torch.Tensor) -> tuple[torch.Tensor, list[torch.Tensor], list[torch.Tensor]]:
        """Logits (B, V) from the last hidden state, each step's hidden state (B, hidden) and each step's tanh
        output (B, hidden): the hidden state itself for the RNN, the GRU's candidate hbar."""
        emb = F.embedding(X, self.C)  # (B, T, embed)
        h = self.start.expand(X.shape[0], -1)  # (B, hidden)
        states, tanhs = [], []
        for t in range(X.shape[1]):
            x = emb[:, t]  # (B, embed)
            if self.kind == "rnn":
                h = torch.addmm(self.cell["bxh"], torch.cat([x, h], 1),
                                self.cell["Wxh"]).tanh()  # (B, hidden)
                hbar = h
            else:
                xh = torch.cat([x, h], 1)  # (B, embed + hidden)
                r = torch.addmm(self.cell["br"], xh, self.cell["Wr"]).sigmoid()  # (B, hidden): the reset gate
                xrh = torch.cat([x, r * h], 1)  # (B, embed + hidden)
                hbar = torch.addmm(self.cell["bh"], xrh, self.cell["Wh"]).tanh()  # (B, hidden)
                # the update gate
                z = torch.addmm(self.cell["bz"], xh, self.cell["Wz"]).sigmoid()  # (B, hidden)
                h = torch.lerp(h, hbar, z)  # (1 - z) * h + z * hbar
            states.append(h)
            tanhs.append(hbar)
        return torch.addmm(self.b2, h, self.W2), states, tanhs  # (B, V), T x (B, hidden), T x (B, hidden)

    @torch.no_grad()
    def forward(self, X: torch.Tensor) -> torch.Tensor:
        return self._run(X)[0]

    def step(self, X: torch.Tensor, Y: torch.Tensor, record: bool) -> StepResult:
        """Loss and gradients; with record, every step's tanh output, the gradient reaching it, and the
        gradient reaching every step's hidden state (the RNN's are the same tensors)."""
        logits, states, tanhs = self._run(X)
        loss = F.cross_entropy(logits, Y)
        params = self.parameters()
        if not record:
            return StepResult(loss.detach(), list(torch.autograd.grad(loss, params)), [], None)
        extra = states if self.kind == "rnn" else tanhs + states
        grads = torch.autograd.grad(loss, params + extra)
        n, T = len(params), len(states)
        dtanhs, dstates = grads[n:n + T], grads[-T:]
        outputs = torch.stack(tanhs).detach()  # (T, B, hidden)
        return StepResult(loss.detach(), list(grads[:n]), [outputs.flatten(0, 1)],
                          [torch.stack(dtanhs).flatten(0, 1)], time_outputs=outputs,
                          time_grads=torch.stack(dstates))  # (T * B, hidden) each, and (T, B, hidden)


def draw_recurrent(kind: str, vocab_size: int, embed: int, hidden: int,
                   generator: torch.Generator) -> dict[str, torch.Tensor]:
    """Raw randn draws in the lecture's way: C, then each cell Linear's weight and bias, then W2, b2; the
    start state is zeros, as makemore's."""
    drawn = {"C": torch.randn((vocab_size, embed), generator=generator)}
    for name in CELL_WEIGHTS[kind]:
        drawn[name] = torch.randn((embed + hidden, hidden), generator=generator)
        drawn["b" + name[1:]] = torch.randn(hidden, generator=generator)
    drawn["W2"] = torch.randn((hidden, vocab_size), generator=generator)
    drawn["b2"] = torch.randn(vocab_size, generator=generator)
    return drawn


def build_recurrent(kind: str, drawn: dict[str, torch.Tensor], hidden: int) -> RecurrentNet:
    cell = {name: drawn[name] for weight in CELL_WEIGHTS[kind] for name in (weight, "b" + weight[1:])}
    return RecurrentNet(kind, drawn["C"], torch.zeros(1, hidden), cell, drawn["W2"], drawn["b2"])
