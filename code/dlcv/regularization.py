r"""Regularization: dropout, normalization, augmentation (lecture 10, chapter 10).

Taught by the chapter "Training neural networks I" (``book/training_i.md``, chapter 10).
Regularizers share one pattern: in training, add randomness z (a dropout mask, a crop,
a mixing weight); at test time, average it out, :math:`y = \mathbb{E}_z[f(x, z)]`.
Dropout (Srivastava et al., 2014) zeroes each unit with the DROP probability p, as in
``nn.Dropout``: the classic form multiplies by the KEEP probability 1 - p at test time,
and inverted dropout divides by 1 - p in training instead, so testing is the identity.
DropConnect (Wan et al., 2013) drops weights instead of activations; stochastic depth
(Huang et al., 2016) drops whole residual branches; fractional max pooling (Graham,
2014) pools over pseudo-random regions. Augmentation acts on (N, C, H, W) batches with
randomness per example: random crops and flips, cutout (DeVries and Taylor, 2017) and
mixup (Zhang et al., 2018). Layer normalization (Ba et al., 2016) normalizes each
example over its last dimensions, with a hand-written backward pass.

Equations of the chapter: (10.8) ``tr1-dropout`` and (10.9) ``tr1-inverted``.

Torch counterparts, with their argument names and defaults: ``F.dropout`` /
``nn.Dropout``, ``F.layer_norm`` / ``nn.LayerNorm``, ``nn.BatchNorm1d``,
``F.fractional_max_pool2d`` / ``nn.FractionalMaxPool2d``, and torchvision's
``ops.stochastic_depth``, ``transforms.RandomCrop``, ``RandomHorizontalFlip``;
:class:`Dropout`, :class:`LayerNorm`, :class:`BatchNorm1d`, :class:`DropConnectLinear`
and :class:`FractionalMaxPool2d` subclass their ``nn`` namesakes, so state dicts load
both ways. Randomness comes from the ``generator`` argument, drawn on its device (a CPU
generator gives the same draws for CPU and CUDA inputs), else from torch's global
generator on x's device, like torch's functions.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from dlcv._checks import (
    check_finite_number,
    check_float_tensor,
    check_in,
    check_labels,
    check_positive_int,
    check_shape,
    check_tensors_match,
)
from dlcv.conv import BatchNorm2d, _check_bool, _load, _pair, _save, _wanted

__all__ = [
    "BatchNorm1d",
    "DropConnectLinear",
    "Dropout",
    "FractionalMaxPool2d",
    "LayerNorm",
    "LayerNormFunction",
    "StochasticDepth",
    "cutout",
    "dropout",
    "dropout_classic",
    "fractional_max_pool2d",
    "layer_norm",
    "layer_norm_backward",
    "layer_norm_forward",
    "mixup",
    "random_crop",
    "random_horizontal_flip",
    "stochastic_depth",
]

LayerNormCache = tuple[Tensor, Tensor, Tensor | None, bool, tuple[int, ...]]


def _check_p(p: Any, training: Any) -> float:
    """A drop probability in [0, 1] (NaN rejected) and a bool ``training``."""
    _check_bool(training, "training")
    return check_finite_number(p, "p", low=0, high=1)


def _device(x: Tensor, generator: torch.Generator | None) -> torch.device:
    """Where to draw: on the generator's device (so a CPU generator gives the same
    draws for CPU and CUDA data), else on x's."""
    return x.device if generator is None else generator.device


def _rand(shape: Sequence[int], x: Tensor, generator: torch.Generator | None) -> Tensor:
    """Uniform [0, 1) draws of x's dtype, moved to x's device."""
    where = _device(x, generator)
    u = torch.rand(shape, generator=generator, dtype=x.dtype, device=where)
    return u.to(x.device)


def _randint(
    shape: Sequence[int], x: Tensor, generator: torch.Generator | None
) -> Tensor:
    """Integers uniform in [0, 2^62), moved to x's device; ``% n`` is uniform."""
    k = torch.randint(2**62, shape, generator=generator, device=_device(x, generator))
    return k.to(x.device)


