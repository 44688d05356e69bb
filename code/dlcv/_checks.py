"""Validation shared by every ``dlcv`` module: one line at each public boundary.

A public function validates its inputs in one or two calls to these helpers, so that
the code a chapter shows reads as its equations. Each helper raises ``TypeError`` for a
value of the wrong type and ``ValueError`` for a value of the right type but out of
range, and names the argument, what was expected and what came. ``bool`` is not accepted
as a number, NumPy scalars are (``np.int64(3)``, ``np.float32(0.1)``), and a range check
never lets NaN or infinity through (``nan < 0`` is False, so every range check tests
finiteness first).
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Collection
from typing import Any

import torch

__all__ = [
    "check_callable",
    "check_finite_number",
    "check_float_tensor",
    "check_in",
    "check_labels",
    "check_len",
    "check_positive_int",
    "check_same_device",
    "check_shape",
    "check_tensor",
    "check_tensors_match",
]


def _kind(value: Any) -> str:
    if isinstance(value, torch.Tensor):
        return f"a {value.dtype} tensor of shape {tuple(value.shape)}"
    return type(value).__name__


def check_tensor(x: Any, name: str, *, ndim: int | None = None) -> torch.Tensor:
    """``x`` must be a tensor, with ``ndim`` dimensions if given."""
    if not isinstance(x, torch.Tensor):
        raise TypeError(f"{name} must be a torch.Tensor, got {_kind(x)}")
    if ndim is not None and x.dim() != ndim:
        raise ValueError(
            f"{name} must have {ndim} dimensions, got shape {tuple(x.shape)}"
        )
    return x


def check_shape(
    x: torch.Tensor, name: str, shape: tuple[int | str, ...]
) -> torch.Tensor:
    """``x`` must have ``shape``; a str entry (``"N"``) names a free dimension.

    ``check_shape(X, "X", ("N", D))`` accepts any number of rows of D columns and
    reports, for example, "X must have shape (N, 5), got (3, 4)". A leading ``"..."``
    accepts any leading dimensions: ``("...", 2)`` is any shape that ends in 2.
    """
    dims = tuple(x.shape)
    want = shape[1:] if shape[:1] == ("...",) else shape
    if shape[:1] == ("...",):
        dims = dims[len(dims) - len(want) :] if len(dims) >= len(want) else None
    fits = dims is not None and len(dims) == len(want)
    fits = fits and all(
        isinstance(w, str) or d == w for d, w in zip(dims, want, strict=True)
    )
    if not fits:
        text = ", ".join(str(s) for s in shape) + ("," if len(shape) == 1 else "")
        raise ValueError(f"{name} must have shape ({text}), got {tuple(x.shape)}")
    return x


def check_float_tensor(
    x: Any,
    name: str,
    *,
    ndim: int | None = None,
    min_ndim: int = 0,
    finite: bool = False,
) -> torch.Tensor:
    """``x`` must be a floating-point tensor.

    It must have ``ndim`` dimensions if given, and at least ``min_ndim``. With
    ``finite=True`` it must also hold no NaN or infinity.
    """
    check_tensor(x, name, ndim=ndim)
    if not x.is_floating_point():
        raise TypeError(
            f"{name} must have a floating dtype, got {x.dtype}; use .float()"
        )
    if x.dim() < min_ndim:
        raise ValueError(
            f"{name} must have at least {min_ndim} dimensions, "
            f"got shape {tuple(x.shape)}"
        )
    if finite and not bool(torch.isfinite(x).all()):
        bad = int((~torch.isfinite(x)).sum())
        raise ValueError(f"{name} must be finite, got {bad} NaN or infinite values")
    return x


def check_labels(
    y: Any, name: str, *, n: int, num_classes: int | None = None
) -> torch.Tensor:
    """``y`` must be an (n,) integer tensor of labels in [0, num_classes).

    Returns the labels as int64. ``bool`` tensors are rejected: indexing with them
    selects instead of gathering, so a bool label vector would silently mean something
    else. Unsigned (uint8) labels are fine: as int64 they index rather than mask.
    """
    check_tensor(y, name)
    if y.is_floating_point() or y.is_complex() or y.dtype == torch.bool:
        raise TypeError(f"{name} must have an integer dtype, got {y.dtype}")
    if tuple(y.shape) != (n,):
        raise ValueError(f"{name} must have shape ({n},), got {tuple(y.shape)}")
    if y.numel():
        low, high = int(y.min()), int(y.max())
        if low < 0 or (num_classes is not None and high >= num_classes):
            limit = f"[0, {num_classes})" if num_classes is not None else ">= 0"
            bad = low if low < 0 else high
            raise ValueError(f"{name} must hold labels in {limit}, got {bad}")
    return y.long()


def check_positive_int(
    value: Any, name: str, *, minimum: int = 1, maximum: int | None = None
) -> int:
    """``value`` must be an int (not bool; NumPy ints welcome) in [minimum, maximum]."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{name} must be an int, got {_kind(value)}")
    if maximum is not None and not minimum <= value <= maximum:
        raise ValueError(
            f"{name} must be an int in [{minimum}, {maximum}], got {value!r}"
        )
    if value < minimum:
        raise ValueError(f"{name} must be an int >= {minimum}, got {value!r}")
    return int(value)


