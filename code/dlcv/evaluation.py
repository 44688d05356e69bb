r"""Scoring generated samples: Fréchet distance and classifier (Inception) score.

A generative model has no test loss to report that all models share, so samples are
scored through a trained classifier, by the features it computes and the classes it
predicts (for this book a Fashion-MNIST classifier stands in for the Inception network
of the original papers):

- Fréchet distance (FID, Heusel et al., 2017): fit a Gaussian to the features of real
  and of generated images (:func:`feature_statistics`: the mean and the unbiased
  covariance, as ``numpy.cov``) and compute the Fréchet (2-Wasserstein) distance
  between the two Gaussians,
  :math:`d^2 = \|\mu_1 - \mu_2\|^2 + \mathrm{tr}\bigl(\Sigma_1 + \Sigma_2 -
  2 (\Sigma_1 \Sigma_2)^{1/2}\bigr)` (:func:`frechet_distance`,
  :func:`feature_frechet_distance`). Lower is better; 0 for identical statistics. In
  one dimension it is :math:`(m_1 - m_2)^2 + (s_1 - s_2)^2`.
- Classifier score (the Inception Score, Salimans et al., 2016): with :math:`p(y|x)`
  the classifier's probabilities for a sample and :math:`p(y) = \mathbb{E}_x p(y|x)`
  their average, :math:`\exp \mathbb{E}_x \mathrm{KL}(p(y|x) \| p(y))`
  (:func:`classifier_score`). Higher is better: each sample should be confidently one
  class (low entropy of :math:`p(y|x)`) and all classes should appear (high entropy of
  :math:`p(y)`); it lies between 1 and the number of classes K.

Both are biased estimates that depend on the number of samples (the FID decreases with
more samples), so compare scores only at equal sample sizes. Neither looks at the real
images' pixels beyond the classifier, and the classifier score never sees the real data
at all. Torch has neither built in (``torchmetrics`` and ``torch-fidelity`` have both,
with the Inception network); the tests check them against ``scipy.linalg.sqrtm``, the
one-dimensional closed form and a NumPy computation.

The chapter's numbered equations that the code tags: (16.9) ``gen2-frechet`` and
(16.10) ``gen2-score``.
"""

from __future__ import annotations

from typing import Any

import torch

from dlcv._checks import check_float_tensor, check_shape, check_tensors_match

__all__ = [
    "classifier_score",
    "feature_frechet_distance",
    "feature_statistics",
    "frechet_distance",
]

Tensor = torch.Tensor


def feature_statistics(features: Tensor) -> tuple[Tensor, Tensor]:
    """The mean and the unbiased covariance of a set of feature vectors.

    Args:
        features: (N, D) features, N >= 2 (one row per image).

    Returns:
        ``(mu, sigma)``: mu (D,) and sigma (D, D)
        :math:`= \\frac{1}{N - 1} \\sum_i (f_i - \\mu)(f_i - \\mu)^\\top`, as
        ``numpy.cov(features, rowvar=False)``.
    """
    check_float_tensor(features, "features", ndim=2, finite=True)
    n = features.shape[0]
    if n < 2:
        raise ValueError(f"features must have at least 2 rows, got {n}")
    mu = features.mean(dim=0)  # (D,)
    centred = features - mu  # (N, D)
    return mu, centred.T @ centred / (n - 1)  # (D,), (D, D)


def _sqrt_psd(sigma: Tensor) -> Tensor:
    """The symmetric square root of a symmetric positive semi-definite matrix."""
    w, V = torch.linalg.eigh((sigma + sigma.T) / 2)  # sigma = V diag(w) V^T
    return (V * w.clamp(min=0).sqrt()) @ V.T  # V diag(sqrt w) V^T


def _check_gaussian(mu: Any, sigma: Any, name: str) -> tuple[Tensor, Tensor]:
    check_float_tensor(mu, f"mu{name}", ndim=1, finite=True)
    check_float_tensor(sigma, f"sigma{name}", finite=True)
    d = mu.shape[0]
    check_shape(sigma, f"sigma{name}", (d, d))
    return mu, sigma


