#!/usr/bin/env python3
"""PyTorch's step times on mtlbench's W1/W2 network, on the same device, as the reference
for `mtlbench bench --device cuda`: the GPU targets compare its W2 steps with these.

    python3 scripts/torch_reference.py [--workload w1|w2] [--device cuda|cpu] [--steps N]

The network is W1/W2's: T = 10 tasks, input 250, a trunk of 4 dense ReLU layers of
`width` units (100 or 1024), one linear head of 100 outputs per task, MSE per task, Adam
(lr 1e-3), a batch of 100 or 1024 rows. Two steps are timed, each the median of 3 rounds
of `steps` after `steps` warm-up steps, synchronising the device at the end of a round:

- equal: one forward, the sum of the T losses, one backward, one Adam step;
- T backward: one forward, T backward passes (retain_graph) whose shared-parameter
  gradients are stacked into G [T, P] on the device, the Gramian GGᵀ, d = Gᵀw with
  w = 1, d written back as the trunk's gradients, one Adam step (the work of a
  gradient-level method's step short of its T×T solve).

Prints one line per step, `torch <workload> <step>: <ms> ms/step`. Input values do not
matter to the timing: they are drawn from a fixed generator.
"""
import argparse
import time

import torch

SHAPES = {"w1": (100, 100), "w2": (1024, 1024)}  # (trunk width, batch)
TASKS, INPUT, OUTPUTS = 10, 250, 100


def build(width, device):
    torch.manual_seed(1)
    layers, fan_in = [], INPUT
    for _ in range(4):
        layers += [torch.nn.Linear(fan_in, width), torch.nn.ReLU()]
        fan_in = width
    trunk = torch.nn.Sequential(*layers).to(device)
    heads = torch.nn.ModuleList(torch.nn.Linear(width, OUTPUTS) for _ in range(TASKS)).to(device)
    params = list(trunk.parameters()) + list(heads.parameters())
    return trunk, heads, torch.optim.Adam(params, lr=1e-3)


def losses(trunk, heads, x, ys):
    z = trunk(x)
    return [torch.nn.functional.mse_loss(head(z), y) for head, y in zip(heads, ys)]


def equal_step(trunk, heads, opt, x, ys):
    opt.zero_grad(set_to_none=True)
    torch.stack(losses(trunk, heads, x, ys)).sum().backward()
    opt.step()


def t_backward_step(trunk, heads, opt, x, ys):
    opt.zero_grad(set_to_none=True)
    shared = list(trunk.parameters())
    task_losses = losses(trunk, heads, x, ys)
    rows = []
    for t, loss in enumerate(task_losses):
        grads = torch.autograd.grad(
            loss, shared + list(heads[t].parameters()), retain_graph=t + 1 < TASKS
        )
        rows.append(torch.cat([g.reshape(-1) for g in grads[: len(shared)]]))
        for p, g in zip(heads[t].parameters(), grads[len(shared):]):
            p.grad = g
    g = torch.stack(rows)  # [T, P]
    gram = g @ g.T
    weights = torch.ones(TASKS, device=g.device, dtype=g.dtype)
    d = weights @ g
    offset = 0
    for p in shared:
        n = p.numel()
        p.grad = d[offset:offset + n].view_as(p)
        offset += n
    opt.step()
    return gram


def time_step(step, device, steps, rounds=3):
    for _ in range(steps):
        step()
    if device == "cuda":
        torch.cuda.synchronize()
    times = []
    for _ in range(rounds):
        start = time.perf_counter()
        for _ in range(steps):
            step()
        if device == "cuda":
            torch.cuda.synchronize()
        times.append((time.perf_counter() - start) / steps)
    return sorted(times)[len(times) // 2]


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--workload", choices=sorted(SHAPES), default="w2")
    parser.add_argument("--device", choices=["cuda", "cpu"], default="cuda")
    parser.add_argument("--steps", type=int, default=20)
    args = parser.parse_args()
    width, batch = SHAPES[args.workload]
    gen = torch.Generator().manual_seed(2)
    x = torch.rand(batch, INPUT, generator=gen).to(args.device)
    ys = [torch.randn(batch, OUTPUTS, generator=gen).to(args.device) for _ in range(TASKS)]
    for name, step in [("equal", equal_step), ("T backward", t_backward_step)]:
        trunk, heads, opt = build(width, args.device)
        seconds = time_step(lambda: step(trunk, heads, opt, x, ys), args.device, args.steps)
        print(f"torch {args.workload} {name}: {seconds * 1e3:.2f} ms/step")


if __name__ == "__main__":
    main()
