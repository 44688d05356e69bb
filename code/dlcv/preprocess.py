r"""Data preprocessing (lecture 10, chapter "Training neural networks I").

Taught by the chapter "Training neural networks I" (``book/training_i.md``), section
"Data preprocessing", which applies each step to Fashion-MNIST, draws the data after
each step, and measures how the steps change the first steps of SGD.

Every transform learns its statistics from training data with ``fit`` and applies them
to any data with ``transform``, like scikit-learn's transformers (so a validation or
test set is transformed with the training set's statistics, never its own). Data are
(N, D) float tensors; flatten images first. Statistics follow the data's dtype and
device.

* :func:`center`, :func:`standardize` -- one-shot versions on one array.
* :class:`StandardScaler` -- subtract the per-feature mean and divide by the
  per-feature standard deviation (population, ``ddof=0``; a constant feature is left
  unscaled), as ``sklearn.preprocessing.StandardScaler``.
* :class:`PCA` -- project the centered data on the top ``n_components`` principal
  directions, optionally whitened (each component divided by its standard deviation,
  so their covariance is the identity), as ``sklearn.decomposition.PCA`` (full SVD;
  components agree up to sign).
* :class:`ZCA` -- zero-phase whitening, :math:`U (\Lambda + \epsilon I)^{-1/2} U^\top`:
  the whitening closest to the original data, so whitened images still look like
  images (edges).

Equations of the chapter: (10.4) ``tr1-standardize`` and (10.5) ``tr1-whiten``.

Torch counterparts: none (``torchvision.transforms.Normalize`` is the per-channel
standardization); references are scikit-learn's.
"""

from __future__ import annotations

from typing import Any

import torch

from dlcv._checks import (
    check_finite_number,
    check_float_tensor,
    check_positive_int,
    check_shape,
)

__all__ = ["PCA", "ZCA", "StandardScaler", "center", "standardize"]


def _check_data(x: Any, name: str = "X") -> torch.Tensor:
    return check_float_tensor(x, name, ndim=2)


def center(X: torch.Tensor) -> torch.Tensor:
    """Subtract each feature's mean: :math:`X - \\bar X`.

    Args:
        X: (N, D) data.

    Returns:
        (N, D) data whose columns have mean zero.
    """
    X = _check_data(X)
    return X - X.mean(dim=0)


def standardize(X: torch.Tensor) -> torch.Tensor:
    """Center each feature and divide it by its standard deviation (``ddof=0``).

    Args:
        X: (N, D) data; a constant feature is only centered.

    Returns:
        (N, D) data whose non-constant columns have mean 0 and variance 1.
    """
    return StandardScaler().fit_transform(X)


def _check_fitted(model: Any, X: Any) -> torch.Tensor:
    """``X`` must be (N, D) data with the D that ``model`` was fitted on."""
    X = _check_data(X)
    if model.mean_ is None:
        raise RuntimeError(f"{type(model).__name__} must be fitted before use")
    return check_shape(X, "X", ("N", model.mean_.shape[0]))


class _Transformer:
    """What every transformer here shares: sklearn's ``fit_transform``."""

    def fit_transform(self, X: torch.Tensor) -> torch.Tensor:
        """``fit(X)`` then ``transform(X)``.

        Args:
            X: (N, D) training data.

        Returns:
            The transformed training data.
        """
        return self.fit(X).transform(X)


class StandardScaler(_Transformer):
    """Per-feature standardization, as ``sklearn.preprocessing.StandardScaler``.

    Args:
        with_mean: subtract the mean.
        with_std: divide by the standard deviation.
    """

    def __init__(self, with_mean: bool = True, with_std: bool = True) -> None:
        self.with_mean = bool(with_mean)
        self.with_std = bool(with_std)
        self.mean_: torch.Tensor | None = None
        self.scale_: torch.Tensor | None = None

    def fit(self, X: torch.Tensor) -> StandardScaler:
        """Learn the per-feature mean and standard deviation of ``X``.

        Args:
            X: (N, D) training data.

        Returns:
            ``self``.
        """
        X = _check_data(X)
        self.mean_ = X.mean(dim=0)
        std = X.std(dim=0, correction=0)
        # A constant feature has std 0 (up to rounding): leave it unscaled.
        tiny = 10 * torch.finfo(X.dtype).eps * X.abs().amax(dim=0).clamp_min(1.0)
        self.scale_ = torch.where(std <= tiny, torch.ones_like(std), std)
        return self

    def transform(self, X: torch.Tensor) -> torch.Tensor:
        """Standardize ``X`` with the training statistics.

        Args:
            X: (N, D) data.

        Returns:
            (X - mean) / scale, with the parts switched off left out.
        """
        X = _check_fitted(self, X)
        if self.with_mean:
            X = X - self.mean_
        if self.with_std:
            X = X / self.scale_  # Eq. (10.4)
        return X

    def inverse_transform(self, X: torch.Tensor) -> torch.Tensor:
        """Undo :meth:`transform`.

        Args:
            X: (N, D) standardized data.

        Returns:
            X * scale + mean.
        """
        X = _check_fitted(self, X)
        if self.with_std:
            X = X * self.scale_
        if self.with_mean:
            X = X + self.mean_
        return X


