r"""Generative adversarial networks: the min-max game, its losses, DCGAN (lecture 20).

A GAN (Goodfellow et al., 2014) trains two networks against each other: a generator
:math:`G` turns noise :math:`z \sim p(z)` into samples :math:`G(z)`, a discriminator
:math:`D` outputs the probability :math:`D(x)` that :math:`x` is real. They play

.. math::

    \min_G \max_D \; \mathbb{E}_{x \sim p_\text{data}} \log D(x)
    + \mathbb{E}_{z \sim p(z)} \log\bigl(1 - D(G(z))\bigr).

- The discriminator's loss is the negated objective,
  :math:`-\log D(x) - \log(1 - D(G(z)))`, averaged (:func:`discriminator_loss`):
  binary cross-entropy with label 1 for real and 0 for fake.
- The generator minimizes :math:`\log(1 - D(G(z)))` (``saturating=True``), whose
  gradient vanishes exactly when :math:`G` is bad and :math:`D(G(z)) \approx 0`; in
  practice it maximizes :math:`\log D(G(z))` instead, the non-saturating loss
  :math:`-\log D(G(z))` (:func:`generator_loss`). With logits :math:`l` and
  :math:`D = \sigma(l)`, the gradients with respect to :math:`l` are
  :math:`-\sigma(l)` (saturating: :math:`\approx 0` for :math:`l \ll 0`) and
  :math:`\sigma(l) - 1` (non-saturating: :math:`\approx -1` there).
- For a fixed :math:`G` the best discriminator is
  :math:`D^*(x) = p_\text{data}(x) / (p_\text{data}(x) + p_G(x))`
  (:func:`optimal_discriminator`); against it the game's value is
  :math:`-\log 4 + 2\,\mathrm{JSD}(p_\text{data} \| p_G)`, minimal when
  :math:`p_G = p_\text{data}`.
- DCGAN (Radford, Metz and Chintala, 2016), sized down for 1x28x28 images:
  :class:`DCGANGenerator` (transposed convolutions, BatchNorm, ReLU, a sigmoid output
  for images in [0, 1]) and :class:`DCGANDiscriminator` (strided convolutions,
  BatchNorm, LeakyReLU(0.2), one logit per image).

Every loss works on logits, never on probabilities: :math:`-\log \sigma(l) =
\mathrm{softplus}(-l)` and :math:`-\log(1 - \sigma(l)) = \mathrm{softplus}(l)` stay
finite where :math:`\sigma(l)` rounds to 0 or 1. Torch counterparts:
``F.binary_cross_entropy_with_logits`` (the tests check both losses against it) and
``nn.ConvTranspose2d``/``nn.Conv2d``/``nn.BatchNorm2d``, which the models are made of.

The chapter's numbered equations that the code tags: (16.3) ``gen2-minimax``,
(16.4) ``gen2-optimal-d`` and (16.5) ``gen2-nonsaturating``.
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from dlcv._checks import check_float_tensor, check_positive_int, check_tensors_match

__all__ = [
    "DCGANDiscriminator",
    "DCGANGenerator",
    "discriminator_loss",
    "generator_loss",
    "optimal_discriminator",
]

Tensor = torch.Tensor


def _check_logits(x: Any, name: str) -> Tensor:
    check_float_tensor(x, name, finite=True)
    if x.numel() == 0:
        raise ValueError(f"{name} must hold at least one logit, got shape (0,)")
    return x


def discriminator_loss(real_logits: Tensor, fake_logits: Tensor) -> Tensor:
    """The discriminator's loss :math:`-\\log D(x) - \\log(1 - D(G(z)))`, averaged.

    Args:
        real_logits: D's logits on real images, any shape (usually ``(N,)``).
        fake_logits: D's logits on generated images, any shape.

    Returns:
        A scalar: ``mean(softplus(-real_logits)) + mean(softplus(fake_logits))``,
        the binary cross-entropy with target 1 on real and 0 on fake.
    """
    _check_logits(real_logits, "real_logits")
    _check_logits(fake_logits, "fake_logits")
    # -log sigma(l) = softplus(-l),  -log(1 - sigma(l)) = softplus(l); Eq. (16.3)
    return F.softplus(-real_logits).mean() + F.softplus(fake_logits).mean()


def generator_loss(fake_logits: Tensor, *, saturating: bool = False) -> Tensor:
    """The generator's loss on D's logits for generated images, averaged.

    Args:
        fake_logits: D's logits :math:`l` on generated images, any shape.
        saturating: True: the min-max game's :math:`\\log(1 - D(G(z)))
            = -\\mathrm{softplus}(l)`, whose gradient :math:`-\\sigma(l)` vanishes
            when D rejects the fakes; False (default): the non-saturating
            :math:`-\\log D(G(z)) = \\mathrm{softplus}(-l)`, gradient
            :math:`\\sigma(l) - 1`.

    Returns:
        A scalar, to be minimized by the generator.

    Raises:
        TypeError: if ``saturating`` is not a bool.
    """
    _check_logits(fake_logits, "fake_logits")
    if not isinstance(saturating, bool):
        raise TypeError(f"saturating must be a bool, got {type(saturating).__name__}")
    if saturating:
        return -F.softplus(fake_logits).mean()  # log(1 - D(G(z)))
    return F.softplus(-fake_logits).mean()  # -log D(G(z)), Eq. (16.5)


def optimal_discriminator(p_data: Tensor, p_g: Tensor) -> Tensor:
    """The best discriminator for a fixed generator, :math:`D^* = p_d / (p_d + p_G)`.

    Args:
        p_data: Densities of the data distribution at some points, any shape.
        p_g: Densities of the generator's distribution at the same points.

    Returns:
        :math:`D^*(x)` at each point, in [0, 1], the shape of the inputs.

    Raises:
        ValueError: if a density is negative or both are zero at a point.
    """
    check_float_tensor(p_data, "p_data", finite=True)
    check_float_tensor(p_g, "p_g", finite=True)
    check_tensors_match(p_data=p_data, p_g=p_g)
    if bool((p_data < 0).any() | (p_g < 0).any()):
        raise ValueError(
            f"densities must be >= 0, got minima {float(p_data.min())} (p_data) and "
            f"{float(p_g.min())} (p_g)"
        )
    total = p_data + p_g
    if bool((total == 0).any()):
        raise ValueError("p_data + p_g must be > 0 at every point, got 0 somewhere")
    return p_data / total  # Eq. (16.4)


class DCGANGenerator(nn.Module):
    """A DCGAN generator for 1x28x28 images in [0, 1].

    ``self.net``: the noise :math:`z`, a 1x1 map of ``latent_dim`` channels, grows
    through three transposed convolutions, 1 -> 7 -> 14 -> 28 pixels, with BatchNorm
    and ReLU between them and a sigmoid at the end (DCGAN's tanh, for images in
    [0, 1] instead of [-1, 1]).

    Args:
        latent_dim: Dimensions of the noise :math:`z`.
        channels: Channels at 14x14 (twice as many at 7x7).
    """

    def __init__(self, latent_dim: int = 32, channels: int = 16) -> None:
        super().__init__()
        self.latent_dim = check_positive_int(latent_dim, "latent_dim")
        c = check_positive_int(channels, "channels")
        self.net = nn.Sequential(
            nn.ConvTranspose2d(latent_dim, 2 * c, 7, bias=False),  # (N, 2c, 7, 7)
            nn.BatchNorm2d(2 * c), nn.ReLU(),
            nn.ConvTranspose2d(2 * c, c, 4, 2, 1, bias=False),  # (N, c, 14, 14)
            nn.BatchNorm2d(c), nn.ReLU(),
            nn.ConvTranspose2d(c, 1, 4, 2, 1),  # (N, 1, 28, 28)
            nn.Sigmoid(),
        )  # fmt: skip

    def forward(self, z: Tensor) -> Tensor:
        """Images from noise.

        Args:
            z: (N, latent_dim) noise, usually standard normal.

        Returns:
            (N, 1, 28, 28) images in [0, 1].
        """
        check_float_tensor(z, "z", ndim=2)
        if z.shape[1] != self.latent_dim:
            raise ValueError(
                f"z must have shape (N, {self.latent_dim}), got {tuple(z.shape)}"
            )
        return self.net(z[:, :, None, None])  # (N, latent_dim, 1, 1) -> (N, 1, 28, 28)


class DCGANDiscriminator(nn.Module):
    """A DCGAN discriminator for 1x28x28 images: one logit per image.

    ``self.net``: two strided 4x4 convolutions, 28 -> 14 -> 7 pixels, with
    LeakyReLU(0.2) (BatchNorm after the second only, as DCGAN leaves the first layer
    unnormalized), then a 7x7 convolution to one logit.

    Args:
        channels: Channels at 14x14 (twice as many at 7x7).
    """

    def __init__(self, channels: int = 16) -> None:
        super().__init__()
        c = check_positive_int(channels, "channels")
        self.net = nn.Sequential(
            nn.Conv2d(1, c, 4, 2, 1),  # (N, c, 14, 14)
            nn.LeakyReLU(0.2),
            nn.Conv2d(c, 2 * c, 4, 2, 1, bias=False),  # (N, 2c, 7, 7)
            nn.BatchNorm2d(2 * c), nn.LeakyReLU(0.2),
            nn.Conv2d(2 * c, 1, 7),  # (N, 1, 1, 1)
            nn.Flatten(0),  # (N,)
        )  # fmt: skip

    def forward(self, x: Tensor) -> Tensor:
        """The logit :math:`l` of each image being real, :math:`D(x) = \\sigma(l)`.

        Args:
            x: (N, 1, 28, 28) images.

        Returns:
            (N,) logits.
        """
        check_float_tensor(x, "x", ndim=4)
        if tuple(x.shape[1:]) != (1, 28, 28):
            raise ValueError(f"x must have shape (N, 1, 28, 28), got {tuple(x.shape)}")
        return self.net(x)
