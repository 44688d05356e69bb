r"""Activation functions and their derivatives (lecture 10, chapter 10).

Taught by the chapter "Training neural networks I" (``book/training_i.md``, chapter 10),
which plots each function beside its derivative to show where gradients vanish
(sigmoid and tanh saturate; ReLU is dead for x < 0), what the leaky variants change, and
why ELU/SELU push mean activations toward zero.

Each activation is a function of the input written as its equation, and a
``<name>_grad(x, ...)`` that returns the elementwise derivative d out / d x, written by
hand (the Jacobian of an elementwise function is diagonal, so the backward pass is
``dout * <name>_grad(x)``). At a kink the derivative is the one PyTorch's autograd uses:
ReLU's is 0 at 0, leaky ReLU's and PReLU's is the slope, ELU's is alpha (its negative
branch is x <= 0, as in the erratum to the lecture's slide).

Equations of the chapter: (10.1) ``tr1-sigmoid``, (10.2) ``tr1-relu`` and
(10.3) ``tr1-elu``.

Torch counterparts, with their argument names and defaults: ``torch.sigmoid``,
``torch.tanh``, ``F.relu``, ``F.leaky_relu``, ``F.prelu``, ``F.elu``, ``F.selu`` and
``F.gelu``; the modules :class:`Sigmoid` ... :class:`GELU` subclass their ``nn``
namesakes (same parameters, so PReLU's state dict loads both ways) and compute with the
functions here. ``ACTIVATIONS`` maps a name to each module for chapters to loop
over. SELU's constants are PyTorch's exact values. References: Maas et al. (2013,
leaky ReLU), He et al. (2015, PReLU), Clevert et al. (2016, ELU), Klambauer et al.
(2017, SELU), Hendrycks and Gimpel (2016, GELU).
"""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn

from dlcv._checks import check_finite_number, check_float_tensor, check_in

__all__ = [
    "ACTIVATIONS",
    "ELU",
    "GELU",
    "SELU",
    "SELU_ALPHA",
    "SELU_SCALE",
    "LeakyReLU",
    "PReLU",
    "ReLU",
    "Sigmoid",
    "Tanh",
    "elu",
    "elu_grad",
    "gelu",
    "gelu_grad",
    "leaky_relu",
    "leaky_relu_grad",
    "prelu",
    "prelu_grad",
    "relu",
    "relu_grad",
    "selu",
    "selu_grad",
    "sigmoid",
    "sigmoid_grad",
    "tanh",
    "tanh_grad",
]

SELU_ALPHA = 1.6732632423543772848170429916717  # alpha of Klambauer et al., torch's
SELU_SCALE = 1.0507009873554804934193349852946  # lambda of Klambauer et al., torch's
_GELU_C = math.sqrt(2 / math.pi)  # sqrt(2 / pi), in the tanh approximation


# ---- sigmoid and tanh: saturating ----------------------------------------------------
def sigmoid(x: Tensor) -> Tensor:
    """The logistic sigmoid, like ``torch.sigmoid``; ``(N, *) -> (N, *)``.

    Args:
        x: floating-point input of any shape.

    Returns:
        sigma(x), x's shape, in (0, 1).
    """
    check_float_tensor(x, "x")
    # sigma(x) = 1 / (1 + e^-x) = e^x / (1 + e^x); each form where e^.. <= 1
    e_neg = torch.exp(-x.clamp(min=0))  # e^-x for x >= 0
    e_pos = torch.exp(x.clamp(max=0))  # e^x for x < 0
    return torch.where(x >= 0, 1 / (1 + e_neg), e_pos / (1 + e_pos))


def sigmoid_grad(x: Tensor) -> Tensor:
    """d sigma / dx = sigma(x) (1 - sigma(x)), at most 1/4 (at 0).

    Args:
        x: floating-point input of any shape.

    Returns:
        The elementwise derivative, x's shape.
    """
    s = sigmoid(x)
    return s * (1 - s)  # Eq. (10.1): sigma' = sigma (1 - sigma)


