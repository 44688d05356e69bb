import math

import numpy as np
import pytest
import scipy.linalg
import torch

from dlcv import evaluation as E


def gen(seed):
    return torch.Generator().manual_seed(seed)


def random_gaussian(d=5, seed=0, rank=None):
    g = gen(seed)
    A = torch.randn(d, rank or d, generator=g, dtype=torch.float64)
    return torch.randn(d, generator=g, dtype=torch.float64), A @ A.T / d


def frechet_scipy(mu1, s1, mu2, s2):
    mu1, s1, mu2, s2 = (a.numpy() for a in (mu1, s1, mu2, s2))
    covmean = scipy.linalg.sqrtm(s1 @ s2).real  # the reference FID code's formula
    return float(((mu1 - mu2) ** 2).sum() + np.trace(s1 + s2 - 2 * covmean))


def test_frechet_distance_matches_scipy_sqrtm():
    for seed in range(3):
        mu1, s1 = random_gaussian(6, seed)
        mu2, s2 = random_gaussian(6, seed + 10)
        d2 = E.frechet_distance(mu1, s1, mu2, s2)
        assert d2.dtype == torch.float64 and d2.shape == ()
        assert float(d2) == pytest.approx(frechet_scipy(mu1, s1, mu2, s2), rel=1e-9)


def test_frechet_distance_in_one_dimension_is_the_closed_form():
    for m1, s1, m2, s2 in [(0.0, 1.0, 2.0, 3.0), (-1.5, 0.2, 0.5, 0.2)]:
        d2 = E.frechet_distance(
            torch.tensor([m1]), torch.tensor([[s1**2]]),
            torch.tensor([m2]), torch.tensor([[s2**2]]),
        )  # fmt: skip
        assert float(d2) == pytest.approx((m1 - m2) ** 2 + (s1 - s2) ** 2, rel=1e-6)


def test_frechet_distance_is_zero_for_identical_and_symmetric():
    mu1, s1 = random_gaussian(8, 1)
    mu2, s2 = random_gaussian(8, 2)
    assert float(E.frechet_distance(mu1, s1, mu1, s1)) == pytest.approx(0, abs=1e-10)
    torch.testing.assert_close(
        E.frechet_distance(mu1, s1, mu2, s2), E.frechet_distance(mu2, s2, mu1, s1)
    )
    # a shift of the mean alone adds its squared length
    shift = torch.tensor([3.0, 4.0, 0, 0, 0, 0, 0, 0], dtype=torch.float64)
    assert float(E.frechet_distance(mu1, s1, mu1 + shift, s1)) == pytest.approx(25.0)


def test_frechet_distance_of_singular_covariances_stays_finite_and_non_negative():
    # fewer samples than features: rank-deficient covariances, where sqrtm struggles
    mu1, s1 = random_gaussian(10, 3, rank=3)
    mu2, s2 = random_gaussian(10, 4, rank=3)
    d2 = E.frechet_distance(mu1, s1, mu2, s2)
    assert torch.isfinite(d2) and d2 >= 0
    assert float(E.frechet_distance(mu1, s1, mu1, s1)) == pytest.approx(0, abs=1e-7)
    # float32 in, float32 out, and close to the float64 answer
    d32 = E.frechet_distance(mu1.float(), s1.float(), mu2.float(), s2.float())
    assert d32.dtype == torch.float32
    assert float(d32) == pytest.approx(float(d2), rel=1e-4)


def test_feature_statistics_is_numpys_mean_and_cov():
    f = torch.randn(50, 4, generator=gen(5), dtype=torch.float64)
    mu, sigma = E.feature_statistics(f)
    np.testing.assert_allclose(mu.numpy(), f.numpy().mean(0))
    np.testing.assert_allclose(sigma.numpy(), np.cov(f.numpy(), rowvar=False))
    torch.testing.assert_close(sigma, torch.cov(f.T))