def frechet_distance(
    mu1: Tensor, sigma1: Tensor, mu2: Tensor, sigma2: Tensor
) -> Tensor:
    """The squared Fréchet distance between two Gaussians (the FID's formula).

    :math:`d^2 = \\|\\mu_1 - \\mu_2\\|^2 + \\mathrm{tr}(\\Sigma_1 + \\Sigma_2 -
    2 (\\Sigma_1 \\Sigma_2)^{1/2})`, computed in float64.

    Numerical notes: :math:`\\Sigma_1 \\Sigma_2` is not symmetric, and a general
    matrix square root (``scipy.linalg.sqrtm``, as the reference FID code uses) can
    return small imaginary parts or fail for singular covariances (fewer samples
    than features). Only the trace is needed, and
    :math:`\\Sigma_1 \\Sigma_2` has the same eigenvalues as the symmetric
    :math:`M = \\Sigma_1^{1/2} \\Sigma_2 \\Sigma_1^{1/2}`, so
    :math:`\\mathrm{tr} (\\Sigma_1 \\Sigma_2)^{1/2} = \\sum_i \\sqrt{\\lambda_i(M)}`
    with ``torch.linalg.eigh`` twice; eigenvalues that rounding makes slightly
    negative are set to 0, and the result is clamped at 0 for the same reason.

    Args:
        mu1: (D,) mean of the first set of features.
        sigma1: (D, D) covariance of the first set.
        mu2: (D,) mean of the second set.
        sigma2: (D, D) covariance of the second set.

    Returns:
        A scalar tensor, in ``mu1``'s dtype and device; 0 for identical statistics.
    """
    _check_gaussian(mu1, sigma1, "1")
    _check_gaussian(mu2, sigma2, "2")
    check_shape(mu2, "mu2", tuple(mu1.shape))
    check_tensors_match(mu1=mu1, sigma1=sigma1, mu2=mu2, sigma2=sigma2)
    m1, s1, m2, s2 = (a.double() for a in (mu1, sigma1, mu2, sigma2))
    root1 = _sqrt_psd(s1)  # Sigma_1^{1/2}, (D, D)
    M = root1 @ s2 @ root1  # same eigenvalues as Sigma_1 Sigma_2, symmetric
    tr_sqrt = torch.linalg.eigvalsh((M + M.T) / 2).clamp(min=0).sqrt().sum()
    d2 = (m1 - m2).square().sum() + s1.trace() + s2.trace() - 2 * tr_sqrt  # Eq. (16.9)
    return d2.clamp(min=0).to(mu1.dtype)


def feature_frechet_distance(features1: Tensor, features2: Tensor) -> Tensor:
    """The Fréchet distance between two sets of features (the FID, given features).

    Args:
        features1: (N1, D) features of one set of images (say, real).
        features2: (N2, D) features of the other set (say, generated).

    Returns:
        A scalar: :func:`frechet_distance` of their :func:`feature_statistics`.
    """
    check_float_tensor(features1, "features1", ndim=2)
    check_shape(features2, "features2", ("N2", features1.shape[1]))
    return frechet_distance(*feature_statistics(features1),
                            *feature_statistics(features2))  # fmt: skip


def classifier_score(probs: Tensor) -> Tensor:
    """The classifier (Inception) score of samples, from their class probabilities.

    :math:`\\exp \\mathbb{E}_x \\mathrm{KL}(p(y|x) \\| p(y))` with
    :math:`p(y) = \\mathbb{E}_x p(y|x)`, the expectations over the N samples.

    Args:
        probs: (N, K) class probabilities :math:`p(y|x)` of N samples (softmax
            outputs): each row non-negative and summing to 1 (within 1e-4).

    Returns:
        A scalar in [1, K], in ``probs``' dtype and device: 1 when every row is the
        same, K when each sample is confidently one class and the classes are equally
        frequent.
    """
    check_float_tensor(probs, "probs", ndim=2, finite=True)
    if probs.shape[0] == 0 or probs.shape[1] == 0:
        raise ValueError(f"probs must be a non-empty (N, K), got {tuple(probs.shape)}")
    if bool((probs < 0).any()):
        raise ValueError(f"probs must be >= 0, got minimum {float(probs.min())}")
    sums = probs.double().sum(dim=1)
    if not bool(torch.allclose(sums, torch.ones_like(sums), atol=1e-4)):
        worst = float((sums - 1).abs().max())
        raise ValueError(f"each row of probs must sum to 1, got one off by {worst:.3g}")
    p = probs.double()  # (N, K)
    p_y = p.mean(dim=0, keepdim=True)  # marginal p(y), (1, K)
    kl = (torch.xlogy(p, p) - torch.xlogy(p, p_y)).sum(dim=1)  # (N,), 0 log 0 = 0
    return kl.mean().exp().to(probs.dtype)  # Eq. (16.10)
