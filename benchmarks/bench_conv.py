"""Benchmark dlcv's im2col convolution against F.conv2d, and say where its time goes.

One run times, side by side on the same machine, for each shape:

* ``F.conv2d``  -- PyTorch's convolution (oneDNN on CPU, cuDNN on CUDA), forward and
                   forward + backward;
* ``dlcv``      -- ``dlcv.conv.conv2d_forward`` (im2col, then one matrix product) and
                   ``dlcv.conv.conv2d`` forward + backward (two more products and
                   ``F.fold``);
* its parts     -- ``im2col`` alone (a fresh column matrix: allocation + copy), the same
                   copy into a buffer allocated once (the copy alone), ``F.unfold`` (the
                   built-in im2col), and the product ``W @ X_cols`` alone;
* ``mm``        -- a bare ``torch.mm`` of the same size, (C_out, K) @ (K, N L): the
                   machine's matmul rate, the floor for any im2col convolution.

It prints the times, the ratios dlcv / F.conv2d and the GFLOP/s achieved (2 flops per
multiply-add; forward + backward counts three products), and checks that dlcv's output
equals F.conv2d's. The default shapes are a ResNet-like 3x3 layer, 64 -> 64 channels at
32 x 32 with a batch of 64, and the ImageNet stem, 3 -> 64 channels, 7x7 stride 2, at
224 x 224 with a batch of 8 (about 10 s on 2 cores).

    python benchmarks/bench_conv.py              # the two shapes
    python benchmarks/bench_conv.py --threads 1  # one core
    python benchmarks/bench_conv.py --smoke      # tiny shapes, for the test suite
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path

import torch
import torch.nn.functional as F

from dlcv import conv

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import machine, mm_seconds, parse, parser, timed, write_json

# (name, N, C_in, C_out, H = W, kernel, stride, padding)
SHAPES = [
    ("64->64 3x3 32x32 N64", 64, 64, 64, 32, 3, 1, 1),
    ("3->64 7x7/2 224 N8", 8, 3, 64, 224, 7, 2, 3),
]
SMOKE = [("8->8 3x3 12x12 N4", 4, 8, 8, 12, 3, 1, 1)]


def forward_backward(fn: Callable, x: torch.Tensor, w: torch.Tensor, b, s, p) -> None:
    """One forward and backward pass of ``fn(x, w, b, s, p)`` with dL/dout = 1."""
    x, w, b = (t.detach().requires_grad_() for t in (x, w, b))
    out = fn(x, w, b, s, p)
    out.backward(torch.ones_like(out))


def bench_shape(shape: tuple, repeats: int) -> dict:
    name, N, C_in, C_out, H, k, s, p = shape
    g = torch.Generator().manual_seed(0)
    x = torch.randn(N, C_in, H, H, generator=g)
    w = torch.randn(C_out, C_in, k, k, generator=g) / (C_in * k * k) ** 0.5
    b = torch.randn(C_out, generator=g)
    Ho = conv.conv_output_size(H, k, s, p)
    K, L = C_in * k * k, Ho * Ho  # one column's length, output positions per image
    gflop = 2 * N * C_out * K * L / 1e9  # forward: N products (C_out, K) @ (K, L)

    t = {}
    t["F.conv2d"] = timed(lambda: F.conv2d(x, w, b, s, p), repeats)
    t["dlcv"] = timed(lambda: conv.conv2d_forward(x, w, b, s, p), repeats)
    t["F.conv2d fwd+bwd"] = timed(
        lambda: forward_backward(F.conv2d, x, w, b, s, p), repeats
    )
    t["dlcv fwd+bwd"] = timed(
        lambda: forward_backward(conv.conv2d, x, w, b, s, p), repeats
    )
    # the forward pass's two parts
    cols = conv.im2col(x, k, s, p)  # (N, K, L)
    t["im2col"] = timed(lambda: conv.im2col(x, k, s, p), repeats)
    # the same windows as a view (N, C, k, k, Ho, Wo), copied into a buffer that is
    # allocated once: the copy without the allocation's first touch of fresh pages
    windows = F.pad(x, (p,) * 4).unfold(2, k, s).unfold(3, k, s)  # (N, C, Ho, Wo, k, k)
    windows = windows.permute(0, 1, 4, 5, 2, 3)  # (N, C, k, k, Ho, Wo)
    buffer = torch.empty(N, C_in, k, k, Ho, Ho)
    t["im2col copy only"] = timed(lambda: buffer.copy_(windows), repeats)
    assert torch.equal(buffer.view(N, K, L), cols)
    t["F.unfold"] = timed(lambda: F.unfold(x, k, 1, p, s), repeats)
    w_2d = w.view(C_out, K)
    t["W @ X_cols"] = timed(lambda: w_2d @ cols, repeats)  # (C_out, K) @ (N, K, L)
    t["mm"] = mm_seconds(C_out, K, N * L, repeats)  # (C_out, K) @ (K, N L)

    err = (conv.conv2d_forward(x, w, b, s, p)[0] - F.conv2d(x, w, b, s, p)).abs().max()
    return {
        "name": name,
        "gflop": gflop,
        "seconds": t,
        "max_abs_diff": err.item(),
        "forward_ratio": t["dlcv"] / t["F.conv2d"],
        "fwd_bwd_ratio": t["dlcv fwd+bwd"] / t["F.conv2d fwd+bwd"],
    }


def main(argv: list[str] | None = None) -> dict:
    args = parse(parser(__doc__, repeats=3, smoke="tiny shapes only"), argv)
    print(f"{machine()}; float32, best of {args.repeats}")

    results = [
        bench_shape(shape, args.repeats) for shape in (SMOKE if args.smoke else SHAPES)
    ]
    print(
        f"\n{'shape':22s} {'pass':8s} {'F.conv2d':>9s} {'dlcv':>9s} "
        f"{'dlcv/F':>7s} {'F GFLOP/s':>10s} {'dlcv GFLOP/s':>13s}"
    )
    for r in results:
        t, gflop = r["seconds"], r["gflop"]
        for label, ref, ours, flop in [
            ("forward", "F.conv2d", "dlcv", gflop),
            ("fwd+bwd", "F.conv2d fwd+bwd", "dlcv fwd+bwd", 3 * gflop),
        ]:
            print(
                f"{r['name']:22s} {label:8s} {t[ref]:9.4f} {t[ours]:9.4f} "
                f"{t[ours] / t[ref]:7.2f} {flop / t[ref]:10.1f} {flop / t[ours]:13.1f}"
            )
    print(
        f"\n{'shape':22s} {'im2col':>9s} {'copy only':>10s} {'F.unfold':>9s} "
        f"{'W@X_cols':>9s} {'mm':>9s} {'mm GFLOP/s':>11s}"
    )
    for r in results:
        t = r["seconds"]
        print(
            f"{r['name']:22s} {t['im2col']:9.4f} {t['im2col copy only']:10.4f} "
            f"{t['F.unfold']:9.4f} {t['W @ X_cols']:9.4f} {t['mm']:9.4f} "
            f"{r['gflop'] / t['mm']:11.1f}"
        )
    worst = max(r["max_abs_diff"] for r in results)
    print(f"\nlargest |dlcv - F.conv2d| over the outputs: {worst:.2e}")
    result = {"threads": torch.get_num_threads(), "shapes": results}
    write_json(args.json, result)
    return result


if __name__ == "__main__":
    main()
