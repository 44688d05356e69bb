r"""Checkers for the coding exercises of the visualizing and understanding chapter.

The chapter is ``book/understanding.md``.

* :func:`check_integrated_gradients` -- the integrated gradients of Sundararajan, Taly
  and Yan (2017), :math:`(x - b) \odot \frac1m \sum_{k=1}^m \nabla_x s_y(b +
  \tfrac km (x - b))`, a Riemann sum of ``m`` steps from a baseline ``b``; the
  reference computes each gradient with ``torch.autograd.grad``, step by step.
* :func:`check_targeted_fgsm` -- the targeted fast gradient sign method, one step of
  size ``eps`` *down* the cross-entropy of a chosen target class, clipped to
  ``[0, 1]``; the reference is computed with ``torch.autograd.grad`` and
  ``F.cross_entropy``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from dlcv.exercises._core import Case, CheckResult, run_cases

__all__ = ["check_integrated_gradients", "check_targeted_fgsm"]


def _net(kind: str, seed: int) -> nn.Module:
    """A small float64 classifier of ``(N, 1, 6, 6)`` images into 3 classes."""
    torch.manual_seed(seed)
    if kind == "linear":
        net = nn.Sequential(nn.Flatten(), nn.Linear(36, 3))
    elif kind == "mlp":
        net = nn.Sequential(
            nn.Flatten(), nn.Linear(36, 12), nn.ReLU(), nn.Linear(12, 3)
        )
    else:  # a CNN
        net = nn.Sequential(
            nn.Conv2d(1, 4, 3, padding=1),
            nn.ReLU(),
            nn.MaxPool2d(2),
            nn.Flatten(),
            nn.Linear(36, 3),
        )
    return net.double().eval()


def _images(n: int, seed: int) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return torch.rand(n, 1, 6, 6, generator=g, dtype=torch.float64)  # (N, 1, 6, 6)


def _labels(n: int, seed: int) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed + 100)
    return torch.randint(3, (n,), generator=g)  # (N,)


def reference_integrated_gradients(
    model: nn.Module,
    x: torch.Tensor,
    target: torch.Tensor,
    baseline: torch.Tensor,
    steps: int,
) -> torch.Tensor:
    """Integrated gradients by a loop of autograd calls.

    Args:
        model: images ``(N, C, H, W)`` to scores ``(N, K)``.
        x: the images.
        target: the class of each image, int64 ``(N,)``.
        baseline: the reference images, like ``x``.
        steps: the number ``m`` of points of the Riemann sum.

    Returns:
        ``(N, C, H, W)``: the attributions.
    """
    total = torch.zeros_like(x)
    for k in range(1, steps + 1):
        point = (baseline + k / steps * (x - baseline)).requires_grad_(True)
        s = model(point).gather(1, target[:, None]).sum()  # sum of s_y over images
        total += torch.autograd.grad(s, point)[0]
    return (x - baseline) * total / steps


def check_integrated_gradients(fn: Callable[..., Any]) -> CheckResult:
    """Check ``fn(model, x, target, baseline, steps)`` against autograd, step by step.

    The result must be the ``(N, C, H, W)`` attributions
    :math:`(x - b) \\odot \\frac1m \\sum_{k=1}^m \\nabla_x s_y(b + \\tfrac km (x - b))`,
    to 1e-8. Cases: a linear model (where the sum is exact: ``(x - b) W_y``), an MLP
    with ReLUs from a black baseline and from a grey one, and a small CNN with 32 steps.

    Args:
        fn: the reader's function.

    Returns:
        The verdict, which is also printed.
    """
    cases = []
    for description, kind, n, steps, grey in [
        ("a linear model, 4 steps from black", "linear", 3, 4, 0.0),
        ("an MLP, 8 steps from black", "mlp", 4, 8, 0.0),
        ("an MLP, 8 steps from a grey baseline", "mlp", 4, 8, 0.5),
        ("a CNN, 32 steps from black", "cnn", 2, 32, 0.0),
    ]:
        model, x, y = _net(kind, n), _images(n, steps), _labels(n, steps)
        baseline = torch.full_like(x, grey)
        args = {"model": model, "x": x, "target": y, "baseline": baseline}
        expected = reference_integrated_gradients(model, x, y, baseline, steps)
        cases.append(
            Case(description, {**args, "steps": steps}, expected, rtol=1e-6, atol=1e-8)
        )
    return run_cases(
        fn,
        cases,
        exercise="integrated_gradients",
        passed="gives the Riemann sum of the gradients along the straight path",
    )


def reference_targeted_fgsm(
    model: nn.Module, x: torch.Tensor, target: torch.Tensor, eps: float
) -> torch.Tensor:
    """One signed step of size ``eps`` down the cross-entropy of ``target``.

    Args:
        model: images ``(N, C, H, W)`` to scores ``(N, K)``.
        x: the images, in ``[0, 1]``.
        target: the class each image should become, int64 ``(N,)``.
        eps: the step size.

    Returns:
        ``(N, C, H, W)``: the images, clipped to ``[0, 1]``.
    """
    x = x.detach().requires_grad_(True)
    loss = F.cross_entropy(model(x), target, reduction="sum")
    (grad,) = torch.autograd.grad(loss, x)
    return (x - eps * grad.sign()).clamp(0, 1).detach()


def check_targeted_fgsm(fn: Callable[..., Any]) -> CheckResult:
    """Check ``fn(model, x, target, eps)``, the targeted fast gradient sign method.

    The result must be :math:`\\mathrm{clip}_{[0, 1]}(x - \\epsilon\\,
    \\mathrm{sign}(\\nabla_x L(x, t)))` with L the cross-entropy of the target class t,
    detached, to 1e-10. Cases: a linear model, an MLP, a CNN, and ``eps = 0`` (the
    images themselves).

    Args:
        fn: the reader's function.

    Returns:
        The verdict, which is also printed.
    """
    cases = []
    for description, kind, n, eps in [
        ("a linear model, eps = 0.1", "linear", 4, 0.1),
        ("an MLP, eps = 0.05", "mlp", 5, 0.05),
        ("a CNN, eps = 0.2", "cnn", 3, 0.2),
        ("eps = 0 leaves the images as they are", "mlp", 2, 0.0),
    ]:
        model, x, t = _net(kind, n), _images(n, n + 7), _labels(n, n + 7)
        cases.append(
            Case(
                description,
                {"model": model, "x": x, "target": t, "eps": eps},
                reference_targeted_fgsm(model, x, t, eps),
                rtol=0.0,
                atol=1e-10,
            )
        )
    return run_cases(
        fn,
        cases,
        exercise="targeted_fgsm",
        passed="takes one signed step down the target's loss, clipped to [0, 1]",
    )