# ---- dropout ---------------------------------------------------------------------
def dropout(
    x: Tensor,
    p: float = 0.5,
    training: bool = True,
    generator: torch.Generator | None = None,
) -> Tensor:
    """Inverted dropout, like ``F.dropout``: p is the DROP probability.

    Args:
        x: floating-point input of any shape.
        p: probability of zeroing each element, in [0, 1].
        training: True to drop; False returns x unchanged.
        generator: source of the mask, any device; None for torch's global one.

    Returns:
        x's shape: x m / (1 - p) with m ~ Bernoulli(1 - p) in training (zeros for
        p = 1, as torch), x itself in evaluation.
    """
    check_float_tensor(x, "x")
    p = _check_p(p, training)
    if not training or p == 0:
        return x  # test time: the identity, since E[m / (1 - p)] = 1
    if p == 1:
        return x * 0.0  # every unit dropped
    m = _rand(x.shape, x, generator) < 1 - p  # keep mask, m ~ Bernoulli(1 - p)
    return x * m / (1 - p)  # Eq. (10.9): scale the survivors in training


def dropout_classic(
    x: Tensor,
    p: float = 0.5,
    training: bool = True,
    generator: torch.Generator | None = None,
) -> Tensor:
    """The original, non-inverted dropout: scale by the KEEP probability at test time.

    Args:
        x: floating-point input of any shape.
        p: probability of zeroing each element, in [0, 1].
        training: True to drop; False to scale instead.
        generator: source of the mask, any device; None for torch's global one.

    Returns:
        x's shape: x m with m ~ Bernoulli(1 - p) in training, x (1 - p) at test time.
    """
    check_float_tensor(x, "x")
    p = _check_p(p, training)
    if not training:
        return x * (1 - p)  # Eq. (10.8): E[x m] = (1 - p) x, the keep probability
    m = _rand(x.shape, x, generator) < 1 - p  # keep mask, m ~ Bernoulli(1 - p)
    return x * m


class Dropout(nn.Dropout):
    """``nn.Dropout`` computed by :func:`dropout`, with an optional ``generator``.

    Args:
        p: drop probability, in [0, 1].
        inplace: write the result into the input, as torch.
        generator: source of the masks, on the input's device; None for torch's
            global generator.
    """

    def __init__(
        self,
        p: float = 0.5,
        inplace: bool = False,
        *,
        generator: torch.Generator | None = None,
    ) -> None:
        super().__init__(p, inplace)
        self.generator = generator

    def forward(self, input: Tensor) -> Tensor:
        out = dropout(input, self.p, self.training, self.generator)
        return input.copy_(out) if self.inplace and out is not input else out


class DropConnectLinear(nn.Linear):
    r"""``nn.Linear`` whose weights are dropped in training (DropConnect).

    In training every forward pass draws one keep mask M ~ Bernoulli(1 - p) over the
    weight and computes :math:`y = x (M \odot W)^\top / (1 - p) + b` (inverted
    scaling; the bias is kept); in evaluation it is ``nn.Linear``. Same parameters
    and state dict as ``nn.Linear``.

    Args:
        in_features: D_in.
        out_features: D_out.
        bias: whether to learn a bias.
        device: where to create the parameters.
        dtype: their dtype.
        p: drop probability of each weight, in [0, 1].
        generator: source of the masks; None for torch's global generator.
    """

    def __init__(
        self,
        in_features: int,
        out_features: int,
        bias: bool = True,
        device: Any = None,
        dtype: torch.dtype | None = None,
        *,
        p: float = 0.5,
        generator: torch.Generator | None = None,
    ) -> None:
        super().__init__(in_features, out_features, bias, device, dtype)
        self.p = _check_p(p, True)
        self.generator = generator

    def forward(self, input: Tensor) -> Tensor:
        weight = dropout(self.weight, self.p, self.training, self.generator)
        return F.linear(input, weight, self.bias)  # (*, D_in) -> (*, D_out)

    def extra_repr(self) -> str:
        return f"{super().extra_repr()}, p={self.p}"


