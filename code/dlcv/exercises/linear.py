r"""Checkers for the coding exercises of the linear chapter (``book/linear.md``).

Each exercise asks for a loss and its gradient, ``fn(W, X, y, ...) -> (loss, dW)``,
with ``W`` (C, D), ``X`` (N, D) and ``y`` (N,) laid out as in :mod:`dlcv.linear`; the
reference value and gradient come from PyTorch's own loss and autograd.

* :func:`check_squared_hinge_loss` -- the squared-hinge multiclass SVM loss with a
  margin :math:`\Delta`,
  :math:`\frac1N \sum_i \sum_{j \ne y_i} \max(0, s_j - s_{y_i} + \Delta)^2`; the
  reference is ``C * F.multi_margin_loss(X @ W.T, y, p=2, margin=delta)``.
* :func:`check_crammer_singer_loss` -- the Crammer-Singer multiclass SVM loss, the
  largest violation instead of the sum,
  :math:`\frac1N \sum_i \max(0, \Delta + \max_{j \ne y_i} s_j - s_{y_i})`; the
  reference is the same expression in torch, differentiated by autograd.
* :func:`check_smoothed_cross_entropy` -- the cross-entropy with label smoothing
  :math:`\varepsilon`, target :math:`(1 - \varepsilon)\,\mathrm{onehot}(y) +
  \varepsilon / C`; the reference is ``F.cross_entropy(X @ W.T, y,
  label_smoothing=epsilon)``.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn.functional as F

from dlcv.exercises._core import Case, CheckResult, run_cases

__all__ = [
    "check_crammer_singer_loss",
    "check_smoothed_cross_entropy",
    "check_squared_hinge_loss",
]

LossAndGrad = Callable[..., tuple[torch.Tensor, torch.Tensor]]


def _with_grad(
    loss_of_scores: Callable[[torch.Tensor], torch.Tensor],
    W: torch.Tensor,
    X: torch.Tensor,
) -> tuple[torch.Tensor, torch.Tensor]:
    """``(loss, dW)`` of ``loss_of_scores(X @ W.T)``, the gradient by autograd."""
    W_ref = W.detach().clone().requires_grad_(True)
    loss = loss_of_scores(X @ W_ref.T)  # (N, D) @ (D, C) -> (N, C) scores
    (dW,) = torch.autograd.grad(loss, W_ref)
    return loss.detach(), dW


def squared_hinge_reference(
    W: torch.Tensor, X: torch.Tensor, y: torch.Tensor, delta: float
) -> tuple[torch.Tensor, torch.Tensor]:
    """Mean squared-hinge SVM loss with margin ``delta`` and its gradient, by PyTorch.

    Args:
        W: the weights, shape (C, D).
        X: the examples, shape (N, D).
        y: their labels in 0..C-1, shape (N,).
        delta: the margin.

    Returns:
        ``(loss, dW)``: the 0-dim mean loss and its gradient, shape (C, D).
    """
    C = W.shape[0]
    return _with_grad(lambda s: C * F.multi_margin_loss(s, y, p=2, margin=delta), W, X)


def crammer_singer_reference(
    W: torch.Tensor, X: torch.Tensor, y: torch.Tensor, delta: float
) -> tuple[torch.Tensor, torch.Tensor]:
    """Mean Crammer-Singer SVM loss with margin ``delta`` and its gradient (autograd).

    Args:
        W: the weights, shape (C, D).
        X: the examples, shape (N, D).
        y: their labels in 0..C-1, shape (N,).
        delta: the margin.

    Returns:
        ``(loss, dW)``: the 0-dim mean loss and its gradient, shape (C, D).
    """

    def loss(s: torch.Tensor) -> torch.Tensor:
        correct = s.gather(1, y[:, None]).squeeze(1)  # (N,)
        others = s.masked_fill(F.one_hot(y, s.shape[1]).bool(), float("-inf"))
        return (delta + others.amax(dim=1) - correct).clamp(min=0).mean()

    return _with_grad(loss, W, X)


def smoothed_cross_entropy_reference(
    W: torch.Tensor, X: torch.Tensor, y: torch.Tensor, epsilon: float
) -> tuple[torch.Tensor, torch.Tensor]:
    """Mean label-smoothed cross-entropy and its gradient, by PyTorch.

    Args:
        W: the weights, shape (C, D).
        X: the examples, shape (N, D).
        y: their labels in 0..C-1, shape (N,).
        epsilon: the label smoothing, in [0, 1].

    Returns:
        ``(loss, dW)``: the 0-dim mean loss and its gradient, shape (C, D).
    """
    return _with_grad(lambda s: F.cross_entropy(s, y, label_smoothing=epsilon), W, X)


def _problem(
    g: torch.Generator,
    n: int,
    d: int,
    c: int,
    *,
    scale: float = 1.0,
    dtype: torch.dtype = torch.float32,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Random ``W`` (c, d), ``X`` (n, d) and labels ``y`` (n,)."""
    W = scale * torch.randn(c, d, generator=g, dtype=dtype)
    X = torch.randn(n, d, generator=g, dtype=dtype)
    y = torch.randint(0, c, (n,), generator=g)
    return W, X, y


