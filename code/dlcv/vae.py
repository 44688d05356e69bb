r"""Autoencoders, variational autoencoders and vector quantization (lectures 19-20).

An autoencoder compresses an image x to a code z = f(x) and decodes it back,
:math:`\hat x = g(z)`, trained to reconstruct its input (:class:`Autoencoder`). A
variational autoencoder (Kingma and Welling, 2014; Rezende, Mohamed and Wierstra,
2014) makes this a probabilistic model: a prior :math:`p(z) = \mathcal{N}(0, I)`, a
decoder :math:`p_\theta(x \mid z)` (here Bernoulli, one logit per pixel) and an encoder
:math:`q_\phi(z \mid x) = \mathcal{N}(\mu_\phi(x), \mathrm{diag}\, \sigma^2_\phi(x))`
(:class:`VAE`). The log-likelihood is bounded below by the evidence lower bound

.. math::

    \log p_\theta(x) \ge \mathbb{E}_{z \sim q_\phi(z \mid x)}[\log p_\theta(x \mid z)]
    - D_{KL}(q_\phi(z \mid x) \,\|\, p(z)),

the gap being :math:`D_{KL}(q_\phi(z \mid x) \,\|\, p_\theta(z \mid x)) \ge 0`
(:func:`elbo`, with one sample of z). Its pieces:

- :func:`gaussian_kl`: the KL divergence to the prior in closed form,
  :math:`\frac{1}{2} \sum_j (\sigma_j^2 + \mu_j^2 - 1 - \log \sigma_j^2)`.
- :func:`reparameterize`: :math:`z = \mu + \sigma \odot \epsilon` with
  :math:`\epsilon \sim \mathcal{N}(0, I)`, so that the sample is a differentiable
  function of :math:`\mu` and :math:`\log \sigma^2`
  (:math:`\partial z / \partial \mu = 1`,
  :math:`\partial z / \partial \log \sigma^2 = \frac{1}{2} \sigma \epsilon`).

VQ-VAE (van den Oord, Vinyals and Kavukcuoglu, 2017) replaces the Gaussian code by the
nearest of K learned vectors :math:`e_k` (:class:`VectorQuantizer`,
:class:`VQVAE`): :math:`z_q = e_k` with :math:`k = \arg\min_j \|z_e - e_j\|_2`, trained
with the codebook loss :math:`\|\mathrm{sg}[z_e] - z_q\|^2` and the commitment loss
:math:`\beta \|z_e - \mathrm{sg}[z_q]\|^2` (sg: stop gradient), the gradient passing
the non-differentiable argmin straight through (:func:`straight_through`).

The chapter (``book/generative_i.md``) numbers the equations tagged in the code
below: (15.8) ``gen-elbo``, (15.9) ``gen-kl`` and (15.10) ``gen-reparam``.

Torch counterparts: ``torch.distributions.kl_divergence(Normal(mu, sigma), Normal(0,
1))`` summed over the last dimension is :func:`gaussian_kl`;
``Normal(mu, sigma).rsample()`` is :func:`reparameterize`; torch has no VAE or vector
quantizer. Log-likelihoods are in nats; a Bernoulli decoder applied to grey levels in
[0, 1] gives a cross-entropy, not a true likelihood (binarize the images for one).
"""

from __future__ import annotations

import math
from typing import Any, NamedTuple

import torch
import torch.nn.functional as F
from torch import nn

from dlcv._checks import (
    check_finite_number,
    check_float_tensor,
    check_positive_int,
    check_shape,
)

__all__ = [
    "ELBO",
    "VAE",
    "VQVAE",
    "Autoencoder",
    "VQOutput",
    "VectorQuantizer",
    "elbo",
    "gaussian_kl",
    "reparameterize",
    "straight_through",
]

Tensor = torch.Tensor


def _check_gaussian(mu: Any, logvar: Any) -> None:
    check_float_tensor(mu, "mu", min_ndim=1)
    check_shape(check_float_tensor(logvar, "logvar"), "logvar", tuple(mu.shape))