def tanh(x: Tensor) -> Tensor:
    """The hyperbolic tangent, like ``torch.tanh``; ``(N, *) -> (N, *)``.

    Args:
        x: floating-point input of any shape.

    Returns:
        tanh(x), x's shape, in (-1, 1).
    """
    check_float_tensor(x, "x")
    # tanh(x) = (1 - e^{-2x}) / (1 + e^{-2x}), odd; expm1 keeps small |x| exact
    m_neg = torch.expm1(-2 * x.clamp(min=0))  # e^{-2x} - 1 for x >= 0
    m_pos = torch.expm1(2 * x.clamp(max=0))  # e^{2x} - 1 for x < 0
    return torch.where(x >= 0, -m_neg / (2 + m_neg), m_pos / (2 + m_pos))


def tanh_grad(x: Tensor) -> Tensor:
    """d tanh / dx = 1 - tanh(x)^2, at most 1 (at 0).

    Args:
        x: floating-point input of any shape.

    Returns:
        The elementwise derivative, x's shape.
    """
    t = tanh(x)
    return 1 - t * t  # tanh' = 1 - tanh^2


# ---- ReLU and its leaky variants -----------------------------------------------------
def relu(x: Tensor) -> Tensor:
    """The rectified linear unit max(0, x), like ``F.relu``; ``(N, *) -> (N, *)``.

    Args:
        x: floating-point input of any shape.

    Returns:
        relu(x), x's shape.
    """
    check_float_tensor(x, "x")
    return torch.where(x <= 0, 0.0, x)  # Eq. (10.2), 0 if x <= 0 (NaN stays)


def relu_grad(x: Tensor) -> Tensor:
    """d relu / dx = 1 if x > 0 else 0 (0 at x = 0, as torch).

    Args:
        x: floating-point input of any shape.

    Returns:
        The elementwise derivative, x's shape.
    """
    check_float_tensor(x, "x")
    return (x > 0).to(x.dtype)  # relu'(x) = [x > 0]


def leaky_relu(x: Tensor, negative_slope: float = 0.01) -> Tensor:
    """Leaky ReLU, like ``F.leaky_relu``; ``(N, *) -> (N, *)``.

    Args:
        x: floating-point input of any shape.
        negative_slope: the slope a for x <= 0, a finite number.

    Returns:
        leaky_relu(x), x's shape.
    """
    check_float_tensor(x, "x")
    a = check_finite_number(negative_slope, "negative_slope")
    return torch.where(x > 0, x, a * x)  # leaky_relu(x) = x if x > 0 else a x


def leaky_relu_grad(x: Tensor, negative_slope: float = 0.01) -> Tensor:
    """d leaky_relu / dx = 1 if x > 0 else a (a at x = 0, as torch).

    Args:
        x: floating-point input of any shape.
        negative_slope: the slope a for x <= 0, a finite number.

    Returns:
        The elementwise derivative, x's shape.
    """
    check_float_tensor(x, "x")
    a = check_finite_number(negative_slope, "negative_slope")
    return torch.where(x > 0, torch.ones_like(x), a)  # 1 if x > 0 else a


def _channel_weight(x: Tensor, weight: Tensor) -> Tensor:
    """PReLU's weight, (1,) or (C,), viewed to broadcast over x: (1, C, 1, ...)."""
    check_float_tensor(x, "x")
    check_float_tensor(weight, "weight", ndim=1)
    C = x.shape[1] if x.dim() >= 2 else 1
    if weight.numel() not in (1, C):
        raise ValueError(
            f"weight must have 1 or {C} (x's channels) entries, got {weight.numel()}"
        )
    if weight.numel() == 1 or x.dim() < 2:
        return weight.reshape(())  # one shared slope, a scalar
    return weight.view(1, C, *([1] * (x.dim() - 2)))  # (1, C, 1, ...)


