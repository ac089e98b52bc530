#!/usr/bin/env python3
"""PyTorch's step times on mtlbench's bench networks, on the same device, as the reference
for `mtlbench bench`: the GPU targets compare its W2 steps with these, the CPU targets its
LeNet steps (`scripts/bench-vs-torch.sh` runs both and prints the ratios).

    python3 scripts/torch_reference.py [--workload w1|w2|lenet] [--device cuda|cpu]
                                       [--threads N] [--steps N] [--rounds N]

`--threads` sets `torch.set_num_threads` (and one inter-op thread); on the CPU, pass the
`--threads` given to `mtlbench bench`. `--steps` and `--rounds` are `mtlbench bench`'s
(default 30 and 3): W1/W2 time `steps` steps per round, LeNet a fifth of them, as `bench`
does; each figure is the median of the rounds after one round of warm-up steps. Every step
cycles through eight batches built before the timing, as `bench`'s do.

The network is W1/W2's: T = 10 tasks, input 250, a trunk of 4 dense ReLU layers of
`width` units (100 or 1024), one linear head of 100 outputs per task, MSE per task, Adam
(lr 1e-3), a batch of 100 or 1024 rows. Two steps are timed, each the median of 3 rounds
of `steps` (W2: a tenth, as `bench`) after as many warm-up steps, synchronising the device
at the end of a round:

- equal: one forward, the sum of the T losses, one backward, one Adam step;
- T backward: one forward, T backward passes (retain_graph) whose shared-parameter
  gradients are stacked into G [T, P] on the device, the Gramian GGᵀ, d = Gᵀw with
  w = 1, d written back as the trunk's gradients, one Adam step (the work of a
  gradient-level method's step short of its T×T solve).

The LeNet network is `bench --workload lenet`'s: the `lenet` trunk (conv 1→10 5×5,
max-pool 2, ReLU, conv 10→20 5×5, max-pool 2, ReLU, flatten 320, dense 50, ReLU), one
linear head 50→10 per task, two tasks, mean softmax cross-entropy per task, Adam (lr
1e-3), batches of 256 28×28×1 images of uniform noise with drawn labels. Three steps:

- equal: hard sharing, the sum of the two losses, one backward, one Adam step;
- mgda: hard sharing, one forward and backward per task (the trunk's task gradients
  stacked into G [T, P]), the Gramian GGᵀ, the two-task min-norm weights, d = Gᵀw written
  back as the trunk's gradients (each head keeps its own task's gradient), one Adam step;
- single_task: two LeNets (a trunk and a head per task), the sum of the losses, one
  backward, one Adam step.

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


LENET_BATCH, LENET_TASKS, CLASSES = 256, 2, 10


def lenet_trunk():
    return torch.nn.Sequential(
        torch.nn.Conv2d(1, 10, 5), torch.nn.MaxPool2d(2), torch.nn.ReLU(),
        torch.nn.Conv2d(10, 20, 5), torch.nn.MaxPool2d(2), torch.nn.ReLU(),
        torch.nn.Flatten(), torch.nn.Linear(320, 50), torch.nn.ReLU(),
    )


def build_lenet(single_task, device):
    torch.manual_seed(1)
    trunks = [lenet_trunk() for _ in range(LENET_TASKS if single_task else 1)]
    trunks = torch.nn.ModuleList(trunks).to(device)
    heads = torch.nn.ModuleList(
        torch.nn.Linear(50, CLASSES) for _ in range(LENET_TASKS)
    ).to(device)
    params = list(trunks.parameters()) + list(heads.parameters())
    return trunks, heads, torch.optim.Adam(params, lr=1e-3)


def lenet_losses(trunks, heads, x, ys):
    if len(trunks) == 1:
        z = trunks[0](x)
        return [torch.nn.functional.cross_entropy(h(z), y) for h, y in zip(heads, ys)]
    return [
        torch.nn.functional.cross_entropy(h(trunk(x)), y)
        for trunk, h, y in zip(trunks, heads, ys)
    ]


def lenet_equal_step(trunks, heads, opt, x, ys):
    opt.zero_grad(set_to_none=True)
    torch.stack(lenet_losses(trunks, heads, x, ys)).sum().backward()
    opt.step()


def lenet_mgda_step(trunks, heads, opt, x, ys):
    opt.zero_grad(set_to_none=True)
    shared = list(trunks[0].parameters())
    rows = []
    for t, (head, y) in enumerate(zip(heads, ys)):
        # One forward and one backward per task, as mtlbench's per-task path.
        loss = torch.nn.functional.cross_entropy(head(trunks[0](x)), y)
        grads = torch.autograd.grad(loss, shared + list(head.parameters()))
        rows.append(torch.cat([g.reshape(-1) for g in grads[: len(shared)]]))
        for p, g in zip(head.parameters(), grads[len(shared):]):
            p.grad = g
    g = torch.stack(rows)  # [T, P]
    gram = (g @ g.T).double()
    # The two-task min-norm point: α = clip(⟨g₂ − g₁, g₂⟩ / ‖g₁ − g₂‖², 0, 1).
    denom = gram[0, 0] + gram[1, 1] - 2 * gram[0, 1]
    alpha = ((gram[1, 1] - gram[0, 1]) / denom).clamp(0, 1) if denom > 0 else 0.5
    weights = torch.tensor([float(alpha), 1 - float(alpha)], dtype=g.dtype, device=g.device)
    d = weights @ g
    offset = 0
    for p in shared:
        n = p.numel()
        p.grad = d[offset:offset + n].view_as(p)
        offset += n
    opt.step()


def time_cycled(step, batches, device, steps, rounds):
    """Median seconds per step over `rounds` rounds of `steps` steps after `steps` warm-up
    steps, the steps cycling through `batches`."""
    state = {"next": 0}

    def one():
        x, ys = batches[state["next"] % len(batches)]
        state["next"] += 1
        step(x, ys)

    return time_step(one, device, steps, rounds)


def lenet(device, steps, rounds):
    gen = torch.Generator().manual_seed(2)
    batches = [
        (
            torch.rand(LENET_BATCH, 1, 28, 28, generator=gen).to(device),
            [torch.randint(0, CLASSES, (LENET_BATCH,), generator=gen).to(device)
             for _ in range(LENET_TASKS)],
        )
        for _ in range(8)
    ]
    steps = max(1, -(-steps // 5))
    for name, single, step in [
        ("hard_sharing+equal", False, lenet_equal_step),
        ("hard_sharing+mgda (T passes)", False, lenet_mgda_step),
        ("single_task+equal (two LeNets)", True, lenet_equal_step),
    ]:
        trunks, heads, opt = build_lenet(single, device)
        seconds = time_cycled(
            lambda x, ys: step(trunks, heads, opt, x, ys), batches, device, steps, rounds
        )
        print(f"torch lenet {name}: {seconds * 1e3:.2f} ms/step", flush=True)
    # An evaluation point as `bench` times it: the 2,048 rows of its validation and test
    # splits, forward only (no autograd), 256 rows at a time as a DataLoader of the
    # training batch size would hand them over, then each task's predicted class.
    trunks, heads, _ = build_lenet(False, device)
    rows = torch.cat([x for x, _ in batches[:8]])

    def evaluate():
        with torch.no_grad():
            for chunk in rows.split(LENET_BATCH):
                z = trunks[0](chunk)
                for h in heads:
                    h(z).argmax(1)

    seconds = time_step(evaluate, device, 1, max(rounds, 3))
    print(f"torch lenet evaluation: {seconds / len(rows) * 1e6:.2f} us/row", flush=True)


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
    parser.add_argument("--workload", choices=sorted(SHAPES) + ["lenet"], default="w2")
    parser.add_argument("--device", choices=["cuda", "cpu"], default="cuda")
    parser.add_argument("--threads", type=int, default=None,
                        help="torch.set_num_threads (default: torch's own)")
    parser.add_argument("--steps", type=int, default=30)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    if args.threads is not None:
        torch.set_num_threads(args.threads)
        torch.set_num_interop_threads(1)
    if args.workload == "lenet":
        lenet(args.device, args.steps, args.rounds)
        return
    width, batch = SHAPES[args.workload]
    gen = torch.Generator().manual_seed(2)
    # Eight batches, cycled (`bench` builds the training split's first eight batches).
    batches = [
        (
            torch.rand(batch, INPUT, generator=gen).to(args.device),
            [torch.randn(batch, OUTPUTS, generator=gen).to(args.device) for _ in range(TASKS)],
        )
        for _ in range(8)
    ]
    steps = max(1, -(-args.steps // (10 if args.workload == "w2" else 1)))
    for name, step in [("equal", equal_step), ("T backward", t_backward_step)]:
        trunk, heads, opt = build(width, args.device)
        seconds = time_cycled(
            lambda x, ys: step(trunk, heads, opt, x, ys), batches, args.device, steps,
            args.rounds,
        )
        print(f"torch {args.workload} {name}: {seconds * 1e3:.2f} ms/step", flush=True)


if __name__ == "__main__":
    main()