def gaussian_kl(mu: Tensor, logvar: Tensor) -> Tensor:
    """KL divergence from a diagonal Gaussian to the standard normal, in nats.

    Args:
        mu: Means :math:`\\mu`, ``(..., J)``.
        logvar: Log-variances :math:`\\log \\sigma^2`, of ``mu``'s shape.

    Returns:
        ``(...)``: :math:`D_{KL}(\\mathcal{N}(\\mu, \\mathrm{diag}\\,\\sigma^2) \\|
        \\mathcal{N}(0, I)) = \\frac{1}{2} \\sum_j (\\sigma_j^2 + \\mu_j^2 - 1 -
        \\log \\sigma_j^2)`, summed over the last dimension.
    """
    _check_gaussian(mu, logvar)
    # Eq. (15.9), summed over the last dimension: (...)
    return 0.5 * (logvar.exp() + mu.pow(2) - 1 - logvar).sum(-1)


def reparameterize(
    mu: Tensor, logvar: Tensor, *, generator: torch.Generator | None = None
) -> Tensor:
    """A differentiable draw of z from N(mu, diag sigma^2): the reparameterization.

    Args:
        mu: Means :math:`\\mu`, ``(..., J)``.
        logvar: Log-variances :math:`\\log \\sigma^2`, of ``mu``'s shape.
        generator: The random number generator of :math:`\\epsilon` (None: torch's
            global one); its device may differ from ``mu``'s.

    Returns:
        :math:`z = \\mu + \\sigma \\odot \\epsilon`, :math:`\\epsilon \\sim
        \\mathcal{N}(0, I)`, of ``mu``'s shape, dtype and device.
    """
    _check_gaussian(mu, logvar)
    where = mu.device if generator is None else generator.device
    eps = torch.randn(mu.shape, generator=generator, device=where, dtype=mu.dtype)
    sigma = torch.exp(0.5 * logvar)  # sigma = exp(log sigma^2 / 2)
    return mu + sigma * eps.to(mu.device)  # (..., J), Eq. (15.10)


def _check_shape_arg(in_shape: Any) -> tuple[int, ...]:
    if isinstance(in_shape, int) or len(in_shape) == 0:
        raise TypeError(f"in_shape must be a tuple of ints, got {in_shape!r}")
    return tuple(check_positive_int(s, "in_shape entry") for s in in_shape)


def _check_images(x: Any, in_shape: tuple[int, ...]) -> Tensor:
    """x: (N, *in_shape) or any (N, ...) with as many features; float."""
    check_float_tensor(x, "x", min_ndim=2)
    if x[0].numel() != math.prod(in_shape):
        raise ValueError(
            f"x must be (N, {', '.join(map(str, in_shape))}) or hold "
            f"{math.prod(in_shape)} features per example, got shape {tuple(x.shape)}"
        )
    return x


class Autoencoder(nn.Module):
    """An MLP autoencoder: image to a code of ``code_size`` numbers and back.

    ``encoder``: flatten, ``nn.Linear`` to ``hidden_size``, ReLU, ``nn.Linear`` to
    ``code_size``. ``decoder``: the mirror image, ending in one logit per pixel
    (:math:`\\hat x = \\sigma(\\text{logits})`; train with
    ``F.binary_cross_entropy_with_logits(logits, x)``, or MSE on the sigmoid).

    Args:
        in_shape: The shape of one image, such as ``(1, 28, 28)`` or ``(28, 28)``.
        code_size: The size of the code z (the bottleneck).
        hidden_size: The width of the hidden layers.
    """

    def __init__(
        self,
        in_shape: tuple[int, ...] = (1, 28, 28),
        code_size: int = 32,
        hidden_size: int = 256,
    ) -> None:
        super().__init__()
        self.in_shape = _check_shape_arg(in_shape)
        D = math.prod(self.in_shape)
        self.encoder = nn.Sequential(
            nn.Flatten(),
            nn.Linear(D, hidden_size),
            nn.ReLU(),
            nn.Linear(hidden_size, code_size),
        )
        self.decoder = nn.Sequential(
            nn.Linear(code_size, hidden_size),
            nn.ReLU(),
            nn.Linear(hidden_size, D),
            nn.Unflatten(1, self.in_shape),
        )

    def encode(self, x: Tensor) -> Tensor:
        """The code of each image.

        Args:
            x: ``(N, *in_shape)`` float images (or ``(N, D)`` with as many pixels).

        Returns:
            ``(N, code_size)``.
        """
        return self.encoder(_check_images(x, self.in_shape))

    def forward(self, x: Tensor) -> Tensor:
        """Reconstruction logits of the images.

        Args:
            x: ``(N, *in_shape)`` float images (or ``(N, D)`` with as many pixels).

        Returns:
            Logits of ``x``'s shape; the reconstruction is their sigmoid.
        """
        z = self.encode(x)  # (N, code_size)
        return self.decoder(z).reshape(x.shape)  # (N, *in_shape)


