r"""Learning-rate schedules: step, cosine, linear, inverse square root and warmup.

Taught by lecture 11, "Training neural networks II", in the chapter of that name
(``book/training_ii.md``), which plots every schedule and trains with them. With
:math:`\alpha_0` the initial learning rate and :math:`t = 0, 1, \dots` the number of
optimizer steps taken so far (``last_epoch`` in PyTorch):

- step: :math:`\alpha_t = \alpha_0 \gamma^{\lfloor t / s \rfloor}`;
- cosine: :math:`\alpha_t = \eta_{min} + \tfrac12 (\alpha_0 - \eta_{min})
  (1 + \cos(\pi t / T))`, Loshchilov and Hutter (2017), without restarts;
- linear: :math:`\alpha_t = \alpha_0 (1 - (1 - f) \min(t, T) / T)`, to
  :math:`f \alpha_0` (zero by default) after :math:`T` steps;
- inverse square root: :math:`\alpha_t = \alpha_0 / \sqrt{t}`, counting steps from
  :math:`t = 1` (at :math:`t = 0` it is infinite), with an optional linear warmup as in
  Vaswani et al. (2017);
- linear warmup: :math:`\alpha_t = \alpha_0 (t + 1) / W` for :math:`t < W`, then
  another schedule from its own :math:`t = 0`, as Goyal et al. (2017).

The chapter's equations, tagged in the code below: (11.1) ``tr2-step``,
(11.2) ``tr2-cosine``, (11.3) ``tr2-linear``, (11.4) ``tr2-inv-sqrt`` and
(11.5) ``tr2-warmup``.

Each schedule is a pure function of :math:`t` (``cosine_lr(t, lr0, T_max)``: the
chapter plots them without an optimizer) under a thin
:class:`torch.optim.lr_scheduler.LRScheduler` subclass whose ``get_lr`` is that closed
form. Torch counterparts, which update the rate recursively instead (a test shows both
agree to 1e-12 over hundreds of steps): ``StepLR``, ``CosineAnnealingLR`` (same
attribute names, so their ``state_dict``s load both ways), ``LinearLR(start_factor=1,
end_factor=f)``, ``LambdaLR`` and ``SequentialLR([LinearLR(...), after])``. Not
implemented: restarts, tensor learning rates and ``step(epoch)``'s deprecated argument.
"""

from __future__ import annotations

import math
from typing import Any

import torch
from torch.optim.lr_scheduler import LRScheduler

from dlcv._checks import check_finite_number, check_positive_int

__all__ = [
    "CosineAnnealingLR",
    "InverseSqrtLR",
    "LinearDecayLR",
    "LinearWarmup",
    "StepLR",
    "cosine_lr",
    "inverse_sqrt_lr",
    "linear_lr",
    "step_lr",
    "warmup_lr",
]


# ----------------------------------------------------------------------------------
# Pure functions of the step t: the chapter plots and shows these.
# ----------------------------------------------------------------------------------


