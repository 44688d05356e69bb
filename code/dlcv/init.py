r"""Weight initialization (lecture 10, chapter "Training neural networks I").

Taught by the chapter "Training neural networks I" (``book/training_i.md``), section
"Weight initialization", which draws a deep tanh network and a deep ReLU network under
each scheme and plots the per-layer activation statistics.

The functions follow ``torch.nn.init``: the same names, argument names and order, and
the same ``generator`` argument; each fills ``tensor`` in place (under ``no_grad``) and
returns it. Where torch draws with one ``tensor.normal_`` or ``tensor.uniform_`` call
(every scheme here), the same generator seed gives the same tensor as ``nn.init``.

* :func:`calculate_gain` -- the gain that keeps the activation variance of a
  nonlinearity (1 for linear and sigmoid, 5/3 for tanh, :math:`\sqrt 2` for ReLU,
  :math:`\sqrt{2/(1+a^2)}` for leaky ReLU, 3/4 for SELU), as ``nn.init.calculate_gain``.
* :func:`fan_in_and_fan_out` -- ``nn.init._calculate_fan_in_and_fan_out``.
* :func:`lecture_xavier_` -- the lecture's "Xavier": :math:`N(0, 1/D_{in})`.
* :func:`xavier_uniform_`, :func:`xavier_normal_` -- Glorot and Bengio (2010):
  variance :math:`\text{gain}^2 \cdot 2/(\text{fan\_in}+\text{fan\_out})`, which
  equals the lecture's :math:`1/D_{in}` only for square layers.
* :func:`kaiming_uniform_`, :func:`kaiming_normal_` -- He et al. (2015): variance
  :math:`\text{gain}^2/\text{fan}`, :math:`2/D_{in}` for ReLU.
* :func:`normal_`, :func:`uniform_`, :func:`zeros_`.

Equations of the chapter: (10.6) ``tr1-var`` (the variance of a layer's output) and
(10.7) ``tr1-inits`` (the three variances).

Torch counterparts: ``torch.nn.init``.
"""

from __future__ import annotations

import math
from typing import Any

import torch

from dlcv._checks import check_finite_number, check_in, check_tensor

__all__ = [
    "calculate_gain",
    "fan_in_and_fan_out",
    "kaiming_normal_",
    "kaiming_uniform_",
    "lecture_xavier_",
    "normal_",
    "uniform_",
    "xavier_normal_",
    "xavier_uniform_",
    "zeros_",
]

_LINEAR = (
    "linear",
    "conv1d",
    "conv2d",
    "conv3d",
    "conv_transpose1d",
    "conv_transpose2d",
    "conv_transpose3d",
)
NONLINEARITIES = (*_LINEAR, "sigmoid", "tanh", "relu", "leaky_relu", "selu")


def calculate_gain(nonlinearity: str, param: float | None = None) -> float:
    """The recommended gain for a nonlinearity, as ``nn.init.calculate_gain``.

    Args:
        nonlinearity: one of ``"linear"``, the ``conv*``/``conv_transpose*`` names,
            ``"sigmoid"``, ``"tanh"``, ``"relu"``, ``"leaky_relu"``, ``"selu"``.
        param: the negative slope of leaky ReLU (default 0.01); ignored otherwise.

    Returns:
        The gain (a float).
    """
    check_in(nonlinearity, "nonlinearity", NONLINEARITIES)
    if nonlinearity in _LINEAR or nonlinearity == "sigmoid":
        return 1.0
    if nonlinearity == "tanh":
        return 5.0 / 3
    if nonlinearity == "relu":
        return math.sqrt(2.0)
    if nonlinearity == "selu":
        return 3.0 / 4
    slope = 0.01 if param is None else check_finite_number(param, "param")
    return math.sqrt(2.0 / (1 + slope**2))


def fan_in_and_fan_out(tensor: torch.Tensor) -> tuple[int, int]:
    """Fan-in and fan-out of a weight of shape (D_out, D_in, ...).

    Args:
        tensor: a weight with at least 2 dimensions; a convolution's kernel size
            multiplies both fans.

    Returns:
        ``(fan_in, fan_out)`` = ``(D_in * k, D_out * k)``, k the kernel's size.
    """
    check_tensor(tensor, "tensor")
    if tensor.dim() < 2:
        raise ValueError(
            "tensor must have at least 2 dimensions to have a fan-in and fan-out, "
            f"got shape {tuple(tensor.shape)}"
        )
    receptive = math.prod(tensor.shape[2:])
    return tensor.shape[1] * receptive, tensor.shape[0] * receptive


def _fill(tensor: Any, kind: str, a: float, b: float, generator: Any) -> torch.Tensor:
    check_tensor(tensor, "tensor")
    with torch.no_grad():
        if kind == "normal":
            return tensor.normal_(a, b, generator=generator)
        return tensor.uniform_(a, b, generator=generator)


def normal_(
    tensor: torch.Tensor,
    mean: float = 0.0,
    std: float = 1.0,
    generator: torch.Generator | None = None,
) -> torch.Tensor:
    """Fill ``tensor`` with draws from N(mean, std^2), as ``nn.init.normal_``.

    Args:
        tensor: the tensor to fill in place.
        mean: the mean.
        std: the standard deviation (>= 0).
        generator: the random generator (default: the global one).

    Returns:
        ``tensor``.
    """
    mean = check_finite_number(mean, "mean")
    std = check_finite_number(std, "std", low=0.0)
    return _fill(tensor, "normal", mean, std, generator)