class VAE(nn.Module):
    """A variational autoencoder with MLP encoder and Bernoulli MLP decoder.

    ``encoder``: flatten, ``nn.Linear`` to ``hidden_size``, ReLU, ``nn.Linear`` to
    ``2 * latent_size`` numbers, split into :math:`\\mu` and :math:`\\log \\sigma^2`.
    ``decoder``: ``nn.Linear`` to ``hidden_size``, ReLU, ``nn.Linear`` to one logit per
    pixel of :math:`p_\\theta(x \\mid z)`.

    Args:
        in_shape: The shape of one image, such as ``(1, 28, 28)`` or ``(28, 28)``.
        latent_size: The dimension J of z.
        hidden_size: The width of the hidden layers.
    """

    def __init__(
        self,
        in_shape: tuple[int, ...] = (1, 28, 28),
        latent_size: int = 16,
        hidden_size: int = 256,
    ) -> None:
        super().__init__()
        self.in_shape = _check_shape_arg(in_shape)
        self.latent_size = check_positive_int(latent_size, "latent_size")
        D = math.prod(self.in_shape)
        self.encoder = nn.Sequential(
            nn.Flatten(),
            nn.Linear(D, hidden_size),
            nn.ReLU(),
            nn.Linear(hidden_size, 2 * latent_size),
        )
        self.decoder = nn.Sequential(
            nn.Linear(latent_size, hidden_size),
            nn.ReLU(),
            nn.Linear(hidden_size, D),
            nn.Unflatten(1, self.in_shape),
        )

    def encode(self, x: Tensor) -> tuple[Tensor, Tensor]:
        """The parameters of :math:`q_\\phi(z \\mid x)`.

        Args:
            x: ``(N, *in_shape)`` float images (or ``(N, D)`` with as many pixels).

        Returns:
            ``(mu, logvar)``, each ``(N, latent_size)``.
        """
        h = self.encoder(_check_images(x, self.in_shape))  # (N, 2 J)
        mu, logvar = h.chunk(2, dim=-1)  # (N, J) each
        return mu, logvar

    def decode(self, z: Tensor) -> Tensor:
        """The Bernoulli logits of :math:`p_\\theta(x \\mid z)`.

        Args:
            z: ``(N, latent_size)`` latent codes (for new images: draws of N(0, I)).

        Returns:
            ``(N, *in_shape)`` logits; the pixel means are their sigmoid.
        """
        check_shape(check_float_tensor(z, "z", ndim=2), "z", ("N", self.latent_size))
        return self.decoder(z)  # (N, *in_shape)

    def forward(
        self, x: Tensor, *, generator: torch.Generator | None = None
    ) -> tuple[Tensor, Tensor, Tensor]:
        """Encode, draw one z by :func:`reparameterize`, decode.

        Args:
            x: ``(N, *in_shape)`` float images (or ``(N, D)`` with as many pixels).
            generator: The random number generator of the draw.

        Returns:
            ``(logits, mu, logvar)``: logits of ``x``'s shape, and ``(N, J)`` each.
        """
        mu, logvar = self.encode(x)  # (N, J) each
        z = reparameterize(mu, logvar, generator=generator)  # (N, J)
        return self.decode(z).reshape(x.shape), mu, logvar


class ELBO(NamedTuple):
    """What :func:`elbo` returns: three ``(N,)`` tensors, in nats."""

    elbo: torch.Tensor  # the evidence lower bound, reconstruction - kl
    reconstruction: torch.Tensor  # log p(x | z) at one draw of z
    kl: torch.Tensor  # KL(q(z | x) || p(z))