# ---- layer normalization -------------------------------------------------------------
def _normalized_dims(x: Tensor, normalized_shape: Any) -> tuple[int, ...]:
    """normalized_shape as a tuple that x's shape must end with."""
    shape = normalized_shape
    shape = (shape,) if isinstance(shape, int) else tuple(shape)  # D -> (D,)
    shape = tuple(check_positive_int(s, "normalized_shape") for s in shape)
    check_shape(check_float_tensor(x, "x"), "x", ("...", *shape))
    return shape


def layer_norm_forward(
    x: Tensor,
    normalized_shape: int | Sequence[int],
    weight: Tensor | None = None,
    bias: Tensor | None = None,
    eps: float = 1e-5,
) -> tuple[Tensor, LayerNormCache]:
    r"""Layer normalization of each example over its last dimensions.

    :math:`\hat x = (x - \mu) / \sqrt{\sigma^2 + \epsilon}` with :math:`\mu` and
    :math:`\sigma^2` the mean and (biased) variance over the normalized dimensions,
    then :math:`y = \gamma \hat x + \beta`; unlike batch norm, the statistics are the
    example's own, so training and testing compute the same thing.

    Args:
        x: ``(*, *normalized_shape)`` input, e.g. (N, D) or (N, T, D).
        normalized_shape: the trailing shape to normalize over, e.g. D or (C, H, W).
        weight: ``normalized_shape`` scale gamma, or None (1).
        bias: ``normalized_shape`` shift beta, or None (0).
        eps: a positive number added to the variance.

    Returns:
        ``(out, cache)``: out has x's shape; cache holds x_hat, 1/sigma, the weight,
        whether there is a bias and the normalized axes.
    """
    shape = _normalized_dims(x, normalized_shape)
    eps = check_finite_number(eps, "eps", low=0, low_open=True)
    for name, t in {"weight": weight, "bias": bias}.items():
        if t is not None:
            check_shape(check_float_tensor(t, name), name, shape)
    dims = tuple(range(-len(shape), 0))  # the normalized (trailing) axes
    mu = x.mean(dims, keepdim=True)  # mu = mean over the last dims: (*, 1, ..., 1)
    var = x.var(dims, correction=0, keepdim=True)  # sigma^2, biased
    inv_std = torch.rsqrt(var + eps)  # 1 / sqrt(sigma^2 + eps)
    x_hat = (x - mu) * inv_std  # x_hat = (x - mu) / sigma: x's shape
    out = x_hat if weight is None else x_hat * weight  # gamma x_hat
    out = out if bias is None else out + bias  # + beta
    return out, (x_hat, inv_std, weight, bias is not None, dims)


def layer_norm_backward(
    dout: Tensor, cache: LayerNormCache
) -> tuple[Tensor, Tensor | None, Tensor | None]:
    r"""Backward pass of :func:`layer_norm_forward`.

    Batch norm's formula with the roles of the axes swapped: the means are over the
    normalized dimensions of each example,
    :math:`dx = \frac{1}{\sigma}(d\hat x - \overline{d\hat x}
    - \hat x\,\overline{d\hat x\,\hat x})`; gamma's and beta's gradients sum over
    the leading (example) dimensions.

    Args:
        dout: upstream gradient, with x's shape.
        cache: what :func:`layer_norm_forward` returned.

    Returns:
        ``(dx, dweight, dbias)``: x's shape, normalized_shape and normalized_shape;
        None where the forward pass had no weight or no bias.
    """
    x_hat, inv_std, weight, has_bias, dims = cache
    check_shape(check_float_tensor(dout, "dout"), "dout", tuple(x_hat.shape))
    lead = tuple(range(x_hat.dim() - len(dims)))  # example axes: sum for gamma, beta
    dbias = dout.sum(lead) if has_bias else None  # d beta = sum dout
    dweight = None if weight is None else (dout * x_hat).sum(lead)  # d gamma
    dx_hat = dout if weight is None else dout * weight  # x's shape
    dx = inv_std * (
        dx_hat
        - dx_hat.mean(dims, keepdim=True)
        - x_hat * (dx_hat * x_hat).mean(dims, keepdim=True)
    )
    return dx, dweight, dbias


