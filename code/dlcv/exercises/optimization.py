r"""Checkers for the optimization chapter's coding exercises (``book/optimization.md``).

* :func:`check_nesterov_step` -- one step of Nesterov momentum in the lecture's
  variables, :math:`v_{t+1} = \rho v_t - \alpha \nabla f(x_t + \rho v_t)` and
  :math:`x_{t+1} = x_t + v_{t+1}`. The checker runs it for T steps on quadratics and
  compares :math:`x_t, v_t` with ``torch.optim.SGD(momentum=rho, nesterov=True)`` after
  the change of variables: torch's parameter is :math:`\tilde x_t = x_t + \rho v_t`
  and its ``momentum_buffer`` is :math:`-v_t / \alpha`.
* :func:`check_adamw_step` -- one step of AdamW (Loshchilov and Hutter, 2019):
  decoupled weight decay :math:`x \leftarrow (1 - \alpha\lambda) x`, then Adam's
  bias-corrected step. The reference is ``torch.optim.AdamW``, trajectory and moments
  after every step.
* :func:`check_cosine_schedule` -- the cosine learning-rate schedule
  :math:`\alpha_t = \alpha_{min} + \tfrac12(\alpha_0 - \alpha_{min})(1 + \cos(\pi t/T))`
  for :math:`t = 0, \dots, T`; the reference is
  ``torch.optim.lr_scheduler.CosineAnnealingLR``.

The step functions are pure: they take tensors and give back new ones. The checkers
pass them copies, so a function that changes its inputs in place does no harm here.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import torch

from dlcv.exercises._core import Case, CheckResult, describe, run_cases

__all__ = ["check_adamw_step", "check_cosine_schedule", "check_nesterov_step"]


# ----------------------------------------------------------------------------------
# Quadratic test problems f(x) = x^T A x / 2 - b^T x, gradient A x - b.
# ----------------------------------------------------------------------------------


def _rotated_valley(dtype: torch.dtype = torch.float64) -> torch.Tensor:
    """The chapter's valley diag(1, 25), turned by 30 degrees: A = R diag(1, 25) R^T."""
    c, s = math.cos(math.pi / 6), math.sin(math.pi / 6)
    rotation = torch.tensor([[c, -s], [s, c]], dtype=torch.float64)
    curvature = torch.diag(torch.tensor([1.0, 25.0], dtype=torch.float64))
    return (rotation @ curvature @ rotation.T).to(dtype)  # (2, 2)


def _random_spd(
    dim: int, generator: torch.Generator, dtype: torch.dtype
) -> torch.Tensor:
    """A random symmetric positive definite (dim, dim) matrix, eigenvalues in [0.5, 5].

    Args:
        dim: the number of rows and columns.
        generator: the RNG that draws the eigenvectors and eigenvalues.
        dtype: the dtype of the result (it is computed in float64).
    """
    q, _ = torch.linalg.qr(
        torch.randn(dim, dim, generator=generator, dtype=torch.float64)
    )
    eigenvalues = 0.5 + 4.5 * torch.rand(dim, generator=generator, dtype=torch.float64)
    return (q @ torch.diag(eigenvalues) @ q.T).to(dtype)  # (dim, dim)


def _gradient(
    a: torch.Tensor, b: torch.Tensor
) -> Callable[[torch.Tensor], torch.Tensor]:
    """The gradient A p - b of f(p) = p^T A p / 2 - b^T p at points p of shape (D,)."""
    return lambda p: a @ p - b


def _pair(out: Any, names: tuple[str, ...], like: torch.Tensor, exercise: str) -> tuple:
    """The reader's result as a tuple of tensors shaped like ``like``.

    Raises:
        TypeError: naming ``exercise``, if ``out`` is not a tuple or list of
            ``len(names)`` tensors of that shape.
    """
    wanted = f"a tuple ({', '.join(names)}) of {len(names)} tensors of shape "
    wanted += f"{tuple(like.shape)}"
    if not isinstance(out, (tuple, list)) or len(out) != len(names):
        raise TypeError(f"{exercise} should give {wanted}, got {describe(out)}")
    for name, value in zip(names, out, strict=True):
        if not isinstance(value, torch.Tensor) or value.shape != like.shape:
            raise TypeError(
                f"{exercise} should give {wanted}; its {name} is {describe(value)}"
            )
    return tuple(value.detach().clone() for value in out)


# ----------------------------------------------------------------------------------
# Nesterov momentum in the lecture's variables.
# ----------------------------------------------------------------------------------