def check_finite_number(
    value: Any,
    name: str,
    *,
    low: float | None = None,
    high: float | None = None,
    low_open: bool = False,
    high_open: bool = False,
) -> float:
    """``value`` must be a finite real number (not bool) in a range; returns a float.

    ``low``/``high`` bound it, inclusive unless ``low_open``/``high_open``.
    """
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be a real number, got {_kind(value)}")
    value = float(value)
    lo = "(" if low_open else "["
    hi = ")" if high_open else "]"
    interval = (
        f"{lo}{'-inf' if low is None else low}, {'inf' if high is None else high}{hi}"
    )
    inside = math.isfinite(value)
    if inside and low is not None:
        inside = value > low if low_open else value >= low
    if inside and high is not None:
        inside = value < high if high_open else value <= high
    if not inside:
        raise ValueError(f"{name} must be a finite number in {interval}, got {value!r}")
    return value


def check_in(value: Any, name: str, choices: Collection[Any]) -> Any:
    """``value`` must be one of ``choices`` (bool is not 1)."""
    if isinstance(value, bool) or value not in choices:
        raise ValueError(f"{name} must be one of {tuple(choices)}, got {value!r}")
    return value


def check_len(value: Any, name: str, n: int, *, what: str = "entries") -> Any:
    """``value`` must be a sequence of ``n`` entries (``what`` names them)."""
    if not hasattr(value, "__len__"):
        raise TypeError(f"{name} must be a sequence, got {_kind(value)}")
    if len(value) != n:
        raise ValueError(f"{name} must have {n} {what}, got {len(value)}")
    return value


def check_callable(value: Any, name: str, *, signature: str) -> Any:
    """``value`` must be callable as ``signature`` (which the message shows)."""
    if not callable(value):
        raise TypeError(f"{name} must be callable as {signature}, got {_kind(value)}")
    return value


def check_tensors_match(**tensors: torch.Tensor) -> None:
    """All the named tensors must share one dtype and one device."""
    kinds = {name: (t.dtype, t.device) for name, t in tensors.items()}
    if len(set(kinds.values())) > 1:
        where = ", ".join(f"{name} {d} on {dev}" for name, (d, dev) in kinds.items())
        raise ValueError(f"tensors must share dtype and device, got {where}")


def check_same_device(**tensors: torch.Tensor) -> None:
    """All the named tensors must be on one device."""
    devices = {name: t.device for name, t in tensors.items()}
    if len(set(devices.values())) > 1:
        where = ", ".join(f"{name} on {d}" for name, d in devices.items())
        raise ValueError(f"tensors must share a device, got {where}")
