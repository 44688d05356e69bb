"""Shared validation helpers: TypeError for a wrong type, ValueError for a bad value."""

import math

import numpy as np
import pytest
import torch

from dlcv import _checks
from dlcv._checks import (
    check_finite_number,
    check_float_tensor,
    check_in,
    check_labels,
    check_positive_int,
    check_same_device,
    check_tensor,
)


def test_check_tensor_and_float_tensor():
    x = torch.zeros(2, 3)
    assert check_tensor(x, "x", ndim=2) is x
    with pytest.raises(TypeError, match="x must be a torch.Tensor, got list"):
        check_tensor([1.0], "x")
    with pytest.raises(
        ValueError, match="x must have 3 dimensions, got shape \\(2, 3\\)"
    ):
        check_tensor(x, "x", ndim=3)
    with pytest.raises(
        TypeError, match="x must have a floating dtype, got torch.int64"
    ):
        check_float_tensor(torch.zeros(2, dtype=torch.long), "x")
    with pytest.raises(ValueError, match="at least 2 dimensions, got shape \\(3,\\)"):
        check_float_tensor(torch.zeros(3), "x", min_ndim=2)
    bad = torch.tensor([1.0, math.nan, math.inf])
    assert check_float_tensor(bad, "x") is bad  # finiteness only when asked
    with pytest.raises(ValueError, match="x must be finite, got 2 NaN or infinite"):
        check_float_tensor(bad, "x", finite=True)


def test_check_labels():
    y = torch.tensor([0, 2, 1], dtype=torch.uint8)
    out = check_labels(y, "y", n=3, num_classes=3)
    assert out.dtype == torch.int64 and out.tolist() == [0, 2, 1]
    with pytest.raises(TypeError, match="y must have an integer dtype, got torch.bool"):
        check_labels(torch.tensor([True, False]), "y", n=2)
    with pytest.raises(TypeError, match="integer dtype, got torch.float32"):
        check_labels(torch.zeros(2), "y", n=2)
    with pytest.raises(ValueError, match="y must have shape \\(3,\\), got \\(3, 1\\)"):
        check_labels(y[:, None], "y", n=3)
    with pytest.raises(ValueError, match="labels in \\[0, 2\\), got 2"):
        check_labels(y, "y", n=3, num_classes=2)
    with pytest.raises(ValueError, match="labels in >= 0, got -4"):
        check_labels(torch.tensor([1, -4]), "y", n=2)
    assert check_labels(torch.zeros(0, dtype=torch.long), "y", n=0).shape == (0,)


def test_check_positive_int():
    assert check_positive_int(3, "k") == 3
    assert check_positive_int(np.int64(3), "k") == 3
    assert type(check_positive_int(np.int64(3), "k")) is int
    assert check_positive_int(0, "n", minimum=0) == 0
    with pytest.raises(TypeError, match="k must be an int, got bool"):
        check_positive_int(True, "k")
    with pytest.raises(TypeError, match="k must be an int, got float"):
        check_positive_int(2.0, "k")
    with pytest.raises(ValueError, match="k must be an int >= 1, got -2"):
        check_positive_int(-2, "k")


@pytest.mark.parametrize("bad", [math.nan, math.inf, -math.inf])
def test_check_finite_number_never_lets_nan_or_inf_through(bad):
    with pytest.raises(ValueError, match="lr must be a finite number in"):
        check_finite_number(bad, "lr")
    with pytest.raises(ValueError, match="lr must be a finite number in \\[0"):
        check_finite_number(bad, "lr", low=0)


def test_check_finite_number_ranges_and_types():
    assert (
        check_finite_number(np.float32(0.5), "rho", low=0, high=1, high_open=True)
        == 0.5
    )
    assert check_finite_number(3, "x") == 3.0
    with pytest.raises(
        ValueError, match="rho must be a finite number in \\[0, 1\\), got 1.0"
    ):
        check_finite_number(1, "rho", low=0, high=1, high_open=True)
    with pytest.raises(ValueError, match="lr must be a finite number in \\(0, inf\\]"):
        check_finite_number(0.0, "lr", low=0, low_open=True)
    with pytest.raises(ValueError, match="reg must be a finite number in \\[0, inf\\]"):
        check_finite_number(-5, "reg", low=0)
    with pytest.raises(TypeError, match="reg must be a real number, got bool"):
        check_finite_number(False, "reg")
    with pytest.raises(TypeError, match="reg must be a real number, got str"):
        check_finite_number("0.1", "reg")


def test_check_in_and_same_device():
    assert check_in(2, "p", (1, 2)) == 2
    with pytest.raises(ValueError, match="p must be one of \\(1, 2\\), got True"):
        check_in(True, "p", (1, 2))
    with pytest.raises(ValueError, match="p must be one of \\(1, 2\\), got nan"):
        check_in(math.nan, "p", (1, 2))
    check_same_device(a=torch.zeros(1), b=torch.zeros(2))
    with pytest.raises(ValueError, match="share a device, got a on cpu, b on meta"):
        check_same_device(a=torch.zeros(1), b=torch.zeros(1, device="meta"))


def test_check_shape_names_free_and_leading_dimensions():
    x = torch.zeros(3, 4)
    assert _checks.check_shape(x, "X", ("N", 4)) is x
    _checks.check_shape(torch.zeros(2, 5, 2), "p", ("...", 2))
    _checks.check_shape(torch.zeros(2), "p", ("...", 2))
    with pytest.raises(ValueError, match=r"X must have shape \(N, 5\), got \(3, 4\)"):
        _checks.check_shape(x, "X", ("N", 5))
    with pytest.raises(ValueError, match=r"p must have shape \(\.\.\., 2\), got \(\)"):
        _checks.check_shape(torch.zeros(()), "p", ("...", 2))
    with pytest.raises(ValueError, match=r"b must have shape \(4,\), got \(3, 4\)"):
        _checks.check_shape(x, "b", (4,))


def test_check_len_callable_and_match():
    assert _checks.check_len([1, 2], "biases", 2) == [1, 2]
    with pytest.raises(ValueError, match="biases must have 3 entries, got 2"):
        _checks.check_len([1, 2], "biases", 3)
    with pytest.raises(TypeError, match="biases must be a sequence, got int"):
        _checks.check_len(5, "biases", 3)
    with pytest.raises(TypeError, match=r"loss must be callable as f\(x\), got str"):
        _checks.check_callable("svm", "loss", signature="f(x)")
    a, b = torch.zeros(2), torch.zeros(2, dtype=torch.float64)
    _checks.check_tensors_match(a=a, c=torch.ones(3))
    with pytest.raises(
        ValueError, match="got a torch.float32 on cpu, b torch.float64 on cpu"
    ):
        _checks.check_tensors_match(a=a, b=b)


def test_check_positive_int_with_a_maximum():
    assert _checks.check_positive_int(np.int64(3), "k", maximum=3) == 3
    with pytest.raises(ValueError, match=r"k must be an int in \[1, 4\], got 5"):
        _checks.check_positive_int(5, "k", maximum=4)
    with pytest.raises(ValueError, match=r"k must be an int in \[2, 4\], got 1"):
        _checks.check_positive_int(1, "k", minimum=2, maximum=4)