def test_feature_frechet_distance_of_two_samples():
    g = gen(6)
    a = torch.randn(400, 3, generator=g, dtype=torch.float64)
    b = 2 * torch.randn(300, 3, generator=g, dtype=torch.float64) + 1
    expected = frechet_scipy(*E.feature_statistics(a), *E.feature_statistics(b))
    assert float(E.feature_frechet_distance(a, b)) == pytest.approx(expected)
    # the population value is 3 (1 - 0)^2 + 3 (2 - 1)^2 = 6; the estimate is near it
    assert float(E.feature_frechet_distance(a, b)) == pytest.approx(6, rel=0.25)


def test_classifier_score_extremes():
    K = 10
    same = torch.softmax(torch.randn(K, generator=gen(7)), 0).expand(20, K)
    assert float(E.classifier_score(same)) == pytest.approx(1.0)
    one_hot = torch.eye(K, dtype=torch.float64).repeat(3, 1)  # each class 3 times
    assert float(E.classifier_score(one_hot)) == pytest.approx(K)
    # confident but only 4 of the 10 classes ever appear: the score counts 4
    four = torch.eye(K, dtype=torch.float64)[torch.arange(40) % 4]
    assert float(E.classifier_score(four)) == pytest.approx(4)


def test_classifier_score_matches_a_numpy_computation_and_lies_in_1_to_k():
    logits = 3 * torch.randn(64, 10, generator=gen(8), dtype=torch.float64)
    p = torch.softmax(logits, 1)
    pn = p.numpy()
    p_y = pn.mean(0, keepdims=True)
    expected = math.exp(np.mean(np.sum(pn * (np.log(pn) - np.log(p_y)), axis=1)))
    score = E.classifier_score(p)
    assert float(score) == pytest.approx(expected, rel=1e-12)
    assert 1 < float(score) < 10
    # the same as exp(H(p(y)) - E_x H(p(y|x))), the mutual information form
    H = lambda q: -(q * q.log()).sum(-1)  # noqa: E731
    mi = H(p.mean(0)) - H(p).mean()
    assert float(score) == pytest.approx(math.exp(float(mi)), rel=1e-12)


def test_bad_input():
    mu, s = random_gaussian(3)
    with pytest.raises(ValueError, match=r"sigma1 must have shape \(3, 3\)"):
        E.frechet_distance(mu, s[:2], mu, s)
    with pytest.raises(ValueError, match=r"mu2 must have shape \(3,\)"):
        E.frechet_distance(mu, s, mu[:2], s[:2, :2])
    with pytest.raises(ValueError, match="finite"):
        E.frechet_distance(mu, s * float("nan"), mu, s)
    with pytest.raises(ValueError, match="share dtype"):
        E.frechet_distance(mu, s, mu.float(), s.float())
    with pytest.raises(ValueError, match="at least 2 rows"):
        E.feature_statistics(torch.zeros(1, 3))
    with pytest.raises(ValueError, match=r"features2 must have shape \(N2, 3\)"):
        E.feature_frechet_distance(torch.zeros(4, 3), torch.zeros(4, 2))
    with pytest.raises(ValueError, match="sum to 1"):
        E.classifier_score(torch.full((2, 3), 0.5))
    with pytest.raises(ValueError, match=">= 0"):
        E.classifier_score(torch.tensor([[1.5, -0.5]]))
    with pytest.raises(TypeError, match="floating"):
        E.classifier_score(torch.eye(3, dtype=torch.int64))
    with pytest.raises(ValueError, match="finite"):
        E.classifier_score(torch.tensor([[float("nan"), 1.0]]))


@pytest.mark.cuda
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
def test_scores_follow_the_device():
    f = torch.randn(20, 4, device="cuda")
    mu, s = E.feature_statistics(f)
    assert mu.is_cuda and s.is_cuda
    assert E.frechet_distance(mu, s, mu + 1, s).is_cuda
    assert E.feature_frechet_distance(f, f + 1).is_cuda
    assert E.classifier_score(torch.softmax(f, 1)).is_cuda
