"""Checkers for the coding exercises of the tensors chapter (``book/tensors.md``).

* :func:`check_standardize_rows` -- every row of an ``(N, D)`` matrix shifted to mean 0
  and scaled to variance 1 by reductions with ``keepdim`` and broadcasting; the
  reference is ``F.layer_norm(x, (D,), eps=1e-5)`` without weight and bias.
* :func:`check_one_hot` -- integer labels of any shape to one-hot rows by broadcasting
  a comparison; the reference is ``F.one_hot``.
* :func:`check_batch_outer` -- a batch of outer products by broadcasting; the reference
  is ``torch.bmm`` of a column by a row.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn.functional as F

from dlcv.exercises._core import Case, CheckResult, run_cases

__all__ = ["check_batch_outer", "check_one_hot", "check_standardize_rows"]


def check_standardize_rows(fn: Callable[..., torch.Tensor]) -> CheckResult:
    """Check ``fn(x) -> (N, D)``, rows standardized with ``eps = 1e-5``, by layer_norm.

    Row :math:`i` must become :math:`(x_i - \\mu_i) / \\sqrt{\\sigma_i^2 + 10^{-5}}`,
    where :math:`\\mu_i` and :math:`\\sigma_i^2` are the mean and the (biased, divided
    by D) variance of that row. Cases: random float32 rows, a square matrix (N = D,
    where a forgotten ``keepdim`` broadcasts silently along the wrong axis), float64, a
    single row, a constant row (variance 0: the result is 0, not nan), and rows with
    mean 100 (where the variance as "mean of squares minus square of the mean" loses its
    digits).

    Args:
        fn: the reader's function.

    Returns:
        The verdict, which is also printed.
    """
    g = torch.Generator().manual_seed(1)

    def case(description: str, x: torch.Tensor) -> Case:
        expected = F.layer_norm(x, (x.shape[-1],), eps=1e-5)
        return Case(description, {"x": x}, expected, rtol=1e-4, atol=1e-4)

    constant = torch.randn(3, 7, generator=g)
    constant[1] = 2.5
    cases = [
        case("random, N=4, D=6", 3 * torch.randn(4, 6, generator=g) + 1),
        case("square, N=D=5", torch.randn(5, 5, generator=g) * 2 - 3),
        case(
            "float64, N=3, D=8",
            torch.randn(3, 8, generator=g, dtype=torch.float64) * 10,
        ),
        case("a single row, N=1", torch.randn(1, 9, generator=g)),
        case("row 1 is constant (variance 0)", constant),
        case("rows with mean 100 and std 1", 100 + torch.randn(6, 50, generator=g)),
    ]
    return run_cases(
        fn,
        cases,
        exercise="standardize_rows",
        passed="matches F.layer_norm(x, (D,), eps=1e-5), without weight and bias",
    )


def check_one_hot(fn: Callable[..., torch.Tensor]) -> CheckResult:
    """Check ``fn(labels, num_classes) -> (*labels.shape, num_classes)`` by F.one_hot.

    The result is int64, with a 1 at position ``labels[...]`` of the last dimension and
    0 elsewhere. Cases: random labels, more classes than the largest label needs,
    repeated labels, a single label, no labels at all (N = 0), and a 2-D map of labels
    (a segmentation mask of shape (H, W) becomes (H, W, C)).

    Args:
        fn: the reader's function.

    Returns:
        The verdict, which is also printed.
    """
    g = torch.Generator().manual_seed(7)

    def case(description: str, labels: torch.Tensor, num_classes: int) -> Case:
        args = {"labels": labels, "num_classes": num_classes}
        return Case(description, args, F.one_hot(labels, num_classes))

    cases = [
        case("8 random labels, 5 classes", torch.randint(0, 5, (8,), generator=g), 5),
        case(
            "labels 0..2 but num_classes=6 (columns 3..5 stay 0)",
            torch.tensor([2, 0, 1, 2]),
            6,
        ),
        case("repeated labels", torch.tensor([3, 3, 3, 0, 0]), 4),
        case("a single label", torch.tensor([1]), 3),
        case("no labels, N=0", torch.zeros(0, dtype=torch.int64), 4),
        case(
            "a (2, 3) map of labels",
            torch.randint(0, 4, (2, 3), generator=g),
            4,
        ),
    ]
    return run_cases(
        fn,
        cases,
        exercise="one_hot",
        passed="matches F.one_hot(labels, num_classes) in shape, dtype and value",
    )


def check_batch_outer(fn: Callable[..., torch.Tensor]) -> CheckResult:
    """Check ``fn(u, v) -> (B, M, P)`` outer products ``u[b, i] * v[b, j]`` against bmm.

    ``u`` has shape (B, M) and ``v`` shape (B, P). Cases: random float32 with M != P,
    M = P (where swapped axes give the transpose, not an error), a batch of one, vectors
    of length 1, and float64.

    Args:
        fn: the reader's function.

    Returns:
        The verdict, which is also printed.
    """
    g = torch.Generator().manual_seed(3)

    def case(description: str, u: torch.Tensor, v: torch.Tensor) -> Case:
        expected = torch.bmm(u.unsqueeze(2), v.unsqueeze(1))  # (B, M, 1) @ (B, 1, P)
        return Case(description, {"u": u, "v": v}, expected)

    cases = [
        case(
            "random, B=3, M=4, P=5",
            torch.randn(3, 4, generator=g),
            torch.randn(3, 5, generator=g),
        ),
        case(
            "square, B=2, M=P=3",
            torch.randn(2, 3, generator=g),
            torch.randn(2, 3, generator=g),
        ),
        case(
            "a batch of one, B=1",
            torch.randn(1, 4, generator=g),
            torch.randn(1, 2, generator=g),
        ),
        case(
            "vectors of length one, M=P=1",
            torch.randn(5, 1, generator=g),
            torch.randn(5, 1, generator=g),
        ),
        case(
            "float64, B=4, M=2, P=6",
            torch.randn(4, 2, generator=g, dtype=torch.float64),
            torch.randn(4, 6, generator=g, dtype=torch.float64),
        ),
    ]
    return run_cases(
        fn,
        cases,
        exercise="batch_outer",
        passed="matches torch.bmm(u[:, :, None], v[:, None, :]) "
        "in shape, dtype and value",
    )
