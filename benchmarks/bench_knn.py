"""Benchmark kNN prediction on Fashion-MNIST: dlcv against built-ins and scikit-learn.

One run times, side by side on the same data and the same machine:

* ``matmul``   -- the bare ``(M, 784) @ (784, N)`` product, the hardware's floor for
                  L2 kNN (every method must at least compute all M x N inner products);
* ``dlcv``     -- ``dlcv.knn.KNearestNeighbor(k).predict`` (no-loop L2, Eq. (3));
* ``torch``    -- a naive built-in version: ``torch.cdist`` then ``topk`` over the
                  whole matrix;
* ``sklearn``  -- scikit-learn's brute force,
                  ``KNeighborsClassifier(algorithm="brute")``.

It prints each time and its ratios to ``matmul`` and to ``sklearn``, and checks that
dlcv and scikit-learn predict the same labels. The default problem is the full one:
10,000 test images against 60,000 training images.

    python benchmarks/bench_knn.py                 # full problem (~1 min on 2 cores)
    python benchmarks/bench_knn.py --n-test 1000   # smaller
    python benchmarks/bench_knn.py --synthetic     # random data, no data files needed
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import torch
from sklearn.neighbors import KNeighborsClassifier

from dlcv import knn

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import machine, parse, parser, write_json
from _common import timed_result as timed


def naive_torch(x_train, y_train, x_test, k):
    """Built-ins only: the full distance matrix by torch.cdist, then topk and a vote."""
    idx = torch.cdist(x_test, x_train).topk(k, dim=1, largest=False).indices
    return torch.mode(y_train[idx], dim=1).values


def load(args) -> tuple[torch.Tensor, ...]:
    if args.synthetic:
        g = torch.Generator().manual_seed(0)
        x_train = torch.rand(args.n_train, 784, generator=g)
        x_test = torch.rand(args.n_test, 784, generator=g)
        y_train = torch.randint(10, (args.n_train,), generator=g)
        return x_train, y_train, x_test
    from dlcv.data import load_fashion_mnist

    x_train, y_train = load_fashion_mnist("train")
    x_test, _ = load_fashion_mnist("test")
    x_train = x_train[: args.n_train].flatten(1).float() / 255  # (N, 784)
    x_test = x_test[: args.n_test].flatten(1).float() / 255  # (M, 784)
    return x_train, y_train[: args.n_train], x_test


def main(argv: list[str] | None = None) -> dict:
    p = parser(__doc__, repeats=1)
    p.add_argument("--n-train", type=int, default=60_000)
    p.add_argument("--n-test", type=int, default=10_000)
    p.add_argument("-k", type=int, default=5)
    p.add_argument("--synthetic", action="store_true", help="random data")
    args = parse(p, argv)

    x_train, y_train, x_test = load(args)
    M, N, D = x_test.shape[0], x_train.shape[0], x_train.shape[1]
    xtr_np, ytr_np, xte_np = x_train.numpy(), y_train.numpy(), x_test.numpy()
    print(f"kNN prediction, k = {args.k}: {M} test x {N} train x {D} features, float32")
    print(f"{machine()}; best of {args.repeats}")

    times, preds = {}, {}
    times["matmul"], _ = timed(
        lambda: x_test @ x_train.T, args.repeats
    )  # (M, D) @ (D, N)
    model = knn.KNearestNeighbor(args.k).fit(x_train, y_train)
    times["dlcv"], preds["dlcv"] = timed(lambda: model.predict(x_test), args.repeats)
    times["torch"], preds["torch"] = timed(
        lambda: naive_torch(x_train, y_train, x_test, args.k), args.repeats
    )
    ref = KNeighborsClassifier(n_neighbors=args.k, algorithm="brute").fit(
        xtr_np, ytr_np
    )
    times["sklearn"], sk = timed(lambda: ref.predict(xte_np), args.repeats)
    preds["sklearn"] = torch.from_numpy(np.asarray(sk))

    gflop = 2 * M * N * D / 1e9
    print(
        f"\n{'method':10s} {'seconds':>9s} {'GFLOP/s':>9s} "
        f"{'/ matmul':>9s} {'/ sklearn':>10s}"
    )
    for name, t in times.items():
        print(
            f"{name:10s} {t:9.2f} {gflop / t:9.1f} {t / times['matmul']:9.2f} "
            f"{t / times['sklearn']:10.2f}"
        )
    agree = (preds["dlcv"] == preds["sklearn"]).float().mean().item()
    print(f"\ndlcv and sklearn predict the same label for {agree:.2%} of test images")
    result = {
        "shape": [M, N, D],
        "k": args.k,
        "seconds": times,
        "gflop": gflop,
        "agreement_with_sklearn": agree,
        "dlcv_over_matmul": times["dlcv"] / times["matmul"],
        "dlcv_over_sklearn": times["dlcv"] / times["sklearn"],
    }
    write_json(args.json, result)
    return result


if __name__ == "__main__":
    main()
