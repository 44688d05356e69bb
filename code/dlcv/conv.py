r"""Convolution, pooling and batch normalization from scratch (lecture 7).

Taught by the chapter "Convolutional networks" (``book/cnn.md``, chapter 7). Lecture 6's
fully connected layers live in :mod:`dlcv.layers`; this module holds lecture 7's, one
module per lecture topic, in the same style: ``*_forward(...) -> (out, cache)`` and
``*_backward(dout, cache) -> grads``, with tensors of shape (N, C, H, W).

A convolution is a matrix product in disguise. :func:`im2col` copies every receptive
field of the input into a column, (N, C_in kh kw, L) with L = H_out W_out output
positions; the layer is then :math:`Y = W X_{cols} + b` with the weight viewed as
(C_out, C_in kh kw). The backward pass is two more products, and :func:`col2im` (like
``F.fold``) adds each column's gradient back where it came from. Each side of the
output is :math:`\lfloor (n + 2p - d(k-1) - 1)/s \rfloor + 1`, see
:func:`conv_output_size`.
:func:`conv2d_naive` computes the same sum with a loop over output positions. Max and
average pooling reuse the columns; batch normalization (Ioffe and Szegedy, 2015)
standardizes each channel over the batch and the spatial positions.

Torch counterparts, with their argument names, order and defaults: ``F.conv2d``,
``F.max_pool2d``, ``F.avg_pool2d``, ``F.batch_norm``, ``F.unfold``/``F.fold``, and the
modules ``nn.Conv2d``, ``nn.MaxPool2d``, ``nn.AvgPool2d`` and ``nn.BatchNorm2d``, which
:class:`Conv2d` and the other classes subclass (same parameters, buffers and state
dict). Deliberate differences: the ``*_forward`` functions take batched 4-D inputs only,
and the pools have no ``ceil_mode`` and no ``return_indices``.

The chapter's equations, tagged in the code below: (7.1) ``cnn-conv``,
(7.2) ``cnn-output-size``, (7.3) ``cnn-im2col``, (7.5) ``cnn-rf``,
(7.6) ``cnn-bn-stats``, (7.7) ``cnn-bn-normalize``, (7.8) ``cnn-bn-affine`` and
(7.9) ``cnn-bn-running``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from dlcv._checks import (
    check_finite_number,
    check_float_tensor,
    check_in,
    check_len,
    check_positive_int,
    check_shape,
    check_tensor,
    check_tensors_match,
)

__all__ = [
    "AvgPool2d",
    "AvgPool2dFunction",
    "BatchNorm2d",
    "BatchNormFunction",
    "Conv2d",
    "Conv2dFunction",
    "MaxPool2d",
    "MaxPool2dFunction",
    "avg_pool2d",
    "avg_pool2d_backward",
    "avg_pool2d_forward",
    "batch_norm",
    "batch_norm_backward",
    "batch_norm_forward",
    "col2im",
    "conv2d",
    "conv2d_backward",
    "conv2d_forward",
    "conv2d_naive",
    "conv_output_size",
    "im2col",
    "max_pool2d",
    "max_pool2d_backward",
    "max_pool2d_forward",
    "receptive_field",
]

IntPair = int | tuple[int, int]
Pair = tuple[int, int]
Tensor = torch.Tensor


# ---- validation (one line in each public function) -----------------------------------
def _pair(value: Any, name: str, *, minimum: int = 1) -> Pair:
    """An int or a pair of ints, each >= ``minimum``, as an (h, w) pair."""
    if isinstance(value, tuple | list):
        h, w = check_len(value, name, 2, what="ints (height, width)")
        return (
            check_positive_int(h, f"{name}[0]", minimum=minimum),
            check_positive_int(w, f"{name}[1]", minimum=minimum),
        )
    value = check_positive_int(value, name, minimum=minimum)
    return value, value


def _window(
    x: Tensor, kernel_size: Any, stride: Any, padding: Any, dilation: Any
) -> tuple[Pair, Pair, Pair, Pair]:
    """Check a window's arguments against (N, C, H, W) ``x``; return them as pairs."""
    H, W = check_float_tensor(x, "x", ndim=4).shape[2:]
    return _window_hw((H, W), kernel_size, stride, padding, dilation)


def _window_hw(
    hw: Any, kernel_size: Any, stride: Any, padding: Any, dilation: Any
) -> tuple[Pair, Pair, Pair, Pair]:
    """Check a window's arguments against an (H, W) input size; return pairs."""
    H, W = hw
    k, s = _pair(kernel_size, "kernel_size"), _pair(stride, "stride")
    p, d = _pair(padding, "padding", minimum=0), _pair(dilation, "dilation")
    conv_output_size(H, k[0], s[0], p[0], d[0])  # raises if the window does not fit
    conv_output_size(W, k[1], s[1], p[1], d[1])
    return k, s, p, d