class LayerNormFunction(torch.autograd.Function):
    """``F.layer_norm`` over :func:`layer_norm_forward` and its backward."""

    @staticmethod
    def forward(ctx, x, normalized_shape, weight, bias, eps):
        out, cache = layer_norm_forward(x, normalized_shape, weight, bias, eps)
        _save(ctx, cache)
        return out

    @staticmethod
    def backward(ctx, dout):
        dx, dweight, dbias = layer_norm_backward(dout, _load(ctx))
        return _wanted(ctx, dx, None, dweight, dbias, None)


def layer_norm(
    x: Tensor,
    normalized_shape: int | Sequence[int],
    weight: Tensor | None = None,
    bias: Tensor | None = None,
    eps: float = 1e-5,
) -> Tensor:
    """``F.layer_norm`` with our forward and backward passes.

    Args:
        x: ``(*, *normalized_shape)`` input.
        normalized_shape: the trailing shape to normalize over.
        weight: ``normalized_shape`` scale, or None.
        bias: ``normalized_shape`` shift, or None.
        eps: added to the variance.

    Returns:
        The normalized input, x's shape.
    """
    return LayerNormFunction.apply(x, normalized_shape, weight, bias, eps)


class LayerNorm(nn.LayerNorm):
    """``nn.LayerNorm`` computed by :func:`layer_norm`: same parameters, state dict."""

    def forward(self, input: Tensor) -> Tensor:
        shape, eps = self.normalized_shape, self.eps
        return layer_norm(input, shape, self.weight, self.bias, eps)


class BatchNorm1d(nn.BatchNorm1d):
    """``nn.BatchNorm1d`` on (N, C) or (N, C, L), computed by ``dlcv.conv.batch_norm``.

    Same parameters, buffers and rules as torch's (and as
    :class:`dlcv.conv.BatchNorm2d`, whose forward it shares).
    """

    forward = BatchNorm2d.forward


# ---- augmentation on (N, C, H, W) batches --------------------------------------------
def random_crop(
    x: Tensor,
    size: int | tuple[int, int],
    padding: int = 0,
    generator: torch.Generator | None = None,
) -> Tensor:
    """A random (h, w) crop of each image, after zero padding, like ``RandomCrop``.

    Args:
        x: (N, C, H, W) images.
        size: crop size, an int or (h, w), at most the padded image's size.
        padding: zeros added on every side first.
        generator: source of the offsets, any device; None for torch's global one.

    Returns:
        (N, C, h, w): image n is ``x_pad[n, :, i:i + h, j:j + w]``, with the offsets
        i and j uniform over all positions where the crop fits.
    """
    N, _C, H, W = check_float_tensor(x, "x", ndim=4).shape
    (h, w), pad = _pair(size, "size"), check_positive_int(padding, "padding", minimum=0)
    if h > H + 2 * pad or w > W + 2 * pad:
        raise ValueError(
            f"size must fit the padded image {(H + 2 * pad, W + 2 * pad)}, got {(h, w)}"
        )
    x_pad = F.pad(x, (pad, pad, pad, pad))  # (N, C, H + 2 pad, W + 2 pad)
    high = torch.tensor([H + 2 * pad - h + 1, W + 2 * pad - w + 1], device=x.device)
    ij = (_randint((N, 2), x, generator) % high).tolist()  # (N, 2) uniform offsets
    crops = [x_pad[n, :, i : i + h, j : j + w] for n, (i, j) in enumerate(ij)]
    return torch.stack(crops)  # (N, C, h, w)


