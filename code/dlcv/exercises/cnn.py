r"""Checkers for the coding exercises of the convolutional networks chapter.

The chapter is ``book/cnn.md``.

* :func:`check_conv2d_shifts` -- a 2-D convolution (cross-correlation, as in every
  deep-learning library) computed with one loop over the kernel offsets: each offset
  adds a shifted, strided slice of the padded input times one column of weights; the
  reference is ``F.conv2d``.
* :func:`check_max_pool_backward` -- the gradient of max pooling, a gradient router
  that sends each window's upstream gradient to the window's maximum (the first one in
  row-major order when several tie) and adds up what overlapping windows send; the
  reference is autograd of ``(F.max_pool2d(x, k, s) * dout).sum()``.
* :func:`check_receptive_field` -- the receptive field of a stack of convolutions and
  poolings from its kernel sizes and strides; the reference is *measured*: a one-hot
  gradient at one output of a real stack of ``F.conv1d`` layers with positive weights,
  back-propagated to the input, is non-zero on exactly the receptive field.
* :func:`check_conv_cost` -- the parameters and multiply-accumulates (MACs) of one
  ``nn.Conv2d`` layer on an input of a given size; the reference counts the layer's
  parameters and its MACs with ``torch.utils.flop_counter.FlopCounterMode`` (MACs =
  FLOPs / 2; a bias adds parameters but no MACs in that count).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from dlcv import models
from dlcv.exercises._core import Case, CheckResult, run_cases

__all__ = [
    "check_conv2d_shifts",
    "check_conv_cost",
    "check_max_pool_backward",
    "check_receptive_field",
]


def _tolerances(dtype: torch.dtype) -> dict[str, float]:
    """rtol/atol that accept float rounding in another summation order, no more."""
    if dtype == torch.float32:
        return {"rtol": 1e-4, "atol": 1e-5}
    return {"rtol": 1e-7, "atol": 1e-10}


def check_conv2d_shifts(fn: Callable[..., torch.Tensor]) -> CheckResult:
    """Check ``fn(x, weight, bias=None, stride=1, padding=0)`` against ``F.conv2d``.

    ``x`` is (N, C_in, H, W), ``weight`` (C_out, C_in, K_h, K_w), ``bias`` (C_out,) or
    None; ``stride`` and ``padding`` are ints. The result must equal
    ``F.conv2d(x, weight, bias, stride, padding)``, of shape (N, C_out, H', W') and in
    x's dtype. Cases: a 3x3 kernel with a bias, zero padding that keeps the size,
    stride 2 on an odd size (the last incomplete window is dropped), a non-square
    kernel on a non-square input without a bias, a 1x1 kernel (a matrix product over
    the channels), a kernel as large as the input (one output: a dense layer), and a
    float32 case with stride 3 and padding 2.

    Args:
        fn: the reader's function.

    Returns:
        The verdict, which is also printed.
    """
    g = torch.Generator().manual_seed(7)

    def case(
        description: str,
        x_shape: tuple[int, int, int, int],
        w_shape: tuple[int, int, int, int],
        *,
        bias: bool = True,
        stride: int = 1,
        padding: int = 0,
        dtype: torch.dtype = torch.float64,
    ) -> Case:
        x = torch.randn(x_shape, generator=g, dtype=dtype)
        weight = torch.randn(w_shape, generator=g, dtype=dtype)
        b = torch.randn(w_shape[0], generator=g, dtype=dtype) if bias else None
        expected = F.conv2d(x, weight, b, stride=stride, padding=padding)
        return Case(
            description,
            {"x": x, "weight": weight, "bias": b, "stride": stride, "padding": padding},
            expected,
            **_tolerances(dtype),
        )

    cases = [
        case("3x3 kernel with a bias, x (2, 3, 6, 6)", (2, 3, 6, 6), (4, 3, 3, 3)),
        case("padding 1 keeps 5x5 at 5x5", (2, 2, 5, 5), (3, 2, 3, 3), padding=1),
        case(
            "stride 2 and padding 1 on an odd size, 7x7",
            (1, 3, 7, 7),
            (2, 3, 3, 3),
            stride=2,
            padding=1,
        ),
        case(
            "a 2x3 kernel on a 5x8 input, no bias",
            (2, 2, 5, 8),
            (3, 2, 2, 3),
            bias=False,
        ),
        case(
            "a 1x1 kernel: a matrix product over channels", (2, 5, 4, 3), (6, 5, 1, 1)
        ),
        case("a kernel as large as the input: one output", (3, 2, 4, 4), (5, 2, 4, 4)),
        case(
            "float32, stride 3, padding 2, x (1, 1, 10, 9)",
            (1, 1, 10, 9),
            (2, 1, 3, 3),
            stride=3,
            padding=2,
            dtype=torch.float32,
        ),
    ]
    return run_cases(
        fn,
        cases,
        exercise="conv2d_shifts",
        passed="computes F.conv2d for every kernel shape, stride and padding",
    )


def max_pool_grad(
    dout: torch.Tensor, x: torch.Tensor, kernel_size: int, stride: int
) -> torch.Tensor:
    """dL/dx of ``(F.max_pool2d(x, kernel_size, stride) * dout).sum()``, by autograd.

    Args:
        dout: (N, C, H', W') upstream gradient.
        x: (N, C, H, W) input of the pooling.
        kernel_size: the side of the square window.
        stride: the step between windows.
    """
    leaf = x.detach().clone().requires_grad_()
    (F.max_pool2d(leaf, kernel_size, stride) * dout).sum().backward()
    return leaf.grad


def check_max_pool_backward(fn: Callable[..., torch.Tensor]) -> CheckResult:
    """Check ``fn(dout, x, kernel_size, stride) -> dx``, the backward of max pooling.

    ``x`` is (N, C, H, W), ``dout`` (N, C, H', W') the gradient of the loss with respect
    to ``F.max_pool2d(x, kernel_size, stride)``, and ``dx`` must equal the gradient
    autograd finds for ``(F.max_pool2d(x, kernel_size, stride) * dout).sum()``: each
    window sends its ``dout`` to its maximum, to the first maximum in row-major order
    when several entries tie (torch's convention), and an entry that is the maximum of
    several overlapping windows receives the sum of what they send. Cases:
    non-overlapping 2x2 windows, an odd size whose last row and column no window
    covers, overlapping 3x3 windows with stride 2, 2x2 windows with stride 1, ties, a
    float32 non-square input, and one window over the whole input (global max
    pooling).

    Args:
        fn: the reader's function.

    Returns:
        The verdict, which is also printed.
    """
    g = torch.Generator().manual_seed(8)

    def case(description: str, x: torch.Tensor, kernel_size: int, stride: int) -> Case:
        out_shape = F.max_pool2d(x, kernel_size, stride).shape
        dout = torch.randn(out_shape, generator=g, dtype=x.dtype)
        return Case(
            description,
            {"dout": dout, "x": x, "kernel_size": kernel_size, "stride": stride},
            max_pool_grad(dout, x, kernel_size, stride),
            **_tolerances(x.dtype),
        )

    def rand(*shape: int, dtype: torch.dtype = torch.float64) -> torch.Tensor:
        return torch.randn(shape, generator=g, dtype=dtype)

    ties = torch.tensor(
        [
            [1.0, 3.0, 3.0, 0.0],
            [3.0, 2.0, 1.0, 1.0],
            [0.0, 0.0, 5.0, 5.0],
            [2.0, 2.0, 5.0, 5.0],
        ],
        dtype=torch.float64,
    )[None, None]  # (1, 1, 4, 4)
    cases = [
        case("2x2 windows, stride 2, x (2, 3, 4, 4)", rand(2, 3, 4, 4), 2, 2),
        case("2x2 windows on 5x5: row 4 and column 4 unused", rand(1, 2, 5, 5), 2, 2),
        case("overlapping 3x3 windows, stride 2, on 7x7", rand(2, 2, 7, 7), 3, 2),
        case(
            "2x2 windows, stride 1: most entries in 4 windows", rand(1, 1, 5, 5), 2, 1
        ),
        case("ties: the first maximum in row-major order wins", ties, 2, 2),
        case(
            "float32, x (2, 1, 6, 8), 2x2 windows",
            rand(2, 1, 6, 8, dtype=torch.float32),
            2,
            2,
        ),
        case("one window over the whole 4x4 input", rand(3, 2, 4, 4), 4, 4),
    ]
    return run_cases(
        fn,
        cases,
        exercise="max_pool_backward",
        passed="routes each window's gradient to its maximum and adds up "
        "overlapping windows, like autograd of F.max_pool2d",
    )


def measured_receptive_field(
    kernel_sizes: Sequence[int], strides: Sequence[int]
) -> int:
    """The receptive field of a 1-D stack, measured by back-propagating a one-hot.

    The stack is ``F.conv1d`` layers with all-one kernels of the given sizes and
    strides and no padding. The gradient of one output with respect to the input is
    positive exactly on the input positions that output depends on; their extent is
    the receptive field (the same along each axis of a 2-D stack of square kernels).

    Args:
        kernel_sizes: the kernel size of each layer, first layer first.
        strides: the stride of each layer.
    """
    # Long enough for at least one output: each kernel, scaled by every stride.
    n = sum(kernel_sizes) * math.prod(strides) + 1
    x = torch.zeros(1, 1, n, dtype=torch.float64, requires_grad=True)
    h = x
    for k, s in zip(kernel_sizes, strides, strict=True):
        h = F.conv1d(h, torch.ones(1, 1, k, dtype=torch.float64), stride=s)
    one_hot = torch.zeros_like(h)
    one_hot[..., h.shape[-1] // 2] = 1  # dL/d(output) = 1 at one output, 0 elsewhere
    h.backward(one_hot)
    support = x.grad[0, 0].nonzero().squeeze(1)  # input positions with dL/dx > 0
    return int(support[-1] - support[0] + 1)


def _is_int(what: str) -> Callable[[Any, Case], str | None]:
    def check(result: Any, case: Case) -> str | None:
        items = result if isinstance(result, tuple) else (result,)
        for item in items:
            if isinstance(item, bool) or not isinstance(item, int):
                return f"{what} should be an int, got {type(item).__name__}"
        return None

    return check


def check_receptive_field(fn: Callable[..., int]) -> CheckResult:
    """Check ``fn(kernel_sizes, strides) -> int``, the receptive field of a stack.

    Layer ``l`` of the stack has a ``kernel_sizes[l] x kernel_sizes[l]`` window moved
    by ``strides[l]``; a pooling layer counts like a convolution. The result must be
    the side, in input pixels, of the region one output of the last layer sees,
    measured by back-propagating a one-hot gradient through a real stack. Cases: one
    layer, three and five stride-1 layers, a stride-2 first layer, LeNet's
    conv-pool-conv-pool, a ResNet-like stem followed by 3x3 layers, 1x1 layers, and a
    stride on the last layer (which does not change its receptive field).

    Args:
        fn: the reader's function.

    Returns:
        The verdict, which is also printed.
    """

    def case(description: str, kernel_sizes: list[int], strides: list[int]) -> Case:
        return Case(
            description,
            {"kernel_sizes": kernel_sizes, "strides": strides},
            measured_receptive_field(kernel_sizes, strides),
        )

    cases = [
        case("one 3x3 layer", [3], [1]),
        case("three 3x3 layers, stride 1", [3, 3, 3], [1, 1, 1]),
        case("five 5x5 layers, stride 1", [5, 5, 5, 5, 5], [1, 1, 1, 1, 1]),
        case("three 3x3 layers, the first with stride 2", [3, 3, 3], [2, 1, 1]),
        case(
            "LeNet: 5x5 conv, 2x2 pool, 5x5 conv, 2x2 pool", [5, 2, 5, 2], [1, 2, 1, 2]
        ),
        case(
            "a 7x7 stride-2 stem, a 3x3 stride-2 pool, four 3x3 layers",
            [7, 3, 3, 3, 3, 3],
            [2, 2, 1, 1, 1, 1],
        ),
        case("three 1x1 layers with stride 2", [1, 1, 1], [2, 2, 2]),
        case("a stride on the last layer only", [3, 3], [1, 4]),
    ]
    return run_cases(
        fn,
        cases,
        exercise="receptive_field",
        passed="gives the receptive field that back-propagation measures",
        check=_is_int("the result"),
    )


def conv_cost_reference(
    c_in: int,
    c_out: int,
    kernel_size: int,
    height: int,
    width: int,
    stride: int = 1,
    padding: int = 0,
    bias: bool = True,
) -> tuple[int, int]:
    """(parameters, MACs) of ``nn.Conv2d`` on a (1, c_in, height, width) input.

    Args:
        c_in: input channels.
        c_out: output channels.
        kernel_size: the side of the square kernel.
        height: the input's height.
        width: the input's width.
        stride: the convolution's stride.
        padding: zeros added on each side.
        bias: whether the layer has a bias.
    """
    layer = nn.Conv2d(c_in, c_out, kernel_size, stride, padding, bias=bias)
    macs = models.count_macs(layer, (1, c_in, height, width))  # FLOPs / 2
    return models.count_parameters(layer), macs


def check_conv_cost(fn: Callable[..., tuple[int, int]]) -> CheckResult:
    """Check ``fn(c_in, c_out, kernel_size, height, width, stride, padding, bias)``.

    It must return ``(params, macs)`` as two ints: the number of parameters of
    ``nn.Conv2d(c_in, c_out, kernel_size, stride, padding, bias=bias)`` and the
    multiply-accumulates of its forward pass on one ``c_in x height x width`` input,
    as ``torch.utils.flop_counter.FlopCounterMode`` counts them (FLOPs / 2: one per
    weight per output position; the bias adds parameters, no MACs). Cases: LeNet-5's
    first layer, AlexNet's first layer (11x11, stride 4, padding 2), a VGG 3x3 layer at
    224x224, a 1x1 layer without a bias, stride 2 on an odd non-square input, and the
    chapter's first Fashion-MNIST layer.

    Args:
        fn: the reader's function.

    Returns:
        The verdict, which is also printed.
    """

    def case(
        description: str,
        c_in: int,
        c_out: int,
        kernel_size: int,
        height: int,
        width: int,
        stride: int = 1,
        padding: int = 0,
        bias: bool = True,
    ) -> Case:
        args = {
            "c_in": c_in,
            "c_out": c_out,
            "kernel_size": kernel_size,
            "height": height,
            "width": width,
            "stride": stride,
            "padding": padding,
            "bias": bias,
        }
        return Case(description, args, conv_cost_reference(**args))

    cases = [
        case("LeNet-5's C1: 1 -> 6 channels, 5x5, 32x32 input", 1, 6, 5, 32, 32),
        case("AlexNet's conv1: 11x11, stride 4, padding 2", 3, 64, 11, 224, 224, 4, 2),
        case(
            "a VGG layer: 64 -> 64, 3x3, padding 1, 224x224", 64, 64, 3, 224, 224, 1, 1
        ),
        case("a 1x1 layer without a bias, 56x56", 256, 64, 1, 56, 56, bias=False),
        case("stride 2 on an odd 7x9 input", 3, 8, 3, 7, 9, 2, 0),
        case("1 -> 32 channels, 3x3, padding 1, 28x28", 1, 32, 3, 28, 28, 1, 1),
    ]
    return run_cases(
        fn,
        cases,
        exercise="conv_cost",
        passed="counts the parameters and multiply-accumulates of nn.Conv2d",
        check=_is_int("each count"),
    )