def elbo(model: VAE, x: Tensor, *, generator: torch.Generator | None = None) -> ELBO:
    """The evidence lower bound of each image, estimated with one draw of z.

    :math:`\\log p_\\theta(x \\mid z) - D_{KL}(q_\\phi(z \\mid x) \\| p(z))` with
    :math:`z \\sim q_\\phi(z \\mid x)`: an unbiased estimate of the ELBO, a lower
    bound on :math:`\\log p_\\theta(x)`. Train by minimizing ``-elbo.mean()``.

    Args:
        model: A :class:`VAE` (any module whose ``forward(x, generator=...)``
            returns ``(logits, mu, logvar)``).
        x: ``(N, ...)`` float images with values in ``[0, 1]`` (binary for a true
            likelihood).
        generator: The random number generator of the draw.

    Returns:
        ``ELBO(elbo, reconstruction, kl)``, each ``(N,)`` in nats.
    """
    if not isinstance(model, nn.Module):
        raise TypeError(f"model must be a torch.nn.Module, got {type(model).__name__}")
    logits, mu, logvar = model(x, generator=generator)  # (N, ...), (N, J), (N, J)
    bce = F.binary_cross_entropy_with_logits(logits, x, reduction="none")
    reconstruction = -bce.flatten(1).sum(1)  # log p(x | z), (N,)
    kl = gaussian_kl(mu, logvar)  # (N,)
    return ELBO(reconstruction - kl, reconstruction, kl)  # Eq. (15.8)


def straight_through(z_e: Tensor, z_q: Tensor) -> Tensor:
    """The straight-through estimator: the value of ``z_q``, the gradient of ``z_e``.

    Args:
        z_e: The encoder's output (gets the gradient).
        z_q: Its quantized version, of ``z_e``'s shape.

    Returns:
        :math:`z_e + \\mathrm{sg}[z_q - z_e]`: equal to ``z_q``, with
        :math:`\\partial / \\partial z_e` the identity.
    """
    check_float_tensor(z_e, "z_e")
    check_shape(check_float_tensor(z_q, "z_q"), "z_q", tuple(z_e.shape))
    return z_e + (z_q - z_e).detach()


class VQOutput(NamedTuple):
    """What :class:`VectorQuantizer` returns."""

    quantized: torch.Tensor  # (N, D, H, W): z_q, straight-through gradient to z_e
    indices: torch.Tensor  # (N, H, W) int64: the nearest code k of each position
    codebook_loss: torch.Tensor  # scalar: mean of (sg[z_e] - z_q)^2
    commitment_loss: torch.Tensor  # scalar: beta times the mean of (z_e - sg[z_q])^2
    perplexity: torch.Tensor  # scalar: exp(-sum_k p_k log p_k), p: codes' frequencies


class VectorQuantizer(nn.Module):
    """Replace each vector of a feature map by its nearest codebook vector.

    The codebook is ``embedding.weight``, ``(K, D)`` (an ``nn.Embedding``, initialized
    uniform in :math:`[-1/K, 1/K]`, as common PyTorch implementations do). The codes
    are learned by the codebook loss; the exponential-moving-average update of the
    paper's appendix is not done here.

    Args:
        num_embeddings: The number K of codes.
        embedding_dim: Their dimension D (the channels of the feature map).
        commitment_cost: :math:`\\beta`, the weight of the commitment loss.
    """

    def __init__(
        self, num_embeddings: int, embedding_dim: int, commitment_cost: float = 0.25
    ) -> None:
        super().__init__()
        K = check_positive_int(num_embeddings, "num_embeddings")
        check_positive_int(embedding_dim, "embedding_dim")
        self.commitment_cost = check_finite_number(
            commitment_cost, "commitment_cost", low=0
        )
        self.embedding = nn.Embedding(K, embedding_dim)
        nn.init.uniform_(self.embedding.weight, -1 / K, 1 / K)

    def forward(self, z_e: Tensor) -> VQOutput:
        """Quantize a feature map.

        Args:
            z_e: ``(N, D, H, W)`` float, the encoder's output.

        Returns:
            ``VQOutput(quantized, indices, codebook_loss, commitment_loss,
            perplexity)``.
        """
        check_float_tensor(z_e, "z_e", ndim=4)
        E = self.embedding.weight  # (K, D)
        check_shape(z_e, "z_e", ("N", E.shape[1], "H", "W"))
        flat = z_e.permute(0, 2, 3, 1).reshape(-1, E.shape[1])  # (N H W, D)
        # |z - e|^2 = |z|^2 - 2 z.e + |e|^2, for every position and code: (N H W, K)
        dist = flat.pow(2).sum(1, keepdim=True) - 2 * flat @ E.T + E.pow(2).sum(1)
        k = dist.argmin(1)  # (N H W,): the nearest code
        z_q = self.embedding(k).reshape(z_e.shape[0], *z_e.shape[2:], -1)  # (N,H,W,D)
        z_q = z_q.permute(0, 3, 1, 2)  # (N, D, H, W)
        codebook_loss = F.mse_loss(z_q, z_e.detach())  # moves the codes to z_e
        commitment_loss = self.commitment_cost * F.mse_loss(z_e, z_q.detach())
        p = torch.bincount(k, minlength=E.shape[0]).to(z_e.dtype) / k.numel()  # (K,)
        perplexity = torch.exp(-torch.special.xlogy(p, p).sum())
        indices = k.reshape(z_e.shape[0], *z_e.shape[2:])  # (N, H, W)
        quantized = straight_through(z_e, z_q)
        return VQOutput(quantized, indices, codebook_loss, commitment_loss, perplexity)


