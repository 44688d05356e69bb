r"""Autoregressive image models: masked convolutions and PixelCNN (lecture 19).

An autoregressive model writes the probability of an image as a product of
conditionals, one pixel at a time in raster order (row by row, left to right):

.. math::

    p(x) = \prod_{i=1}^{H W} p(x_i \mid x_1, \dots, x_{i-1}),

so that its log-likelihood is a sum of per-pixel terms that a network can compute for
all pixels at once, provided the network's output at pixel i never sees pixels i, i+1,
... of its input. PixelCNN (van den Oord, Kalchbrenner and Kavukcuoglu, "Pixel
Recurrent Neural Networks", 2016) ensures this with masked convolutions: the kernel's
weights at and after the centre, in raster order, are multiplied by zero.

- :class:`MaskedConv2d`: a ``nn.Conv2d`` whose kernel is multiplied by the buffer
  ``mask``. Type ``"A"`` hides the centre too (the first layer, which must not see the
  pixel it predicts); type ``"B"`` keeps the centre (later layers, whose centre
  already holds only the past). Images here have one channel, so there is no
  grouping of colour channels (the paper's R, G, B ordering).
- :class:`PixelCNN`: a 7x7 type-A convolution, residual blocks around 3x3 type-B
  convolutions, then 1x1 convolutions to one Bernoulli logit per pixel, for
  binarized images: :math:`p(x_i = 1 \mid x_{<i}) = \sigma(\ell_i)`.
- :func:`binarize` (threshold or Bernoulli draws), :func:`nll_bits_per_dim` (the
  negative log-likelihood in bits per pixel,
  :math:`-\frac{1}{D} \sum_i \log_2 p(x_i \mid x_{<i})`), and :func:`sample` (H W
  forward passes, each drawing the next pixel from the model's conditional).

The stack of masked convolutions has a blind spot (pixels above and to the right of
the receptive field's diagonal edge are never seen); gated PixelCNN (van den Oord et
al., 2016b) removes it with separate vertical and horizontal stacks, not done here.

The chapter (``book/generative_i.md``) numbers the equations tagged in the code
below: (15.3) ``gen-chain``, (15.5) ``gen-mask`` and (15.6) ``gen-bpd``.

Torch counterparts: none for the masked convolution. :class:`MaskedConv2d` subclasses
``nn.Conv2d`` and keeps its parameters ``weight`` and ``bias`` (its state dict is a
``nn.Conv2d``'s plus the ``mask`` buffer); deliberate differences: stride 1 and
"same" padding always, no dilation or groups, and a keyword-only ``mask_type``. The
loss is
``F.binary_cross_entropy_with_logits`` divided by :math:`\ln 2`.
"""

from __future__ import annotations

import math
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from dlcv._checks import (
    check_finite_number,
    check_float_tensor,
    check_in,
    check_positive_int,
    check_shape,
)
from dlcv.training import eval_mode

__all__ = [
    "MaskedConv2d",
    "MaskedResidualBlock",
    "PixelCNN",
    "binarize",
    "nll_bits_per_dim",
    "sample",
]

Tensor = torch.Tensor


def _odd_kernel(kernel_size: Any) -> tuple[int, int]:
    sizes = (kernel_size, kernel_size) if isinstance(kernel_size, int) else kernel_size
    if not isinstance(sizes, (tuple, list)) or len(sizes) != 2:
        raise ValueError(f"kernel_size must be an int or a pair, got {kernel_size!r}")
    kh, kw = (check_positive_int(k, "kernel_size") for k in sizes)
    if kh % 2 == 0 or kw % 2 == 0:
        raise ValueError(f"kernel_size must be odd (a centre pixel), got {(kh, kw)}")
    return kh, kw