def uniform_(
    tensor: torch.Tensor,
    a: float = 0.0,
    b: float = 1.0,
    generator: torch.Generator | None = None,
) -> torch.Tensor:
    """Fill ``tensor`` with draws from U(a, b), as ``nn.init.uniform_``.

    Args:
        tensor: the tensor to fill in place.
        a: the lower bound.
        b: the upper bound (>= a).
        generator: the random generator (default: the global one).

    Returns:
        ``tensor``.
    """
    a = check_finite_number(a, "a")
    b = check_finite_number(b, "b", low=a)
    return _fill(tensor, "uniform", a, b, generator)


def zeros_(tensor: torch.Tensor) -> torch.Tensor:
    """Fill ``tensor`` with zeros, as ``nn.init.zeros_``.

    Args:
        tensor: the tensor to fill in place.

    Returns:
        ``tensor``.
    """
    check_tensor(tensor, "tensor")
    with torch.no_grad():
        return tensor.zero_()


def lecture_xavier_(
    tensor: torch.Tensor, generator: torch.Generator | None = None
) -> torch.Tensor:
    """The lecture's "Xavier" initialization: N(0, 1/D_in).

    Glorot and Bengio's variance is 2/(fan_in + fan_out) (:func:`xavier_normal_`); the
    two agree for square layers.

    Args:
        tensor: a weight of shape (D_out, D_in, ...), filled in place.
        generator: the random generator (default: the global one).

    Returns:
        ``tensor``.
    """
    fan_in, _ = fan_in_and_fan_out(tensor)
    std = 1.0 / math.sqrt(fan_in)  # Eq. (10.7), lecture Xavier: Var(w) = 1 / D_in
    return _fill(tensor, "normal", 0.0, std, generator)


def _check_gain(gain: Any) -> float:
    return check_finite_number(gain, "gain", low=0.0)


def xavier_uniform_(
    tensor: torch.Tensor, gain: float = 1.0, generator: torch.Generator | None = None
) -> torch.Tensor:
    """Glorot's uniform initialization, as ``nn.init.xavier_uniform_``.

    U(-b, b) with b = gain * sqrt(6 / (fan_in + fan_out)): variance
    gain^2 * 2 / (fan_in + fan_out).

    Args:
        tensor: a weight of shape (D_out, D_in, ...), filled in place.
        gain: the scale, e.g. ``calculate_gain("tanh")``.
        generator: the random generator (default: the global one).

    Returns:
        ``tensor``.
    """
    gain = _check_gain(gain)
    fan_in, fan_out = fan_in_and_fan_out(tensor)
    bound = gain * math.sqrt(6.0 / (fan_in + fan_out))
    return _fill(tensor, "uniform", -bound, bound, generator)


def xavier_normal_(
    tensor: torch.Tensor, gain: float = 1.0, generator: torch.Generator | None = None
) -> torch.Tensor:
    """Glorot's normal initialization, as ``nn.init.xavier_normal_``.

    N(0, gain^2 * 2 / (fan_in + fan_out)).

    Args:
        tensor: a weight of shape (D_out, D_in, ...), filled in place.
        gain: the scale, e.g. ``calculate_gain("tanh")``.
        generator: the random generator (default: the global one).

    Returns:
        ``tensor``.
    """
    gain = _check_gain(gain)
    fan_in, fan_out = fan_in_and_fan_out(tensor)
    std = gain * math.sqrt(2.0 / (fan_in + fan_out))  # Eq. (10.7), Glorot
    return _fill(tensor, "normal", 0.0, std, generator)


def _kaiming_std(tensor: torch.Tensor, a: float, mode: str, nonlinearity: str) -> float:
    check_in(mode, "mode", ("fan_in", "fan_out"))
    fan_in, fan_out = fan_in_and_fan_out(tensor)
    fan = fan_in if mode == "fan_in" else fan_out
    return calculate_gain(nonlinearity, a) / math.sqrt(fan)  # Eq. (10.7), Kaiming


def kaiming_uniform_(
    tensor: torch.Tensor,
    a: float = 0,
    mode: str = "fan_in",
    nonlinearity: str = "leaky_relu",
    generator: torch.Generator | None = None,
) -> torch.Tensor:
    """He's uniform initialization, as ``nn.init.kaiming_uniform_``.

    U(-b, b) with b = sqrt(3) * gain / sqrt(fan): variance gain^2 / fan, 2 / D_in for
    ReLU.

    Args:
        tensor: a weight of shape (D_out, D_in, ...), filled in place.
        a: the negative slope of leaky ReLU (0 gives ReLU's gain).
        mode: ``"fan_in"`` keeps the forward variance, ``"fan_out"`` the backward one.
        nonlinearity: the nonlinearity after the layer (see :func:`calculate_gain`).
        generator: the random generator (default: the global one).

    Returns:
        ``tensor``.
    """
    bound = math.sqrt(3.0) * _kaiming_std(tensor, a, mode, nonlinearity)
    return _fill(tensor, "uniform", -bound, bound, generator)


def kaiming_normal_(
    tensor: torch.Tensor,
    a: float = 0,
    mode: str = "fan_in",
    nonlinearity: str = "leaky_relu",
    generator: torch.Generator | None = None,
) -> torch.Tensor:
    """He's normal initialization, as ``nn.init.kaiming_normal_``.

    N(0, gain^2 / fan): N(0, 2 / D_in) for ReLU.

    Args:
        tensor: a weight of shape (D_out, D_in, ...), filled in place.
        a: the negative slope of leaky ReLU (0 gives ReLU's gain).
        mode: ``"fan_in"`` keeps the forward variance, ``"fan_out"`` the backward one.
        nonlinearity: the nonlinearity after the layer (see :func:`calculate_gain`).
        generator: the random generator (default: the global one).

    Returns:
        ``tensor``.
    """
    std = _kaiming_std(tensor, a, mode, nonlinearity)
    return _fill(tensor, "normal", 0.0, std, generator)