def random_horizontal_flip(
    x: Tensor, p: float = 0.5, generator: torch.Generator | None = None
) -> Tensor:
    """Mirror each image left-right with probability p, like ``RandomHorizontalFlip``.

    Args:
        x: (N, C, H, W) images.
        p: probability of flipping each image, in [0, 1].
        generator: source of the coin flips, any device; None for torch's global one.

    Returns:
        (N, C, H, W): the flipped images and the others unchanged.
    """
    N = check_float_tensor(x, "x", ndim=4).shape[0]
    p = check_finite_number(p, "p", low=0, high=1)
    flip = _rand((N, 1, 1, 1), x, generator) < p  # (N, 1, 1, 1), Bernoulli(p)
    return torch.where(flip, x.flip(-1), x)  # flip(-1) reverses the columns


def cutout(x: Tensor, size: int, generator: torch.Generator | None = None) -> Tensor:
    """Zero one size x size square in each image (DeVries and Taylor, 2017).

    The square's center is uniform over the pixels, so the square may be clipped at
    the border (then fewer than size^2 pixels are zeroed), as in the paper.

    Args:
        x: (N, C, H, W) images.
        size: the square's side, a positive int.
        generator: source of the centers, any device; None for torch's global one.

    Returns:
        (N, C, H, W): x with rows [cy - size//2, cy - size//2 + size) x the same
        columns around (cy, cx) zeroed in every channel.
    """
    N, _C, H, W = check_float_tensor(x, "x", ndim=4).shape
    size = check_positive_int(size, "size")
    hw = torch.tensor([H, W], device=x.device)
    center = _randint((N, 2), x, generator) % hw  # (N, 2), uniform pixels (cy, cx)
    top_left = center - size // 2  # (N, 2), may be negative: clipped below
    rows = torch.arange(H, device=x.device)  # (H,)
    cols = torch.arange(W, device=x.device)  # (W,)
    in_rows = (rows >= top_left[:, :1]) & (rows < top_left[:, :1] + size)  # (N, H)
    in_cols = (cols >= top_left[:, 1:]) & (cols < top_left[:, 1:] + size)  # (N, W)
    square = in_rows[:, None, :, None] & in_cols[:, None, None, :]  # (N, 1, H, W)
    return x.masked_fill(square, 0.0)


def mixup(
    x: Tensor,
    y: Tensor,
    alpha: float,
    num_classes: int,
    generator: torch.Generator | None = None,
) -> tuple[Tensor, Tensor]:
    r"""Mix each example with another of the batch (Zhang et al., 2018).

    One :math:`\lambda \sim \mathrm{Beta}(\alpha, \alpha)` per batch and a random
    permutation :math:`\pi` of it: :math:`\tilde x = \lambda x + (1 - \lambda)
    x_\pi` and :math:`\tilde y = \lambda\,\mathrm{onehot}(y) + (1 - \lambda)
    \,\mathrm{onehot}(y_\pi)`. ``F.cross_entropy`` takes the soft labels, and equals
    :math:`\lambda\,CE(y) + (1 - \lambda)\,CE(y_\pi)`.

    Args:
        x: ``(N, *)`` inputs, e.g. (N, C, H, W).
        y: (N,) integer labels in [0, num_classes).
        alpha: the Beta distribution's parameter, positive (1: lambda uniform).
        num_classes: K, the width of the soft labels.
        generator: source of lambda and the permutation, any device; None for
            torch's global one.

    Returns:
        ``(x_mixed, y_soft)``: ``(N, *)`` and ``(N, K)``, of x's dtype; rows sum
        to 1.
    """
    N = check_float_tensor(x, "x", min_ndim=1).shape[0]
    K = check_positive_int(num_classes, "num_classes")
    y = check_labels(y, "y", n=N, num_classes=K)
    alpha = check_finite_number(alpha, "alpha", low=0, low_open=True)
    seed = _randint((), x, generator).item()  # numpy draws lambda from this seed
    lam = float(np.random.default_rng(seed).beta(alpha, alpha))  # Beta(alpha, alpha)
    perm = torch.randperm(N, generator=generator, device=_device(x, generator))  # pi
    perm = perm.to(x.device)
    y_hot = F.one_hot(y, K).to(x.dtype)  # (N, K)
    x_mixed = lam * x + (1 - lam) * x[perm]  # lam x + (1 - lam) x_pi
    y_soft = lam * y_hot + (1 - lam) * y_hot[perm]  # lam y + (1 - lam) y_pi
    return x_mixed, y_soft


