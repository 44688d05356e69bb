r"""Checkers for the coding exercises of the recurrent networks chapter.

The chapter is ``book/rnn.md``.

* :func:`check_rnn_forward` -- a vanilla (Elman) RNN over a whole sequence,
  :math:`h_t = \tanh(W_{xh} x_t + W_{hh} h_{t-1} + b)`; the reference is ``nn.RNN``
  with the same weights, and the gradients with respect to all five inputs must match.
* :func:`check_lstm_step` -- one LSTM step in the lecture's layout, ``W`` (4H, H + D)
  over :math:`[h_{t-1}; x_t]` with the gate blocks in the order i, f, o, g; the
  reference is ``nn.LSTMCell`` with its weights rearranged into that layout.
* :func:`check_bits_per_character` -- the mean cross-entropy in bits of a language
  model's scores; the reference is ``F.cross_entropy`` divided by ln 2.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from dlcv.exercises._core import Case, CheckResult, compare_gradients, run_cases

__all__ = ["check_bits_per_character", "check_lstm_step", "check_rnn_forward"]


def _gradients_match(
    fn: Callable[..., Any], reference: Callable[..., Any]
) -> Callable[[Any, Case], str | None]:
    """An extra check: autograd's gradients of ``fn``'s result equal the reference's."""

    def check(result: Any, case: Case) -> str | None:
        ours = {k: v.detach().clone().requires_grad_() for k, v in case.args.items()}
        try:
            out = fn(*ours.values())
            outs = out if isinstance(out, tuple) else (out,)
            weights = [torch.linspace(-1, 1, o.numel(), dtype=o.dtype) for o in outs]
            total = sum(
                (o.flatten() * w).sum() for o, w in zip(outs, weights, strict=True)
            )
            got = torch.autograd.grad(total, list(ours.values()), allow_unused=True)
        except (RuntimeError, AttributeError, TypeError) as err:
            return f"backpropagating through your result failed: {err}"
        ref = {k: v.detach().clone().requires_grad_() for k, v in case.args.items()}
        refs = reference(*ref.values())
        refs = refs if isinstance(refs, tuple) else (refs,)
        total = sum((o.flatten() * w).sum() for o, w in zip(refs, weights, strict=True))
        want = torch.autograd.grad(total, list(ref.values()))
        return compare_gradients(case.args, want, got, case)

    return check


# ---- the Elman RNN over a sequence ---------------------------------------------------
def rnn_reference(
    x: torch.Tensor,
    h0: torch.Tensor,
    W_xh: torch.Tensor,
    W_hh: torch.Tensor,
    b: torch.Tensor,
) -> torch.Tensor:
    """All hidden states of ``nn.RNN`` (tanh) with these weights, (L, N, H).

    Args:
        x: (L, N, D) inputs.
        h0: (N, H) initial state.
        W_xh: (H, D) input weights.
        W_hh: (H, H) recurrent weights.
        b: (H,) bias.

    Returns:
        The states :math:`h_1, \\dots, h_L`, (L, N, H).
    """
    H, D = W_xh.shape
    net = nn.RNN(D, H, dtype=x.dtype)
    params = {"weight_ih_l0": W_xh, "weight_hh_l0": W_hh, "bias_ih_l0": b}
    params["bias_hh_l0"] = torch.zeros_like(b)
    out, _ = torch.func.functional_call(net, params, (x, h0[None]))
    return out


def check_rnn_forward(fn: Callable[..., torch.Tensor]) -> CheckResult:
    """Check ``fn(x, h0, W_xh, W_hh, b) -> (L, N, H)``, a tanh RNN over a sequence.

    The states must equal ``nn.RNN``'s with ``weight_ih = W_xh``, ``weight_hh = W_hh``,
    ``bias_ih = b`` and ``bias_hh = 0``, and the gradients with respect to all five
    inputs must match autograd's of that reference. Cases: float64, float32, one time
    step, one sequence (N = 1) and weights large enough to saturate tanh.

    Args:
        fn: the reader's function.

    Returns:
        The verdict, which is also printed.
    """
    g = torch.Generator().manual_seed(12)

    def case(description: str, L: int, N: int, D: int, H: int, **kw: Any) -> Case:
        dtype = kw.get("dtype", torch.float64)
        scale = kw.get("scale", 0.5)

        def rand(*shape: int, s: float = 1.0) -> torch.Tensor:
            return s * torch.randn(*shape, generator=g, dtype=dtype)

        args = {"x": rand(L, N, D), "h0": rand(N, H, s=0.5)}
        args |= {"W_xh": rand(H, D, s=scale), "W_hh": rand(H, H, s=scale)}
        args["b"] = rand(H, s=0.1)
        with torch.no_grad():
            expected = rnn_reference(**args)
        tol = {"rtol": 1e-4, "atol": 1e-5} if dtype == torch.float32 else {}
        return Case(description, args, expected, **tol)

    cases = [
        case("float64, L=5, N=3, D=4, H=6", 5, 3, 4, 6),
        case("float32, L=7, N=2, D=3, H=5", 7, 2, 3, 5, dtype=torch.float32),
        case("one time step, L=1", 1, 4, 3, 2),
        case("one sequence, N=1", 6, 1, 2, 3),
        case("large weights: tanh saturates", 4, 2, 3, 4, scale=3.0),
    ]
    return run_cases(
        fn,
        cases,
        exercise="rnn_forward",
        passed="computes the states of nn.RNN, with autograd's gradients",
        check=_gradients_match(fn, rnn_reference),
    )