def _loss_cases(
    reference: Callable[..., tuple[torch.Tensor, torch.Tensor]],
    name: str,
    values: tuple[float, float, float],
    seed: int,
    *,
    huge: bool = False,
) -> list[Case]:
    """The shared cases: sizes, dtypes, the hyperparameter's values, extreme scores."""
    g = torch.Generator().manual_seed(seed)
    typical, zero, large = values

    def case(description, W, X, y, value, *, rtol=1e-4, atol=1e-5) -> Case:
        args = {"W": W, "X": X, "y": y, name: value}
        expected = reference(W, X, y, value)
        return Case(description, args, expected, rtol=rtol, atol=atol)

    cases = [
        case(f"N=6, D=4, C=3, {name}={typical:g}", *_problem(g, 6, 4, 3), typical),
        case(
            f"float64, N=20, D=7, C=5, {name}={typical:g}",
            *_problem(g, 20, 7, 5, dtype=torch.float64),
            typical,
            rtol=1e-9,
            atol=1e-12,
        ),
        case(f"{name}={zero:g}, N=15, D=5, C=4", *_problem(g, 15, 5, 4), zero),
        case(f"{name}={large:g}, N=15, D=5, C=4", *_problem(g, 15, 5, 4), large),
        case(
            f"one example, N=1, D=3, C=10, {name}={typical:g}",
            *_problem(g, 1, 3, 10),
            typical,
        ),
        case(
            f"two classes, N=12, D=6, C=2, {name}={typical:g}",
            *_problem(g, 12, 6, 2),
            typical,
        ),
    ]
    if huge:  # scores in the thousands: exp overflows unless the maximum is subtracted
        W, X, y = _problem(g, 8, 5, 4, scale=1000.0)
        cases.append(
            case(f"huge scores (|s| ~ 1000), {name}={typical:g}", W, X, y, typical)
        )
    return cases


def check_squared_hinge_loss(fn: LossAndGrad) -> CheckResult:
    r"""Check ``fn(W, X, y, delta) -> (loss, dW)``: squared-hinge SVM loss and gradient.

    The loss is :math:`\frac1N \sum_i \sum_{j \ne y_i} \max(0, s_j - s_{y_i} +
    \Delta)^2` with scores ``s = X @ W.T``: a 0-dim tensor, and ``dW`` its (C, D)
    gradient. The reference is ``C * F.multi_margin_loss(X @ W.T, y, p=2,
    margin=delta)`` differentiated by autograd.

    Cases: random float32 and float64 problems with margin 1, margin 0 (only real
    violations count), margin 5 (every class violates), one example, two classes, and
    the same weights scaled up tenfold so that every margin is met except a few.

    Args:
        fn: the reader's function.

    Returns:
        The verdict, which is also printed.
    """
    cases = _loss_cases(squared_hinge_reference, "delta", (1.0, 0.0, 5.0), seed=3)
    g = torch.Generator().manual_seed(33)
    W, X, y = _problem(g, 30, 8, 4)
    W_big = 10 * W
    cases.append(
        Case(
            "W scaled by 10: most margins met, delta=1",
            {"W": W_big, "X": X, "y": y, "delta": 1.0},
            squared_hinge_reference(W_big, X, y, 1.0),
            rtol=1e-4,
            atol=1e-4,
        )
    )
    return run_cases(
        fn,
        cases,
        exercise="squared_hinge_loss",
        passed="matches C * F.multi_margin_loss(X @ W.T, y, p=2, margin=delta) "
        "and its autograd gradient",
    )


