"""Checkers for the coding exercises of the kNN chapter (``book/knn.md``).

* :func:`check_l1_distances` -- all L1 distances by one broadcast, no loop and no
  blocks; the reference is ``torch.cdist(p=1)``.
* :func:`check_cosine_knn` -- k-nearest-neighbour prediction under the cosine distance
  :math:`1 - x^\\top y / (\\lVert x \\rVert \\lVert y \\rVert)`; the reference
  is ``F.normalize`` + one matrix product + ``torch.topk`` + :func:`dlcv.knn.vote`, and
  the tests compare it with scikit-learn's ``KNeighborsClassifier(metric="cosine")``.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn.functional as F

from dlcv.exercises._core import Case, CheckResult, run_cases
from dlcv.knn import vote

__all__ = ["check_cosine_knn", "check_l1_distances"]


def check_l1_distances(fn: Callable[..., torch.Tensor]) -> CheckResult:
    """Check ``fn(x_test, x_train) -> (M, N)`` L1 distances against ``torch.cdist``.

    Cases: random float32 and float64 inputs of several sizes, one test row, one
    feature, identical rows (distance 0), and integer-valued pixels. The reference is
    ``torch.cdist(x_test, x_train, p=1)``.

    Args:
        fn: the reader's function.

    Returns:
        The verdict, which is also printed.
    """
    g = torch.Generator().manual_seed(498)

    def case(description: str, a: torch.Tensor, b: torch.Tensor) -> Case:
        return Case(description, {"x_test": a, "x_train": b}, torch.cdist(a, b, p=1))

    rows = torch.randn(4, 6, generator=g)
    cases = [
        case(
            "random, M=5, N=7, D=3",
            torch.randn(5, 3, generator=g),
            torch.randn(7, 3, generator=g),
        ),
        case(
            "random float64, M=3, N=4, D=10",
            torch.randn(3, 10, generator=g, dtype=torch.float64),
            torch.randn(4, 10, generator=g, dtype=torch.float64),
        ),
        case(
            "a single test row, M=1",
            torch.randn(1, 5, generator=g),
            torch.randn(6, 5, generator=g),
        ),
        case(
            "a single feature, D=1",
            torch.randn(4, 1, generator=g),
            torch.randn(3, 1, generator=g),
        ),
        case("identical rows (diagonal distances are 0)", rows, rows.clone()),
        case(
            "pixel values 0..255 as float32",
            torch.randint(0, 256, (6, 784), generator=g).float(),
            torch.randint(0, 256, (9, 784), generator=g).float(),
        ),
    ]
    return run_cases(
        fn,
        cases,
        exercise="l1_distances",
        passed="matches torch.cdist(x_test, x_train, p=1) in shape, dtype and value",
    )


def cosine_knn_reference(
    x_train: torch.Tensor, y_train: torch.Tensor, x_test: torch.Tensor, k: int
) -> torch.Tensor:
    """Labels of ``x_test`` by a k-NN vote under the cosine distance.

    Ties are broken towards the smallest label.

    Args:
        x_train: training points, shape (N, D).
        y_train: their integer labels, shape (N,).
        x_test: the points to label, shape (M, D).
        k: the number of neighbours that vote.

    Returns:
        The predicted labels, shape (M,).
    """
    similarity = F.normalize(x_test, dim=1) @ F.normalize(x_train, dim=1).T  # (M, N)
    # The smallest cosine distance is the largest similarity.
    neighbors = similarity.topk(k, dim=1).indices  # (M, k)
    return vote(y_train[neighbors], int(y_train.max()) + 1)


def check_cosine_knn(fn: Callable[..., torch.Tensor]) -> CheckResult:
    """Check ``fn(x_train, y_train, x_test, k) -> (M,)``, a cosine-distance k-NN.

    Cases: k = 1, 3 and 5 on random clusters, a training set scaled row by row (the
    cosine distance ignores length; the L2 distance does not), and k equal to N.

    Args:
        fn: the reader's function.

    Returns:
        The verdict, which is also printed.
    """
    g = torch.Generator().manual_seed(2024)

    def case(description: str, x_train, y_train, x_test, k) -> Case:
        args = {"x_train": x_train, "y_train": y_train, "x_test": x_test, "k": k}
        return Case(
            description, args, cosine_knn_reference(x_train, y_train, x_test, k)
        )

    centers = torch.randn(4, 8, generator=g)  # 4 classes in 8 dimensions
    y = torch.arange(40) % 4
    x = centers[y] + 0.8 * torch.randn(40, 8, generator=g)
    queries = torch.randn(15, 8, generator=g)
    lengths = torch.rand(40, 1, generator=g) * 10 + 0.1
    cases = [
        case("k=1, 4 classes", x, y, queries, 1),
        case("k=3, 4 classes", x, y, queries, 3),
        case("k=5, 4 classes", x, y, queries, 5),
        case(
            "training rows rescaled by 0.1..10 (cosine ignores length)",
            x * lengths,
            y,
            queries,
            3,
        ),
        case("k = N: every point votes", x[:7], y[:7], queries, 7),
    ]
    return run_cases(
        fn,
        cases,
        exercise="cosine_knn",
        passed="predicts the same labels as a cosine-distance k-NN with ties broken "
        "towards the smallest label",
    )
