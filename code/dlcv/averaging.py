r"""Model averaging: ensembles, Polyak (SWA) and exponential (EMA) weight averages.

Taught by lecture 11, "Training neural networks II", in the chapter of that name
(``book/training_ii.md``), which trains several models and averages their predictions,
and averages the weights of one model along its training run. With :math:`W_k` the
weights after the k-th update, :math:`k = 1, 2, \dots`:

- an ensemble of :math:`M` models predicts the mean of their softmax probabilities,
  :math:`p(y \mid x) = \tfrac1M \sum_m \mathrm{softmax}(f_m(x))`
  (:func:`ensemble_predict`);
- the equal average (Polyak and Juditsky, 1992; stochastic weight averaging, Izmailov
  et al., 2018) keeps :math:`\bar W_k = \bar W_{k-1} + (W_k - \bar W_{k-1}) / k`, the
  mean of all :math:`W_1, \dots, W_k` (:func:`swa_avg_fn`);
- the exponential moving average keeps
  :math:`\bar W_k = \beta \bar W_{k-1} + (1 - \beta) W_k` (:func:`ema_avg_fn`);
  both start from :math:`\bar W_1 = W_1`.

The chapter's equations, tagged in the code below: (11.7) ``tr2-ensemble`` and
(11.8) ``tr2-ema``.

:class:`AveragedModel` holds :math:`\bar W` in a copy of the model; call
``update_parameters(model)`` after optimizer steps (e.g. through ``fit``'s ``on_step``)
and evaluate the copy. Batch-norm statistics of averaged weights are recomputed with
:func:`update_bn`, or averaged too with ``use_buffers=True``. Torch counterparts:
:class:`torch.optim.swa_utils.AveragedModel` (our class subclasses it: same
constructor, ``n_averaged`` buffer and ``module.``-prefixed ``state_dict``, so states
load both ways), ``get_swa_avg_fn``, ``get_ema_avg_fn`` and ``update_bn``. Not
implemented: SWALR (use :mod:`dlcv.schedules` or torch's).
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterable, Sequence
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.modules.batchnorm import _BatchNorm
from torch.optim import swa_utils

from dlcv._checks import check_callable, check_finite_number, check_tensor

__all__ = [
    "AveragedModel",
    "ema_avg_fn",
    "ensemble_predict",
    "swa_avg_fn",
    "update_bn",
]

# avg_fn(averaged, current, num_averaged) -> the new average of one tensor
AvgFn = Callable[[torch.Tensor, torch.Tensor, torch.Tensor | int], torch.Tensor]
# multi_avg_fn(averaged_list, current_list, num_averaged): updates in place
MultiAvgFn = Callable[[list[torch.Tensor], list[torch.Tensor], torch.Tensor], None]


def swa_avg_fn() -> AvgFn:
    r"""The equal (Polyak, SWA) average: :math:`\bar W + (W - \bar W) / (n + 1)`.

    Returns:
        ``avg_fn(averaged, current, num_averaged)``, where ``num_averaged`` = n is
        the number of weights already in the average.
    """

    @torch.no_grad()
    def swa_update(
        averaged: torch.Tensor, current: torch.Tensor, num_averaged: torch.Tensor | int
    ) -> torch.Tensor:
        # W_avg = W_avg + (W - W_avg) / (n + 1): the mean of n + 1 weights
        return averaged + (current - averaged) / (num_averaged + 1)

    return swa_update


def ema_avg_fn(decay: float = 0.999) -> AvgFn:
    r"""The exponential moving average: :math:`\beta \bar W + (1 - \beta) W`.

    Args:
        decay: :math:`\beta \in [0, 1]`; the average forgets with time constant
            about :math:`1 / (1 - \beta)` updates.

    Returns:
        ``avg_fn(averaged, current, num_averaged)`` (``num_averaged`` unused).
    """
    decay = check_finite_number(decay, "decay", low=0, high=1)

    @torch.no_grad()
    def ema_update(
        averaged: torch.Tensor, current: torch.Tensor, num_averaged: torch.Tensor | int
    ) -> torch.Tensor:
        # Eq. (11.8): W_avg = beta W_avg + (1 - beta) W
        return decay * averaged + (1 - decay) * current

    return ema_update


class AveragedModel(swa_utils.AveragedModel):
    """A running average of a model's weights, in a copy of the model.

    Twin of :class:`torch.optim.swa_utils.AveragedModel`, with our
    :meth:`update_parameters`. ``avg_fn`` and ``multi_avg_fn`` are not in the
    ``state_dict``, as in torch.

    Args:
        model: the network to average; deep-copied, never changed.
        device: where to keep the copy; None keeps ``model``'s device.
        avg_fn: ``avg_fn(averaged, current, num_averaged)`` -> the new average of one
            tensor; None (and no ``multi_avg_fn``) for :func:`swa_avg_fn`.
        multi_avg_fn: ``multi_avg_fn(averaged_list, current_list, num_averaged)``,
            updating the list in place, e.g. ``swa_utils.get_ema_multi_avg_fn``;
            give at most one of the two functions.
        use_buffers: also average the buffers (batch-norm statistics); if False they
            are copied from ``model`` at each update.
    """

    def __init__(
        self,
        model: nn.Module,
        device: int | str | torch.device | None = None,
        avg_fn: AvgFn | None = None,
        multi_avg_fn: MultiAvgFn | None = None,
        use_buffers: bool = False,
    ) -> None:
        if not isinstance(model, nn.Module):
            raise TypeError(f"model must be an nn.Module, got {type(model).__name__}")
        for fn, name in ((avg_fn, "avg_fn"), (multi_avg_fn, "multi_avg_fn")):
            if fn is not None:
                check_callable(fn, name, signature=f"{name}(averaged, current, n)")
        if avg_fn is not None and multi_avg_fn is not None:
            raise ValueError("give at most one of avg_fn and multi_avg_fn, got both")
        if not isinstance(use_buffers, bool):
            raise TypeError(f"use_buffers must be a bool, got {use_buffers!r}")
        super().__init__(model, device, avg_fn, multi_avg_fn, use_buffers)

    def _averaged(self, model: nn.Module) -> tuple[list[Any], list[Any]]:
        """The tensors to average, ours and ``model``'s, in the same order."""
        ours, theirs = self.module.parameters(), model.parameters()
        if self.use_buffers:
            ours = itertools.chain(ours, self.module.buffers())
            theirs = itertools.chain(theirs, model.buffers())
        ours, theirs = [p.detach() for p in ours], [p.detach() for p in theirs]
        if [p.shape for p in ours] != [p.shape for p in theirs]:
            raise ValueError(
                f"model must have the averaged model's {len(ours)} tensors of shapes "
                f"{[tuple(p.shape) for p in ours]}, got {len(theirs)} of shapes "
                f"{[tuple(p.shape) for p in theirs]}"
            )
        return ours, [p.to(q.device) for p, q in zip(theirs, ours, strict=True)]

    @torch.no_grad()
    def update_parameters(self, model: nn.Module) -> None:
        """Add ``model``'s current weights to the average.

        Args:
            model: a network with the architecture of ``self.module``.
        """
        if not isinstance(model, nn.Module):
            raise TypeError(f"model must be an nn.Module, got {type(model).__name__}")
        averaged, current = self._averaged(model)
        n = self.n_averaged  # weights already in the average
        if n == 0:
            # the first update: W_avg = W_1
            for a, w in zip(averaged, current, strict=True):
                a.copy_(w)
        elif self.multi_avg_fn is not None:
            # one call per (device, dtype), as torch's foreach kernels need
            groups: dict[tuple[Any, Any], list[int]] = {}
            for i, a in enumerate(averaged):
                groups.setdefault((a.device, a.dtype), []).append(i)
            for (device, _), idx in groups.items():
                self.multi_avg_fn(
                    [averaged[i] for i in idx], [current[i] for i in idx], n.to(device)
                )
        else:
            avg_fn = self.avg_fn if self.avg_fn is not None else swa_avg_fn()
            for a, w in zip(averaged, current, strict=True):
                a.copy_(avg_fn(a, w, n.to(a.device)))
        if not self.use_buffers:
            # not averaged: the buffers (batch-norm statistics) follow the model
            for b, b_model in zip(self.module.buffers(), model.buffers(), strict=True):
                b.copy_(b_model.detach().to(b.device))
        self.n_averaged += 1


