import math

import pytest
import torch
from sklearn.datasets import make_blobs as sk_make_blobs
from torch.testing import assert_close

from dlcv import toy


def test_blobs_scatter_around_their_centres_like_sklearn():
    centres = torch.tensor([[-2.0, 0.0], [2.0, 1.0], [0.0, 3.0]], dtype=torch.float64)
    g = torch.Generator().manual_seed(0)
    x, y = toy.make_blobs(3000, centres, std=0.5, generator=g, dtype=torch.float64)
    xs, ys = sk_make_blobs(
        3000, centers=centres.numpy(), cluster_std=0.5, random_state=0
    )
    xs, ys = torch.from_numpy(xs), torch.from_numpy(ys)
    assert x.shape == (3000, 2) and y.dtype == torch.int64
    for c in range(3):
        ours, theirs = x[y == c], xs[ys == c]
        # both scatter around the centre with std 0.5 in each coordinate
        assert_close(ours.mean(0), centres[c], atol=0.05, rtol=0)
        assert_close(theirs.mean(0), centres[c], atol=0.05, rtol=0)
        assert_close(ours.std(0), theirs.std(0), atol=0.05, rtol=0)
    assert 900 < torch.bincount(y).min() <= torch.bincount(y).max() < 1100
    g = torch.Generator().manual_seed(0)
    again, _ = toy.make_blobs(3000, centres, std=0.5, generator=g, dtype=torch.float64)
    assert torch.equal(x, again)


def test_rings_are_reproducible_and_on_their_rings():
    kw = {"radii": (1.0, 2.0, 3.0), "noise": 0.05}
    x, y = toy.make_rings(300, generator=torch.Generator().manual_seed(0), **kw)
    x2, y2 = toy.make_rings(300, generator=torch.Generator().manual_seed(0), **kw)
    x3, _ = toy.make_rings(300, generator=torch.Generator().manual_seed(1), **kw)
    assert torch.equal(x, x2) and torch.equal(y, y2) and not torch.equal(x, x3)
    assert x.shape == (300, 2) and x.dtype == torch.float32 and y.dtype == torch.int64
    assert torch.bincount(y).tolist() == [100, 100, 100]
    r = x.double().norm(dim=1)
    for c, radius in enumerate(kw["radii"]):
        assert abs(r[y == c].mean().item() - radius) < 0.02
        assert abs(r[y == c].std().item() - 0.05) < 0.015


def test_spirals_are_reproducible_and_in_the_unit_disc():
    x, y = toy.make_spirals(301, classes=3, generator=torch.Generator().manual_seed(0))
    x2, y2 = toy.make_spirals(
        301, classes=3, generator=torch.Generator().manual_seed(0)
    )
    assert torch.equal(x, x2) and torch.equal(y, y2)
    assert x.shape == (301, 2) and torch.bincount(y).tolist() == [101, 100, 100]
    r = x.double().norm(dim=1)
    assert r.max() <= 1 + 1e-6 and r.min() == 0
    clean, _ = toy.make_spirals(
        30, classes=3, noise=0.0, generator=torch.Generator().manual_seed(0)
    )
    # Without noise, the three arms are rotations of each other by 120 degrees.
    rot = torch.tensor(
        [
            [math.cos(2 * math.pi / 3), -math.sin(2 * math.pi / 3)],
            [math.sin(2 * math.pi / 3), math.cos(2 * math.pi / 3)],
        ]
    )
    assert_close(clean[0::3] @ rot.T, clean[1::3], atol=1e-6, rtol=0)


@pytest.mark.parametrize(
    ("call", "error", "match"),
    [
        (
            lambda g: toy.make_rings(1, generator=g),
            ValueError,
            r"n must be an int >= 2",
        ),
        (
            lambda g: toy.make_rings(10, radii=(1.0,), generator=g),
            ValueError,
            r"the number of radii must be an int >= 2, got 1",
        ),
        (
            lambda g: toy.make_rings(10, radii=(1.0, math.nan), generator=g),
            ValueError,
            r"each radius must be a finite number in \(0, inf\], got nan",
        ),
        (
            lambda g: toy.make_rings(10, noise=math.nan, generator=g),
            ValueError,
            r"noise must be a finite number in \[0, inf\], got nan",
        ),
        (
            lambda g: toy.make_spirals(10, noise=-1, generator=g),
            ValueError,
            r"noise must be a finite number in \[0, inf\], got -1",
        ),
        (
            lambda g: toy.make_spirals(10, turns=math.inf, generator=g),
            ValueError,
            r"turns must be a finite number",
        ),
        (
            lambda g: toy.make_spirals(10, classes=1, generator=g),
            ValueError,
            r"classes must be an int >= 2, got 1",
        ),
        (
            lambda g: toy.make_spirals(10, classes=True, generator=g),
            TypeError,
            r"classes must be an int, got bool",
        ),
        (
            lambda g: toy.make_blobs(10, torch.zeros(3), generator=g),
            ValueError,
            r"centres must have 2 dimensions, got shape \(3,\)",
        ),
        (
            lambda g: toy.make_blobs(10, torch.zeros(3, 2), std=math.nan, generator=g),
            ValueError,
            r"std must be a finite number",
        ),
    ],
)
def test_bad_input_raises_clear_errors(call, error, match):
    with pytest.raises(error, match=match):
        call(torch.Generator())


def test_numpy_numbers_are_accepted():
    np = pytest.importorskip("numpy")
    g = torch.Generator().manual_seed(0)
    n, classes, noise = np.int64(30), np.int64(3), np.float32(0.1)
    x, y = toy.make_spirals(n, classes=classes, noise=noise, generator=g)
    assert x.shape == (30, 2) and torch.bincount(y).tolist() == [10, 10, 10]


@pytest.mark.cuda
def test_same_data_on_cuda_as_on_cpu():
    for make in (toy.make_rings, toy.make_spirals):
        xr, yr = make(50, generator=torch.Generator().manual_seed(0), device="cuda")
        assert xr.is_cuda and yr.is_cuda
        xc, yc = make(50, generator=torch.Generator().manual_seed(0))
        assert_close(xr.cpu(), xc)
        assert torch.equal(yr.cpu(), yc)