# ---- stochastic depth ----------------------------------------------------------------
def stochastic_depth(
    x: Tensor,
    p: float,
    mode: str = "row",
    training: bool = True,
    generator: torch.Generator | None = None,
) -> Tensor:
    """Drop a residual branch's output, like ``torchvision.ops.stochastic_depth``.

    Use it on the branch: ``x + stochastic_depth(f(x), p, "row")``.

    Args:
        x: ``(N, *)`` output of a residual branch.
        p: probability of dropping it, in [0, 1].
        mode: ``"row"`` drops each example's branch independently; ``"batch"`` drops
            the whole batch's at once.
        training: True to drop; False returns x unchanged.
        generator: source of the mask, any device; None for torch's global one.

    Returns:
        x's shape: x m / (1 - p) with m ~ Bernoulli(1 - p) per row (or per batch);
        zeros for p = 1.
    """
    check_float_tensor(x, "x", min_ndim=1)
    p = _check_p(p, training)
    mode = check_in(mode, "mode", ("row", "batch"))
    if not training or p == 0:
        return x
    size = [x.shape[0] if mode == "row" else 1] + [1] * (x.dim() - 1)  # (N, 1, ...)
    m = _rand(size, x, generator) < 1 - p  # survivors, Bernoulli(1 - p)
    return x * m / (1 - p) if p < 1 else x * m


class StochasticDepth(nn.Module):
    """Module form of :func:`stochastic_depth`, like torchvision's ``StochasticDepth``.

    Args:
        p: drop probability, in [0, 1].
        mode: ``"row"`` or ``"batch"``.
        generator: source of the masks; None for torch's global generator.
    """

    def __init__(
        self, p: float, mode: str, *, generator: torch.Generator | None = None
    ) -> None:
        super().__init__()
        self.p = _check_p(p, True)
        self.mode = check_in(mode, "mode", ("row", "batch"))
        self.generator = generator

    def forward(self, input: Tensor) -> Tensor:
        return stochastic_depth(input, self.p, self.mode, self.training, self.generator)

    def extra_repr(self) -> str:
        return f"p={self.p}, mode={self.mode}"


# ---- fractional max pooling ----------------------------------------------------------
def _intervals(u: Tensor, n_in: int, n_out: int, k: int) -> Tensor:
    """Graham's window starts: (N, C) samples u in [0, 1) -> (N, C, n_out) starts.

    a = (n_in - k) / (n_out - 1); start_i = floor((i + u) a) - floor(u a), and the
    last window ends at the border. Computed in u's dtype, as PyTorch does, so the
    starts are the same to the last bit.
    """
    last = u.new_full((*u.shape, 1), n_in - k).long()
    if n_out == 1:
        return last
    a = u.new_tensor(n_in - k) / u.new_tensor(n_out - 1)  # alpha, in u's dtype
    i = torch.arange(n_out - 1, dtype=u.dtype, device=u.device)  # (n_out - 1,)
    u = u[..., None]  # (N, C, 1)
    starts = ((i + u) * a).long() - (u * a).long()  # truncation = floor, all >= 0
    return torch.cat([starts, last], dim=-1)  # (N, C, n_out)


