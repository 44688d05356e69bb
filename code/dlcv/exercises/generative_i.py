r"""Checkers for the coding exercises of the generative models I chapter.

The chapter is ``book/generative_i.md``.

* :func:`check_causal_mask` -- the ``(k, k)`` mask of a masked convolution of type
  ``"A"`` or ``"B"``; the reference is the ``mask`` buffer of
  :class:`dlcv.autoregressive.MaskedConv2d`.
* :func:`check_kl_to_prior` -- the KL divergence from diagonal Gaussians
  :math:`\mathcal{N}(\mu, \operatorname{diag} e^{\log \sigma^2})` to the standard
  normal, one per row; the reference is ``torch.distributions.kl_divergence`` between
  ``Normal(mu, sigma)`` and ``Normal(0, 1)``, summed over the last dimension.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
from torch.distributions import Normal, kl_divergence

from dlcv.autoregressive import MaskedConv2d
from dlcv.exercises._core import Case, CheckResult, run_cases

__all__ = ["check_causal_mask", "check_kl_to_prior"]


def torch_kl_to_prior(mu: torch.Tensor, logvar: torch.Tensor) -> torch.Tensor:
    """KL(N(mu, diag exp(logvar)) || N(0, I)) of each row, by torch.distributions.

    Args:
        mu: means, ``(N, J)``.
        logvar: log-variances, ``(N, J)``.

    Returns:
        ``(N,)``.
    """
    q = Normal(mu, torch.exp(0.5 * logvar))
    p = Normal(torch.zeros_like(mu), torch.ones_like(mu))
    return kl_divergence(q, p).sum(-1)


def check_causal_mask(fn: Callable[..., Any]) -> CheckResult:
    """Check ``fn(kernel_size, mask_type)``, the mask of a masked convolution.

    Cases: kernel sizes 1, 3, 5 and 7, types ``"A"`` and ``"B"``; the result must be a
    float32 tensor equal to ``MaskedConv2d(1, 1, k, mask_type=t).mask``.

    Args:
        fn: the reader's function, returning a ``(k, k)`` tensor.

    Returns:
        The verdict, which is also printed.
    """
    cases = [
        Case(
            f"a {k}x{k} kernel of type {t}",
            {"kernel_size": k, "mask_type": t},
            MaskedConv2d(1, 1, k, mask_type=t).mask.detach().clone(),
            rtol=0.0,
            atol=0.0,
        )
        for k, t in [
            (3, "A"),
            (3, "B"),
            (7, "A"),
            (7, "B"),
            (1, "A"),
            (1, "B"),
            (5, "A"),
            (5, "B"),
        ]
    ]
    return run_cases(
        fn,
        cases,
        exercise="causal_mask",
        passed="equals the mask of dlcv.autoregressive.MaskedConv2d",
    )


def check_kl_to_prior(fn: Callable[..., Any]) -> CheckResult:
    """Check ``fn(mu, logvar)``, the KL divergence of each row to ``N(0, I)``.

    Cases (float64 unless said): random rows, a row equal to the prior (KL 0), a very
    narrow and a very wide Gaussian, float32 inputs, and one latent dimension; the
    result must equal ``torch_kl_to_prior`` to ``rtol=1e-6``.

    Args:
        fn: the reader's function, returning an ``(N,)`` tensor.

    Returns:
        The verdict, which is also printed.
    """
    g = torch.Generator().manual_seed(0)
    f64 = torch.float64

    def case(description: str, mu: torch.Tensor, logvar: torch.Tensor) -> Case:
        rtol = 1e-4 if mu.dtype == torch.float32 else 1e-6
        return Case(
            description,
            {"mu": mu, "logvar": logvar},
            torch_kl_to_prior(mu, logvar),
            rtol=rtol,
            atol=1e-5 if mu.dtype == torch.float32 else 1e-10,
        )

    cases = [
        case(
            "random means and log-variances, N = 5, J = 3",
            torch.randn(5, 3, generator=g, dtype=f64),
            torch.randn(5, 3, generator=g, dtype=f64),
        ),
        case(
            "the prior itself (KL = 0)",
            torch.zeros(2, 4, dtype=f64),
            torch.zeros(2, 4, dtype=f64),
        ),
        case(
            "a very narrow and a very wide Gaussian",
            torch.tensor([[1.0, -2.0], [0.0, 0.5]], dtype=f64),
            torch.tensor([[-12.0, -8.0], [6.0, 4.0]], dtype=f64),
        ),
        case(
            "float32 inputs (keep the dtype)",
            torch.randn(4, 6, generator=g),
            torch.randn(4, 6, generator=g),
        ),
        case(
            "one latent dimension, J = 1",
            torch.randn(3, 1, generator=g, dtype=f64),
            torch.randn(3, 1, generator=g, dtype=f64),
        ),
    ]
    return run_cases(
        fn,
        cases,
        exercise="kl_to_prior",
        passed="matches torch.distributions.kl_divergence to N(0, 1), summed over "
        "the latent dimensions",
    )
