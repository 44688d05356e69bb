r"""Checkers for the coding exercises of the backprop chapter (``book/backprop.md``).

* :func:`check_tanh_layer` -- a tanh layer in the chapter's API,
  ``tanh_forward(x) -> (out, cache)`` and ``tanh_backward(dout, cache) -> dx``, with
  the local gradient :math:`1 - \tanh^2 x`; the reference is PyTorch's autograd of
  ``(torch.tanh(x) * dout).sum()``.
* :func:`check_row_max_layer` -- the maximum of each row, ``(N, D) -> (N,)``, and its
  backward, a gradient router that splits the gradient evenly between tied maxima;
  the reference is autograd of ``(x.amax(dim=1) * dout).sum()``.
* :func:`check_batched_matmul_backward` -- ``(dx, dweight)`` of ``y = x @ weight`` for
  a batch of matrices ``x`` (B, N, D) sharing one ``weight`` (D, M), and for x (N, D);
  the reference is autograd of ``(x @ weight * dout).sum()``.

Each layer checker calls the reader's forward function, then the backward function on
the forward's cache, and compares both results (``{"out": ..., "dx": ...}``) with
autograd's.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch

from dlcv.exercises._core import Case, CheckResult, _unchanged, describe, run_cases

__all__ = ["check_batched_matmul_backward", "check_row_max_layer", "check_tanh_layer"]

Forward = Callable[[torch.Tensor], Any]
Backward = Callable[[torch.Tensor, Any], Any]


def _reference(
    fn: Callable[[torch.Tensor], torch.Tensor], x: torch.Tensor, dout: torch.Tensor
) -> dict[str, torch.Tensor]:
    """``{"out": fn(x), "dx": dL/dx}`` for ``L = (fn(x) * dout).sum()``, by autograd."""
    leaf = x.detach().clone().requires_grad_()
    out = fn(leaf)
    (out * dout).sum().backward()
    return {"out": out.detach(), "dx": leaf.grad}


def _layer(
    forward: Forward,
    backward: Backward,
    name: str,
    reference: Callable[[torch.Tensor], torch.Tensor],
) -> Callable[..., Any]:
    """One function ``(x, dout) -> {"out", "dx"}`` that runs the reader's pair.

    ``reference`` gives the shape that ``out`` must have before the backward runs, so
    that a wrong forward is named as such rather than by the error it causes in the
    backward.

    Args:
        forward: the reader's forward function, ``x -> (out, cache)``.
        backward: the reader's backward function, ``(dout, cache) -> dx``.
        name: the layer's name, as in ``{name}_forward``, used in error messages.
        reference: the layer's forward computed by torch.

    Raises:
        TypeError: if ``forward`` or ``backward`` is not callable.
    """
    if not callable(forward) or not callable(backward):
        raise TypeError(
            f"pass your two functions, {name}_forward and then {name}_backward; got "
            f"{describe(forward)} and {describe(backward)}"
        )

    def run(x: torch.Tensor, dout: torch.Tensor) -> Any:
        result = forward(x)
        if result is NotImplemented:
            return NotImplemented
        if not isinstance(result, tuple) or len(result) != 2:
            raise TypeError(
                f"{name}_forward should return a pair (out, cache), got "
                f"{describe(result)}"
            )
        out, cache = result
        if not isinstance(out, torch.Tensor):
            raise TypeError(
                f"{name}_forward should return out as a torch.Tensor, got "
                f"{describe(out)}"
            )
        shape = tuple(reference(x).shape)
        if tuple(out.shape) != shape:
            raise ValueError(
                f"{name}_forward should return out of shape {shape}, got "
                f"{tuple(out.shape)}"
            )
        out_before = out.detach().clone()
        dx = backward(dout, cache)
        if dx is NotImplemented:
            return NotImplemented
        if dx is None:
            raise TypeError(f"{name}_backward returned None: is a `return` missing?")
        if not _unchanged(out_before, out):
            raise ValueError(
                f"{name}_backward changed the forward's output in place (through the "
                "cache); compute a new tensor instead"
            )
        return {"out": out, "dx": dx}

    return run


def check_tanh_layer(tanh_forward: Forward, tanh_backward: Backward) -> CheckResult:
    """Check ``tanh_forward(x) -> (out, cache)``, ``tanh_backward(dout, cache) -> dx``.

    ``out`` must equal ``torch.tanh(x)`` and ``dx`` the gradient that autograd finds
    for ``(torch.tanh(x) * dout).sum()``, both with x's shape and dtype. Cases: random
    float64 and float32 matrices, a vector, a 3-D tensor, x = 0 (dx = dout), an upstream
    gradient of ones (dx is the local gradient itself), and large inputs, 20 to 100 in
    absolute value, where tanh saturates (out = ±1, dx = 0, no overflow).

    Args:
        tanh_forward: the reader's forward function.
        tanh_backward: the reader's backward function.

    Returns:
        The verdict, which is also printed.
    """
    g = torch.Generator().manual_seed(498)

    def case(description: str, x: torch.Tensor, dout: torch.Tensor | None = None):
        if dout is None:
            dout = torch.randn(x.shape, generator=g, dtype=x.dtype)
        loose = x.dtype == torch.float32  # float32 rounding: 1 - y^2 vs sech^2
        return Case(
            description,
            {"x": x, "dout": dout},
            _reference(torch.tanh, x, dout),
            rtol=1e-4 if loose else 1e-7,
            atol=1e-6 if loose else 1e-10,
        )

    f64 = torch.float64
    cases = [
        case("random float64 matrix (4, 5)", torch.randn(4, 5, generator=g, dtype=f64)),
        case("random float32 matrix (3, 7)", 2 * torch.randn(3, 7, generator=g)),
        case("a vector (6,)", torch.randn(6, generator=g, dtype=f64)),
        case("a 3-D tensor (2, 3, 4)", torch.randn(2, 3, 4, generator=g)),
        case("x = 0: tanh'(0) = 1, so dx = dout", torch.zeros(5, dtype=f64)),
        case(
            "dout = 1: dx is the local gradient itself",
            torch.linspace(-3, 3, 7, dtype=f64),
            torch.ones(7, dtype=f64),
        ),
        case(
            "large |x|: tanh saturates (out = ±1, dx = 0), no overflow",
            torch.tensor([-100.0, -50.0, -20.0, 20.0, 50.0, 100.0]),
        ),
    ]
    return run_cases(
        _layer(tanh_forward, tanh_backward, "tanh", torch.tanh),
        cases,
        exercise="tanh_layer",
        passed="computes torch.tanh and the gradient autograd finds, in every "
        "shape and dtype",
    )


def check_row_max_layer(max_forward: Forward, max_backward: Backward) -> CheckResult:
    """Check ``max_forward(x) -> (out, cache)`` and ``max_backward(dout, cache) -> dx``.

    For x of shape (N, D), ``out`` (N,) must be the maximum of each row, like
    ``x.amax(dim=1)``, and ``dx`` (N, D) the gradient autograd finds for
    ``(x.amax(dim=1) * dout).sum()``: each row's dout goes to the row's maximum, split
    evenly when several entries tie for it. Cases: random float64 and float32 rows, a
    tie between two entries, a row of equal entries, negative rows, one column (D = 1)
    and one long row (N = 1).

    Args:
        max_forward: the reader's forward function.
        max_backward: the reader's backward function.

    Returns:
        The verdict, which is also printed.
    """
    g = torch.Generator().manual_seed(6)

    def row_max(x: torch.Tensor) -> torch.Tensor:
        return x.amax(dim=1)

    def case(description: str, x: torch.Tensor) -> Case:
        dout = torch.randn(x.shape[0], generator=g, dtype=x.dtype)
        return Case(description, {"x": x, "dout": dout}, _reference(row_max, x, dout))

    f64 = torch.float64
    ties = torch.tensor(
        [[1.0, 3.0, 3.0, 0.0], [2.0, 2.0, 2.0, 2.0], [5.0, -1.0, 4.0, 4.0]], dtype=f64
    )
    cases = [
        case(
            "random float64 rows, N=4, D=6", torch.randn(4, 6, generator=g, dtype=f64)
        ),
        case("random float32 rows, N=5, D=3", torch.randn(5, 3, generator=g)),
        case(
            "ties: two maxima, four equal entries, a tie below the maximum",
            ties,
        ),
        case(
            "all entries negative",
            -1 - torch.rand(3, 5, generator=g, dtype=f64),
        ),
        case("one column, D=1: dx = dout", torch.randn(4, 1, generator=g, dtype=f64)),
        case("one long row, N=1, D=50", torch.randn(1, 50, generator=g)),
    ]
    return run_cases(
        _layer(max_forward, max_backward, "max", row_max),
        cases,
        exercise="row_max_layer",
        passed="finds each row's maximum and routes the gradient to it, "
        "splitting it evenly between ties like autograd of x.amax(dim=1)",
    )


def _matmul_grads(
    dout: torch.Tensor, x: torch.Tensor, weight: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    """``(dx, dweight)`` of ``(x @ weight * dout).sum()`` by autograd."""
    x_, w_ = (t.detach().clone().requires_grad_() for t in (x, weight))
    ((x_ @ w_) * dout).sum().backward()
    return x_.grad, w_.grad


def check_batched_matmul_backward(
    fn: Callable[[torch.Tensor, torch.Tensor, torch.Tensor], Any],
) -> CheckResult:
    """Check ``fn(dout, x, weight) -> (dx, dweight)``, the backward of ``x @ weight``.

    x is (N, D) or a batch (B, N, D), weight (D, M) is shared by the whole batch, and
    dout = dL/dy has the shape of ``y = x @ weight``. The result must equal the
    gradients autograd finds for ``(x @ weight * dout).sum()``: dx with x's shape,
    dweight with weight's. Cases: a matrix x (N, D) in float64, batches of B = 2 and 3
    (float64 and float32), a batch of one, one row per matrix (N = 1) and one output
    column (M = 1).

    Args:
        fn: the reader's function.

    Returns:
        The verdict, which is also printed.
    """
    g = torch.Generator().manual_seed(2)

    def case(description: str, x_shape, m: int, dtype=torch.float64) -> Case:
        x = torch.randn(x_shape, generator=g, dtype=dtype)
        weight = torch.randn(x_shape[-1], m, generator=g, dtype=dtype)
        dout = torch.randn((*x_shape[:-1], m), generator=g, dtype=dtype)
        loose = dtype == torch.float32  # float32 sums in a different order
        return Case(
            description,
            {"dout": dout, "x": x, "weight": weight},
            _matmul_grads(dout, x, weight),
            rtol=1e-4 if loose else 1e-7,
            atol=1e-5 if loose else 1e-10,
        )

    cases = [
        case("a matrix x (4, 3), weight (3, 5)", (4, 3), 5),
        case("a batch x (2, 3, 4), weight (4, 5)", (2, 3, 4), 5),
        case("a float32 batch x (3, 5, 6), weight (6, 2)", (3, 5, 6), 2, torch.float32),
        case("a batch of one, x (1, 4, 3)", (1, 4, 3), 2),
        case("one row per matrix, x (3, 1, 4)", (3, 1, 4), 3),
        case("one output column, weight (5, 1)", (2, 6, 5), 1),
    ]
    return run_cases(
        fn,
        cases,
        exercise="batched_matmul_backward",
        passed="returns the gradients autograd finds for x @ weight, summing "
        "dweight over the batch",
    )