class VQVAE(nn.Module):
    """VQ-VAE: a convolutional encoder, a :class:`VectorQuantizer`, a decoder.

    ``encoder``: two 4x4 stride-2 convolutions (ReLU between) and a 1x1 convolution
    to ``embedding_dim`` channels, so a 28x28 image becomes a 7x7 grid of codes.
    ``quantizer``: a :class:`VectorQuantizer`. ``decoder``: a 3x3 convolution, then
    two 4x4 stride-2 transposed convolutions back to one logit per pixel. Train by
    minimizing the reconstruction loss plus ``codebook_loss + commitment_loss``.

    Args:
        in_channels: Channels of the images.
        hidden_channels: Channels of the hidden feature maps.
        num_embeddings: The number K of codes.
        embedding_dim: Their dimension D.
        commitment_cost: :math:`\\beta`, the weight of the commitment loss.
    """

    def __init__(
        self,
        in_channels: int = 1,
        hidden_channels: int = 32,
        num_embeddings: int = 64,
        embedding_dim: int = 16,
        commitment_cost: float = 0.25,
    ) -> None:
        super().__init__()
        self.in_channels = check_positive_int(in_channels, "in_channels")
        C = check_positive_int(hidden_channels, "hidden_channels")
        D = check_positive_int(embedding_dim, "embedding_dim")
        self.encoder = nn.Sequential(
            nn.Conv2d(in_channels, C, 4, stride=2, padding=1),  # H/2
            nn.ReLU(),
            nn.Conv2d(C, C, 4, stride=2, padding=1),  # H/4
            nn.ReLU(),
            nn.Conv2d(C, D, 1),
        )
        self.quantizer = VectorQuantizer(num_embeddings, D, commitment_cost)
        self.decoder = nn.Sequential(
            nn.Conv2d(D, C, 3, padding=1),
            nn.ReLU(),
            nn.ConvTranspose2d(C, C, 4, stride=2, padding=1),  # H/2
            nn.ReLU(),
            nn.ConvTranspose2d(C, in_channels, 4, stride=2, padding=1),  # H
        )

    def forward(self, x: Tensor) -> tuple[Tensor, VQOutput]:
        """Encode, quantize, decode.

        Args:
            x: ``(N, in_channels, H, W)`` float images, H and W multiples of 4.

        Returns:
            ``(logits, vq)``: reconstruction logits of ``x``'s shape and the
            quantizer's :class:`VQOutput` (codes ``vq.indices`` of shape
            ``(N, H/4, W/4)``).
        """
        check_float_tensor(x, "x", ndim=4)
        check_shape(x, "x", ("N", self.in_channels, "H", "W"))
        if x.shape[2] % 4 or x.shape[3] % 4:
            raise ValueError(
                f"x's height and width must be multiples of 4, got {tuple(x.shape)}"
            )
        z_e = self.encoder(x)  # (N, D, H/4, W/4)
        vq = self.quantizer(z_e)  # z_q (N, D, H/4, W/4), straight-through
        return self.decoder(vq.quantized), vq  # (N, C, H, W)