def _check_conv(
    x: Tensor, weight: Tensor, bias: Tensor | None, groups: Any
) -> tuple[int, int, int]:
    """Check conv2d's tensors and groups; return (groups, C_out, C_in / groups)."""
    C_in = check_float_tensor(x, "x", ndim=4).shape[1]
    C_out = check_float_tensor(weight, "weight", ndim=4).shape[0]
    G = check_positive_int(groups, "groups")
    if C_in % G or C_out % G:
        raise ValueError(
            f"in_channels ({C_in}) and out_channels ({C_out}) must both be divisible "
            f"by groups, got groups={G}"
        )
    check_shape(weight, "weight", ("C_out", C_in // G, "kh", "kw"))
    tensors = {"x": x, "weight": weight}
    if bias is not None:
        tensors["bias"] = check_shape(
            check_float_tensor(bias, "bias"), "bias", (C_out,)
        )
    check_tensors_match(**tensors)
    return G, C_out, C_in // G


def _check_cols(
    cols: Tensor, hw: Pair, k: Pair, s: Pair, p: Pair, d: Pair
) -> tuple[int, int, Pair, Pair]:
    """col2im's columns: (N, C kh kw, H_out W_out); return N, C, k, (H_out, W_out)."""
    N, CK = check_float_tensor(cols, "cols", ndim=3).shape[:2]
    Ho, Wo = _output_hw(hw, k, s, p, d)
    check_shape(cols, "cols", ("N", f"C * {k[0] * k[1]}", Ho * Wo))
    if CK % (k[0] * k[1]):
        raise ValueError(
            f"cols.shape[1] must be a multiple of kh kw = {k[0] * k[1]}, got {CK}"
        )
    return N, CK // (k[0] * k[1]), k, (Ho, Wo)


def _check_pool(
    x: Tensor, kernel_size: Any, stride: Any, padding: Any, dilation: Any = 1
) -> tuple[Pair, Pair, Pair, Pair]:
    """A pool's window: stride None means kernel_size; padding at most kernel / 2."""
    stride = kernel_size if stride is None else stride
    k, s, p, d = _window(x, kernel_size, stride, padding, dilation)
    if p[0] > k[0] // 2 or p[1] > k[1] // 2:  # else a window could be all padding
        raise ValueError(
            f"padding must be at most half of kernel_size {k}, got padding {p}"
        )
    return k, s, p, d


def _output_hw(hw: Sequence[int], k: Pair, s: Pair, p: Pair, d: Pair = (1, 1)) -> Pair:
    """(H_out, W_out) of a window sliding over an (H, W) input."""
    return (
        conv_output_size(hw[0], k[0], s[0], p[0], d[0]),
        conv_output_size(hw[1], k[1], s[1], p[1], d[1]),
    )


def _check_bool(value: Any, name: str) -> bool:
    if not isinstance(value, bool):
        raise TypeError(f"{name} must be a bool, got {type(value).__name__}")
    return value


def _int_list(values: Any, name: str, n: int | None = None) -> list[int]:
    """A list or tuple of positive ints, of length n if given."""
    if not isinstance(values, list | tuple | range):
        raise TypeError(f"{name} must be a list of ints, got {type(values).__name__}")
    if n is not None:
        check_len(values, name, n, what="entries, one per layer")
    return [check_positive_int(v, f"{name}[{i}]") for i, v in enumerate(values)]


def _check_unsupported(**flags: bool) -> None:
    for name, value in flags.items():
        if value:
            raise ValueError(
                f"{name}=True is not supported by dlcv's pools, got {name}={value!r}; "
                f"use torch.nn.functional for it"
            )


# ---- output size and receptive field -------------------------------------------------
def conv_output_size(
    n: int, kernel: int, stride: int = 1, padding: int = 0, dilation: int = 1
) -> int:
    """Size of a convolution's or pool's output along one axis.

    Args:
        n: the input's size along the axis (H or W).
        kernel: the kernel size k along it.
        stride: the step s between windows.
        padding: p zeros added on each side.
        dilation: d, the spacing between kernel taps.

    Returns:
        floor((n + 2p - d(k - 1) - 1) / s) + 1.

    Raises:
        ValueError: if the dilated kernel, d(k - 1) + 1 wide, is larger than the
            padded input, n + 2p.
    """
    n, k = check_positive_int(n, "n"), check_positive_int(kernel, "kernel")
    s, d = (
        check_positive_int(stride, "stride"),
        check_positive_int(dilation, "dilation"),
    )
    p = check_positive_int(padding, "padding", minimum=0)
    span = d * (k - 1) + 1  # the dilated kernel's extent
    if span > n + 2 * p:
        raise ValueError(
            f"kernel size {k} (dilation {d}, so {span} wide) must not be larger than "
            f"the padded input, got input size {n} + 2 * padding {p} = {n + 2 * p}"
        )
    return (n + 2 * p - span) // s + 1  # Eq. (7.2): floor((n + 2p - span)/s) + 1


def receptive_field(
    kernel_sizes: Sequence[int],
    strides: Sequence[int] | None = None,
    dilations: Sequence[int] | None = None,
) -> int:
    """Receptive field, along one axis, of one output of a stack of conv/pool layers.

    Args:
        kernel_sizes: k_l of each layer, first layer first.
        strides: s_l of each layer (all 1 if None).
        dilations: d_l of each layer (all 1 if None).

    Returns:
        1 + sum_l (k_l - 1) d_l prod_{i<l} s_i input pixels: the extent of the
        inputs that one output depends on.
    """
    ks = _int_list(kernel_sizes, "kernel_sizes")
    L = len(ks)  # the number of layers
    ss = [1] * L if strides is None else _int_list(strides, "strides", L)
    ds = [1] * L if dilations is None else _int_list(dilations, "dilations", L)
    rf, jump = 1, 1  # jump = prod_{i<l} s_i: input pixels between outputs of layer l-1
    for k, s, d in zip(ks, ss, ds, strict=True):
        rf += (k - 1) * d * jump  # Eq. (7.5): + (k_l - 1) d_l prod_{i<l} s_i
        jump *= s
    return rf


# ---- im2col and convolution ----------------------------------------------------------
def im2col(
    x: Tensor,
    kernel_size: IntPair,
    stride: IntPair = 1,
    padding: IntPair = 0,
    dilation: IntPair = 1,
) -> Tensor:
    """Every receptive field of ``x`` as a column, like ``F.unfold``.

    Args:
        x: (N, C, H, W) input.
        kernel_size: (kh, kw), or one int for both.
        stride: (sh, sw) or an int.
        padding: zeros (ph, pw) added on each side, or an int.
        dilation: (dh, dw) or an int.

    Returns:
        (N, C kh kw, L) columns, L = H_out W_out, ordered like ``F.unfold``: row
        c kh kw + i kw + j of column (y, x) is x_pad[c, y sh + i dh, x sw + j dw].
    """
    k, s, p, d = _window(x, kernel_size, stride, padding, dilation)  # (h, w) pairs
    N, C, H, W = x.shape
    Ho, Wo = _output_hw((H, W), k, s, p, d)
    x_pad = F.pad(x, (p[1], p[1], p[0], p[0]))  # (N, C, H + 2ph, W + 2pw), zeros
    # a view, no copy: windows[n, c, i, j, y, x] = x_pad[n, c, y sh + i dh, x sw + j dw]
    windows = _windows(x_pad, k, s, d, (Ho, Wo))  # (N, C, kh, kw, Ho, Wo)
    return windows.reshape(N, C * k[0] * k[1], Ho * Wo)  # the copy: (N, C kh kw, L)


def _windows(x_pad: Tensor, k: Pair, s: Pair, d: Pair, out_hw: Pair) -> Tensor:
    """Every window of (N, C, H', W') ``x_pad`` as a view (N, C, kh, kw, H_out, W_out).

    windows[n, c, i, j, y, x] = x_pad[n, c, y sh + i dh, x sw + j dw]: strides only,
    no copy; windows that overlap share memory.
    """
    sN, sC, sH, sW = x_pad.stride()
    return x_pad.as_strided(
        (*x_pad.shape[:2], *k, *out_hw),
        (sN, sC, d[0] * sH, d[1] * sW, s[0] * sH, s[1] * sW),
        x_pad.storage_offset(),
    )


def col2im(
    cols: Tensor,
    output_size: IntPair,
    kernel_size: IntPair,
    stride: IntPair = 1,
    padding: IntPair = 0,
    dilation: IntPair = 1,
) -> Tensor:
    """Add every column back onto the pixels it came from, like ``F.fold``.

    The adjoint (transpose) of :func:`im2col`: a pixel inside several windows gets
    the sum of their entries, so it turns gradients of columns into gradients of the
    image. One strided addition per kernel tap (i, j).

    Args:
        cols: (N, C kh kw, L) columns, ordered as :func:`im2col` makes them.
        output_size: the image's (H, W), or an int for both.
        kernel_size: (kh, kw) or an int.
        stride: (sh, sw) or an int.
        padding: (ph, pw) or an int; the padding's share is dropped.
        dilation: (dh, dw) or an int.

    Returns:
        (N, C, H, W) image.
    """
    H, W = _pair(output_size, "output_size")
    k, s, p, d = _window_hw((H, W), kernel_size, stride, padding, dilation)
    N, C, (kh, kw), (Ho, Wo) = _check_cols(cols, (H, W), k, s, p, d)
    cols = cols.reshape(N, C, kh, kw, Ho, Wo)  # (N, C kh kw, L) -> its six axes
    x_pad = cols.new_zeros(N, C, H + 2 * p[0], W + 2 * p[1])
    windows = _windows(x_pad, k, s, d, (Ho, Wo))  # a view of x_pad, as in im2col
    for i in range(kh):
        for j in range(kw):  # tap (i, j) of every window: (N, C, Ho, Wo), no overlap
            windows[:, :, i, j] += cols[:, :, i, j]  # pixels in many windows add up
    return x_pad[:, :, p[0] : p[0] + H, p[1] : p[1] + W].contiguous()  # (N, C, H, W)


def conv2d_naive(
    x: Tensor,
    weight: Tensor,
    bias: Tensor | None = None,
    stride: IntPair = 1,
    padding: IntPair = 0,
    dilation: IntPair = 1,
    groups: int = 1,
) -> Tensor:
    """Convolution (cross-correlation) with a loop over output positions.

    The teaching version of :func:`conv2d_forward`, forward only; same arguments.

    Args:
        x: (N, C_in, H, W) input.
        weight: (C_out, C_in / groups, kh, kw) filters.
        bias: (C_out,) or None.
        stride: (sh, sw) or an int.
        padding: zeros (ph, pw) added on each side, or an int.
        dilation: (dh, dw) or an int.
        groups: G; input and output channels split into G groups that do not mix.

    Returns:
        (N, C_out, H_out, W_out) output.
    """
    G, C_out, C_g = _check_conv(x, weight, bias, groups)
    (kh, kw), (sh, sw), (ph, pw), (dh, dw) = _window(
        x, weight.shape[2:], stride, padding, dilation
    )
    N, _, H, W = x.shape
    Ho, Wo = _output_hw((H, W), (kh, kw), (sh, sw), (ph, pw), (dh, dw))
    x_pad = F.pad(x, (pw, pw, ph, ph))  # (N, C_in, H + 2ph, W + 2pw)
    w = weight.reshape(G, C_out // G, C_g * kh * kw)  # (G, C_out/G, K), K = C_g kh kw
    out = x.new_zeros(N, C_out, Ho, Wo)
    for i in range(Ho):
        for j in range(Wo):
            ys = slice(i * sh, i * sh + dh * (kh - 1) + 1, dh)  # kh rows, dh apart
            xs = slice(j * sw, j * sw + dw * (kw - 1) + 1, dw)  # kw columns, dw apart
            patch = x_pad[:, :, ys, xs]  # the receptive field: (N, C_in, kh, kw)
            patch = patch.reshape(N, G, C_g * kh * kw)  # (N, G, K)
            # Eq. (7.1): out[n, g, o] = sum_k w[g, o, k] patch[n, g, k]
            out[:, :, i, j] = torch.einsum("gok,ngk->ngo", w, patch).reshape(N, C_out)
    if bias is not None:
        out += bias.view(1, C_out, 1, 1)  # (N, C_out, Ho, Wo) + (1, C_out, 1, 1)
    return out


ConvCache = tuple[torch.Size, Tensor, bool, Tensor, Pair, Pair, Pair, Pair]


def conv2d_forward(
    x: Tensor,
    weight: Tensor,
    bias: Tensor | None = None,
    stride: IntPair = 1,
    padding: IntPair = 0,
    dilation: IntPair = 1,
    groups: int = 1,
) -> tuple[Tensor, ConvCache]:
    """Convolution as one matrix product per group, like ``F.conv2d``.

    Args:
        x: (N, C_in, H, W) input.
        weight: (C_out, C_in / groups, kh, kw) filters.
        bias: (C_out,) or None.
        stride: (sh, sw) or an int.
        padding: zeros (ph, pw) added on each side, or an int.
        dilation: (dh, dw) or an int.
        groups: G; input and output channels split into G groups that do not mix
            (G = C_in is a depthwise convolution).

    Returns:
        ``(out, cache)``: out is (N, C_out, H_out, W_out); cache holds x's shape,
        the weight, whether there is a bias, the columns and the conv's arguments.
    """
    G, C_out, C_g = _check_conv(x, weight, bias, groups)
    k, s, p, d = _window(x, weight.shape[2:], stride, padding, dilation)
    N, _, H, W = x.shape
    Ho, Wo = _output_hw((H, W), k, s, p, d)
    K = C_g * k[0] * k[1]  # one column's length within a group
    cols = im2col(x, k, s, p, d).view(N, G, K, Ho * Wo)  # (N, G, K, L)
    w = weight.reshape(G, C_out // G, K)  # (G, C_out/G, K)
    # Eq. (7.3), Y = W X_cols + b: (G, C_out/G, K) @ (N, G, K, L) -> (N, G, C_out/G, L)
    out = w @ cols
    out = out.view(N, C_out, Ho, Wo)
    if bias is not None:
        out = out + bias.view(1, C_out, 1, 1)  # + b, broadcast over N, Ho, Wo
    return out, (x.shape, weight, bias is not None, cols, k, s, p, d)


def conv2d_backward(
    dout: Tensor, cache: ConvCache
) -> tuple[Tensor, Tensor, Tensor | None]:
    """Backward pass of :func:`conv2d_forward`.

    Args:
        dout: (N, C_out, H_out, W_out) upstream gradient, dL/dout.
        cache: what :func:`conv2d_forward` returned.

    Returns:
        ``(dx, dweight, dbias)``: (N, C_in, H, W), weight's shape and (C_out,);
        dbias is None if the layer has no bias.
    """
    x_shape, weight, has_bias, cols, k, s, p, d = cache
    N, G, K, L = cols.shape
    C_out = weight.shape[0]
    Ho, Wo = _output_hw(x_shape[2:], k, s, p, d)
    check_shape(check_float_tensor(dout, "dout"), "dout", (N, C_out, Ho, Wo))
    dout = dout.reshape(N, G, C_out // G, L)  # (N, G, C_out/G, L)
    w = weight.reshape(G, C_out // G, K)  # (G, C_out/G, K)
    # dW = sum_n dY_n X_cols_n^T: (N, G, C_out/G, L) @ (N, G, L, K), summed over n
    dweight = (dout @ cols.transpose(2, 3)).sum(0).view(weight.shape)
    # dX_cols = W^T dY: (G, K, C_out/G) @ (N, G, C_out/G, L) -> (N, G, K, L)
    dcols = w.transpose(1, 2) @ dout
    # col2im: add every column's gradient back onto the pixels it came from
    dx = col2im(dcols.view(N, G * K, L), x_shape[2:], k, s, p, d)  # (N, C_in, H, W)
    dbias = dout.sum((0, 3)).reshape(C_out) if has_bias else None  # db = sum dY
    return dx, dweight, dbias


# ---- pooling -------------------------------------------------------------------------
PoolCache = tuple[torch.Size, Tensor, Pair, Pair, Pair, Pair]


def max_pool2d_forward(
    x: Tensor,
    kernel_size: IntPair,
    stride: IntPair | None = None,
    padding: IntPair = 0,
    dilation: IntPair = 1,
) -> tuple[Tensor, PoolCache]:
    """The largest value of each window, channel by channel, like ``F.max_pool2d``.

    Args:
        x: (N, C, H, W) input.
        kernel_size: (kh, kw) or an int.
        stride: (sh, sw) or an int; None means kernel_size.
        padding: -inf (ph, pw) added on each side, at most half the kernel.
        dilation: (dh, dw) or an int.

    Returns:
        ``(out, cache)``: out is (N, C, H_out, W_out); cache holds x's shape, where
        each window's maximum is and the window's arguments.
    """
    k, s, p, d = _check_pool(x, kernel_size, stride, padding, dilation)
    N, C, H, W = x.shape
    x_pad = F.pad(x, (p[1], p[1], p[0], p[0]), value=float("-inf"))  # never the max
    cols = im2col(x_pad.reshape(N * C, 1, *x_pad.shape[2:]), k, s, 0, d)  # (NC, kk, L)
    out, argmax = cols.max(dim=1)  # (N C, L): each window's max, and its index in kk
    Ho, Wo = _output_hw((H, W), k, s, p, d)
    return out.view(N, C, Ho, Wo), (x.shape, argmax, k, s, p, d)


def max_pool2d_backward(dout: Tensor, cache: PoolCache) -> Tensor:
    """Backward pass of :func:`max_pool2d_forward`: each window's max gets dout.

    Args:
        dout: (N, C, H_out, W_out) upstream gradient.
        cache: what :func:`max_pool2d_forward` returned.

    Returns:
        dx, (N, C, H, W). A pixel that is the max of several windows gets the sum.
    """
    (N, C, H, W), argmax, k, s, p, d = cache
    NC, L = argmax.shape
    Ho, Wo = _output_hw((H, W), k, s, p, d)
    check_shape(check_float_tensor(dout, "dout"), "dout", (N, C, Ho, Wo))
    dcols = dout.new_zeros(NC, k[0] * k[1], L)  # (N C, kh kw, L)
    # route: dcols[m, argmax[m, l], l] = dout[m, l], zero elsewhere in the window
    dcols.scatter_(1, argmax.unsqueeze(1), dout.reshape(NC, 1, L))
    dx = col2im(dcols, (H, W), k, s, p, d)  # (N C, 1, H, W): overlapping windows add
    return dx.view(N, C, H, W)


def _avg_divisor(
    x: Tensor, k: Pair, s: Pair, p: Pair, count_include_pad: bool, override: Any
) -> Tensor | float:
    """What each window's sum is divided by: a number, or (1, L) real-pixel counts."""
    if override is not None:
        return float(check_positive_int(override, "divisor_override"))
    if count_include_pad:
        return float(k[0] * k[1])
    ones = x.new_ones(1, 1, *x.shape[2:])  # count the real pixels (not padding) ...
    return im2col(ones, k, s, p).sum(1)  # ... in each window: (1, L)


def avg_pool2d_forward(
    x: Tensor,
    kernel_size: IntPair,
    stride: IntPair | None = None,
    padding: IntPair = 0,
    count_include_pad: bool = True,
    divisor_override: int | None = None,
) -> tuple[Tensor, PoolCache]:
    """The mean of each window, channel by channel, like ``F.avg_pool2d``.

    Args:
        x: (N, C, H, W) input.
        kernel_size: (kh, kw) or an int.
        stride: (sh, sw) or an int; None means kernel_size.
        padding: zeros (ph, pw) added on each side, at most half the kernel.
        count_include_pad: divide by kh kw (True) or by the number of pixels of the
            window that are not padding (False).
        divisor_override: if given, divide every window's sum by it instead.

    Returns:
        ``(out, cache)``: out is (N, C, H_out, W_out); cache holds x's shape, the
        divisor and the window's arguments.
    """
    k, s, p, d = _check_pool(x, kernel_size, stride, padding)
    _check_bool(count_include_pad, "count_include_pad")
    N, C, H, W = x.shape
    divisor = _avg_divisor(x, k, s, p, count_include_pad, divisor_override)
    cols = im2col(x.reshape(N * C, 1, H, W), k, s, p)  # (N C, kh kw, L)
    out = cols.sum(1) / divisor  # (N C, L)
    Ho, Wo = _output_hw((H, W), k, s, p)
    divisor = torch.as_tensor(divisor, dtype=x.dtype, device=x.device)
    return out.view(N, C, Ho, Wo), (x.shape, divisor, k, s, p, d)


def avg_pool2d_backward(dout: Tensor, cache: PoolCache) -> Tensor:
    """Backward pass of :func:`avg_pool2d_forward`: dout / divisor to every pixel.

    Args:
        dout: (N, C, H_out, W_out) upstream gradient.
        cache: what :func:`avg_pool2d_forward` returned.

    Returns:
        dx, (N, C, H, W).
    """
    (N, C, H, W), divisor, k, s, p, d = cache
    Ho, Wo = _output_hw((H, W), k, s, p)
    check_shape(check_float_tensor(dout, "dout"), "dout", (N, C, Ho, Wo))
    dcols = (dout.reshape(N * C, 1, Ho * Wo) / divisor).expand(-1, k[0] * k[1], -1)
    dx = col2im(dcols, (H, W), k, s, p, d)  # (N C, 1, H, W): overlapping windows add
    return dx.view(N, C, H, W)


# ---- batch normalization -------------------------------------------------------------
BatchNormCache = tuple[Tensor, Tensor, Tensor | None, bool, bool]


def _check_batch_norm(
    x: Tensor,
    running_mean: Tensor | None,
    running_var: Tensor | None,
    weight: Tensor | None,
    bias: Tensor | None,
    training: Any,
    momentum: Any,
    eps: Any,
) -> int:
    """Check batch_norm's arguments; return C."""
    C = check_float_tensor(x, "x", min_ndim=2).shape[1]
    _check_bool(training, "training")
    check_finite_number(momentum, "momentum", low=0, high=1)
    check_finite_number(eps, "eps", low=0, low_open=True)
    given = {"x": x}
    stats = {"running_mean": running_mean, "running_var": running_var}
    for name, t in {**stats, "weight": weight, "bias": bias}.items():
        if t is not None:
            given[name] = check_shape(check_float_tensor(t, name), name, (C,))
    check_tensors_match(**given)
    if (running_mean is None) != (running_var is None):
        raise ValueError("running_mean and running_var must be both given or both None")
    if not training and running_mean is None:
        raise ValueError("training=False needs running_mean and running_var, got None")
    if training and x.numel() <= C:
        raise ValueError(
            f"training needs more than 1 value per channel, got x of shape "
            f"{tuple(x.shape)}"
        )
    return C


def batch_norm_forward(
    x: Tensor,
    running_mean: Tensor | None,
    running_var: Tensor | None,
    weight: Tensor | None,
    bias: Tensor | None,
    training: bool,
    momentum: float = 0.1,
    eps: float = 1e-5,
) -> tuple[Tensor, BatchNormCache]:
    r"""Batch normalization of each channel, like ``F.batch_norm``.

    In training the statistics are the batch's, and the running estimates move
    toward them in place: :math:`\hat\mu \leftarrow (1 - m)\hat\mu + m \mu` and the
    same for the variance, with the unbiased variance :math:`\sigma^2 M / (M - 1)`,
    as PyTorch does. In evaluation the running estimates are used.

    Args:
        x: ``(N, C, *)`` input, e.g. (N, C, H, W) or (N, C).
        running_mean: (C,) running mean, updated in place in training, or None.
        running_var: (C,) running variance, updated in place in training, or None.
        weight: (C,) scale gamma, or None (1).
        bias: (C,) shift beta, or None (0).
        training: True to use (and track) the batch's statistics.
        momentum: m in [0, 1], the weight of the new batch in the running estimates.
        eps: a positive number added to the variance.

    Returns:
        ``(out, cache)``: out has x's shape; cache holds the normalized x, the
        inverse standard deviation, the weight, whether there is a bias and the mode.
    """
    C = _check_batch_norm(
        x, running_mean, running_var, weight, bias, training, momentum, eps
    )
    dims = [0, *range(2, x.dim())]  # every axis but the channels'
    shape = (1, C) + (1,) * (x.dim() - 2)  # to broadcast (C,) against (N, C, *)
    if training:
        M = x.numel() // C  # values per channel
        mean = x.mean(dims)  # Eq. (7.6), mu = 1/M sum x: (C,)
        var = x.var(dims, correction=0)  # Eq. (7.6), 1/M sum (x - mu)^2: (C,)
        if running_mean is not None:
            with torch.no_grad():  # Eq. (7.9): running <- (1 - m) running + m batch
                running_mean.mul_(1 - momentum).add_(mean, alpha=momentum)
                running_var.mul_(1 - momentum).add_(var * M / (M - 1), alpha=momentum)
    else:
        mean, var = running_mean, running_var
    inv_std = torch.rsqrt(var + eps)  # 1 / sqrt(sigma^2 + eps): (C,)
    x_hat = (x - mean.view(shape)) * inv_std.view(shape)  # Eq. (7.7): (N, C, *)
    out = x_hat if weight is None else x_hat * weight.view(shape)  # Eq. (7.8)
    if bias is not None:
        out = out + bias.view(shape)  # + beta
    return out, (x_hat, inv_std, weight, bias is not None, training)


def batch_norm_backward(
    dout: Tensor, cache: BatchNormCache
) -> tuple[Tensor, Tensor | None, Tensor | None]:
    r"""Backward pass of :func:`batch_norm_forward`.

    In training the mean and variance depend on x, which gives
    :math:`dx = \frac{1}{\sigma}\,(d\hat x - \overline{d\hat x}
    - \hat x\,\overline{d\hat x\,\hat x})` (bars: means over the M values of a
    channel); in evaluation :math:`dx = d\hat x / \sigma`.

    Args:
        dout: upstream gradient, with x's shape.
        cache: what :func:`batch_norm_forward` returned.

    Returns:
        ``(dx, dweight, dbias)``: x's shape, (C,) and (C,); dweight and dbias are
        None where the forward pass had no weight or no bias.
    """
    x_hat, inv_std, weight, has_bias, training = cache
    check_shape(check_float_tensor(dout, "dout"), "dout", tuple(x_hat.shape))
    C = x_hat.shape[1]
    dims = [0, *range(2, x_hat.dim())]
    shape = (1, C) + (1,) * (x_hat.dim() - 2)
    dbias = dout.sum(dims) if has_bias else None  # d beta = sum dout: (C,)
    dweight = None if weight is None else (dout * x_hat).sum(dims)  # d gamma: (C,)
    dx_hat = dout if weight is None else dout * weight.view(shape)  # (N, C, *)
    if training:  # dx = (dx_hat - mean(dx_hat) - x_hat mean(dx_hat x_hat)) / sigma
        dx_hat = (
            dx_hat
            - dx_hat.mean(dims, keepdim=True)
            - x_hat * (dx_hat * x_hat).mean(dims, keepdim=True)
        )
    dx = dx_hat * inv_std.view(shape)  # (N, C, *)
    return dx, dweight, dbias


# ---- the layers inside PyTorch's autograd --------------------------------------------
def _save(ctx: Any, cache: tuple) -> None:
    """Keep a cache on ctx: its tensors through save_for_backward, the rest as is."""
    ctx.is_tensor = [isinstance(c, Tensor) for c in cache]
    ctx.save_for_backward(*(c for c in cache if isinstance(c, Tensor)))
    ctx.others = [c for c in cache if not isinstance(c, Tensor)]


def _load(ctx: Any) -> tuple:
    tensors, others = iter(ctx.saved_tensors), iter(ctx.others)
    return tuple(next(tensors) if t else next(others) for t in ctx.is_tensor)


def _wanted(ctx: Any, *grads: Tensor | None) -> tuple[Tensor | None, ...]:
    """The gradients autograd asked for; None for the others."""
    return tuple(
        g if need else None for g, need in zip(grads, ctx.needs_input_grad, strict=True)
    )


class Conv2dFunction(torch.autograd.Function):
    """``F.conv2d`` over :func:`conv2d_forward` and :func:`conv2d_backward`."""

    @staticmethod
    def forward(ctx, x, weight, bias, stride, padding, dilation, groups):
        out, cache = conv2d_forward(x, weight, bias, stride, padding, dilation, groups)
        _save(ctx, cache)
        return out

    @staticmethod
    def backward(ctx, dout):
        return _wanted(ctx, *conv2d_backward(dout, _load(ctx)), None, None, None, None)


class MaxPool2dFunction(torch.autograd.Function):
    """``F.max_pool2d`` over :func:`max_pool2d_forward` and its backward."""

    @staticmethod
    def forward(ctx, x, kernel_size, stride, padding, dilation):
        out, cache = max_pool2d_forward(x, kernel_size, stride, padding, dilation)
        _save(ctx, cache)
        return out

    @staticmethod
    def backward(ctx, dout):
        return _wanted(ctx, max_pool2d_backward(dout, _load(ctx)), *[None] * 4)


class AvgPool2dFunction(torch.autograd.Function):
    """``F.avg_pool2d`` over :func:`avg_pool2d_forward` and its backward."""

    @staticmethod
    def forward(ctx, x, kernel_size, stride, padding, count_include_pad, divisor):
        out, cache = avg_pool2d_forward(
            x, kernel_size, stride, padding, count_include_pad, divisor
        )
        _save(ctx, cache)
        return out

    @staticmethod
    def backward(ctx, dout):
        return _wanted(ctx, avg_pool2d_backward(dout, _load(ctx)), *[None] * 5)


class BatchNormFunction(torch.autograd.Function):
    """``F.batch_norm`` over :func:`batch_norm_forward` and its backward."""

    @staticmethod
    def forward(ctx, x, mean, var, weight, bias, training, momentum, eps):
        out, cache = batch_norm_forward(
            x, mean, var, weight, bias, training, momentum, eps
        )
        _save(ctx, cache)
        return out

    @staticmethod
    def backward(ctx, dout):
        dx, dweight, dbias = batch_norm_backward(dout, _load(ctx))
        return _wanted(ctx, dx, None, None, dweight, dbias, None, None, None)


# ---- functional wrappers: torch.nn.functional's signatures ---------------------------
def _same_padding(
    x: Tensor, weight: Tensor, stride: Any, dilation: Any
) -> tuple[Tensor, Pair]:
    """``padding="same"``: d(k - 1) zeros per axis, the odd one at the right/bottom."""
    if _pair(stride, "stride") != (1, 1):
        raise ValueError(f"padding='same' needs stride 1, got stride={stride!r}")
    dilation = _pair(dilation, "dilation")
    total = [d * (k - 1) for k, d in zip(weight.shape[2:], dilation, strict=True)]
    half = (total[0] // 2, total[1] // 2)
    x = F.pad(x, (0, total[1] % 2, 0, total[0] % 2))  # as torch does for an even span
    return x, half


def conv2d(
    input: Tensor,
    weight: Tensor,
    bias: Tensor | None = None,
    stride: IntPair = 1,
    padding: IntPair | str = 0,
    dilation: IntPair = 1,
    groups: int = 1,
) -> Tensor:
    """``F.conv2d`` with our forward and backward passes (:class:`Conv2dFunction`).

    Args:
        input: (N, C_in, H, W) or unbatched (C_in, H, W) input.
        weight: (C_out, C_in / groups, kh, kw) filters.
        bias: (C_out,) or None.
        stride: (sh, sw) or an int.
        padding: (ph, pw), an int, ``"valid"`` (0) or ``"same"`` (output size =
            input size; stride 1 only).
        dilation: (dh, dw) or an int.
        groups: the number of channel groups.

    Returns:
        (N, C_out, H_out, W_out) output, or (C_out, H_out, W_out) if unbatched.
    """
    if check_tensor(input, "input").dim() == 3:  # unbatched, as F.conv2d allows
        return conv2d(input[None], weight, bias, stride, padding, dilation, groups)[0]
    if isinstance(padding, str):
        check_in(padding, "padding", ("valid", "same"))
        check_float_tensor(weight, "weight", ndim=4)
        if padding == "same":
            input, padding = _same_padding(input, weight, stride, dilation)
        else:
            padding = 0
    return Conv2dFunction.apply(input, weight, bias, stride, padding, dilation, groups)


def max_pool2d(
    input: Tensor,
    kernel_size: IntPair,
    stride: IntPair | None = None,
    padding: IntPair = 0,
    dilation: IntPair = 1,
    ceil_mode: bool = False,
    return_indices: bool = False,
) -> Tensor:
    """``F.max_pool2d`` with our forward and backward passes.

    Args:
        input: (N, C, H, W) or unbatched (C, H, W) input.
        kernel_size: (kh, kw) or an int.
        stride: (sh, sw) or an int; None (or an empty list) means kernel_size.
        padding: -inf (ph, pw) added on each side, at most half the kernel.
        dilation: (dh, dw) or an int.
        ceil_mode: must be False (not supported).
        return_indices: must be False (not supported).

    Returns:
        (N, C, H_out, W_out) output, or (C, H_out, W_out) if unbatched.
    """
    _check_unsupported(ceil_mode=ceil_mode, return_indices=return_indices)
    stride = None if isinstance(stride, tuple | list) and not stride else stride
    if check_tensor(input, "input").dim() == 3:
        return max_pool2d(input[None], kernel_size, stride, padding, dilation)[0]
    return MaxPool2dFunction.apply(input, kernel_size, stride, padding, dilation)


def avg_pool2d(
    input: Tensor,
    kernel_size: IntPair,
    stride: IntPair | None = None,
    padding: IntPair = 0,
    ceil_mode: bool = False,
    count_include_pad: bool = True,
    divisor_override: int | None = None,
) -> Tensor:
    """``F.avg_pool2d`` with our forward and backward passes.

    Args:
        input: (N, C, H, W) or unbatched (C, H, W) input.
        kernel_size: (kh, kw) or an int.
        stride: (sh, sw) or an int; None (or an empty list) means kernel_size.
        padding: zeros (ph, pw) added on each side, at most half the kernel.
        ceil_mode: must be False (not supported).
        count_include_pad: whether padding counts in each window's mean.
        divisor_override: if given, divide every window's sum by it instead.

    Returns:
        (N, C, H_out, W_out) output, or (C, H_out, W_out) if unbatched.
    """
    _check_unsupported(ceil_mode=ceil_mode)
    stride = None if isinstance(stride, tuple | list) and not stride else stride
    args = (kernel_size, stride, padding, count_include_pad, divisor_override)
    if check_tensor(input, "input").dim() == 3:
        return AvgPool2dFunction.apply(input[None], *args)[0]
    return AvgPool2dFunction.apply(input, *args)


def batch_norm(
    input: Tensor,
    running_mean: Tensor | None,
    running_var: Tensor | None,
    weight: Tensor | None = None,
    bias: Tensor | None = None,
    training: bool = False,
    momentum: float = 0.1,
    eps: float = 1e-5,
) -> Tensor:
    """``F.batch_norm`` with our forward and backward passes.

    Args:
        input: ``(N, C, *)`` input.
        running_mean: (C,) running mean, updated in place in training, or None.
        running_var: (C,) running variance, updated in place in training, or None.
        weight: (C,) scale, or None.
        bias: (C,) shift, or None.
        training: True to use (and track) the batch's statistics.
        momentum: the weight of the new batch in the running estimates.
        eps: added to the variance.

    Returns:
        The normalized input, input's shape.
    """
    return BatchNormFunction.apply(
        input, running_mean, running_var, weight, bias, training, momentum, eps
    )


# ---- modules: torch's parameters and buffers, our computation ------------------------
class Conv2d(nn.Conv2d):
    """``nn.Conv2d`` computed by :func:`conv2d`: same parameters and state dict."""

    def forward(self, input: Tensor) -> Tensor:
        if self.padding_mode != "zeros":  # reflect/replicate/circular: pad first
            pad = self._reversed_padding_repeated_twice
            input, padding = F.pad(input, pad, mode=self.padding_mode), 0
        else:
            padding = self.padding
        return conv2d(
            input,
            self.weight,
            self.bias,
            self.stride,
            padding,
            self.dilation,
            self.groups,
        )


class MaxPool2d(nn.MaxPool2d):
    """``nn.MaxPool2d`` computed by :func:`max_pool2d`."""

    def forward(self, input: Tensor) -> Tensor:
        return max_pool2d(
            input,
            self.kernel_size,
            self.stride,
            self.padding,
            self.dilation,
            self.ceil_mode,
            self.return_indices,
        )


class AvgPool2d(nn.AvgPool2d):
    """``nn.AvgPool2d`` computed by :func:`avg_pool2d`."""

    def forward(self, input: Tensor) -> Tensor:
        return avg_pool2d(
            input,
            self.kernel_size,
            self.stride,
            self.padding,
            self.ceil_mode,
            self.count_include_pad,
            self.divisor_override,
        )


class BatchNorm2d(nn.BatchNorm2d):
    """``nn.BatchNorm2d`` computed by :func:`batch_norm`.

    Same parameters (``weight``, ``bias``), buffers (``running_mean``,
    ``running_var``, ``num_batches_tracked``) and rules as torch's: ``momentum=None``
    makes the running estimates cumulative averages (the factor is
    1 / num_batches_tracked), and ``track_running_stats=False`` always normalizes
    with the batch's statistics.
    """

    def forward(self, input: Tensor) -> Tensor:
        self._check_input_dim(input)
        factor = 0.0 if self.momentum is None else self.momentum
        if self.training and self.track_running_stats:
            self.num_batches_tracked.add_(1)
            if self.momentum is None:  # cumulative moving average
                factor = 1.0 / float(self.num_batches_tracked)
        use_batch = self.training or self.running_mean is None
        track = not self.training or self.track_running_stats
        return batch_norm(
            input,
            self.running_mean if track else None,
            self.running_var if track else None,
            self.weight,
            self.bias,
            use_batch,
            factor,
            self.eps,
        )