def step_lr(t: int, lr0: float, step_size: int, gamma: float = 0.1) -> float:
    r"""The step schedule: multiply by ``gamma`` every ``step_size`` steps.

    Args:
        t: steps taken so far, :math:`t \ge 0`.
        lr0: the initial learning rate :math:`\alpha_0 \ge 0`.
        step_size: :math:`s \ge 1`, steps between two decays.
        gamma: :math:`\gamma > 0`, the factor of each decay.

    Returns:
        :math:`\alpha_t`.
    """
    _check_args(locals())  # every argument is in range
    # Eq. (11.1): lr_t = lr0 gamma^floor(t / s)
    return lr0 * gamma ** (t // step_size)


def cosine_lr(t: int, lr0: float, T_max: int, eta_min: float = 0.0) -> float:
    r"""The cosine schedule, from ``lr0`` at t = 0 to ``eta_min`` at t = ``T_max``.

    Past ``T_max`` the cosine rises again, as in PyTorch's ``CosineAnnealingLR``.

    Args:
        t: steps taken so far, :math:`t \ge 0`.
        lr0: the initial learning rate :math:`\alpha_0 \ge 0`.
        T_max: :math:`T \ge 1`, the steps of one half period.
        eta_min: :math:`\eta_{min} \ge 0`, the last learning rate.

    Returns:
        :math:`\alpha_t`.
    """
    _check_args(locals())  # every argument is in range
    # Eq. (11.2): lr_t = eta_min + (lr0 - eta_min)(1 + cos(pi t / T)) / 2
    return eta_min + (lr0 - eta_min) * (1 + math.cos(math.pi * t / T_max)) / 2


def linear_lr(t: int, lr0: float, total_steps: int, end_factor: float = 0.0) -> float:
    r"""Linear decay from ``lr0`` to ``end_factor * lr0`` over ``total_steps`` steps.

    Args:
        t: steps taken so far, :math:`t \ge 0`; the rate stays at
            ``end_factor * lr0`` once :math:`t \ge T`.
        lr0: the initial learning rate :math:`\alpha_0 \ge 0`.
        total_steps: :math:`T \ge 1`.
        end_factor: :math:`f \in [0, 1]`; 0 decays to zero.

    Returns:
        :math:`\alpha_t`.
    """
    _check_args(locals())  # every argument is in range
    # lr_t = lr0 (1 - (1 - f) min(t, T) / T); f = 0 gives Eq. (11.3)
    return lr0 * (1 + (end_factor - 1) * min(t, total_steps) / total_steps)


def inverse_sqrt_lr(t: int, lr0: float, warmup_steps: int = 0) -> float:
    r"""Inverse square root decay, :math:`\alpha_0 / \sqrt t`, with optional warmup.

    Here the step is counted from :math:`t = 1`: :class:`InverseSqrtLR` passes
    ``last_epoch + 1``. With :math:`W` = ``warmup_steps`` :math:`\ge 2` the rate rises
    linearly to :math:`\alpha_0` at :math:`t = W` and then decays as
    :math:`\alpha_0 \sqrt{W / t}`, the Transformer's schedule (Vaswani et al., 2017,
    with :math:`\alpha_0 = (d_{model} W)^{-1/2}`). ``warmup_steps`` 0 and 1 both mean
    no warmup.

    Args:
        t: the step, :math:`t \ge 1`.
        lr0: :math:`\alpha_0 \ge 0`, the peak learning rate.
        warmup_steps: :math:`W \ge 0`.

    Returns:
        :math:`\alpha_t`.
    """
    _check_args(locals(), t_min=1)  # every argument is in range; t >= 1
    W = max(warmup_steps, 1)
    # lr_t = lr0 min(t / W, sqrt(W / t)); W = 1 gives Eq. (11.4), lr0 / sqrt(t)
    return lr0 * min(t / W, math.sqrt(W / t))


def warmup_lr(t: int, lr0: float, warmup_steps: int) -> float:
    r"""Linear warmup: :math:`\alpha_0 (t + 1) / W`, reaching ``lr0`` at t = W - 1.

    The first step already moves (at :math:`\alpha_0 / W`), and from
    :math:`t = W` on the rate is ``lr0`` (or, in :class:`LinearWarmup`, the next
    schedule's).

    Args:
        t: steps taken so far, :math:`t \ge 0`.
        lr0: the learning rate :math:`\alpha_0 \ge 0` after warmup.
        warmup_steps: :math:`W \ge 1`.

    Returns:
        :math:`\alpha_t`.
    """
    _check_args(locals(), warmup_min=1)  # every argument is in range; W >= 1
    W = warmup_steps
    # Eq. (11.5) for t < W: lr_t = lr0 min(t + 1, W) / W
    return lr0 * min(t + 1, W) / W


def _check_args(args: dict[str, Any], *, t_min: int = 0, warmup_min: int = 0) -> None:
    """Check the arguments of a schedule (its ``locals()``) that this module knows.

    Integers: ``t >= t_min``, ``warmup_steps >= warmup_min``, ``last_epoch >= -1``
    and ``step_size``, ``T_max``, ``total_steps >= 1``. Finite numbers: ``lr0 >= 0``,
    ``gamma > 0``, ``eta_min >= 0`` and ``end_factor`` in [0, 1].
    """
    ints = {
        "t": t_min,
        "warmup_steps": warmup_min,
        "last_epoch": -1,
        "step_size": 1,
        "T_max": 1,
        "total_steps": 1,
    }
    for name, minimum in ints.items():
        if name in args:
            where = " (counted from 1 for 1/sqrt(t))" if name == "t" and t_min else ""
            check_positive_int(args[name], name + where, minimum=minimum)
    numbers = {
        "lr0": {"low": 0},
        "gamma": {"low": 0, "low_open": True},
        "eta_min": {"low": 0},
        "end_factor": {"low": 0, "high": 1},
    }
    for name, bounds in numbers.items():
        if name in args:
            check_finite_number(args[name], name, **bounds)


# ----------------------------------------------------------------------------------
# Thin LRScheduler subclasses: get_lr is the closed form at t = last_epoch.
# ----------------------------------------------------------------------------------


class _ClosedFormLR(LRScheduler):
    """An ``LRScheduler`` whose rate is ``self.lr_at(base_lr, last_epoch)``."""

    def __init__(self, optimizer: torch.optim.Optimizer, last_epoch: int) -> None:
        if not isinstance(optimizer, torch.optim.Optimizer):
            raise TypeError(
                "optimizer must be a torch.optim.Optimizer, "
                f"got {type(optimizer).__name__}"
            )
        _check_args(locals())  # last_epoch >= -1
        super().__init__(optimizer, last_epoch)

    def lr_at(self, lr0: float, t: int) -> float:
        """The learning rate after ``t`` steps for a group whose initial rate is lr0."""
        raise NotImplementedError

    def get_lr(self) -> list[float]:  # type: ignore[override]
        """The closed form at ``t = last_epoch``, for each parameter group."""
        return [self.lr_at(lr0, self.last_epoch) for lr0 in self.base_lrs]

    def _get_closed_form_lr(self) -> list[float]:
        return self.get_lr()


class StepLR(_ClosedFormLR):
    """:func:`step_lr` as a scheduler; twin of ``torch.optim.lr_scheduler.StepLR``.

    Args:
        optimizer: the optimizer whose ``lr`` this sets before every step.
        step_size: steps between two decays, >= 1.
        gamma: the factor of each decay, > 0.
        last_epoch: -1 to start; else resume after ``last_epoch + 1`` steps.
    """

    def __init__(
        self,
        optimizer: torch.optim.Optimizer,
        step_size: int,
        gamma: float = 0.1,
        last_epoch: int = -1,
    ) -> None:
        _check_args(locals())  # every argument is in range
        self.step_size, self.gamma = step_size, gamma
        super().__init__(optimizer, last_epoch)

    def lr_at(self, lr0: float, t: int) -> float:
        """See :func:`step_lr`."""
        return step_lr(t, lr0, self.step_size, self.gamma)


class CosineAnnealingLR(_ClosedFormLR):
    """:func:`cosine_lr` as a scheduler; twin of torch's ``CosineAnnealingLR``.

    Args:
        optimizer: the optimizer whose ``lr`` this sets before every step.
        T_max: the steps from ``lr0`` down to ``eta_min``, >= 1.
        eta_min: the last learning rate, >= 0.
        last_epoch: -1 to start; else resume after ``last_epoch + 1`` steps.
    """

    def __init__(
        self,
        optimizer: torch.optim.Optimizer,
        T_max: int,
        eta_min: float = 0.0,
        last_epoch: int = -1,
    ) -> None:
        _check_args(locals())  # every argument is in range
        self.T_max, self.eta_min = T_max, eta_min
        super().__init__(optimizer, last_epoch)

    def lr_at(self, lr0: float, t: int) -> float:
        """See :func:`cosine_lr`."""
        return cosine_lr(t, lr0, self.T_max, self.eta_min)


class LinearDecayLR(_ClosedFormLR):
    """:func:`linear_lr` as a scheduler; torch's ``LinearLR(start_factor=1)``.

    Args:
        optimizer: the optimizer whose ``lr`` this sets before every step.
        total_steps: the steps of the decay, >= 1.
        end_factor: the last rate as a fraction of the first, in [0, 1].
        last_epoch: -1 to start; else resume after ``last_epoch + 1`` steps.
    """

    def __init__(
        self,
        optimizer: torch.optim.Optimizer,
        total_steps: int,
        end_factor: float = 0.0,
        last_epoch: int = -1,
    ) -> None:
        _check_args(locals())  # every argument is in range
        self.total_steps, self.end_factor = total_steps, end_factor
        super().__init__(optimizer, last_epoch)

    def lr_at(self, lr0: float, t: int) -> float:
        """See :func:`linear_lr`."""
        return linear_lr(t, lr0, self.total_steps, self.end_factor)


class InverseSqrtLR(_ClosedFormLR):
    """:func:`inverse_sqrt_lr` as a scheduler, at step ``t = last_epoch + 1``.

    The first optimizer step (``last_epoch = 0``) uses :math:`t = 1`, so without
    warmup it runs at ``lr0``. Torch's counterpart is ``LambdaLR`` with
    ``lambda e: 1 / math.sqrt(e + 1)``.

    Args:
        optimizer: the optimizer whose ``lr`` this sets before every step.
        warmup_steps: steps of linear warmup to the peak ``lr0``, >= 0.
        last_epoch: -1 to start; else resume after ``last_epoch + 1`` steps.
    """

    def __init__(
        self,
        optimizer: torch.optim.Optimizer,
        warmup_steps: int = 0,
        last_epoch: int = -1,
    ) -> None:
        _check_args(locals())  # every argument is in range
        self.warmup_steps = warmup_steps
        super().__init__(optimizer, last_epoch)

    def lr_at(self, lr0: float, t: int) -> float:
        """See :func:`inverse_sqrt_lr`; ``t`` counts from 0 here, as last_epoch."""
        return inverse_sqrt_lr(t + 1, lr0, self.warmup_steps)


class LinearWarmup(_ClosedFormLR):
    r""":func:`warmup_lr` for ``warmup_steps`` steps, then the schedule ``after``.

    ``after`` (a schedule of this module on the same optimizer, or None to hold
    ``lr0``) starts from its own t = 0 at step ``warmup_steps``. Torch's counterpart
    is ``SequentialLR(opt, [LinearLR(opt, 1 / W, 1, W - 1), after], [W])`` (for
    W >= 2). The ``state_dict`` holds ``after``'s state under the key ``"after"``.

    Args:
        optimizer: the optimizer whose ``lr`` this sets before every step.
        warmup_steps: :math:`W \ge 1`.
        after: the schedule after warmup, or None.
        last_epoch: -1 to start; else resume after ``last_epoch + 1`` steps.
    """

    def __init__(
        self,
        optimizer: torch.optim.Optimizer,
        warmup_steps: int,
        after: LRScheduler | None = None,
        last_epoch: int = -1,
    ) -> None:
        _check_args(locals(), warmup_min=1)  # every argument is in range; W >= 1
        self.warmup_steps = warmup_steps
        if after is not None and not isinstance(after, _ClosedFormLR):
            raise TypeError(
                "after must be a dlcv.schedules schedule (StepLR, CosineAnnealingLR, "
                f"LinearDecayLR, InverseSqrtLR) or None, got {type(after).__name__}"
            )
        if after is not None and after.optimizer is not optimizer:
            raise ValueError("after must schedule the same optimizer as LinearWarmup")
        self.after = after
        super().__init__(optimizer, last_epoch)

    def lr_at(self, lr0: float, t: int) -> float:
        """:func:`warmup_lr` for ``t < W``, else ``after`` at ``t - W``."""
        if t < self.warmup_steps or self.after is None:
            return warmup_lr(t, lr0, self.warmup_steps)
        return self.after.lr_at(lr0, t - self.warmup_steps)

    def get_lr(self) -> list[float]:  # type: ignore[override]
        """The closed form at ``t = last_epoch``; keeps ``after.last_epoch`` in step."""
        if self.after is not None:
            self.after.last_epoch = max(self.last_epoch - self.warmup_steps, 0)
        return super().get_lr()

    def state_dict(self) -> dict[str, Any]:
        """The scheduler's state, with ``after``'s own state dict under "after"."""
        state = {k: v for k, v in self.__dict__.items() if k not in ("optimizer",)}
        state["after"] = None if self.after is None else self.after.state_dict()
        return state

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        """Load a state from :meth:`state_dict`, ``after``'s included."""
        state = dict(state_dict)
        after = state.pop("after")
        if (after is None) != (self.after is None):
            raise ValueError(
                "state_dict's 'after' and this LinearWarmup's after must both be "
                f"None or both be schedules, got {type(after).__name__} and "
                f"{type(self.after).__name__}"
            )
        self.__dict__.update(state)
        if self.after is not None:
            self.after.load_state_dict(after)