def prelu(x: Tensor, weight: Tensor) -> Tensor:
    """Parametric ReLU with a learned slope per channel, like ``F.prelu``.

    Args:
        x: ``(N, C, *)`` input, or any shape with a single slope.
        weight: (C,) slopes a_c, one per channel (dimension 1 of x), or (1,).

    Returns:
        prelu(x), x's shape.
    """
    a = _channel_weight(x, weight)  # (1, C, 1, ...) or ()
    return torch.where(x > 0, x, a * x)  # prelu(x) = x if x > 0 else a_c x


def prelu_grad(x: Tensor, weight: Tensor) -> tuple[Tensor, Tensor]:
    """Elementwise derivatives of :func:`prelu` with respect to x and to the slope.

    The weight's gradient is ``(dout * dweight)`` summed over every axis but the
    channels' (over all axes for a single slope).

    Args:
        x: ``(N, C, *)`` input, or any shape with a single slope.
        weight: (C,) slopes, or (1,).

    Returns:
        ``(dx, dweight)``, both x's shape: d out/dx = 1 if x > 0 else a_c (a_c at
        x = 0, as torch), and d out/d a_c = 0 if x > 0 else x.
    """
    a = _channel_weight(x, weight)
    dx = torch.where(x > 0, torch.ones_like(x), a)  # 1 if x > 0 else a_c
    dweight = torch.where(x > 0, 0.0, x)  # 0 if x > 0 else x
    return dx, dweight


# ---- exponential linear units --------------------------------------------------------
def elu(x: Tensor, alpha: float = 1.0) -> Tensor:
    """Exponential linear unit, like ``F.elu``; ``(N, *) -> (N, *)``.

    Args:
        x: floating-point input of any shape.
        alpha: the negative saturation value -alpha, a finite number.

    Returns:
        elu(x), x's shape.
    """
    check_float_tensor(x, "x")
    alpha = check_finite_number(alpha, "alpha")
    # elu(x) = x if x > 0 else alpha (e^x - 1); clamp: no e^x overflow on either branch
    return torch.where(x > 0, x, alpha * torch.expm1(x.clamp(max=0)))  # Eq. (10.3)


def elu_grad(x: Tensor, alpha: float = 1.0) -> Tensor:
    """d elu / dx = 1 if x > 0 else alpha e^x (alpha at x = 0, as torch).

    Args:
        x: floating-point input of any shape.
        alpha: the negative saturation value -alpha, a finite number.

    Returns:
        The elementwise derivative, x's shape.
    """
    check_float_tensor(x, "x")
    alpha = check_finite_number(alpha, "alpha")
    return torch.where(x > 0, 1.0, alpha * torch.exp(x.clamp(max=0)))  # alpha e^x


def selu(x: Tensor) -> Tensor:
    """Scaled ELU, like ``F.selu``: lambda elu(x, alpha) with PyTorch's constants.

    Args:
        x: floating-point input of any shape.

    Returns:
        selu(x), x's shape.
    """
    return SELU_SCALE * elu(x, SELU_ALPHA)  # Eq. (10.3): lambda elu(x, alpha)


def selu_grad(x: Tensor) -> Tensor:
    """d selu / dx = lambda if x > 0 else lambda alpha e^x.

    Args:
        x: floating-point input of any shape.

    Returns:
        The elementwise derivative, x's shape.
    """
    return SELU_SCALE * elu_grad(x, SELU_ALPHA)


