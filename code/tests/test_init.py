"""Tests for dlcv.init against torch.nn.init."""

import math

import pytest
import torch
from torch import nn

from dlcv import init

SCHEMES = [
    ("xavier_uniform_", {}),
    ("xavier_uniform_", {"gain": 5 / 3}),
    ("xavier_normal_", {"gain": 2.0}),
    ("kaiming_uniform_", {}),
    ("kaiming_uniform_", {"a": 0.2, "mode": "fan_out"}),
    ("kaiming_normal_", {"nonlinearity": "relu"}),
    ("kaiming_normal_", {"mode": "fan_out", "nonlinearity": "tanh"}),
    ("normal_", {"mean": 0.5, "std": 0.1}),
    ("uniform_", {"a": -2.0, "b": 3.0}),
]


@pytest.mark.parametrize("name", init.NONLINEARITIES)
@pytest.mark.parametrize("param", [None, 0.2, 1])
def test_calculate_gain_matches_torch(name, param):
    assert init.calculate_gain(name, param) == pytest.approx(
        nn.init.calculate_gain(name, param), rel=1e-15
    )


@pytest.mark.parametrize("shape", [(7, 5), (16, 3, 3, 3), (4, 6, 2), (1, 9)])
def test_fans_match_torch(shape):
    t = torch.empty(shape)
    assert init.fan_in_and_fan_out(t) == nn.init._calculate_fan_in_and_fan_out(t)


@pytest.mark.parametrize(("name", "kwargs"), SCHEMES)
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_same_seed_same_tensor_as_torch(name, kwargs, dtype):
    ours = torch.empty(64, 32, 3, dtype=dtype)
    theirs = torch.empty(64, 32, 3, dtype=dtype)
    out = getattr(init, name)(
        ours, **kwargs, generator=torch.Generator().manual_seed(3)
    )
    getattr(nn.init, name)(theirs, **kwargs, generator=torch.Generator().manual_seed(3))
    assert out is ours
    torch.testing.assert_close(ours, theirs, rtol=0, atol=0)


@pytest.mark.parametrize(
    ("name", "kwargs", "var"),
    [
        ("xavier_normal_", {}, 2 / (600 + 400)),
        ("xavier_uniform_", {}, 2 / (600 + 400)),
        ("kaiming_normal_", {"nonlinearity": "relu"}, 2 / 400),
        ("kaiming_uniform_", {"nonlinearity": "relu", "mode": "fan_out"}, 2 / 600),
        ("lecture_xavier_", {}, 1 / 400),
    ],
)
def test_statistics_on_large_tensor(name, kwargs, var):
    w = getattr(init, name)(
        torch.empty(600, 400), **kwargs, generator=torch.Generator().manual_seed(0)
    )
    # 240000 draws: the sample std is within ~0.3% of the true one.
    assert w.mean().abs() < 5 * math.sqrt(var / w.numel())
    assert w.std().item() == pytest.approx(math.sqrt(var), rel=0.01)


def test_lecture_xavier_is_glorot_for_square_layers():
    g = torch.Generator().manual_seed(1)
    a = init.lecture_xavier_(torch.empty(300, 300), generator=g)
    b = nn.init.xavier_normal_(
        torch.empty(300, 300), generator=torch.Generator().manual_seed(1)
    )
    torch.testing.assert_close(a, b)


def test_zeros_and_no_grad_on_parameters():
    p = nn.Parameter(torch.ones(3, 4))
    init.kaiming_normal_(p)
    assert p.requires_grad and p.grad_fn is None
    assert init.zeros_(p).abs().sum() == 0


def test_follows_device_and_dtype():
    w = init.xavier_normal_(torch.empty(5, 4, dtype=torch.float64))
    assert w.dtype == torch.float64


def test_bad_input():
    with pytest.raises(ValueError, match="nonlinearity"):
        init.calculate_gain("softplus")
    with pytest.raises(TypeError, match="param"):
        init.calculate_gain("leaky_relu", "0.1")
    with pytest.raises(ValueError, match="at least 2 dimensions"):
        init.xavier_normal_(torch.empty(5))
    with pytest.raises(TypeError, match="torch.Tensor"):
        init.kaiming_normal_([[1.0]])
    with pytest.raises(ValueError, match="mode"):
        init.kaiming_normal_(torch.empty(3, 3), mode="fan_avg")
    with pytest.raises(ValueError, match="std"):
        init.normal_(torch.empty(3), std=-1.0)
    with pytest.raises(ValueError, match="gain"):
        init.xavier_uniform_(torch.empty(3, 3), gain=float("nan"))