def _torch_nesterov(
    x0: torch.Tensor,
    a: torch.Tensor,
    b: torch.Tensor,
    steps: int,
    lr: float,
    rho: float,
) -> dict[str, torch.Tensor]:
    """x_t and v_t, t = 0..steps, of torch's Nesterov SGD in the lecture's variables."""
    grad_f = _gradient(a, b)
    p = x0.clone().requires_grad_(True)  # torch's parameter: x~_t = x_t + rho v_t
    opt = torch.optim.SGD([p], lr=lr, momentum=rho, nesterov=True)
    xs, vs = [x0.clone()], [torch.zeros_like(x0)]  # v_0 = 0, so x~_0 = x_0
    for _ in range(steps):
        p.grad = grad_f(p.detach())
        opt.step()
        v = -lr * opt.state[p]["momentum_buffer"]  # buffer b_t = -v_t / alpha
        xs.append(p.detach() - rho * v)  # x_t = x~_t - rho v_t
        vs.append(v.clone())
    return {"x": torch.stack(xs), "v": torch.stack(vs)}  # (steps + 1, D) each


def check_nesterov_step(fn: Callable[..., Any]) -> CheckResult:
    r"""Check ``fn(x, v, grad_f, *, lr, rho) -> (x_next, v_next)``: lecture's Nesterov.

    ``x`` and ``v`` are (D,) tensors, :math:`x_t` and :math:`v_t`; ``grad_f(point)``
    gives :math:`\nabla f` at a (D,) point. The checker starts from :math:`v_0 = 0`,
    calls ``fn`` T times on :math:`f(x) = \frac12 x^\top A x - b^\top x`, and compares
    the stacked :math:`x_t` and :math:`v_t`, t = 0..T (result["x"][t] is :math:`x_t`),
    with ``torch.optim.SGD(momentum=rho, nesterov=True)`` after the change of variables
    :math:`x_t = \tilde x_t - \rho v_t`, :math:`v_t = -\alpha\, b_t`, where
    :math:`\tilde x_t` is torch's parameter and :math:`b_t` its ``momentum_buffer``.

    Cases: one step from rest; the chapter's valley diag(1, 25) from (-9, 1.5), 40
    steps; the valley turned by 30 degrees with its minimum away from 0; rho = 0.5 and
    0.99; a random 5-dimensional quadratic in float32.

    Args:
        fn: the reader's function.

    Returns:
        The verdict, which is also printed.
    """
    g = torch.Generator().manual_seed(1983)
    f64 = torch.float64
    valley = torch.diag(torch.tensor([1.0, 25.0], dtype=f64))
    start = torch.tensor([-9.0, 1.5], dtype=f64)
    a5 = _random_spd(5, g, torch.float32)
    b5 = torch.randn(5, generator=g)
    x5 = torch.randn(5, generator=g)

    def case(description, x0, a, b, steps, lr, rho, tol=(1e-7, 1e-9)) -> Case:
        args = {"x0": x0, "A": a, "b": b, "steps": steps, "lr": lr, "rho": rho}
        expected = _torch_nesterov(x0, a, b, steps, lr, rho)
        return Case(description, args, expected, rtol=tol[0], atol=tol[1])

    cases = [
        case(
            "one step from rest, v_0 = 0",
            start,
            valley,
            torch.zeros(2, dtype=f64),
            1,
            0.0125,
            0.9,
        ),
        case(
            "the chapter's valley diag(1, 25), 40 steps",
            start,
            valley,
            torch.zeros(2, dtype=f64),
            40,
            0.0125,
            0.9,
        ),
        case(
            "the valley turned by 30 degrees, minimum away from 0, 30 steps",
            torch.tensor([2.0, -3.0], dtype=f64),
            _rotated_valley(),
            torch.tensor([1.0, 2.0], dtype=f64),
            30,
            0.02,
            0.9,
        ),
        case(
            "rho = 0.5, minimum away from 0, 20 steps",
            start,
            valley,
            torch.tensor([0.5, -1.0], dtype=f64),
            20,
            0.03,
            0.5,
        ),
        case(
            "rho = 0.99, 60 steps",
            start,
            valley,
            torch.zeros(2, dtype=f64),
            60,
            0.002,
            0.99,
        ),
        case(
            "random 5-D quadratic in float32, 25 steps",
            x5,
            a5,
            b5,
            25,
            0.05,
            0.8,
            tol=(1e-4, 1e-5),
        ),
    ]

    def run(x0, A, b, steps, lr, rho):
        grad_f = _gradient(A, b)
        x, v = x0.clone(), torch.zeros_like(x0)
        xs, vs = [x], [v]
        for _ in range(steps):
            out = fn(x.clone(), v.clone(), grad_f, lr=lr, rho=rho)
            if out is None:
                return None
            x, v = _pair(out, ("x_next", "v_next"), x0, "nesterov_step")
            xs.append(x)
            vs.append(v)
        return {"x": torch.stack(xs), "v": torch.stack(vs)}

    return run_cases(
        run,
        cases,
        exercise="nesterov_step",
        passed="follows torch.optim.SGD(momentum=rho, nesterov=True) step for step, "
        "with x_t = (torch's parameter) - rho v_t "
        "and v_t = -lr * (its momentum_buffer)",
    )