# ---- GELU ----------------------------------------------------------------------------
def gelu(x: Tensor, approximate: str = "none") -> Tensor:
    """Gaussian error linear unit x Phi(x), like ``F.gelu``; ``(N, *) -> (N, *)``.

    Args:
        x: floating-point input of any shape.
        approximate: ``"none"`` for the exact x Phi(x) with the normal CDF Phi, or
            ``"tanh"`` for Hendrycks and Gimpel's tanh approximation.

    Returns:
        gelu(x), x's shape.
    """
    check_float_tensor(x, "x")
    if check_in(approximate, "approximate", ("none", "tanh")) == "tanh":
        u = _GELU_C * (x + 0.044715 * x**3)  # sqrt(2/pi) (x + 0.044715 x^3)
        return 0.5 * x * (1 + torch.tanh(u))  # gelu(x) ~ x/2 (1 + tanh(u))
    return 0.5 * x * (1 + torch.erf(x / math.sqrt(2)))  # x Phi(x)


def gelu_grad(x: Tensor, approximate: str = "none") -> Tensor:
    """d gelu / dx = Phi(x) + x phi(x), or the derivative of the tanh form.

    Args:
        x: floating-point input of any shape.
        approximate: ``"none"`` or ``"tanh"``, as in :func:`gelu`.

    Returns:
        The elementwise derivative, x's shape.
    """
    check_float_tensor(x, "x")
    if check_in(approximate, "approximate", ("none", "tanh")) == "tanh":
        t = torch.tanh(_GELU_C * (x + 0.044715 * x**3))
        du = _GELU_C * (1 + 3 * 0.044715 * x**2)  # du/dx
        return 0.5 * (1 + t) + 0.5 * x * (1 - t * t) * du
    Phi = 0.5 * (1 + torch.erf(x / math.sqrt(2)))  # normal CDF
    phi = torch.exp(-0.5 * x * x) / math.sqrt(2 * math.pi)  # normal density
    return Phi + x * phi  # (x Phi)' = Phi + x phi


# ---- modules: torch's parameters, our computation ------------------------------------
def _out(module: nn.Module, x: Tensor, out: Tensor) -> Tensor:
    """Honor ``inplace=True`` like torch: write the result into x."""
    return x.copy_(out) if getattr(module, "inplace", False) else out


class Sigmoid(nn.Sigmoid):
    """``nn.Sigmoid`` computed by :func:`sigmoid`."""

    def forward(self, input: Tensor) -> Tensor:
        return sigmoid(input)


class Tanh(nn.Tanh):
    """``nn.Tanh`` computed by :func:`tanh`."""

    def forward(self, input: Tensor) -> Tensor:
        return tanh(input)


class ReLU(nn.ReLU):
    """``nn.ReLU`` computed by :func:`relu`."""

    def forward(self, input: Tensor) -> Tensor:
        return _out(self, input, relu(input))


class LeakyReLU(nn.LeakyReLU):
    """``nn.LeakyReLU`` computed by :func:`leaky_relu`."""

    def forward(self, input: Tensor) -> Tensor:
        return _out(self, input, leaky_relu(input, self.negative_slope))


class PReLU(nn.PReLU):
    """``nn.PReLU`` computed by :func:`prelu`: same ``weight``, same state dict."""

    def forward(self, input: Tensor) -> Tensor:
        return prelu(input, self.weight)


class ELU(nn.ELU):
    """``nn.ELU`` computed by :func:`elu`."""

    def forward(self, input: Tensor) -> Tensor:
        return _out(self, input, elu(input, self.alpha))


class SELU(nn.SELU):
    """``nn.SELU`` computed by :func:`selu`."""

    def forward(self, input: Tensor) -> Tensor:
        return _out(self, input, selu(input))


class GELU(nn.GELU):
    """``nn.GELU`` computed by :func:`gelu`."""

    def forward(self, input: Tensor) -> Tensor:
        return gelu(input, self.approximate)


ACTIVATIONS: dict[str, type[nn.Module]] = {
    "sigmoid": Sigmoid,
    "tanh": Tanh,
    "relu": ReLU,
    "leaky_relu": LeakyReLU,
    "prelu": PReLU,
    "elu": ELU,
    "selu": SELU,
    "gelu": GELU,
}
