"""Checkers for the coding exercises of the hardware and software chapter.

The chapter is ``book/hardware_software.md``.

* :func:`check_arithmetic_intensity` -- FLOPs per byte of an (m, k) @ (k, n) matrix
  product that reads both factors and writes the result once; the reference is
  :func:`dlcv.systems.arithmetic_intensity`, itself tested against hand counts.
* :func:`check_softplus_function` -- softplus, log(1 + exp(x)), as a
  ``torch.autograd.Function`` with a hand-written backward; the references are
  ``F.softplus`` and autograd's gradient of it, plus ``torch.autograd.gradcheck``, and
  the result must come from a custom Function node (not from autograd of other ops).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
import torch.nn.functional as F

from dlcv import systems
from dlcv.exercises._core import Case, CheckResult, compare_gradients, run_cases

__all__ = ["check_arithmetic_intensity", "check_softplus_function"]


def check_arithmetic_intensity(
    fn: Callable[..., float], *, verbose: bool = True
) -> CheckResult:
    """Check ``fn(m, k, n, bytes_per_element) -> float``, FLOPs per byte.

    Cases: a square float32 product (n / 6), the same in bfloat16 (2 bytes), a
    matrix-vector product, a batch-1 fully connected layer, a tall-and-thin product
    and a 1 x 1 x 1 product.

    Args:
        fn: the reader's function.
        verbose: print the verdict.

    Returns:
        The verdict, which is also printed.
    """

    def case(description: str, m: int, k: int, n: int, b: int) -> Case:
        args = {"m": m, "k": k, "n": n, "bytes_per_element": b}
        return Case(description, args, systems.arithmetic_intensity(m, k, n, b))

    cases = [
        case("a square float32 product, n = 1024", 1024, 1024, 1024, 4),
        case("the same product in bfloat16", 1024, 1024, 1024, 2),
        case("a matrix-vector product", 2048, 2048, 1, 4),
        case("a batch-1 fully connected layer", 1, 4096, 4096, 4),
        case("a tall-and-thin product", 10_000, 64, 32, 4),
        case("one number times one number", 1, 1, 1, 8),
    ]
    return run_cases(
        fn,
        cases,
        exercise="arithmetic_intensity",
        passed="computes 2mkn / ((mk + kn + mn) b)",
        verbose=verbose,
    )


def _softplus_extra(fn: Callable[..., Any]) -> Callable[[Any, Case], str | None]:
    """Gradient, gradcheck and custom-node checks for one case."""

    def check(result: Any, case: Case) -> str | None:
        if not isinstance(result.grad_fn, torch.autograd.function.BackwardCFunction):
            node = type(result.grad_fn).__name__ if result.grad_fn else "None"
            return (
                f"the result's grad_fn is {node}: apply your autograd.Function "
                "(SoftplusFunction.apply) instead of building softplus from torch ops"
            )
        x = case.args["x"].detach().clone().requires_grad_(True)
        weights = torch.linspace(-1, 2, x.numel(), dtype=x.dtype).reshape(x.shape)
        actual = torch.autograd.grad((fn(x) * weights).sum(), x, allow_unused=True)
        ref = x.detach().clone().requires_grad_(True)
        expected = torch.autograd.grad((F.softplus(ref) * weights).sum(), ref)
        problem = compare_gradients(["x"], expected, actual, case)
        if problem or x.dtype != torch.float64:
            return problem
        try:
            torch.autograd.gradcheck(fn, (x,))
        except Exception as err:  # gradcheck explains the mismatch
            return f"gradcheck failed: {str(err).splitlines()[0]}"
        return None

    return check


def check_softplus_function(
    fn: Callable[[torch.Tensor], torch.Tensor], *, verbose: bool = True
) -> CheckResult:
    """Check ``fn(x)``: softplus through a custom ``torch.autograd.Function``.

    The value must equal ``F.softplus(x)`` (no overflow for large x), the gradient
    autograd's gradient of ``F.softplus``, gradcheck must pass in float64, and the
    result's ``grad_fn`` must be a custom Function's node. Cases: random float64
    values, large positive and negative values (naive ``log(1 + exp(x))`` overflows
    to inf at 800), zero, and a float32 batch.

    Args:
        fn: the reader's function.
        verbose: print the verdict.

    Returns:
        The verdict, which is also printed.
    """
    g = torch.Generator().manual_seed(9)

    def case(description: str, x: torch.Tensor) -> Case:
        x = x.requires_grad_(True)
        expected = F.softplus(x.detach())
        tol = {"rtol": 1e-5, "atol": 1e-6} if x.dtype == torch.float32 else {}
        return Case(description, {"x": x}, expected, **tol)

    cases = [
        case("random float64 values", torch.randn(3, 4, generator=g).double()),
        case(
            "large |x|: log(1 + exp(x)) must not overflow",
            torch.tensor([-800.0, -50.0, 30.0, 50.0, 800.0], dtype=torch.float64),
        ),
        case("zero", torch.zeros(2, dtype=torch.float64)),
        case("a float32 batch", 3 * torch.randn(8, 5, generator=g)),
    ]
    return run_cases(
        fn,
        cases,
        exercise="softplus_function",
        passed="matches F.softplus, its gradient and gradcheck",
        check=_softplus_extra(fn),
        verbose=verbose,
    )