# ----------------------------------------------------------------------------------
# AdamW: decoupled weight decay.
# ----------------------------------------------------------------------------------


def _torch_adamw(
    x0: torch.Tensor,
    a: torch.Tensor,
    b: torch.Tensor,
    steps: int,
    hyper: dict[str, float],
) -> dict[str, torch.Tensor]:
    """x_t, m_t, v_t for t = 0..steps from torch.optim.AdamW on the quadratic (A, b)."""
    grad_f = _gradient(a, b)
    p = x0.clone().requires_grad_(True)
    opt = torch.optim.AdamW(
        [p],
        lr=hyper["lr"],
        betas=(hyper["beta1"], hyper["beta2"]),
        eps=hyper["eps"],
        weight_decay=hyper["weight_decay"],
    )
    xs, ms, vs = [x0.clone()], [torch.zeros_like(x0)], [torch.zeros_like(x0)]
    for _ in range(steps):
        p.grad = grad_f(p.detach())
        opt.step()
        xs.append(p.detach().clone())
        ms.append(opt.state[p]["exp_avg"].clone())
        vs.append(opt.state[p]["exp_avg_sq"].clone())
    return {"x": torch.stack(xs), "m": torch.stack(ms), "v": torch.stack(vs)}


def check_adamw_step(fn: Callable[..., Any]) -> CheckResult:
    r"""Check ``fn(x, grad, m, v, t, *, lr, beta1, beta2, eps, weight_decay)``: AdamW.

    ``fn`` takes (D,) tensors :math:`x_{t-1}`, :math:`g_t = \nabla f(x_{t-1})`,
    :math:`m_{t-1}`, :math:`v_{t-1}` and the step number t (1, 2, ...), and gives back
    ``(x_next, m_next, v_next)``. The checker runs it T times from
    :math:`m_0 = v_0 = 0` on :math:`f(x) = \frac12 x^\top A x - b^\top x` and compares
    the stacked :math:`x_t, m_t, v_t`, t = 0..T (result["x"][t] is the point after t
    steps), with ``torch.optim.AdamW``'s parameter and its ``exp_avg`` and
    ``exp_avg_sq``.

    Cases: one step; the chapter's valley with weight decay 0.1, 30 steps; no weight
    decay (plain Adam); a large decay of 0.5; the valley turned by 30 degrees with other
    betas; a random 5-dimensional quadratic in float32.

    Args:
        fn: the reader's function.

    Returns:
        The verdict, which is also printed.
    """
    g = torch.Generator().manual_seed(2019)
    f64 = torch.float64
    valley = torch.diag(torch.tensor([1.0, 25.0], dtype=f64))
    start = torch.tensor([-9.0, 1.5], dtype=f64)
    zero = torch.zeros(2, dtype=f64)
    a5 = _random_spd(5, g, torch.float32)
    b5 = torch.randn(5, generator=g)
    x5 = torch.randn(5, generator=g)

    def case(description, x0, a, b, steps, tol=(1e-7, 1e-9), **hyper) -> Case:
        hyper = {
            "lr": 0.1,
            "beta1": 0.9,
            "beta2": 0.999,
            "eps": 1e-8,
            "weight_decay": 0.1,
            **hyper,
        }
        args = {"x0": x0, "A": a, "b": b, "steps": steps}
        expected = _torch_adamw(x0, a, b, steps, hyper)
        return Case(description, args, expected, kwargs=hyper, rtol=tol[0], atol=tol[1])

    cases = [
        case("one step, t = 1", start, valley, zero, 1),
        case(
            "the chapter's valley, weight_decay = 0.1, 30 steps",
            start,
            valley,
            zero,
            30,
        ),
        case(
            "weight_decay = 0: plain Adam, 30 steps",
            start,
            valley,
            zero,
            30,
            weight_decay=0.0,
        ),
        case(
            "a large weight_decay = 0.5, minimum away from 0, 40 steps",
            start,
            valley,
            torch.tensor([2.0, 5.0], dtype=f64),
            40,
            weight_decay=0.5,
            lr=0.05,
        ),
        case(
            "the valley turned by 30 degrees, betas (0.8, 0.99), 25 steps",
            torch.tensor([2.0, -3.0], dtype=f64),
            _rotated_valley(),
            torch.tensor([1.0, 2.0], dtype=f64),
            25,
            beta1=0.8,
            beta2=0.99,
            eps=1e-6,
        ),
        case(
            "random 5-D quadratic in float32, 20 steps",
            x5,
            a5,
            b5,
            20,
            tol=(1e-4, 1e-6),
            lr=0.01,
            weight_decay=0.01,
        ),
    ]

    def run(x0, A, b, steps, **hyper):
        grad_f = _gradient(A, b)
        x, m, v = x0.clone(), torch.zeros_like(x0), torch.zeros_like(x0)
        xs, ms, vs = [x], [m], [v]
        for t in range(1, steps + 1):
            out = fn(x.clone(), grad_f(x), m.clone(), v.clone(), t, **hyper)
            if out is None:
                return None
            x, m, v = _pair(out, ("x_next", "m_next", "v_next"), x0, "adamw_step")
            xs.append(x)
            ms.append(m)
            vs.append(v)
        return {"x": torch.stack(xs), "m": torch.stack(ms), "v": torch.stack(vs)}

    return run_cases(
        run,
        cases,
        exercise="adamw_step",
        passed="follows torch.optim.AdamW step for step: the point and both moments",
    )


