r"""Checkers for the coding exercises of the neural networks chapter.

The chapter is ``book/neural_networks.md``.

* :func:`check_count_parameters` -- the number of weights and biases of a
  fully-connected network with layer widths ``[D_0, ..., D_L]``; the reference is
  ``sum(p.numel() for p in nn.Sequential(...).parameters())``.
* :func:`check_gelu_mlp` -- a two-layer network with the GELU activation
  :math:`z \Phi(z) = \tfrac{z}{2}(1 + \operatorname{erf}(z / \sqrt 2))`, from its
  weights; the reference is its twin ``nn.Sequential(nn.Linear, nn.GELU(), nn.Linear)``
  with the same weights copied in by ``load_state_dict``; outputs and gradients are
  compared.
* :func:`check_regularized_loss` -- the loss of Eq. (7): mean cross-entropy plus
  :math:`\lambda` times the sum of the squared entries of every weight matrix, biases
  left out; the reference is ``F.cross_entropy`` plus the squared weights of the
  model's ``nn.Linear`` layers.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from dlcv.exercises._core import (
    Case,
    CheckResult,
    compare_gradients,
    run_cases,
)

__all__ = ["check_count_parameters", "check_gelu_mlp", "check_regularized_loss"]


def sequential_mlp(
    sizes: Sequence[int],
    *,
    activation: Callable[[], nn.Module] = nn.ReLU,
    bias: bool = True,
    dtype: torch.dtype | None = None,
) -> nn.Sequential:
    """``nn.Sequential(Linear, activation, ..., Linear)`` with the widths ``sizes``.

    Args:
        sizes: the layer widths ``[D_0, D_1, ..., D_L]``.
        activation: makes the module put between two linear layers.
        bias: whether the linear layers have biases.
        dtype: the parameters' dtype; torch's default if ``None``.
    """
    layers: list[nn.Module] = []
    for i in range(len(sizes) - 1):
        layers.append(nn.Linear(sizes[i], sizes[i + 1], bias=bias, dtype=dtype))
        if i < len(sizes) - 2:
            layers.append(activation())
    return nn.Sequential(*layers)


def check_count_parameters(fn: Callable[..., int]) -> CheckResult:
    """Check ``fn(sizes, bias=True) -> int``, the parameter count of a dense network.

    ``sizes`` lists the layer widths ``[D_0, D_1, ..., D_L]``; the reference counts the
    parameters of the matching ``nn.Sequential`` of ``nn.Linear`` layers. Cases: the
    chapter's ``[784, 100, 10]``, a linear classifier ``[784, 10]``, a deep narrow
    network, a network with one output, and ``bias=False``.

    Args:
        fn: the reader's function.

    Returns:
        The verdict, which is also printed.
    """

    def case(description: str, sizes: list[int], bias: bool = True) -> Case:
        net = sequential_mlp(sizes, bias=bias)
        count = sum(p.numel() for p in net.parameters())
        return Case(description, {"sizes": sizes}, count, kwargs={"bias": bias})

    cases = [
        case("two layers, [784, 100, 10]", [784, 100, 10]),
        case("a linear classifier, [784, 10]", [784, 10]),
        case("five layers, [3, 5, 5, 5, 5, 2]", [3, 5, 5, 5, 5, 2]),
        case("one output, [2, 64, 64, 1]", [2, 64, 64, 1]),
        case("no biases, [784, 100, 10] with bias=False", [784, 100, 10], bias=False),
        case("no biases, [2, 3, 4, 5] with bias=False", [2, 3, 4, 5], bias=False),
    ]

    def is_int(result: Any, case: Case) -> str | None:
        if isinstance(result, bool) or not isinstance(result, int):
            return f"the result should be an int, got {type(result).__name__}"
        return None

    return run_cases(
        fn,
        cases,
        exercise="count_parameters",
        passed="counts the weights and biases of every nn.Linear layer",
        check=is_int,
    )


def gelu_twin(
    w1: torch.Tensor, b1: torch.Tensor, w2: torch.Tensor, b2: torch.Tensor
) -> nn.Sequential:
    """The ``nn.Sequential`` two-layer GELU network holding copies of these weights.

    Args:
        w1: the first layer's weights, shape (H, D).
        b1: its biases, shape (H,).
        w2: the second layer's weights, shape (C, H).
        b2: its biases, shape (C,).
    """
    H, D = w1.shape  # (H, D)
    C = w2.shape[0]  # (C, H)
    twin = sequential_mlp([D, H, C], activation=nn.GELU, dtype=w1.dtype)
    state = {"0.weight": w1, "0.bias": b1, "2.weight": w2, "2.bias": b2}
    twin.load_state_dict({k: v.detach() for k, v in state.items()})
    return twin


def check_gelu_mlp(fn: Callable[..., torch.Tensor]) -> CheckResult:
    """Check ``fn(x, w1, b1, w2, b2) -> (N, C)`` scores of a two-layer GELU network.

    ``x`` is (N, D), ``w1`` (H, D), ``b1`` (H,), ``w2`` (C, H) and ``b2`` (C,), the
    layout of ``nn.Linear``. The reference is ``nn.Sequential(nn.Linear(D, H),
    nn.GELU(), nn.Linear(H, C))`` with the same weights (``load_state_dict``); the
    gradients of the scores with respect to all five inputs must match the twin's too.
    Cases: float32 and float64 inputs, one example, one hidden unit, large
    pre-activations (where the erf saturates) and pre-activations near 0.

    Args:
        fn: the reader's function.

    Returns:
        The verdict, which is also printed.
    """
    g = torch.Generator().manual_seed(5)

    def rand(*shape: int, scale: float = 1.0, dtype=torch.float64) -> torch.Tensor:
        return scale * torch.randn(*shape, generator=g, dtype=dtype)

    def case(description: str, N: int, D: int, H: int, C: int, **kw: Any) -> Case:
        scale = kw.pop("scale", 1.0)
        dtype = kw.pop("dtype", torch.float64)
        args = {
            "x": rand(N, D, dtype=dtype),
            "w1": rand(H, D, scale=scale, dtype=dtype),
            "b1": rand(H, scale=scale, dtype=dtype),
            "w2": rand(C, H, dtype=dtype),
            "b2": rand(C, dtype=dtype),
        }
        with torch.no_grad():
            expected = gelu_twin(*list(args.values())[1:])(args["x"])
        tol = {"rtol": 1e-4, "atol": 1e-5} if dtype == torch.float32 else {}
        return Case(description, args, expected, **tol)

    cases = [
        case("float64, N=6, D=5, H=8, C=3", 6, 5, 8, 3),
        case("float32, N=4, D=7, H=10, C=4", 4, 7, 10, 4, dtype=torch.float32),
        case("a single example, N=1", 1, 4, 6, 2),
        case("a single hidden unit, H=1", 5, 3, 1, 2),
        case("large pre-activations (|z| up to about 20)", 8, 6, 12, 3, scale=5.0),
        case("small pre-activations (|z| below about 0.1)", 8, 6, 12, 3, scale=0.02),
    ]

    def same_gradients(result: Any, case: Case) -> str | None:
        # Backpropagate a fixed upstream gradient through the reader's network and
        # through the twin.
        names = list(case.args)
        ours = {
            k: v.detach().clone().requires_grad_(True) for k, v in case.args.items()
        }
        try:
            out = fn(*ours.values())
            dout = torch.linspace(-1, 1, out.numel(), dtype=out.dtype).reshape(
                out.shape
            )
            got = torch.autograd.grad(
                (out * dout).sum(), list(ours.values()), allow_unused=True
            )
        except RuntimeError as err:
            return f"backpropagating through your result failed: {err}"
        twin_in = {
            k: v.detach().clone().requires_grad_(True) for k, v in case.args.items()
        }
        twin = _functional_twin(**twin_in)
        want = torch.autograd.grad((twin * dout).sum(), list(twin_in.values()))
        return compare_gradients(names, want, got, case)

    return run_cases(
        fn,
        cases,
        exercise="gelu_mlp",
        passed="matches nn.Sequential(nn.Linear, nn.GELU(), nn.Linear) with the same "
        "weights, in its scores and in their gradients",
        check=same_gradients,
    )


def _functional_twin(x, w1, b1, w2, b2) -> torch.Tensor:
    """The twin's forward pass, differentiable in the weights as well as in ``x``."""
    twin = gelu_twin(w1, b1, w2, b2)
    params = {"0.weight": w1, "0.bias": b1, "2.weight": w2, "2.bias": b2}
    return torch.func.functional_call(twin, params, (x,))


