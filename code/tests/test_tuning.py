import math

import numpy as np
import pytest
import torch
from scipy import stats
from sklearn.model_selection import ParameterGrid

from dlcv import tuning


def _gen(seed=0):
    return torch.Generator().manual_seed(seed)


@pytest.mark.parametrize(
    "space",
    [
        {"lr": [1e-3, 1e-2, 1e-1], "batch_size": (32, 64), "decay": [0.0, 5e-4]},
        {"z": range(3), "a": ["relu", "gelu"]},
        {"only": [1]},
        {},
    ],
)
def test_grid_equals_sklearn_parameter_grid(space):
    got = tuning.grid(space)
    assert got == list(ParameterGrid(space))
    assert len(got) == math.prod(len(v) for v in space.values())


def test_log_uniform_is_loguniform():
    x = tuning.log_uniform(1e-5, 1e-1, 4000, _gen(1))
    assert x.shape == (4000,) and x.dtype == torch.float64
    assert float(x.min()) >= 1e-5 and float(x.max()) <= 1e-1
    law = stats.loguniform(1e-5, 1e-1)
    assert stats.kstest(x.numpy(), law.cdf).pvalue > 0.01
    # the test has power: uniform draws on the same interval are rejected
    flat = torch.rand(4000, generator=_gen(2), dtype=torch.float64) * 1e-1
    assert stats.kstest(flat.numpy(), law.cdf).pvalue < 1e-6
    # each decade gets about a quarter of the draws
    decades = np.histogram(np.log10(x.numpy()), bins=[-5, -4, -3, -2, -1])[0]
    assert np.all(np.abs(decades / 4000 - 0.25) < 0.03)


def test_log_uniform_is_reproducible():
    a = tuning.log_uniform(0.1, 10.0, 5, _gen(3))
    b = tuning.log_uniform(0.1, 10.0, 5, _gen(3))
    assert torch.equal(a, b)
    assert not torch.equal(a, tuning.log_uniform(0.1, 10.0, 5, _gen(4)))


def test_random_search_space_distributions():
    space = {"lr": (1e-4, 1.0, "log"), "dropout": (0.1, 0.6, "linear")}
    points = tuning.random_search_space(space, 3000, _gen(5))
    assert len(points) == 3000 and all(list(p) == ["lr", "dropout"] for p in points)
    assert all(isinstance(v, float) for p in points for v in p.values())
    lr = np.array([p["lr"] for p in points])
    dropout = np.array([p["dropout"] for p in points])
    assert stats.kstest(lr, stats.loguniform(1e-4, 1.0).cdf).pvalue > 0.01
    assert stats.kstest(dropout, stats.uniform(0.1, 0.5).cdf).pvalue > 0.01
    # the two are drawn independently
    assert abs(stats.spearmanr(lr, dropout).statistic) < 0.06


def _quadratic(params):
    """Best at lr = 1e-3 (a quadratic in log10 lr) and momentum = 0.9."""
    lr, momentum = params["lr"], params["momentum"]
    return -((math.log10(lr) + 3) ** 2) - 10 * (momentum - 0.9) ** 2


def test_coarse_to_fine_narrows_around_the_optimum():
    space = {"lr": (1e-6, 1.0, "log"), "momentum": (0.0, 0.99, "linear")}
    trials, ranges = out = tuning.coarse_to_fine(
        _quadratic, space, rounds=4, n_per_round=20, shrink=0.5, generator=_gen(6)
    )
    assert len(trials) == 80 and len(ranges) == 5
    assert [t.round for t in trials] == [r for r in range(4) for _ in range(20)]
    for r, rng in enumerate(ranges):
        (lo, hi, scale), (mlo, mhi, mscale) = rng["lr"], rng["momentum"]
        assert (scale, mscale) == ("log", "linear")
        # each range keeps half of the width of the one before, in log space for lr
        assert math.log(hi / lo) == pytest.approx(math.log(1e6) * 0.5**r)
        assert mhi - mlo == pytest.approx(0.99 * 0.5**r)
        # every range still holds the optimum of lr, which dominates the score
        assert lo <= 1e-3 <= hi
        if r > 0:  # inside the range before it, around the best trial so far
            plo, phi, _ = ranges[r - 1]["lr"]
            assert plo <= lo and hi <= phi
            best = max((t for t in trials if t.round < r), key=lambda t: t.score)
            assert lo <= best.params["lr"] <= hi
            assert mlo <= best.params["momentum"] <= mhi
    assert abs((mlo + mhi) / 2 - 0.9) < 0.15
    for t in trials:  # each trial was drawn from its round's ranges
        lo, hi, _ = ranges[t.round]["lr"]
        assert lo <= t.params["lr"] <= hi
        assert t.score == _quadratic(t.params)
    # the last round's points are closer to the optimum than the first round's
    err = [
        np.median([abs(math.log10(t.params["lr"]) + 3) for t in trials if t.round == r])
        for r in (0, 3)
    ]
    assert err[1] < err[0] / 3
    assert out.best == max(trials, key=lambda t: t.score)
    assert abs(math.log10(out.best.params["lr"]) + 3) < 0.5