# ---- one LSTM step in the lecture's layout -------------------------------------------
def lstm_reference(
    x: torch.Tensor, h: torch.Tensor, c: torch.Tensor, W: torch.Tensor, b: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    """``nn.LSTMCell``'s step with W (4H, H + D) over [h; x], gate rows i, f, o, g.

    Args:
        x: (N, D) input.
        h: (N, H) previous hidden state.
        c: (N, H) previous cell state.
        W: (4H, H + D) weights over the concatenation [h; x], blocks i, f, o, g.
        b: (4H,) bias, same blocks.

    Returns:
        ``(h_t, c_t)``, each (N, H).
    """
    H = h.shape[1]
    i, f, o, g = W.split(H)  # the lecture's blocks, (H, H + D) each
    W_torch = torch.cat([i, f, g, o])  # torch's order i, f, g, o
    bi, bf, bo, bg = b.split(H)
    params = {
        "weight_hh": W_torch[:, :H],
        "weight_ih": W_torch[:, H:],
        "bias_ih": torch.cat([bi, bf, bg, bo]),
        "bias_hh": torch.zeros_like(b),
    }
    cell = nn.LSTMCell(x.shape[1], H, dtype=x.dtype)
    return torch.func.functional_call(cell, params, (x, (h, c)))


def check_lstm_step(fn: Callable[..., Any]) -> CheckResult:
    """Check ``fn(x, h, c, W, b) -> (h_t, c_t)``, one LSTM step, the lecture's layout.

    ``W`` (4H, H + D) multiplies the concatenation ``[h; x]``, and its blocks of rows
    are the gates i, f, o, g; the reference is ``nn.LSTMCell`` with the weights
    rearranged into torch's layout (see ``lstm_reference``). Both outputs and the
    gradients with respect to all five inputs must match. Cases: float64, float32,
    one example, and biases that open or close the gates fully.

    Args:
        fn: the reader's function.

    Returns:
        The verdict, which is also printed.
    """
    g = torch.Generator().manual_seed(13)

    def case(description: str, N: int, D: int, H: int, **kw: Any) -> Case:
        dtype = kw.get("dtype", torch.float64)

        def rand(*shape: int) -> torch.Tensor:
            return torch.randn(*shape, generator=g, dtype=dtype)

        args = {"x": rand(N, D), "h": rand(N, H), "c": rand(N, H)}
        args |= {"W": 0.5 * rand(4 * H, H + D), "b": kw.get("b", 0.1 * rand(4 * H))}
        if "b" in kw:
            args["b"] = args["b"].to(dtype)
        with torch.no_grad():
            expected = lstm_reference(**args)
        tol = {"rtol": 1e-4, "atol": 1e-5} if dtype == torch.float32 else {}
        return Case(description, args, expected, **tol)

    H = 3
    keep = torch.cat([torch.full((H,), v) for v in (-8.0, 8.0, 8.0, 0.0)])
    cases = [
        case("float64, N=4, D=3, H=5", 4, 3, 5),
        case("float32, N=2, D=6, H=4", 2, 6, 4, dtype=torch.float32),
        case("one example, N=1, D=1, H=2", 1, 1, 2),
        case("i closed, f and o open: the cell is kept (blocks i, f, o, g)", 3, 2, H,
             b=keep),
    ]  # fmt: skip
    return run_cases(
        fn,
        cases,
        exercise="lstm_step",
        passed="computes nn.LSTMCell's (h_t, c_t) in the lecture's layout, with "
        "autograd's gradients",
        check=_gradients_match(fn, lstm_reference),
    )


# ---- bits per character --------------------------------------------------------------
def bits_reference(logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """Mean cross-entropy in bits, ``F.cross_entropy / ln 2``, a 0-d tensor.

    Args:
        logits: (N, L, V) scores.
        targets: (N, L) int64 classes.

    Returns:
        The mean of :math:`-\\log_2 p(\\text{target})` over the N L positions.
    """
    return F.cross_entropy(logits.flatten(0, 1), targets.flatten()) / math.log(2)


def check_bits_per_character(fn: Callable[..., torch.Tensor]) -> CheckResult:
    """Check ``fn(logits, targets) -> 0-d tensor``, the mean loss in bits.

    Cases: random scores in float64 and float32, uniform scores (exactly log2 V bits),
    one position, and scores around 1000 where a naive softmax overflows.

    Args:
        fn: the reader's function.

    Returns:
        The verdict, which is also printed.
    """
    g = torch.Generator().manual_seed(14)

    def case(description: str, N: int, L: int, V: int, **kw: Any) -> Case:
        dtype = kw.get("dtype", torch.float64)
        logits = kw.get("shift", 0.0) + torch.randn(N, L, V, generator=g, dtype=dtype)
        if kw.get("uniform"):
            logits = torch.zeros(N, L, V, dtype=dtype)
        args = {"logits": logits, "targets": torch.randint(V, (N, L), generator=g)}
        tol = {"rtol": 1e-4, "atol": 1e-5} if dtype == torch.float32 else {}
        return Case(description, args, bits_reference(**args), **tol)

    cases = [
        case("float64, N=3, L=7, V=5", 3, 7, 5),
        case("float32, N=2, L=4, V=30", 2, 4, 30, dtype=torch.float32),
        case("uniform scores: log2(V) bits", 2, 3, 8, uniform=True),
        case("one position, N=1, L=1", 1, 1, 6),
        case("scores around 1000: exp overflows", 2, 5, 4, shift=1000.0),
    ]
    return run_cases(
        fn,
        cases,
        exercise="bits_per_character",
        passed="computes the mean cross-entropy in bits, stably",
    )