def regularized_loss_reference(
    model: nn.Module, x: torch.Tensor, y: torch.Tensor, lam: float
) -> torch.Tensor:
    """Mean cross-entropy plus ``lam`` times the squared weights of every nn.Linear.

    Args:
        model: the network; the weights of its ``nn.Linear`` layers are penalized.
        x: the inputs, shape (N, D).
        y: their labels, shape (N,).
        lam: the weight of the penalty.

    Returns:
        The loss, a 0-dim tensor.
    """
    weights = [m.weight for m in model.modules() if isinstance(m, nn.Linear)]
    penalty = sum(w.square().sum() for w in weights)
    return F.cross_entropy(model(x), y) + lam * penalty


def check_regularized_loss(fn: Callable[..., torch.Tensor]) -> CheckResult:
    r"""Check ``fn(model, x, y, lam) -> scalar`` the loss of Eq. (7).

    The loss is the mean cross-entropy of ``model(x)`` against the labels ``y`` plus
    :math:`\lambda \sum_\ell \sum_{k,l} (W_\ell)_{k,l}^2` over the weight matrices of
    the model's ``nn.Linear`` layers; the biases are not penalized. Cases: a two-layer
    ReLU network with ``lam`` 0 and 0.1, a three-layer tanh network in float64, a
    network without biases, and a large ``lam`` where the penalty dominates.

    Args:
        fn: the reader's function.

    Returns:
        The verdict, which is also printed.
    """
    g = torch.Generator().manual_seed(7)

    def case(description: str, sizes: list[int], lam: float, **kw: Any) -> Case:
        dtype = kw.get("dtype", torch.float32)
        model = sequential_mlp(
            sizes,
            activation=kw.get("activation", nn.ReLU),
            bias=kw.get("bias", True),
            dtype=dtype,
        )
        with torch.no_grad():
            for p in model.parameters():
                p.copy_(torch.randn(p.shape, generator=g, dtype=dtype))
                p.mul_(0.5)
        x = torch.randn(10, sizes[0], generator=g, dtype=dtype)
        y = torch.randint(0, sizes[-1], (10,), generator=g)
        with torch.no_grad():
            expected = regularized_loss_reference(model, x, y, lam)
        args = {"model": model, "x": x, "y": y, "lam": lam}
        return Case(description, args, expected, rtol=1e-5, atol=1e-6)

    cases = [
        case("two layers [4, 6, 3], lam = 0.1", [4, 6, 3], 0.1),
        case("lam = 0: the cross-entropy alone", [4, 6, 3], 0.0),
        case(
            "three tanh layers [5, 8, 8, 4] in float64, lam = 0.01",
            [5, 8, 8, 4],
            0.01,
            activation=nn.Tanh,
            dtype=torch.float64,
        ),
        case("no biases, [3, 5, 2], lam = 0.1", [3, 5, 2], 0.1, bias=False),
        case("a large lam = 10", [4, 6, 3], 10.0),
    ]

    def is_scalar(result: Any, case: Case) -> str | None:
        if isinstance(result, torch.Tensor) and result.dim() != 0:
            return (
                f"the result should be a scalar tensor, got shape {tuple(result.shape)}"
            )
        return None

    return run_cases(
        fn,
        cases,
        exercise="regularized_loss",
        passed="adds lam times the squared weight matrices, and no biases, "
        "to the mean cross-entropy",
        check=is_scalar,
    )