def test_coarse_to_fine_nan_scores_never_win():
    def diverges_above_1e_2(params):
        return math.nan if params["lr"] > 1e-2 else math.log10(params["lr"])

    out = tuning.coarse_to_fine(
        diverges_above_1e_2, {"lr": (1e-4, 1.0, "log")}, 3, 10, 0.5, _gen(7)
    )
    assert any(math.isnan(t.score) for t in out.trials)
    assert out.best.params["lr"] <= 1e-2 and not math.isnan(out.best.score)
    always_nan = tuning.coarse_to_fine(
        lambda p: math.nan, {"lr": (1e-4, 1.0, "log")}, 2, 3, 0.5, _gen(8)
    )
    assert always_nan.ranges[-1] == always_nan.ranges[0]  # nothing to centre on


def test_narrowed_range_moves_inside_at_the_border():
    out = tuning.coarse_to_fine(
        lambda p: -p["x"], {"x": (0.0, 1.0, "linear")}, 1, 30, 0.2, _gen(9)
    )
    low, high, _ = out.ranges[-1]["x"]
    assert low == 0.0 and high == pytest.approx(0.2)


@pytest.mark.parametrize(
    ("call", "error", "match"),
    [
        (lambda: tuning.grid([1, 2]), TypeError, "space must be a dict.*list"),
        (lambda: tuning.grid({"lr": 0.1}), TypeError, r"space\['lr'\].*float"),
        (lambda: tuning.grid({"act": "relu"}), TypeError, r"space\['act'\].*str"),
        (lambda: tuning.grid({"lr": []}), ValueError, "at least one value"),
        (lambda: tuning.log_uniform(0.0, 1.0, 3, _gen()), ValueError, "low.*got 0.0"),
        (lambda: tuning.log_uniform(math.nan, 1.0, 3, _gen()), ValueError, "nan"),
        (lambda: tuning.log_uniform(1.0, 0.5, 3, _gen()), ValueError, "high.*> low"),
        (lambda: tuning.log_uniform(0.1, 1.0, 0, _gen()), ValueError, "n.*got 0"),
        (lambda: tuning.log_uniform(0.1, 1.0, 2, 0), TypeError, "Generator.*int"),
        (
            lambda: tuning.random_search_space({"lr": (0.1, 1.0)}, 2, _gen()),
            ValueError,
            r"\(low, high, 'log' \| 'linear'\), got \(0.1, 1.0\)",
        ),
        (
            lambda: tuning.random_search_space({"lr": (0.1, 1.0, "exp")}, 2, _gen()),
            ValueError,
            "scale must be one of.*'exp'",
        ),
        (
            lambda: tuning.random_search_space(
                {"x": (-1, math.inf, "linear")}, 2, _gen()
            ),
            ValueError,
            "high.*inf",
        ),
        (
            lambda: tuning.random_search_space({"x": (-1, 0.0, "log")}, 2, _gen()),
            ValueError,
            r"space\['x'\]'s low.*\(0, inf\].*-1",
        ),
        (lambda: tuning.random_search_space({}, 2, _gen()), ValueError, "at least"),
        (
            lambda: tuning.coarse_to_fine(
                "f", {"x": (0, 1, "linear")}, 1, 1, 0.5, _gen()
            ),
            TypeError,
            "objective must be callable",
        ),
        (
            lambda: tuning.coarse_to_fine(
                lambda p: "good", {"x": (0, 1, "linear")}, 1, 1, 0.5, _gen()
            ),
            TypeError,
            "objective must return a real number, got str",
        ),
        (
            lambda: tuning.coarse_to_fine(
                lambda p: 1.0, {"x": (0, 1, "linear")}, 1, 1, 0.0, _gen()
            ),
            ValueError,
            r"shrink.*\(0, 1\].*0.0",
        ),
        (
            lambda: tuning.coarse_to_fine(
                lambda p: 1.0, {"x": (0, 1, "linear")}, 1, 1, math.nan, _gen()
            ),
            ValueError,
            "shrink.*nan",
        ),
        (
            lambda: tuning.coarse_to_fine(
                lambda p: 1.0, {"x": (0, 1, "linear")}, 0, 1, 0.5, _gen()
            ),
            ValueError,
            "rounds.*got 0",
        ),
    ],
)
def test_bad_input(call, error, match):
    with pytest.raises(error, match=match):
        call()