@torch.no_grad()
def update_bn(
    loader: Iterable[Any],
    model: nn.Module,
    device: int | str | torch.device | None = None,
) -> None:
    """Recompute the batch-norm running statistics of ``model`` by one pass of data.

    Averaged weights need statistics of their own: each batch-norm layer is reset and
    then keeps the plain mean over the batches (``momentum=None``). Twin of
    :func:`torch.optim.swa_utils.update_bn`.

    Args:
        loader: batches of inputs, or tuples/lists whose first entry is the inputs.
        model: the network, e.g. an :class:`AveragedModel`; its train/eval mode is
            restored afterwards.
        device: where to move each batch; None leaves them.
    """
    if not isinstance(model, nn.Module):
        raise TypeError(f"model must be an nn.Module, got {type(model).__name__}")
    norms = [m for m in model.modules() if isinstance(m, _BatchNorm)]
    if not norms:
        return
    momenta = [m.momentum for m in norms]
    for m in norms:
        m.reset_running_stats()
        m.momentum = None  # a cumulative average over the batches
    was_training = model.training
    model.train()
    try:
        for batch in loader:
            x = batch[0] if isinstance(batch, (list, tuple)) else batch
            model(x if device is None else x.to(device))
    finally:
        for m, momentum in zip(norms, momenta, strict=True):
            m.momentum = momentum
        model.train(was_training)


@torch.no_grad()
def ensemble_predict(models: Sequence[nn.Module], x: torch.Tensor) -> torch.Tensor:
    r"""The ensemble's class probabilities: the mean of the models' softmax outputs.

    Each model is evaluated in eval mode (and put back in its mode afterwards).

    Args:
        models: M >= 1 networks, each mapping (N, ...) inputs to (N, C) scores.
        x: (N, ...) inputs, on the models' device.

    Returns:
        (N, C) probabilities :math:`\tfrac1M \sum_m \mathrm{softmax}(f_m(x))`; each
        row sums to 1.
    """
    check_tensor(x, "x")
    if not isinstance(models, Sequence):
        raise TypeError(f"models must be a sequence, got {type(models).__name__}")
    if not models:
        raise ValueError("models must hold at least one model, got none")
    for i, m in enumerate(models):
        if not isinstance(m, nn.Module):
            raise TypeError(f"models[{i}] must be an nn.Module, got {type(m).__name__}")
    probs = []
    for m in models:
        was_training = m.training
        m.eval()
        try:
            scores = check_tensor(m(x), "a model's scores", ndim=2)  # (N, C)
            probs.append(F.softmax(scores, dim=1))  # (N, C)
        finally:
            m.train(was_training)
    # Eq. (11.7): p(y | x) = (1 / M) sum_m softmax(f_m(x))
    return torch.stack(probs).mean(dim=0)  # (M, N, C) -> (N, C)