def fractional_max_pool2d(
    x: Tensor,
    kernel_size: int | tuple[int, int],
    output_size: int | tuple[int, int] | None = None,
    output_ratio: float | tuple[float, float] | None = None,
    return_indices: bool = False,
    _random_samples: Tensor | None = None,
    generator: torch.Generator | None = None,
) -> Tensor | tuple[Tensor, Tensor]:
    """Fractional max pooling (Graham, 2014), like ``F.fractional_max_pool2d``.

    Pools with a k x k window whose start rows and columns advance by a fractional
    step a = (H - k) / (H_out - 1), so the output can shrink by any ratio, e.g.
    1/sqrt(2). Each (example, channel) plane draws its own offsets u in [0, 1):
    ``_random_samples[n, c] = (u_w, u_h)``, as in PyTorch.

    Args:
        x: (N, C, H, W) or (C, H, W) input.
        kernel_size: k, an int or (kh, kw).
        output_size: (H_out, W_out) or an int; or None to use ``output_ratio``.
        output_ratio: ratio in (0, 1) of the output's size to the input's, a number
            or a pair; used when output_size is None.
        return_indices: also return the argmax of each window, flattened in its
            plane (h W + w), as ``F.max_unpool2d`` wants.
        _random_samples: (N, C, 2) samples in [0, 1) of x's dtype, or None to draw.
        generator: source of the samples when none are given, any device.

    Returns:
        (N, C, H_out, W_out) maxima, and the (int64) indices if ``return_indices``.
    """
    batched = check_float_tensor(x, "x", min_ndim=3).dim() == 4
    if not batched:  # (C, H, W) -> (1, C, H, W)
        x = check_float_tensor(x, "x", ndim=3).unsqueeze(0)
    N, C, H, W = check_float_tensor(x, "x", ndim=4).shape
    kh, kw = _pair(kernel_size, "kernel_size")
    if output_size is None and output_ratio is None:
        raise ValueError("output_size or output_ratio must be given, got both None")
    if output_size is None:
        r = output_ratio
        r = r if isinstance(r, tuple | list) else (r, r)
        rh, rw = (check_finite_number(v, "output_ratio", low=0, high=1) for v in r)
        output_size = (int(H * rh), int(W * rw))  # as F.fractional_max_pool2d
    H_out, W_out = _pair(output_size, "output_size")
    if H_out + kh - 1 > H or W_out + kw - 1 > W:
        raise ValueError(
            f"output_size + kernel_size - 1 must be at most the input size {(H, W)}, "
            f"got output_size {(H_out, W_out)} and kernel_size {(kh, kw)}"
        )
    _check_bool(return_indices, "return_indices")
    if _random_samples is None:
        _random_samples = _rand((N, C, 2), x, generator)
    u = check_float_tensor(_random_samples, "_random_samples")
    check_shape(u, "_random_samples", (N, C, 2))
    check_tensors_match(x=x, _random_samples=u)  # u's dtype sets the arithmetic
    rows = _intervals(u[..., 1], H, H_out, kh)  # (N, C, H_out): window start rows
    cols = _intervals(u[..., 0], W, W_out, kw)  # (N, C, W_out): start columns
    # the max of the kh x kw window at EVERY start (torch's max pool, stride 1), with
    # its argmax in the plane (h W + w); then keep the rows and columns that start a
    # window: the same maxima, ties and NaNs as torch, and a fast backward
    dense, flat = F.max_pool2d(x, (kh, kw), stride=1, return_indices=True)
    r = rows[..., None].expand(N, C, H_out, dense.shape[-1])  # (N, C, H_out, W')
    q = cols[:, :, None, :].expand(N, C, H_out, W_out)  # (N, C, H_out, W_out)
    out = dense.gather(2, r).gather(3, q)  # (N, C, H_out, W_out)
    indices = flat.gather(2, r).gather(3, q)  # (N, C, H_out, W_out)
    if not batched:
        out, indices = out[0], indices[0]
    return (out, indices) if return_indices else out


class FractionalMaxPool2d(nn.FractionalMaxPool2d):
    """``nn.FractionalMaxPool2d`` computed by :func:`fractional_max_pool2d`."""

    def forward(self, input: Tensor) -> Tensor | tuple[Tensor, Tensor]:
        return fractional_max_pool2d(
            input,
            self.kernel_size,
            self.output_size,
            self.output_ratio,
            self.return_indices,
            _random_samples=self._random_samples,
        )