class PCA(_Transformer):
    r"""Principal component analysis, as ``sklearn.decomposition.PCA`` (full SVD).

    With the centered data :math:`X_c = U S V^\top`, the components are the rows of
    :math:`V^\top`, the explained variances :math:`S^2/(N-1)`, and ``transform`` is
    :math:`X_c V`, divided by :math:`\sqrt{\text{variance}}` when ``whiten``. Signs
    follow scikit-learn's ``svd_flip`` (the largest-magnitude entry of each column of
    :math:`U` is positive), so components usually match exactly.

    Args:
        n_components: components kept (default: all, min(N, D)).
        whiten: divide each component by its standard deviation.
    """

    def __init__(self, n_components: int | None = None, whiten: bool = False) -> None:
        if n_components is not None:
            check_positive_int(n_components, "n_components")
        self.n_components = n_components
        self.whiten = bool(whiten)
        self.mean_: torch.Tensor | None = None
        self.components_: torch.Tensor | None = None
        self.explained_variance_: torch.Tensor | None = None
        self.explained_variance_ratio_: torch.Tensor | None = None

    def fit(self, X: torch.Tensor) -> PCA:
        """Learn the mean and the principal directions of ``X``.

        Args:
            X: (N, D) training data, N >= 2.

        Returns:
            ``self``.
        """
        X = _check_data(X)
        n, d = X.shape
        check_positive_int(n, "the number of rows of X", minimum=2)
        k = min(n, d) if self.n_components is None else self.n_components
        if k > min(n, d):
            raise ValueError(
                f"n_components must be <= min(N, D) = {min(n, d)}, got {k}"
            )
        self.mean_ = X.mean(dim=0)
        U, S, Vt = torch.linalg.svd(X - self.mean_, full_matrices=False)
        rows = U.abs().argmax(dim=0)
        signs = torch.sign(U[rows, torch.arange(U.shape[1], device=U.device)])
        Vt = Vt * signs[:, None]
        variance = S**2 / (n - 1)
        self.components_ = Vt[:k]
        self.explained_variance_ = variance[:k]
        self.explained_variance_ratio_ = variance[:k] / variance.sum()
        return self

    def transform(self, X: torch.Tensor) -> torch.Tensor:
        """Project ``X`` on the components (whitened if ``whiten``).

        Args:
            X: (N, D) data.

        Returns:
            (N, n_components) coordinates.
        """
        X = _check_fitted(self, X)
        Z = (X - self.mean_) @ self.components_.T  # (N, k): U_k^T (x - mu)
        if self.whiten:
            Z = Z / self.explained_variance_.sqrt()  # Eq. (10.5): Lambda_k^(-1/2)
        return Z

    def inverse_transform(self, Z: torch.Tensor) -> torch.Tensor:
        """Map coordinates back to the data space.

        Args:
            Z: (N, n_components) coordinates from :meth:`transform`.

        Returns:
            (N, D) data: the projection of the original data on the kept components.
        """
        if self.components_ is None:
            raise RuntimeError("PCA must be fitted before use")
        Z = check_float_tensor(Z, "Z", ndim=2)
        check_shape(Z, "Z", ("N", self.components_.shape[0]))
        if self.whiten:
            Z = Z * self.explained_variance_.sqrt()
        return Z @ self.components_ + self.mean_


class ZCA(_Transformer):
    r"""Zero-phase (ZCA) whitening: :math:`(X - \mu)\, U (\Lambda+\epsilon I)^{-1/2}
    U^\top`.

    :math:`U \Lambda U^\top` is the covariance of the training data (``ddof=1``). With
    ``eps`` = 0 the whitened training data has identity covariance; a small ``eps``
    keeps the near-zero-variance directions (pixel noise) from being blown up.

    Args:
        eps: added to every eigenvalue (>= 0).
    """

    def __init__(self, eps: float = 0.0) -> None:
        self.eps = check_finite_number(eps, "eps", low=0.0)
        self.mean_: torch.Tensor | None = None
        self.matrix_: torch.Tensor | None = None

    def fit(self, X: torch.Tensor) -> ZCA:
        """Learn the mean and the whitening matrix of ``X``.

        Args:
            X: (N, D) training data, N >= 2.

        Returns:
            ``self``.
        """
        X = _check_data(X)
        check_positive_int(X.shape[0], "the number of rows of X", minimum=2)
        self.mean_ = X.mean(dim=0)
        Xc = X - self.mean_
        cov = Xc.T @ Xc / (X.shape[0] - 1)
        lam, U = torch.linalg.eigh(cov)
        scale = (lam.clamp_min(0) + self.eps).rsqrt()
        self.matrix_ = (U * scale) @ U.T
        return self

    def transform(self, X: torch.Tensor) -> torch.Tensor:
        """Whiten ``X`` with the training statistics.

        Args:
            X: (N, D) data.

        Returns:
            (N, D) whitened data.
        """
        X = _check_fitted(self, X)
        return (X - self.mean_) @ self.matrix_
