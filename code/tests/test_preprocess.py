"""Tests for dlcv.preprocess against scikit-learn."""

import numpy as np
import pytest
import torch
from sklearn.decomposition import PCA as SkPCA
from sklearn.preprocessing import StandardScaler as SkScaler

from dlcv import preprocess


def data(n=200, d=6, dtype=torch.float64, seed=0):
    g = torch.Generator().manual_seed(seed)
    mix = torch.randn(d, d, generator=g, dtype=dtype)
    x = torch.randn(n, d, generator=g, dtype=dtype) @ mix + 3.0
    x[:, -1] = 2.5  # a constant feature
    return x


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_standard_scaler_matches_sklearn(dtype):
    x = data(dtype=dtype)
    ours = preprocess.StandardScaler().fit(x[:150])
    sk = SkScaler().fit(x[:150].double().numpy())
    tol = 1e-5 if dtype == torch.float32 else 1e-12
    np.testing.assert_allclose(
        ours.transform(x[150:]).double(),
        sk.transform(x[150:].double().numpy()),
        atol=tol,
    )
    np.testing.assert_allclose(ours.scale_.double(), sk.scale_, rtol=tol)
    assert ours.transform(x).dtype == dtype
    torch.testing.assert_close(ours.inverse_transform(ours.transform(x)), x)


def test_center_and_standardize():
    x = data()
    assert center_ok(preprocess.center(x))
    z = preprocess.standardize(x)
    assert center_ok(z)
    torch.testing.assert_close(
        z[:, :-1].std(dim=0, correction=0), torch.ones(5, dtype=torch.float64)
    )
    assert z[:, -1].abs().max() < 1e-12


def center_ok(x):
    return bool(x.mean(dim=0).abs().max() < 1e-12)


@pytest.mark.parametrize("n_components", [None, 3])
@pytest.mark.parametrize("whiten", [False, True])
def test_pca_matches_sklearn(n_components, whiten):
    x = data()[:, :-1]
    ours = preprocess.PCA(n_components, whiten=whiten).fit(x[:150])
    sk = SkPCA(n_components, whiten=whiten, svd_solver="full").fit(x[:150].numpy())
    signs = np.sign((ours.components_.numpy() * sk.components_).sum(axis=1))
    assert np.all(np.abs(signs) == 1)
    np.testing.assert_allclose(
        ours.components_.numpy() * signs[:, None], sk.components_, atol=1e-10
    )
    np.testing.assert_allclose(
        ours.explained_variance_, sk.explained_variance_, rtol=1e-10
    )
    np.testing.assert_allclose(
        ours.explained_variance_ratio_, sk.explained_variance_ratio_, rtol=1e-10
    )
    np.testing.assert_allclose(
        ours.transform(x[150:]).numpy() * signs,
        sk.transform(x[150:].numpy()),
        atol=1e-9,
    )
    np.testing.assert_allclose(
        ours.inverse_transform(ours.transform(x)).numpy(),
        sk.inverse_transform(sk.transform(x.numpy())),
        atol=1e-9,
    )


def test_pca_whitened_covariance_is_identity():
    x = data()[:, :-1]
    z = preprocess.PCA(whiten=True).fit_transform(x)
    torch.testing.assert_close(torch.cov(z.T), torch.eye(5, dtype=torch.float64))


def test_zca_whitens_and_is_symmetric():
    x = data()[:, :-1]
    zca = preprocess.ZCA().fit(x)
    z = zca.transform(x)
    torch.testing.assert_close(torch.cov(z.T), torch.eye(5, dtype=torch.float64))
    torch.testing.assert_close(zca.matrix_, zca.matrix_.T)
    # eps shrinks the whitened variance of each direction to lam / (lam + eps).
    z_eps = preprocess.ZCA(eps=1.0).fit_transform(x)
    assert torch.all(torch.linalg.eigvalsh(torch.cov(z_eps.T)) < 1)


def test_bad_input():
    with pytest.raises(TypeError, match="floating"):
        preprocess.center(torch.ones(3, 2, dtype=torch.int64))
    with pytest.raises(ValueError, match="2 dimensions"):
        preprocess.PCA().fit(torch.ones(3))
    with pytest.raises(ValueError, match="n_components"):
        preprocess.PCA(9).fit(data())
    with pytest.raises(TypeError, match="n_components"):
        preprocess.PCA(2.5)
    with pytest.raises(RuntimeError, match="fitted"):
        preprocess.StandardScaler().transform(data())
    with pytest.raises(ValueError, match=r"shape \(N, 6\)"):
        preprocess.StandardScaler().fit(data()).transform(torch.ones(2, 3).double())
    with pytest.raises(ValueError, match="eps"):
        preprocess.ZCA(eps=-1.0)
