r"""First-order optimizers: SGD, momentum, Nesterov, AdaGrad, RMSProp and Adam.

Taught by the chapter "Optimization" (``book/optimization.md``). ``Eq. (4.k)`` tags are
its equation numbers: (4.2) ``opt-gd``, (4.3) ``opt-minibatch``,
(4.5) ``opt-momentum-v``, (4.6) ``opt-momentum-x``, (4.12) ``opt-nesterov-torch``,
(4.13) ``opt-adagrad``, (4.14) ``opt-rmsprop``, (4.15) ``opt-adam-moments`` and
(4.16) ``opt-adam``; and (5.7) ``nn-l2-loss`` of the chapter "Neural networks", for
:func:`param_groups_weight_decay`.

Each optimizer is a functional update rule (``sgd_step``, ``adagrad_step``,
``rmsprop_step``, ``adam_step``) that changes one parameter tensor in place, under a
thin :class:`torch.optim.Optimizer` subclass that checks the hyperparameters and keeps
the per-parameter state, as ``torch/optim/adam.py`` does. Every rule starts from the
gradient :math:`g_t = \nabla f(x_t) + \lambda x_t`: the regularizer of Eq. (4.3) with
:math:`R(x) = \tfrac12 \lVert x \rVert^2` (L2 weight decay, :math:`\lambda` =
``weight_decay``, 0 by default). Beyond the chapter, SGD's ``dampening`` :math:`\tau`
scales the gradient in Eq. (4.5) by :math:`1 - \tau`, AdaGrad's ``lr_decay``
:math:`\eta` divides the learning rate by :math:`1 + (t - 1)\eta`, and RMSProp's
``momentum`` :math:`\mu` keeps
:math:`b_t = \mu b_{t-1} + g_t / (\sqrt{s_t} + \epsilon)` and steps
:math:`x_{t+1} = x_t - \alpha b_t`, as in PyTorch.

Torch counterparts: :class:`torch.optim.SGD`, :class:`torch.optim.Adagrad`,
:class:`torch.optim.RMSprop` and :class:`torch.optim.Adam`. We keep their names,
defaults, state keys (``momentum_buffer``, ``sum``, ``square_avg``, ``exp_avg``,
``exp_avg_sq``, ``step``) and floating-point order of operations, so ``load_state_dict``
works both ways and trajectories agree to rounding. Not implemented: tensor ``lr``,
``maximize``, ``foreach``, ``fused``, ``differentiable``, ``capturable``, RMSProp
``centered``, Adam ``amsgrad``, decoupled (AdamW) weight decay and sparse gradients.
Papers: Polyak (1964), Nesterov (1983), Sutskever et al. (2013), Duchi, Hazan and Singer
(2011), Tieleman and Hinton (2012), Kingma and Ba (2015).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from typing import Any

import torch
from torch import nn

from dlcv._checks import check_finite_number, check_float_tensor, check_shape

__all__ = [
    "SGD",
    "Adagrad",
    "Adam",
    "RMSprop",
    "adagrad_step",
    "adam_step",
    "numeric_gradient",
    "param_groups_weight_decay",
    "relative_error",
    "rmsprop_step",
    "sgd_step",
]

Params = Iterable[torch.Tensor] | Iterable[dict[str, Any]]


# ----------------------------------------------------------------------------------
# Functional core: one parameter tensor at a time, updated in place. The chapter
# shows these functions, so their lines stay within 78 characters.
# ----------------------------------------------------------------------------------


@torch.no_grad()
def sgd_step(
    param: torch.Tensor,
    grad: torch.Tensor,
    momentum_buffer: torch.Tensor | None,
    *,
    lr: float,
    momentum: float = 0.0,
    dampening: float = 0.0,
    weight_decay: float = 0.0,
    nesterov: bool = False,
) -> torch.Tensor | None:
    r"""One step of SGD, plain or with (Nesterov) momentum.

    Args:
        param: parameter :math:`x_t`, any shape; updated in place.
        grad: :math:`\nabla f(x_t)`, same shape as ``param``.
        momentum_buffer: velocity :math:`v_t`, same shape; None before the
            first step.
        lr: learning rate :math:`\alpha`.
        momentum: :math:`\rho`; 0 gives plain SGD, Eq. (4.2).
        dampening: :math:`\tau` in Eq. (4.5); 0 for Nesterov.
        weight_decay: :math:`\lambda` in Eq. (4.3).
        nesterov: use Eq. (4.12) instead of Eq. (4.6).

    Returns:
        The new velocity :math:`v_{t+1}`, same shape as ``param``; None if
        ``momentum == 0``.
    """
    _check_step(locals())  # grad fits param; every hyperparameter is in range
    if weight_decay != 0:
        # Eq. (4.3): g = grad f + lambda x
        grad = grad.add(param, alpha=weight_decay)
    if momentum != 0:
        if momentum_buffer is None:
            # first step: v_1 = g_0
            momentum_buffer = grad.clone()
        else:
            # Eq. (4.5): v = rho v + (1 - tau) g
            momentum_buffer.mul_(momentum).add_(grad, alpha=1 - dampening)
        if nesterov:
            # Eq. (4.12): step along g + rho v
            grad = grad.add(momentum_buffer, alpha=momentum)
        else:
            # Eq. (4.6): step along v
            grad = momentum_buffer
    # Eq. (4.2), (4.6) or (4.12): x = x - alpha * direction
    param.add_(grad, alpha=-lr)
    return momentum_buffer


@torch.no_grad()
def adagrad_step(
    param: torch.Tensor,
    grad: torch.Tensor,
    grad_squared: torch.Tensor,
    *,
    step: int,
    lr: float,
    lr_decay: float = 0.0,
    weight_decay: float = 0.0,
    eps: float = 1e-10,
) -> None:
    r"""One step of AdaGrad; ``grad_squared`` (:math:`G`) grows in place.

    Args:
        param: parameter :math:`x_t`; updated in place.
        grad: :math:`\nabla f(x_t)`, same shape.
        grad_squared: the running sum :math:`G_{t-1}` of squared gradients,
            same shape; becomes :math:`G_t`, Eq. (4.13). PyTorch's
            ``state["sum"]``.
        step: :math:`t \ge 1`, the number of this step.
        lr: :math:`\alpha`.
        lr_decay: :math:`\eta`, decays the learning rate as in Eq. (4.13).
        weight_decay: :math:`\lambda` in Eq. (4.3).
        eps: :math:`\epsilon`, added outside the square root.
    """
    _check_step(locals())  # grad fits param; every hyperparameter is in range
    if weight_decay != 0:
        # Eq. (4.3)
        grad = grad.add(param, alpha=weight_decay)
    # alpha / (1 + (t - 1) eta)
    clr = lr / (1 + (step - 1) * lr_decay)
    # Eq. (4.13): G = G + g * g
    grad_squared.addcmul_(grad, grad, value=1)
    # Eq. (4.13): x = x - alpha g / (sqrt(G) + eps)
    std = grad_squared.sqrt().add_(eps)
    param.addcdiv_(grad, std, value=-clr)


@torch.no_grad()
def rmsprop_step(
    param: torch.Tensor,
    grad: torch.Tensor,
    square_avg: torch.Tensor,
    momentum_buffer: torch.Tensor | None = None,
    *,
    lr: float,
    alpha: float = 0.99,
    eps: float = 1e-8,
    weight_decay: float = 0.0,
    momentum: float = 0.0,
) -> None:
    r"""One step of RMSProp ("leaky AdaGrad").

    Args:
        param: parameter :math:`x_t`; updated in place.
        grad: :math:`\nabla f(x_t)`, same shape.
        square_avg: the leaky average :math:`s_{t-1}` of squared gradients,
            same shape; *assigned* :math:`s_t`, Eq. (4.14), never added to.
        momentum_buffer: :math:`b_{t-1}` (zeros at first), needed if
            ``momentum > 0``.
        lr: :math:`\alpha`.
        alpha: the decay rate :math:`\beta` of Eq. (4.14) (PyTorch's name).
        eps: :math:`\epsilon`, added outside the square root.
        weight_decay: :math:`\lambda` in Eq. (4.3).
        momentum: :math:`\mu`, PyTorch's momentum on the normalized step
            (see the module docstring); 0 gives Eq. (4.14).
    """
    _check_step(locals())  # grad fits param; every hyperparameter is in range
    if weight_decay != 0:
        # Eq. (4.3)
        grad = grad.add(param, alpha=weight_decay)
    # Eq. (4.14): s = beta s + (1 - beta) g * g, an assignment, not +=
    square_avg.mul_(alpha).addcmul_(grad, grad, value=1 - alpha)
    avg = square_avg.sqrt().add_(eps)
    if momentum > 0:
        if momentum_buffer is None:
            raise ValueError("momentum > 0 needs a momentum_buffer, got None")
        # PyTorch's momentum: b = mu b + g / (sqrt(s) + eps); x = x - alpha b
        momentum_buffer.mul_(momentum).addcdiv_(grad, avg)
        param.add_(momentum_buffer, alpha=-lr)
    else:
        # Eq. (4.14): x = x - alpha g / (sqrt(s) + eps)
        param.addcdiv_(grad, avg, value=-lr)


@torch.no_grad()
def adam_step(
    param: torch.Tensor,
    grad: torch.Tensor,
    exp_avg: torch.Tensor,
    exp_avg_sq: torch.Tensor,
    *,
    step: int,
    lr: float,
    beta1: float = 0.9,
    beta2: float = 0.999,
    eps: float = 1e-8,
    weight_decay: float = 0.0,
) -> None:
    r"""One step of Adam, with bias correction.

    Args:
        param: parameter :math:`x_t`; updated in place.
        grad: :math:`\nabla f(x_t)`, same shape.
        exp_avg: first moment :math:`m_{t-1}` (zeros at first), same shape;
            becomes :math:`m_t`, Eq. (4.15).
        exp_avg_sq: second moment :math:`v_{t-1}` (zeros at first), same
            shape; becomes :math:`v_t`, Eq. (4.15).
        step: :math:`t`, counted from 1. The bias correction
            :math:`1 - \beta^t` of Eq. (4.16) is 0 at :math:`t = 0`.
        lr: :math:`\alpha`.
        beta1: the decay rate :math:`\beta_1` of the first moment.
        beta2: the decay rate :math:`\beta_2` of the second moment.
        eps: :math:`\epsilon`, added outside the square root of
            :math:`\hat v_t`.
        weight_decay: :math:`\lambda` in Eq. (4.3) (L2, not AdamW's decay).
    """
    _check_step(locals())  # grad fits param; every hyperparameter is in range
    if step < 1:
        raise ValueError(
            "step must be >= 1 (the bias correction 1 - beta**t is 0 at "
            f"t = 0), got {step!r}"
        )
    if weight_decay != 0:
        # Eq. (4.3)
        grad = grad.add(param, alpha=weight_decay)
    # Eq. (4.15): m = beta1 m + (1 - beta1) g, written m + (1 - beta1)(g - m)
    exp_avg.lerp_(grad, 1 - beta1)
    # Eq. (4.15): v = beta2 v + (1 - beta2) g * g
    exp_avg_sq.mul_(beta2).addcmul_(grad, grad, value=1 - beta2)
    # Eq. (4.16): the bias corrections, t = 1, 2, ...
    bias_correction1 = 1 - beta1**step
    bias_correction2 = 1 - beta2**step
    # Eq. (4.16): x = x - alpha m_hat / (sqrt(v_hat) + eps), where
    # m_hat = m / bias_correction1, sqrt(v_hat) = sqrt(v / bias_correction2)
    step_size = lr / bias_correction1
    denom = (exp_avg_sq.sqrt() / math.sqrt(bias_correction2)).add_(eps)
    param.addcdiv_(exp_avg, denom, value=-step_size)


def param_groups_weight_decay(
    model: nn.Module, *, weight_decay: float
) -> list[dict[str, object]]:
    r"""Parameter groups that decay the weight matrices but not the biases.

    The L2 penalty of Eq. (5.7), :math:`\lambda \sum W^2`, adds
    :math:`2 \lambda W` to the gradient of each weight matrix; a torch
    optimizer's ``weight_decay`` adds ``weight_decay * W``, so pass
    ``weight_decay = 2 * lambda``. Parameters with one dimension or fewer
    (biases, the scales of normalization layers) are not decayed.

    Counterpart: ``timm.optim.param_groups_weight_decay``.

    Args:
        model: the network whose parameters are grouped.
        weight_decay: the coefficient of the decayed group.

    Returns:
        Two groups for any ``torch.optim`` optimizer: the matrices with
        ``weight_decay``, the rest with 0.
    """
    weight_decay = check_finite_number(weight_decay, "weight_decay", low=0)
    decay, no_decay = [], []
    for p in model.parameters():
        if p.requires_grad:
            (decay if p.dim() >= 2 else no_decay).append(p)
    return [
        {"params": decay, "weight_decay": weight_decay},
        {"params": no_decay, "weight_decay": 0.0},
    ]


@torch.no_grad()
def numeric_gradient(
    f: Callable[[torch.Tensor], torch.Tensor],
    x: torch.Tensor,
    *,
    h: float = 1e-5,
    indices: torch.Tensor | None = None,
) -> torch.Tensor:
    r"""Centred differences of a scalar function, the check of an analytic gradient.

    Entry i is :math:`(f(x + h e_i) - f(x - h e_i)) / 2h`, with :math:`e_i` the i-th
    unit tensor in ``x``'s flattened order: two evaluations of ``f`` per entry, an error
    of order :math:`h^2`. Use float64 (see the backprop chapter's exercise on ``h``).
    Counterpart: ``torch.autograd.gradcheck``, which compares every entry.

    Args:
        f: maps a tensor shaped like ``x`` to a 0-dim tensor (or a number).
        x: the point, any shape; not modified.
        h: the step, > 0.
        indices: flat indices of the entries to estimate; None for all of them.

    Returns:
        The estimates: shaped like ``x`` when ``indices`` is None, else (len(indices),).
    """
    check_float_tensor(x, "x")
    h = check_finite_number(h, "h", low=0, low_open=True)
    flat = x.detach().reshape(-1).clone()  # (x.numel(),), a copy we perturb
    picked = torch.arange(flat.numel()) if indices is None else indices.reshape(-1)
    out = flat.new_empty(len(picked))
    for k, i in enumerate(picked.tolist()):
        old = flat[i].item()
        flat[i] = old + h
        up = float(f(flat.view_as(x)))
        flat[i] = old - h
        down = float(f(flat.view_as(x)))
        flat[i] = old
        out[k] = (up - down) / (2 * h)
    return out.view_as(x) if indices is None else out


def relative_error(a: torch.Tensor, b: torch.Tensor) -> float:
    """The largest ``|a - b| / (|a| + |b|)`` over the entries (0 where both are 0).

    Args:
        a: e.g. an analytic gradient.
        b: e.g. its :func:`numeric_gradient` estimate, the same shape as ``a``.
    """
    check_shape(
        check_float_tensor(b, "b"), "b", tuple(check_float_tensor(a, "a").shape)
    )
    scale = (a.abs() + b.abs()).clamp(min=torch.finfo(a.dtype).tiny)
    return ((a - b).abs() / scale).max().item()


# ----------------------------------------------------------------------------------
# Thin classes: check hyperparameters, keep per-parameter state, loop over parameters.
# ----------------------------------------------------------------------------------


def _check_nonnegative(name: str, value: object) -> float:
    return check_finite_number(value, name, low=0)


def _check_decay(name: str, value: object) -> float:
    return check_finite_number(value, name, low=0, high=1, high_open=True)


def _zeros_like(param: torch.Tensor) -> torch.Tensor:
    return torch.zeros_like(param, memory_format=torch.preserve_format)


def _next_step(state: dict[str, Any]) -> int:
    """Increment ``state["step"]`` (an int; a tensor if loaded from torch)."""
    state["step"] = int(state.get("step", 0)) + 1
    return state["step"]


def _check_step(args: dict[str, Any]) -> None:
    """Check a step's ``locals()``: grad fits param, every hyperparameter is in range.

    Each hyperparameter must be finite first, since ``nan < 0`` is False.
    """
    param, grad = args["param"], args["grad"]
    if grad.shape != param.shape:
        raise ValueError(
            f"grad must have the shape of param {tuple(param.shape)}, "
            f"got {tuple(grad.shape)}"
        )
    for name in ("lr", "momentum", "dampening", "weight_decay", "lr_decay", "eps"):
        if name in args:
            _check_nonnegative(name, args[name])
    for name in ("alpha", "beta1", "beta2"):
        if name in args:
            _check_decay(name, args[name])


def _check_betas(name: str, value: object) -> tuple[float, float]:
    if not isinstance(value, (tuple, list)) or len(value) != 2:
        raise ValueError(f"{name} must be a pair (beta1, beta2), got {value!r}")
    return (_check_decay("beta1", value[0]), _check_decay("beta2", value[1]))


class _Optimizer(torch.optim.Optimizer):
    """The shared ``step``: run the closure, then update each parameter with a grad.

    Every parameter group is checked like the constructor's defaults, also one given
    to the constructor as a dict or added later with ``add_param_group``.
    """

    # (hyperparameter, its check), applied to every parameter group
    _CHECKS: tuple[tuple[str, Callable[[str, Any], Any]], ...] = ()

    def add_param_group(self, param_group: dict[str, Any]) -> None:
        """Add a parameter group, with its hyperparameters checked (see the class)."""
        super().add_param_group(param_group)
        group = self.param_groups[-1]
        try:
            for name, check in self._CHECKS:
                group[name] = check(name, group[name])
        except (TypeError, ValueError):
            self.param_groups.pop()  # leave the optimizer as it was
            raise

    def _update(self, param: torch.Tensor, group: dict[str, Any]) -> None:
        raise NotImplementedError

    @torch.no_grad()
    def step(  # type: ignore[override]
        self, closure: Callable[[], torch.Tensor] | None = None
    ) -> torch.Tensor | None:
        """Update every parameter that has a gradient.

        Args:
            closure: optional function that re-evaluates the model and returns the
                loss, as for :meth:`torch.optim.Optimizer.step`.

        Returns:
            The closure's loss, or None.
        """
        loss = None
        if closure is not None:
            with torch.enable_grad():
                loss = closure()
        for group in self.param_groups:
            for param in group["params"]:
                if param.grad is None:
                    continue
                if param.grad.is_sparse:
                    raise TypeError(
                        f"{type(self).__name__} needs dense gradients, got a sparse one"
                    )
                if param.grad.shape != param.shape:
                    raise ValueError(
                        f"a gradient of shape {tuple(param.grad.shape)} does not "
                        f"fit its parameter of shape {tuple(param.shape)}"
                    )
                self._update(param, group)
        return loss


class SGD(_Optimizer):
    r"""Stochastic gradient descent, plain or with (Nesterov) momentum.

    Counterpart of :class:`torch.optim.SGD`, with the same defaults; the update is
    :func:`sgd_step`. The lecture's momentum, :math:`v_{t+1} = \rho v_t + \nabla
    f(x_t)` and :math:`x_{t+1} = x_t - \alpha v_{t+1}`, is ``SGD(momentum=rho)`` with
    ``dampening=0``. The lecture's Nesterov momentum, :math:`v_{t+1} = \rho v_t -
    \alpha \nabla f(x_t + \rho v_t)` and :math:`x_{t+1} = x_t + v_{t+1}`, is
    ``SGD(momentum=rho, nesterov=True)`` in the variables :math:`\tilde x_t = x_t +
    \rho v_t`. Its ``state["momentum_buffer"]`` is :math:`-v_t / \alpha`.

    Args:
        params: parameters or parameter groups (dicts), as for any torch optimizer.
        lr: learning rate :math:`\alpha \ge 0`.
        momentum: :math:`\rho \ge 0`.
        dampening: :math:`\tau \ge 0` in Eq. (4.5).
        weight_decay: L2 coefficient :math:`\lambda \ge 0`.
        nesterov: Nesterov momentum; needs ``momentum > 0`` and ``dampening == 0``.
    """

    _CHECKS = (
        ("lr", _check_nonnegative),
        ("momentum", _check_nonnegative),
        ("dampening", _check_nonnegative),
        ("weight_decay", _check_nonnegative),
    )

    def __init__(
        self,
        params: Params,
        *,
        lr: float = 1e-3,
        momentum: float = 0.0,
        dampening: float = 0.0,
        weight_decay: float = 0.0,
        nesterov: bool = False,
    ) -> None:
        defaults = {
            "lr": _check_nonnegative("lr", lr),
            "momentum": _check_nonnegative("momentum", momentum),
            "dampening": _check_nonnegative("dampening", dampening),
            "weight_decay": _check_nonnegative("weight_decay", weight_decay),
            "nesterov": bool(nesterov),
        }
        if nesterov and (momentum <= 0 or dampening != 0):
            raise ValueError(
                "nesterov=True needs momentum > 0 and dampening = 0, "
                f"got momentum={momentum!r}, dampening={dampening!r}"
            )
        super().__init__(params, defaults)

    def _update(self, param: torch.Tensor, group: dict[str, Any]) -> None:
        state = self.state[param]
        buffer = sgd_step(
            param,
            param.grad,
            state.get("momentum_buffer"),
            lr=group["lr"],
            momentum=group["momentum"],
            dampening=group["dampening"],
            weight_decay=group["weight_decay"],
            nesterov=group["nesterov"],
        )
        if buffer is not None:
            state["momentum_buffer"] = buffer


class Adagrad(_Optimizer):
    r"""AdaGrad: each weight's step is divided by the root of its summed squared grads.

    Counterpart of :class:`torch.optim.Adagrad`, with the same defaults; the update is
    :func:`adagrad_step`. The lecture's loop, ``grad_squared += dw * dw`` and
    ``w -= lr * dw / (grad_squared.sqrt() + 1e-7)``, is ``Adagrad(lr=lr, eps=1e-7)``.

    Args:
        params: parameters or parameter groups.
        lr: :math:`\alpha \ge 0`.
        lr_decay: :math:`\eta \ge 0`; step :math:`t` uses the learning rate
            :math:`\alpha / (1 + (t-1)\eta)`.
        weight_decay: L2 coefficient :math:`\lambda \ge 0`.
        initial_accumulator_value: :math:`G_0 \ge 0`, the starting value of the sum.
        eps: :math:`\epsilon \ge 0`, added outside the square root.
    """

    _CHECKS = (
        ("lr", _check_nonnegative),
        ("lr_decay", _check_nonnegative),
        ("weight_decay", _check_nonnegative),
        ("initial_accumulator_value", _check_nonnegative),
        ("eps", _check_nonnegative),
    )

    def __init__(
        self,
        params: Params,
        *,
        lr: float = 1e-2,
        lr_decay: float = 0.0,
        weight_decay: float = 0.0,
        initial_accumulator_value: float = 0.0,
        eps: float = 1e-10,
    ) -> None:
        defaults = {
            "lr": _check_nonnegative("lr", lr),
            "lr_decay": _check_nonnegative("lr_decay", lr_decay),
            "weight_decay": _check_nonnegative("weight_decay", weight_decay),
            "initial_accumulator_value": _check_nonnegative(
                "initial_accumulator_value", initial_accumulator_value
            ),
            "eps": _check_nonnegative("eps", eps),
        }
        super().__init__(params, defaults)
        # As in torch, the state exists from the start, so that a state_dict saved
        # before the first step loads into torch.optim.Adagrad.
        for group in self.param_groups:
            for param in group["params"]:
                self.state[param]["step"] = 0
                self.state[param]["sum"] = torch.full_like(
                    param,
                    group["initial_accumulator_value"],
                    memory_format=torch.preserve_format,
                )

    def _update(self, param: torch.Tensor, group: dict[str, Any]) -> None:
        state = self.state[param]
        adagrad_step(
            param,
            param.grad,
            state["sum"],
            step=_next_step(state),
            lr=group["lr"],
            lr_decay=group["lr_decay"],
            weight_decay=group["weight_decay"],
            eps=group["eps"],
        )


class RMSprop(_Optimizer):
    r"""RMSProp, "leaky AdaGrad": a decaying average of squared gradients.

    Counterpart of :class:`torch.optim.RMSprop`, with the same defaults; the update is
    :func:`rmsprop_step`. PyTorch's ``alpha`` is the lecture's ``decay_rate``
    :math:`\beta`. The lecture's loop, corrected to ``grad_squared = decay_rate *
    grad_squared + (1 - decay_rate) * dw * dw``, is
    ``RMSprop(lr=lr, alpha=decay_rate, eps=1e-7)``.

    Args:
        params: parameters or parameter groups.
        lr: :math:`\alpha \ge 0`.
        alpha: the decay rate :math:`\beta \in [0, 1)`.
        eps: :math:`\epsilon \ge 0`, added outside the square root.
        weight_decay: L2 coefficient :math:`\lambda \ge 0`.
        momentum: :math:`\mu \ge 0`, momentum on the normalized step
            (see the module docstring).
    """

    _CHECKS = (
        ("lr", _check_nonnegative),
        ("alpha", _check_decay),
        ("eps", _check_nonnegative),
        ("weight_decay", _check_nonnegative),
        ("momentum", _check_nonnegative),
    )

    def __init__(
        self,
        params: Params,
        *,
        lr: float = 1e-2,
        alpha: float = 0.99,
        eps: float = 1e-8,
        weight_decay: float = 0.0,
        momentum: float = 0.0,
    ) -> None:
        defaults = {
            "lr": _check_nonnegative("lr", lr),
            "alpha": _check_decay("alpha", alpha),
            "eps": _check_nonnegative("eps", eps),
            "weight_decay": _check_nonnegative("weight_decay", weight_decay),
            "momentum": _check_nonnegative("momentum", momentum),
        }
        super().__init__(params, defaults)

    def _update(self, param: torch.Tensor, group: dict[str, Any]) -> None:
        state = self.state[param]
        if "square_avg" not in state:
            state["step"] = 0
            state["square_avg"] = _zeros_like(param)
        if group["momentum"] > 0 and "momentum_buffer" not in state:
            state["momentum_buffer"] = _zeros_like(param)
        _next_step(state)
        rmsprop_step(
            param,
            param.grad,
            state["square_avg"],
            state.get("momentum_buffer"),
            lr=group["lr"],
            alpha=group["alpha"],
            eps=group["eps"],
            weight_decay=group["weight_decay"],
            momentum=group["momentum"],
        )


class Adam(_Optimizer):
    r"""Adam: momentum on the gradient, RMSProp on its square, both bias-corrected.

    Counterpart of :class:`torch.optim.Adam`, with the same defaults; the update is
    :func:`adam_step`. The lecture's loop with bias correction is
    ``Adam(lr=lr, betas=(beta1, beta2), eps=1e-7)``, provided that its step counter
    starts at t = 1.

    Args:
        params: parameters or parameter groups.
        lr: :math:`\alpha \ge 0`.
        betas: :math:`(\beta_1, \beta_2)`, each in [0, 1).
        eps: :math:`\epsilon \ge 0`, added outside the square root.
        weight_decay: L2 coefficient :math:`\lambda \ge 0`, added to the gradient.
    """

    _CHECKS = (
        ("lr", _check_nonnegative),
        ("betas", _check_betas),
        ("eps", _check_nonnegative),
        ("weight_decay", _check_nonnegative),
    )

    def __init__(
        self,
        params: Params,
        *,
        lr: float = 1e-3,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 0.0,
    ) -> None:
        if not isinstance(betas, (tuple, list)) or len(betas) != 2:
            raise ValueError(f"betas must be a pair (beta1, beta2), got {betas!r}")
        defaults = {
            "lr": _check_nonnegative("lr", lr),
            "betas": (_check_decay("beta1", betas[0]), _check_decay("beta2", betas[1])),
            "eps": _check_nonnegative("eps", eps),
            "weight_decay": _check_nonnegative("weight_decay", weight_decay),
        }
        super().__init__(params, defaults)

    def _update(self, param: torch.Tensor, group: dict[str, Any]) -> None:
        state = self.state[param]
        if "exp_avg" not in state:
            state["step"] = 0
            state["exp_avg"] = _zeros_like(param)
            state["exp_avg_sq"] = _zeros_like(param)
        beta1, beta2 = group["betas"]
        adam_step(
            param,
            param.grad,
            state["exp_avg"],
            state["exp_avg_sq"],
            step=_next_step(state),
            lr=group["lr"],
            beta1=beta1,
            beta2=beta2,
            eps=group["eps"],
            weight_decay=group["weight_decay"],
        )