class MaskedConv2d(nn.Conv2d):
    """A convolution that sees only the pixels before the centre in raster order.

    The kernel is multiplied by ``mask`` (a buffer of shape ``(kH, kW)``): ones in the
    rows above the centre and, in the centre row, left of the centre; type ``"A"``
    zeroes the centre, type ``"B"`` keeps it; zeros below. Stride 1 and padding
    ``kernel_size // 2``, so the output has the input's height and width.

    Args:
        in_channels: Channels of the input.
        out_channels: Channels of the output.
        kernel_size: An odd int or pair of odd ints.
        mask_type: ``"A"`` (hides the centre: the first layer) or ``"B"``.
        bias: Whether to add a learnable bias.
        device: Where the parameters live.
        dtype: Their dtype.
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: int | tuple[int, int],
        *,
        mask_type: str = "B",
        bias: bool = True,
        device: Any = None,
        dtype: torch.dtype | None = None,
    ) -> None:
        kh, kw = _odd_kernel(kernel_size)
        check_in(mask_type, "mask_type", ("A", "B"))
        super().__init__(
            in_channels,
            out_channels,
            (kh, kw),
            padding=(kh // 2, kw // 2),
            bias=bias,
            device=device,
            dtype=dtype,
        )
        self.mask_type = mask_type
        # Eq. (15.5): ones above the centre row and left of the centre (B: centre too)
        mask = torch.ones(kh, kw, device=device, dtype=self.weight.dtype)
        mask[kh // 2, kw // 2 + (mask_type == "B") :] = 0  # the centre row's future
        mask[kh // 2 + 1 :] = 0  # every row below the centre
        self.register_buffer("mask", mask)

    def forward(self, input: Tensor) -> Tensor:
        """Convolve with the masked kernel.

        Args:
            input: ``(N, C_in, H, W)`` float.

        Returns:
            ``(N, C_out, H, W)``.
        """
        return F.conv2d(input, self.weight * self.mask, self.bias, padding=self.padding)

    def extra_repr(self) -> str:
        return f"{super().extra_repr()}, mask_type={self.mask_type!r}"


class MaskedResidualBlock(nn.Module):
    """PixelCNN's residual block: 1x1 down, 3x3 type-B, 1x1 up, plus the input.

    :math:`y = x + W_3 * \\mathrm{ReLU}(W_2 *_B \\mathrm{ReLU}(W_1 *
    \\mathrm{ReLU}(x)))` with :math:`W_1` halving the channels and :math:`W_3`
    restoring them (van den Oord et al., 2016, figure 5). 1x1 convolutions mix
    channels at one pixel only, so they keep the model causal.

    Args:
        channels: Channels of the input and output (even).
        kernel_size: The odd kernel size of the type-B convolution.
    """

    def __init__(self, channels: int, kernel_size: int = 3) -> None:
        super().__init__()
        channels = check_positive_int(channels, "channels", minimum=2)
        half = channels // 2
        self.conv1 = nn.Conv2d(channels, half, 1)
        self.conv2 = MaskedConv2d(half, half, kernel_size, mask_type="B")
        self.conv3 = nn.Conv2d(half, channels, 1)

    def forward(self, x: Tensor) -> Tensor:
        """The block's output.

        Args:
            x: ``(N, channels, H, W)``.

        Returns:
            ``(N, channels, H, W)``.
        """
        h = self.conv1(F.relu(x))  # (N, C/2, H, W)
        h = self.conv2(F.relu(h))  # (N, C/2, H, W), sees only the past
        return x + self.conv3(F.relu(h))  # (N, C, H, W)


class PixelCNN(nn.Module):
    """PixelCNN for binarized images: one Bernoulli logit per pixel.

    ``input_conv`` is a 7x7 type-A :class:`MaskedConv2d`, ``blocks`` a stack of
    :class:`MaskedResidualBlock`, and ``head`` two 1x1 convolutions (ReLU before
    each) down to ``in_channels`` logits. The logit at pixel ``(i, j)`` depends only
    on the input pixels before ``(i, j)`` in raster order.

    Args:
        in_channels: Channels of the images (1 for grey images). With more than one,
            the channels of a pixel are modelled as independent given the past.
        channels: Channels of the hidden feature maps (even).
        num_blocks: The number of residual blocks.
        kernel_size: The odd kernel size of the first, type-A, convolution.
    """

    def __init__(
        self,
        in_channels: int = 1,
        channels: int = 64,
        num_blocks: int = 4,
        kernel_size: int = 7,
    ) -> None:
        super().__init__()
        self.in_channels = check_positive_int(in_channels, "in_channels")
        check_positive_int(num_blocks, "num_blocks", minimum=0)
        self.input_conv = MaskedConv2d(
            in_channels, channels, kernel_size, mask_type="A"
        )
        self.blocks = nn.Sequential(
            *(MaskedResidualBlock(channels) for _ in range(num_blocks))
        )
        self.head = nn.Sequential(
            nn.ReLU(),
            nn.Conv2d(channels, channels, 1),
            nn.ReLU(),
            nn.Conv2d(channels, in_channels, 1),
        )

    def forward(self, x: Tensor) -> Tensor:
        """The logits of :math:`p(x_{ij} = 1 \\mid \\text{pixels before } (i, j))`.

        Args:
            x: ``(N, in_channels, H, W)`` float images, usually binary.

        Returns:
            ``(N, in_channels, H, W)`` Bernoulli logits.
        """
        check_float_tensor(x, "x", ndim=4)
        check_shape(x, "x", ("N", self.in_channels, "H", "W"))
        h = self.input_conv(x)  # (N, C, H, W), sees only pixels before (i, j)
        h = self.blocks(h)  # (N, C, H, W)
        return self.head(h)  # (N, in_channels, H, W)


def _uniform(shape: tuple[int, ...], like: Tensor, generator: Any) -> Tensor:
    """Uniform [0, 1) draws on the generator's device, moved to ``like``'s device."""
    where = like.device if generator is None else generator.device
    u = torch.rand(shape, generator=generator, device=where, dtype=like.dtype)
    return u.to(like.device)


def binarize(
    x: Tensor,
    threshold: float | None = 0.5,
    *,
    generator: torch.Generator | None = None,
) -> Tensor:
    """Binarize images: pixels above a threshold, or Bernoulli draws.

    With ``threshold=None`` each pixel becomes 1 with probability equal to its value
    (stochastic binarization, as in Salakhutdinov and Murray, 2008), drawn with
    ``generator``; otherwise it becomes 1 where it exceeds ``threshold``.

    Args:
        x: Float images (any shape), in ``[0, 1]`` when drawing.
        threshold: The threshold, or None to draw.
        generator: The random number generator of the draws (None: torch's global
            one); only with ``threshold=None``.

    Returns:
        A tensor of ``x``'s shape, dtype and device holding 0 and 1.

    Raises:
        ValueError: if a generator is given with a threshold, or when drawing from
            values outside ``[0, 1]``.
    """
    check_float_tensor(x, "x", finite=True)
    if threshold is not None:
        threshold = check_finite_number(threshold, "threshold")
        if generator is not None:
            raise ValueError("generator is used only with threshold=None (draws)")
        return (x > threshold).to(x.dtype)
    if x.numel() and not (0 <= float(x.min()) and float(x.max()) <= 1):
        raise ValueError(
            f"x must lie in [0, 1] to be drawn from, got values in "
            f"[{float(x.min())}, {float(x.max())}]"
        )
    return (_uniform(tuple(x.shape), x, generator) < x).to(x.dtype)  # Bernoulli(x)


def nll_bits_per_dim(logits: Tensor, x: Tensor) -> Tensor:
    """The mean negative log-likelihood of binary pixels, in bits per pixel.

    :math:`-\\frac{1}{D} \\sum_i [x_i \\log_2 \\sigma(\\ell_i) + (1 - x_i)
    \\log_2(1 - \\sigma(\\ell_i))]`, the binary cross-entropy in nats divided by
    :math:`\\ln 2`, averaged over every pixel of every image; 1 bit is a fair coin.

    Args:
        logits: Bernoulli logits :math:`\\ell`, float (any shape).
        x: The pixels, of ``logits``' shape, with values in ``[0, 1]``.

    Returns:
        A scalar tensor (differentiable: usable as the training loss).
    """
    check_float_tensor(logits, "logits")
    check_shape(check_float_tensor(x, "x"), "x", tuple(logits.shape))
    nats = F.binary_cross_entropy_with_logits(logits, x)  # mean over all pixels
    return nats / math.log(2)  # Eq. (15.6): -log2 p(x_t | x_<t), mean over t


@torch.no_grad()
def sample(
    model: nn.Module,
    n: int,
    shape: tuple[int, int, int],
    *,
    generator: torch.Generator | None = None,
) -> Tensor:
    """Draw images from an autoregressive model, one pixel at a time.

    Starting from zeros, for each pixel ``(i, j)`` in raster order the model is run on
    the images so far and pixel ``(i, j)`` is drawn from
    :math:`\\mathrm{Bernoulli}(\\sigma(\\ell_{ij}))`: H W forward passes. The pixels
    not yet drawn are zeros, which a causal model never sees.

    Args:
        model: A causal model, images ``(n, C, H, W)`` to logits of the same shape,
            such as :class:`PixelCNN`. It is run in eval mode and its mode restored.
        n: The number of images.
        shape: ``(C, H, W)`` of each image.
        generator: The random number generator (None: torch's global one).

    Returns:
        ``(n, C, H, W)`` of 0 and 1, in the dtype and on the device of the model's
        parameters.
    """
    if not isinstance(model, nn.Module):
        raise TypeError(f"model must be a torch.nn.Module, got {type(model).__name__}")
    n = check_positive_int(n, "n")
    if len(shape) != 3:
        raise ValueError(f"shape must be (C, H, W), got {tuple(shape)}")
    C, H, W = (check_positive_int(s, "shape entry") for s in shape)
    like = next(iter(model.parameters()), torch.empty(0))  # its device and dtype
    x = torch.zeros(n, C, H, W, device=like.device, dtype=like.dtype)
    with eval_mode(model):  # Eq. (15.3): draw x_t from p(x_t | x_<t), t = 1 .. H W
        for i in range(H):
            for j in range(W):
                logits = check_shape(model(x), "model(x)", (n, C, H, W))
                p = torch.sigmoid(logits[:, :, i, j])  # (n, C): p(x_ij = 1 | past)
                x[:, :, i, j] = (_uniform((n, C), p, generator) < p).to(x.dtype)
    return x