# ----------------------------------------------------------------------------------
# The cosine learning-rate schedule.
# ----------------------------------------------------------------------------------


def _torch_cosine(lr0: float, total: int, lr_min: float) -> torch.Tensor:
    """(total + 1,) float64 learning rates of CosineAnnealingLR, t = 0..total."""
    p = torch.zeros(1, requires_grad=True)
    opt = torch.optim.SGD([p], lr=lr0)
    scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(
        opt, T_max=total, eta_min=lr_min
    )
    rates = [scheduler.get_last_lr()[0]]
    for _ in range(total):
        opt.step()
        scheduler.step()
        rates.append(scheduler.get_last_lr()[0])
    return torch.tensor(rates, dtype=torch.float64)


def check_cosine_schedule(fn: Callable[..., Any]) -> CheckResult:
    r"""Check ``fn(lr0, T, lr_min) -> (T + 1,)`` learning rates of the cosine schedule.

    The result holds :math:`\alpha_t = \alpha_{min} + \frac12 (\alpha_0 - \alpha_{min})
    (1 + \cos(\pi t / T))` for t = 0, 1, ..., T, as a tensor (any float dtype). The
    reference is
    ``torch.optim.lr_scheduler.CosineAnnealingLR(T_max=T, eta_min=lr_min)``, read after
    every step.

    Cases: T = 10 with lr_min = 0; T = 100 with lr_min = 1e-3; T = 1 (two values);
    T = 7 (odd, no exact midpoint); lr_min equal to lr0 (a constant rate).

    Args:
        fn: the reader's function.

    Returns:
        The verdict, which is also printed.
    """

    def case(description: str, lr0: float, total: int, lr_min: float) -> Case:
        args = {"lr0": lr0, "T": total, "lr_min": lr_min}
        return Case(
            description,
            args,
            _torch_cosine(lr0, total, lr_min),
            rtol=1e-6,
            atol=1e-10,
            check_dtype=False,
        )

    cases = [
        case("T = 10, lr0 = 0.1, lr_min = 0", 0.1, 10, 0.0),
        case("T = 100, lr0 = 0.5, lr_min = 1e-3", 0.5, 100, 1e-3),
        case("T = 1: only the start and the end", 0.1, 1, 0.0),
        case("T = 7: an odd number of steps", 1.0, 7, 0.01),
        case("lr_min = lr0: a constant rate", 0.05, 5, 0.05),
    ]
    return run_cases(
        fn,
        cases,
        exercise="cosine_schedule",
        passed="gives the learning rates of "
        "torch.optim.lr_scheduler.CosineAnnealingLR at t = 0, ..., T",
    )
