r"""Checkers for the coding exercises of the generative models II chapter.

The chapter is ``book/generative_ii.md``.

* :func:`check_gan_losses` -- the discriminator's loss (the negated min-max objective)
  and the non-saturating generator loss from the discriminator's logits, averaged; the
  reference is ``F.binary_cross_entropy_with_logits`` with targets 1 (real) and 0
  (fake) for the discriminator and 1 for the generator, including logits of
  :math:`\pm 100` where a probability rounds to 0 or 1.
* :func:`check_q_sample` -- the forward diffusion process in one jump,
  :math:`\sqrt{\bar\alpha_t}\, x_0 + \sqrt{1 - \bar\alpha_t}\, \epsilon` with a step
  per example; the reference is :func:`dlcv.diffusion.q_sample`.
* :func:`check_classifier_score` -- the classifier (Inception) score of class
  probabilities; the reference is :func:`dlcv.evaluation.classifier_score`, with the
  edge cases 1 (identical rows) and K (one-hot, balanced) and rows holding zeros.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
import torch.nn.functional as F

from dlcv.diffusion import cosine_beta_schedule, linear_beta_schedule
from dlcv.diffusion import q_sample as _q_sample
from dlcv.evaluation import classifier_score as _classifier_score
from dlcv.exercises._core import Case, CheckResult, run_cases

__all__ = ["check_classifier_score", "check_gan_losses", "check_q_sample"]


def torch_gan_losses(
    real_logits: torch.Tensor, fake_logits: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    """The two GAN losses by torch's binary cross-entropy on logits.

    Args:
        real_logits: the discriminator's logits on real images.
        fake_logits: its logits on generated images.

    Returns:
        ``(d_loss, g_loss)``: BCE(real, 1) + BCE(fake, 0), and BCE(fake, 1).
    """
    bce = F.binary_cross_entropy_with_logits
    d_loss = bce(real_logits, torch.ones_like(real_logits)) + bce(
        fake_logits, torch.zeros_like(fake_logits)
    )
    return d_loss, bce(fake_logits, torch.ones_like(fake_logits))


def check_gan_losses(fn: Callable[..., Any]) -> CheckResult:
    """Check ``fn(real_logits, fake_logits) -> (d_loss, g_loss)``.

    Cases: random logits, logits of very different sizes for real and fake, a
    discriminator that wins (large logits of both signs, where a probability rounds to
    0 or 1 and a loss through ``log(sigmoid(l))`` would be infinite), and float64.

    Args:
        fn: the reader's function, returning a pair of scalar tensors.

    Returns:
        The verdict, which is also printed.
    """
    g = torch.Generator().manual_seed(0)
    inputs = [
        ("random logits of 8 real and 8 fake images",
         torch.randn(8, generator=g), torch.randn(8, generator=g)),
        ("64 real and 16 fake images (different batch sizes)",
         3 * torch.randn(64, generator=g), 3 * torch.randn(16, generator=g)),
        ("a discriminator that wins: logits of +100 on real, -100 on fake",
         torch.tensor([100.0, 50.0, 20.0]), torch.tensor([-100.0, -50.0, -20.0])),
        ("a discriminator that loses: logits of -100 on real, +100 on fake",
         torch.tensor([-100.0, -30.0]), torch.tensor([100.0, 30.0])),
        ("float64 logits",
         torch.randn(10, dtype=torch.float64, generator=g),
         torch.randn(10, dtype=torch.float64, generator=g)),
    ]  # fmt: skip
    cases = [
        Case(text, {"real_logits": real, "fake_logits": fake},
             torch_gan_losses(real, fake), rtol=1e-5, atol=1e-5)
        for text, real, fake in inputs
    ]  # fmt: skip
    return run_cases(
        fn,
        cases,
        exercise="gan_losses",
        passed="matches torch's binary cross-entropy on logits, finite at +-100",
    )


def check_q_sample(fn: Callable[..., Any]) -> CheckResult:
    """Check ``fn(x0, t, noise, alpha_bars)`` against :func:`dlcv.diffusion.q_sample`.

    Cases: a batch of images at different steps, the first and the last step, a
    cosine schedule with 2-D data, and float64.

    Args:
        fn: the reader's function, returning ``x_t`` of ``x0``'s shape.

    Returns:
        The verdict, which is also printed.
    """
    g = torch.Generator().manual_seed(1)
    linear = torch.cumprod(1 - linear_beta_schedule(100), 0).float()
    cosine = torch.cumprod(1 - cosine_beta_schedule(50), 0).float()
    inputs = [
        ("4 images at steps 0, 10, 50 and 99", torch.rand(4, 1, 28, 28, generator=g),
         torch.tensor([0, 10, 50, 99]), linear),
        ("every example at the last step (nearly pure noise)",
         torch.rand(3, 1, 6, 6, generator=g), torch.tensor([99, 99, 99]), linear),
        ("2-D points, cosine schedule", torch.randn(5, 2, generator=g),
         torch.tensor([0, 1, 25, 48, 49]), cosine),
        ("float64 data", torch.rand(2, 3, 4, 4, dtype=torch.float64, generator=g),
         torch.tensor([5, 70]), linear.double()),
    ]  # fmt: skip
    cases = []
    for text, x0, t, ab in inputs:
        noise = torch.randn(x0.shape, dtype=x0.dtype, generator=g)
        args = {"x0": x0, "t": t, "noise": noise, "alpha_bars": ab}
        cases.append(Case(text, args, _q_sample(x0, t, noise, ab)))
    return run_cases(
        fn,
        cases,
        exercise="q_sample",
        passed="noises every example to its own step, as dlcv.diffusion.q_sample",
    )


def check_classifier_score(fn: Callable[..., Any]) -> CheckResult:
    """Check ``fn(probs)`` against :func:`dlcv.evaluation.classifier_score`.

    Cases: random softmax rows, identical rows (score 1), balanced one-hot rows (score
    K), rows with exact zeros (where :math:`0 \\log 0 = 0`) and float64.

    Args:
        fn: the reader's function, returning a scalar.

    Returns:
        The verdict, which is also printed.
    """
    g = torch.Generator().manual_seed(2)
    one_hot = F.one_hot(torch.arange(20) % 10, 10).float()
    zeros = F.softmax(torch.randn(6, 4, generator=g), 1)
    zeros[:, 0] = 0
    zeros = zeros / zeros.sum(1, keepdim=True)
    inputs = [
        ("random probabilities of 32 samples, 10 classes",
         F.softmax(2 * torch.randn(32, 10, generator=g), 1)),
        ("identical rows (the score is 1)",
         F.softmax(torch.randn(1, 10, generator=g), 1).repeat(16, 1)),
        ("balanced one-hot rows (the score is K = 10)", one_hot),
        ("rows with exact zeros (0 log 0 = 0)", zeros),
        ("float64", F.softmax(torch.randn(12, 5, dtype=torch.float64, generator=g), 1)),
    ]  # fmt: skip
    cases = [
        Case(text, {"probs": p}, _classifier_score(p), rtol=1e-4, atol=1e-5,
             check_dtype=False)
        for text, p in inputs
    ]  # fmt: skip
    return run_cases(
        fn,
        cases,
        exercise="classifier_score",
        passed="matches exp E KL(p(y|x) || p(y)), 1 and K at the extremes",
    )
