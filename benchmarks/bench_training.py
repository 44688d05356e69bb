"""Benchmark dlcv's lecture 10-11 training tools against their PyTorch built-ins.

One run times, side by side on the same machine and the same inputs:

* activations   -- ``dlcv.activations.gelu``, ``elu``, ``selu`` against ``F.gelu``,
                   ``F.elu``, ``F.selu``; forward, and forward + backward where ours
                   is the hand-written ``*_grad`` times dL/dout and torch's is autograd;
* layer norm    -- ``dlcv.regularization.layer_norm`` (our forward and backward in an
                   autograd Function) against ``F.layer_norm``;
* dropout       -- ``dlcv.regularization.dropout`` against ``F.dropout`` (the masks
                   differ, so the check is that each output is 0 or x / (1 - p));
* frac. pooling -- ``fractional_max_pool2d`` against ``F.fractional_max_pool2d`` with
                   the same ``_random_samples``;
* schedules     -- 10,000 steps of ``dlcv.schedules.CosineAnnealingLR`` and of the
                   closed form ``cosine_lr`` against torch's ``CosineAnnealingLR``;
* averaging     -- ``dlcv.averaging.AveragedModel.update_parameters`` (EMA) against
                   ``torch.optim.swa_utils.AveragedModel`` on a ResNet-18's weights,
                   with a per-tensor ``avg_fn`` and with torch's foreach
                   ``multi_avg_fn``.

It prints the times, the ratios dlcv / torch, the largest difference between our
results and torch's, and the machine's matmul rate (a 1024 x 1024 ``torch.mm``).
The default sizes, best of 5, take about 20 s on 2 cores.

    python benchmarks/bench_training.py              # the default sizes
    python benchmarks/bench_training.py --threads 1  # one core
    python benchmarks/bench_training.py --smoke      # tiny sizes, for the test suite
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn
from torch.optim import lr_scheduler, swa_utils

from dlcv import activations, averaging, models, regularization, schedules

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import machine, matmul_gflops, parse, parser, timed, write_json

FULL = {
    "act": (64, 196, 384),  # ViT-S/16 activations of a batch of 64
    "ln": (64, 196, 384),
    "pool": (100, 16, 28, 28),
    "steps": 10_000,
    "resnet": True,
}
SMOKE = {
    "act": (4, 8, 16),
    "ln": (4, 8, 16),
    "pool": (2, 3, 12, 12),
    "steps": 200,
    "resnet": False,
}


def maxdiff(a: torch.Tensor, b: torch.Tensor) -> float:
    """Largest absolute difference of two tensors of the same shape."""
    return (a - b).abs().max().item()


def autograd_fwd_bwd(fn: Callable, x: torch.Tensor, dout: torch.Tensor) -> torch.Tensor:
    """dL/dx of ``fn(x)`` by autograd, for the upstream gradient ``dout``."""
    x = x.detach().requires_grad_()
    fn(x).backward(dout)
    return x.grad


def row(name, label, t_torch, t_dlcv, diff) -> dict:
    return {
        "name": name,
        "pass": label,
        "torch": t_torch,
        "dlcv": t_dlcv,
        "ratio": t_dlcv / t_torch,
        "max_abs_diff": diff,
    }


def bench_activations(shape: tuple, repeats: int) -> list[dict]:
    g = torch.Generator().manual_seed(0)
    x, dout = torch.randn(shape, generator=g), torch.randn(shape, generator=g)
    rows = []
    for name, ours, ours_grad, theirs in [
        ("gelu", activations.gelu, activations.gelu_grad, F.gelu),
        ("elu", activations.elu, activations.elu_grad, F.elu),
        ("selu", activations.selu, activations.selu_grad, F.selu),
    ]:

        def hand(ours=ours, ours_grad=ours_grad):
            ours(x)  # the forward pass, then dL/dx = dL/dout * f'(x)
            return dout * ours_grad(x)

        rows.append(
            row(
                name,
                "forward",
                timed(lambda t=theirs: t(x), repeats),
                timed(lambda o=ours: o(x), repeats),
                maxdiff(ours(x), theirs(x)),
            )
        )
        grad = autograd_fwd_bwd(theirs, x, dout)
        rows.append(
            row(
                name,
                "fwd+bwd",
                timed(lambda t=theirs: autograd_fwd_bwd(t, x, dout), repeats),
                timed(hand, repeats),
                maxdiff(hand(), grad),
            )
        )
    return rows


def bench_layer_norm(shape: tuple, repeats: int) -> list[dict]:
    g = torch.Generator().manual_seed(1)
    D = shape[-1]
    x, dout = torch.randn(shape, generator=g), torch.randn(shape, generator=g)
    w, b = 1 + 0.1 * torch.randn(D, generator=g), 0.1 * torch.randn(D, generator=g)

    def ours(x):
        return regularization.layer_norm(x, (D,), w, b)

    def theirs(x):
        return F.layer_norm(x, (D,), w, b)

    return [
        row(
            "layer_norm",
            "forward",
            timed(lambda: theirs(x), repeats),
            timed(lambda: ours(x), repeats),
            maxdiff(ours(x), theirs(x)),
        ),
        row(
            "layer_norm",
            "fwd+bwd",
            timed(lambda: autograd_fwd_bwd(theirs, x, dout), repeats),
            timed(lambda: autograd_fwd_bwd(ours, x, dout), repeats),
            maxdiff(autograd_fwd_bwd(ours, x, dout), autograd_fwd_bwd(theirs, x, dout)),
        ),
    ]


def bench_dropout(shape: tuple, repeats: int, p: float = 0.5) -> list[dict]:
    g = torch.Generator().manual_seed(2)
    x, dout = torch.randn(shape, generator=g), torch.randn(shape, generator=g)

    def ours(x):
        return regularization.dropout(x, p, generator=g)

    def rule(out):  # each output is 0 (dropped) or x / (1 - p) (kept)
        return maxdiff(out, torch.where(out != 0, x / (1 - p), 0.0))

    return [
        row(
            "dropout",
            "forward",
            timed(lambda: F.dropout(x, p), repeats),
            timed(lambda: ours(x), repeats),
            rule(ours(x)),
        ),
        row(
            "dropout",
            "fwd+bwd",
            timed(
                lambda: autograd_fwd_bwd(lambda x: F.dropout(x, p), x, dout), repeats
            ),
            timed(lambda: autograd_fwd_bwd(ours, x, dout), repeats),
            rule(ours(x)),
        ),
    ]


def bench_fractional_pool(shape: tuple, repeats: int) -> list[dict]:
    g = torch.Generator().manual_seed(3)
    N, C, H, W = shape
    x = torch.randn(shape, generator=g)
    u = torch.rand(N, C, 2, generator=g)  # the same window offsets for both
    size = (int(H / 2**0.5), int(W / 2**0.5))  # Graham's ratio 1 / sqrt(2)
    dout = torch.randn(N, C, *size, generator=g)

    def ours(x):
        return regularization.fractional_max_pool2d(x, 2, size, _random_samples=u)

    def theirs(x):
        return F.fractional_max_pool2d(x, 2, size, _random_samples=u)

    return [
        row(
            "frac_max_pool2d",
            "forward",
            timed(lambda: theirs(x), repeats),
            timed(lambda: ours(x), repeats),
            maxdiff(ours(x), theirs(x)),
        ),
        row(
            "frac_max_pool2d",
            "fwd+bwd",
            timed(lambda: autograd_fwd_bwd(theirs, x, dout), repeats),
            timed(lambda: autograd_fwd_bwd(ours, x, dout), repeats),
            maxdiff(autograd_fwd_bwd(ours, x, dout), autograd_fwd_bwd(theirs, x, dout)),
        ),
    ]


def run_scheduler(cls: type, steps: int) -> list[float]:
    """The learning rates of ``steps`` steps of a cosine scheduler ``cls``.

    Only ``sched.step()`` is in the loop: one ``opt.step()`` before it tells torch
    the optimizer has stepped, so the loop times the scheduler alone.
    """
    opt = torch.optim.SGD([nn.Parameter(torch.zeros(1))], lr=0.1)
    sched = cls(opt, T_max=steps, eta_min=0.001)
    opt.step()
    lrs = []
    for _ in range(steps):
        sched.step()
        lrs.append(opt.param_groups[0]["lr"])
    return lrs


def bench_schedules(steps: int, repeats: int) -> list[dict]:
    name = f"cosine x{steps}"
    theirs = torch.tensor(run_scheduler(lr_scheduler.CosineAnnealingLR, steps))
    ours = torch.tensor(run_scheduler(schedules.CosineAnnealingLR, steps))
    closed = torch.tensor(
        [schedules.cosine_lr(t, 0.1, steps, 0.001) for t in range(1, steps + 1)]
    )
    t_torch = timed(lambda: run_scheduler(lr_scheduler.CosineAnnealingLR, steps), 1)
    return [
        row(
            name,
            "step()",
            t_torch,
            timed(lambda: run_scheduler(schedules.CosineAnnealingLR, steps), repeats),
            maxdiff(ours, theirs),
        ),
        row(
            name,
            "cosine_lr",
            t_torch,
            timed(
                lambda: [
                    schedules.cosine_lr(t, 0.1, steps, 0.001)
                    for t in range(1, steps + 1)
                ],
                repeats,
            ),
            maxdiff(closed, theirs),
        ),
    ]


def bench_averaging(resnet: bool, repeats: int, decay: float = 0.999) -> list[dict]:
    torch.manual_seed(4)
    if resnet:
        model = models.resnet18(num_classes=10, small_input=True)
    else:
        model = nn.Sequential(nn.Conv2d(3, 8, 3), nn.BatchNorm2d(8), nn.Linear(8, 4))
    rows = []
    for label, ours_kw, theirs_kw in [
        (
            "avg_fn",
            {"avg_fn": averaging.ema_avg_fn(decay)},
            {"avg_fn": swa_utils.get_ema_avg_fn(decay)},
        ),
        (
            "multi_avg_fn",
            {"multi_avg_fn": swa_utils.get_ema_multi_avg_fn(decay)},
            {"multi_avg_fn": swa_utils.get_ema_multi_avg_fn(decay)},
        ),
    ]:
        ours = averaging.AveragedModel(model, **ours_kw)
        theirs = swa_utils.AveragedModel(model, **theirs_kw)
        with torch.no_grad():  # the same three updates of changing weights
            for _ in range(3):
                for p in model.parameters():
                    p.add_(0.01 * torch.randn_like(p))
                ours.update_parameters(model)
                theirs.update_parameters(model)
        diff = max(
            maxdiff(a, b)
            for a, b in zip(ours.parameters(), theirs.parameters(), strict=True)
        )
        rows.append(
            row(
                "EMA resnet18" if resnet else "EMA small",
                label,
                timed(lambda t=theirs: t.update_parameters(model), repeats),
                timed(lambda o=ours: o.update_parameters(model), repeats),
                diff,
            )
        )
    return rows


def main(argv: list[str] | None = None) -> dict:
    args = parse(parser(__doc__, repeats=5, smoke="tiny sizes only"), argv)
    print(f"{machine()}; float32, best of {args.repeats}")
    sizes = SMOKE if args.smoke else FULL
    n = 1024
    mm_gflops = matmul_gflops(args.repeats, n)

    rows = [
        *bench_activations(sizes["act"], args.repeats),
        *bench_layer_norm(sizes["ln"], args.repeats),
        *bench_dropout(sizes["act"], args.repeats),
        *bench_fractional_pool(sizes["pool"], args.repeats),
        *bench_schedules(sizes["steps"], args.repeats),
        *bench_averaging(sizes["resnet"], args.repeats),
    ]
    print(
        f"\n{'what':16s} {'pass':12s} {'torch s':>9s} {'dlcv s':>9s} "
        f"{'dlcv/torch':>10s} {'max|diff|':>10s}"
    )
    for r in rows:
        print(
            f"{r['name']:16s} {r['pass']:12s} {r['torch']:9.4f} {r['dlcv']:9.4f} "
            f"{r['ratio']:10.2f} {r['max_abs_diff']:10.2e}"
        )
    print(f"\nmatmul rate: {mm_gflops:.1f} GFLOP/s ({n} x {n} torch.mm)")
    print(
        "sizes: activations and dropout "
        f"{sizes['act']}, layer_norm {sizes['ln']}, pooling {sizes['pool']}"
    )
    result = {
        "threads": torch.get_num_threads(),
        "mm_gflops": mm_gflops,
        "sizes": sizes,
        "rows": rows,
    }
    write_json(args.json, result)
    return result


if __name__ == "__main__":
    main()
