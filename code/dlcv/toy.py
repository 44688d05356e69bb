"""Toy data sets in the plane: blobs, rings and spirals.

Small, seeded, two-dimensional problems whose decision regions a chapter can draw:
blobs that a linear classifier separates, and rings and spirals that it cannot. Every
function draws on the CPU with the given generator (the same seed gives the same data on
every device) and returns ``(x, y)``: (n, 2) points and (n,) int64 labels.

scikit-learn counterparts: ``sklearn.datasets.make_blobs`` and ``make_circles``; the
spirals are the CS231n toy data set.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch

from dlcv._checks import check_finite_number, check_float_tensor, check_positive_int

__all__ = ["make_blobs", "make_rings", "make_spirals"]


def _polar(r: torch.Tensor, theta: torch.Tensor) -> torch.Tensor:
    return torch.stack([r * theta.cos(), r * theta.sin()], dim=1)  # (n, 2)


def make_blobs(
    n: int,
    centres: torch.Tensor,
    *,
    std: float = 1.0,
    generator: torch.Generator,
    device: torch.device | str | None = None,
    dtype: torch.dtype = torch.float32,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Gaussian blobs, one per class, around the given centres.

    Each point's class is uniform, and its position is that class's centre plus
    isotropic Gaussian noise of std ``std``.

    Args:
        n: number of points.
        centres: (C, D) class centres (any D; D = 2 for a plot).
        std: standard deviation of the noise, in every coordinate.
        generator: the RNG (a CPU generator); the labels are drawn first, then the
            noise.
        device: the device of the returned tensors (drawn on the CPU, then moved).
        dtype: the floating dtype of the returned points.

    Returns:
        ``(x, y)``: (n, D) points and (n,) int64 labels in 0..C-1.
    """
    n = check_positive_int(n, "n")
    centres = check_float_tensor(centres, "centres", ndim=2, finite=True).cpu()
    std = check_finite_number(std, "std", low=0)
    y = torch.randint(len(centres), (n,), generator=generator)  # (n,)
    noise = torch.randn(n, centres.shape[1], generator=generator, dtype=centres.dtype)
    x = centres[y] + std * noise  # (n, D)
    return x.to(device=device, dtype=dtype), y.to(device)


def make_rings(
    n: int,
    *,
    radii: Sequence[float] = (1.0, 2.0),
    noise: float = 0.15,
    generator: torch.Generator,
    device: torch.device | str | None = None,
    dtype: torch.dtype = torch.float32,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Concentric rings, one class per ring: no line separates them.

    Point i belongs to class ``i % C`` for C = ``len(radii)``; its angle is uniform on
    [0, 2 pi) and its radius is the class's radius plus Gaussian noise of std ``noise``.
    Counterpart: ``sklearn.datasets.make_circles`` (two rings, noise added to x and y).

    Args:
        n: number of points, at least one per ring.
        radii: the C >= 2 ring radii, each > 0.
        noise: standard deviation of the radial noise.
        generator: the RNG (a CPU generator); the same seed gives the same data.
        device: the device of the returned tensors (drawn on the CPU, then moved).
        dtype: the floating dtype of the returned points.

    Returns:
        ``(x, y)``: (n, 2) points and (n,) int64 labels in 0..C-1.
    """
    radii = [check_finite_number(r, "each radius", low=0, low_open=True) for r in radii]
    check_positive_int(len(radii), "the number of radii", minimum=2)
    n = check_positive_int(n, "n", minimum=len(radii))
    noise = check_finite_number(noise, "noise", low=0)
    y = torch.arange(n) % len(radii)  # (n,) classes in turn
    theta = 2 * math.pi * torch.rand(n, generator=generator, dtype=torch.float64)
    r = torch.tensor(radii, dtype=torch.float64)[y]  # (n,) radius of each ring
    r = r + noise * torch.randn(n, generator=generator, dtype=torch.float64)
    return _polar(r, theta).to(device=device, dtype=dtype), y.to(device)


def make_spirals(
    n: int,
    *,
    classes: int = 3,
    turns: float = 0.75,
    noise: float = 0.2,
    generator: torch.Generator,
    device: torch.device | str | None = None,
    dtype: torch.dtype = torch.float32,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Interleaved spiral arms, one class per arm (the CS231n toy data set).

    Point i belongs to class k = ``i % classes``. Along its arm the radius t runs from 0
    to 1 in equal steps, and the angle is ``2 pi (turns t + k / classes)`` plus Gaussian
    noise of std ``noise`` (radians) times t, so the arms blur towards the rim.

    Args:
        n: number of points, at least one per class.
        classes: number of arms, C >= 2.
        turns: how many full turns each arm makes.
        noise: standard deviation of the angular noise at the rim.
        generator: the RNG (a CPU generator); the same seed gives the same data.
        device: the device of the returned tensors (drawn on the CPU, then moved).
        dtype: the floating dtype of the returned points.

    Returns:
        ``(x, y)``: (n, 2) points in the unit disc and (n,) int64 labels in 0..C-1.
    """
    classes = check_positive_int(classes, "classes", minimum=2)
    n = check_positive_int(n, "n", minimum=classes)
    turns = check_finite_number(turns, "turns")
    noise = check_finite_number(noise, "noise", low=0)
    y = torch.arange(n) % classes  # (n,)
    t = (torch.arange(n) // classes).double() / max(1, (n - 1) // classes)  # in [0, 1]
    theta = 2 * math.pi * (turns * t + y.double() / classes)
    theta = theta + noise * t * torch.randn(n, generator=generator, dtype=torch.float64)
    return _polar(t, theta).to(device=device, dtype=dtype), y.to(device)