def check_crammer_singer_loss(fn: LossAndGrad) -> CheckResult:
    r"""Check ``fn(W, X, y, delta) -> (loss, dW)``: Crammer-Singer loss and gradient.

    The loss is :math:`\frac1N \sum_i \max(0, \Delta + \max_{j \ne y_i} s_j -
    s_{y_i})` with scores ``s = X @ W.T``: a 0-dim tensor, and ``dW`` its (C, D)
    gradient. The reference computes the same expression in torch and differentiates
    it by autograd (random inputs have no ties, so the gradient is unique).

    Cases: random float32 and float64 problems with margin 1, margin 0, margin 5, one
    example, two classes (where it equals the sum of the multiclass SVM loss), and a
    correct score far above the others (loss and gradient 0).

    Args:
        fn: the reader's function.

    Returns:
        The verdict, which is also printed.
    """
    cases = _loss_cases(crammer_singer_reference, "delta", (1.0, 0.0, 5.0), seed=5)
    g = torch.Generator().manual_seed(55)
    W, X, y = _problem(g, 10, 5, 4)
    X[:, 0] = 1.0  # a bias column: class 0's large bias wins every example
    W[:, 0] = torch.tensor([50.0, 0.0, 0.0, 0.0])
    y = torch.zeros(10, dtype=torch.long)
    cases.append(
        Case(
            "every margin met (loss 0, gradient 0)",
            {"W": W, "X": X, "y": y, "delta": 1.0},
            crammer_singer_reference(W, X, y, 1.0),
        )
    )
    return run_cases(
        fn,
        cases,
        exercise="crammer_singer_loss",
        passed="matches the Crammer-Singer loss and its autograd gradient",
    )


def check_smoothed_cross_entropy(fn: LossAndGrad) -> CheckResult:
    r"""Check ``fn(W, X, y, epsilon) -> (loss, dW)``, label-smoothed cross-entropy.

    The target of example i is :math:`q = (1 - \varepsilon)\,\mathrm{onehot}(y_i) +
    \varepsilon / C` and the loss is :math:`-\frac1N \sum_i \sum_k q_k \log P(Y = k
    \mid x_i)` with the softmax of the scores ``s = X @ W.T``: a 0-dim tensor, and
    ``dW`` its (C, D) gradient. The reference is ``F.cross_entropy(X @ W.T, y,
    label_smoothing=epsilon)`` differentiated by autograd.

    Cases: random float32 and float64 problems with epsilon 0.1, epsilon 0 (the plain
    cross-entropy), epsilon 1 (a uniform target), one example, two classes, and scores
    in the thousands (a softmax that does not subtract the maximum overflows).

    Args:
        fn: the reader's function.

    Returns:
        The verdict, which is also printed.
    """
    cases = _loss_cases(
        smoothed_cross_entropy_reference, "epsilon", (0.1, 0.0, 1.0), seed=7, huge=True
    )
    return run_cases(
        fn,
        cases,
        exercise="smoothed_cross_entropy",
        passed="matches F.cross_entropy(X @ W.T, y, label_smoothing=epsilon) and its "
        "autograd gradient",
    )
