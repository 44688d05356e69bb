r"""Checkers for the coding exercises of the training neural networks I chapter.

The chapter is ``book/training_i.md``.

* :func:`check_inverted_dropout` -- inverted dropout ``fn(x, p, training, generator)``:
  in training a fraction p of the entries (drawn independently) is zeroed and the
  others are divided by 1 - p; in evaluation the input comes back unchanged. The
  reference is a measurement: the zeroed fraction on 200 000 entries within 5 standard
  errors of p, survivors exactly x / (1 - p), and the mean kept within 5 standard
  errors of the input's (what ``F.dropout`` guarantees).
* :func:`check_kaiming_normal` -- He initialization ``fn(fan_out, fan_in, generator)``
  of a (fan_out, fan_in) weight for a ReLU network: mean 0 and standard deviation
  :math:`\sqrt{2/\text{fan\_in}}`, measured on large weights (as
  ``nn.init.kaiming_normal_(w, nonlinearity="relu")``).
* :func:`check_pca_whitening` -- PCA whitening ``fn(X, k)``: the top-k principal
  coordinates of the centered data, each divided by its standard deviation; the
  reference is ``sklearn.decomposition.PCA(k, whiten=True)`` up to the sign of each
  component, and the result's covariance must be the identity.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import torch
from sklearn.decomposition import PCA as SkPCA

from dlcv.exercises._core import Case, CheckResult, run_cases

__all__ = ["check_inverted_dropout", "check_kaiming_normal", "check_pca_whitening"]


def _dropout_summary(out: Any, x: torch.Tensor, p: float) -> Any:
    """(shape, fraction zeroed, largest error of the survivors, relative mean)."""
    if not isinstance(out, torch.Tensor) or out.shape != x.shape:
        return out  # compare() reports the type or shape
    kept = out != 0
    survivors_error = (
        (out[kept] * (1 - p) - x[kept]).abs().max().item() if (kept.any()) else 0.0
    )
    return (
        1.0 - kept.double().mean().item(),
        survivors_error,
        (out.double().mean() / x.double().mean()).item(),
    )


def check_inverted_dropout(fn: Callable[..., torch.Tensor]) -> CheckResult:
    """Check ``fn(x, p, training, generator) -> out``, inverted dropout.

    ``p`` is the probability of DROPPING an entry, as in ``nn.Dropout``. In training,
    each entry is zeroed independently with probability p (draw the mask with
    ``generator``) and kept entries are divided by 1 - p, so that the expected output
    equals the input; in evaluation (``training=False``) the output is ``x`` itself.
    Cases: evaluation returns x; p = 0.5, 0.2 and 0.9 on 200 000 positive entries
    (the zeroed fraction within 5 standard errors of p, survivors equal x / (1 - p),
    the mean kept within 5 standard errors); p = 0 keeps everything.

    Args:
        fn: the reader's function.

    Returns:
        The verdict, which is also printed.
    """
    g = torch.Generator().manual_seed(10)
    n = 200_000
    x = torch.rand(400, 500, generator=g, dtype=torch.float64) + 0.5

    def train_case(p: float) -> Case:
        se = math.sqrt(p * (1 - p) / n)
        # mean of x*m/(1-p) relative to mean(x): its s.e. is about sqrt(p/(1-p)/n)
        rel_se = math.sqrt(p / (1 - p) / n) * 1.1 if p > 0 else 1e-12
        return Case(
            f"training, p = {p}: {n} entries",
            {
                "x": x,
                "p": p,
                "training": True,
                "generator": torch.Generator().manual_seed(int(100 * p)),
            },
            (p, 0.0, 1.0),
            rtol=0.0,
            atol=max(5 * se, 5 * rel_se, 1e-9),
        )

    cases = [
        Case(
            "evaluation: the input unchanged",
            {"x": x[:3], "p": 0.5, "training": False, "generator": None},
            (0.0, 0.0, 1.0),
            rtol=0.0,
            atol=1e-12,
        ),
        train_case(0.5),
        train_case(0.2),
        train_case(0.9),
        Case(
            "training, p = 0: nothing dropped",
            {"x": x[:3], "p": 0.0, "training": True, "generator": None},
            (0.0, 0.0, 1.0),
            rtol=0.0,
            atol=1e-12,
        ),
    ]

    def summary(x: torch.Tensor, p: float, training: bool, generator: Any) -> Any:
        out = fn(x, p, training, generator)
        if not training and isinstance(out, torch.Tensor) and out.shape == x.shape:
            return (0.0, (out - x).abs().max().item(), 1.0)
        return _dropout_summary(out, x, p)

    return run_cases(
        summary,
        cases,
        exercise="inverted_dropout",
        passed=(
            "drops a fraction p, scales survivors by 1/(1-p) and is the identity "
            "in evaluation; results are (fraction zeroed, survivor error, mean ratio)"
        ),
    )


def check_kaiming_normal(fn: Callable[..., torch.Tensor]) -> CheckResult:
    """Check ``fn(fan_out, fan_in, generator) -> weight``, He's normal initialization.

    The weight must be a (fan_out, fan_in) float32 tensor drawn from
    :math:`N(0, 2/\\text{fan\\_in})` with ``generator``. Cases: (512, 256), (300, 1000)
    and a wide (2000, 64) weight; each checks (mean, standard deviation) against
    (0, sqrt(2/fan_in)), with tolerances of 5 standard errors of each estimate.

    Args:
        fn: the reader's function.

    Returns:
        The verdict, which is also printed.
    """

    def case(fan_out: int, fan_in: int) -> Case:
        n = fan_out * fan_in
        std = math.sqrt(2.0 / fan_in)
        return Case(
            f"a ({fan_out}, {fan_in}) weight",
            {
                "fan_out": fan_out,
                "fan_in": fan_in,
                "generator": torch.Generator().manual_seed(fan_in),
            },
            ((fan_out, fan_in), 0.0, std),
            rtol=5 / math.sqrt(2 * n),
            atol=5 * std / math.sqrt(n),
        )

    def summary(fan_out: int, fan_in: int, generator: torch.Generator) -> Any:
        w = fn(fan_out, fan_in, generator)
        if not isinstance(w, torch.Tensor):
            return w
        w = w.detach().double()
        return (tuple(w.shape), w.mean().item(), w.std().item())

    return run_cases(
        summary,
        [case(512, 256), case(300, 1000), case(2000, 64)],
        exercise="kaiming_normal",
        passed="draws weights with mean 0 and std sqrt(2/fan_in); results are "
        "(shape, mean, std)",
    )


def check_pca_whitening(fn: Callable[..., torch.Tensor]) -> CheckResult:
    """Check ``fn(X, k) -> Z``, PCA whitening of (N, D) data to (N, k).

    ``Z`` must be the projection of the centered data on its top-k principal
    directions, each coordinate divided by its standard deviation (``ddof=1``), as
    ``sklearn.decomposition.PCA(k, whiten=True).fit_transform(X)``, up to the sign of
    each column; its covariance is then the identity. Cases: correlated Gaussian data
    (500, 6) with k = 2 and k = 6, data with a large mean offset, and float32 data.

    Args:
        fn: the reader's function.

    Returns:
        The verdict, which is also printed.
    """
    g = torch.Generator().manual_seed(11)

    def data(n: int, d: int, offset: float = 0.0) -> torch.Tensor:
        mix = torch.randn(d, d, generator=g, dtype=torch.float64)
        scales = torch.logspace(1, -1, d, dtype=torch.float64)
        return (torch.randn(n, d, generator=g, dtype=torch.float64) * scales) @ mix + (
            offset
        )

    def case(description: str, X: torch.Tensor, k: int) -> Case:
        ref = SkPCA(k, whiten=True, svd_solver="full").fit_transform(X.double().numpy())
        ref = torch.from_numpy(ref)
        tol = 1e-4 if X.dtype == torch.float32 else 1e-8
        return Case(
            description, {"X": X, "k": k}, ref, rtol=tol, atol=tol, check_dtype=False
        )

    def aligned(X: torch.Tensor, k: int) -> Any:
        Z = fn(X, k)
        if not isinstance(Z, torch.Tensor) or Z.dim() != 2:
            return Z
        ref = torch.from_numpy(
            SkPCA(Z.shape[1], whiten=True, svd_solver="full").fit_transform(
                X.double().numpy()
            )
        )
        if Z.shape != ref.shape:
            return Z
        signs = torch.sign((Z.detach().double() * ref).sum(dim=0))
        return Z.detach().double() * torch.where(signs == 0, 1.0, signs)

    cases = [
        case("correlated data (500, 6), k = 2", data(500, 6), 2),
        case("all components, k = 6", data(500, 6), 6),
        case("a large mean offset (must be removed)", data(300, 4, 50.0), 3),
        case("float32 data (400, 5), k = 3", data(400, 5).float(), 3),
    ]
    return run_cases(
        aligned,
        cases,
        exercise="pca_whitening",
        passed="matches sklearn's PCA(whiten=True) up to signs: identity covariance",
    )
