"""A plain minibatch training loop, shared by the chapters that train models.

Used by the optimization chapter (loss against step for each optimizer), the
neural-network chapter (train/validation curves) and later chapters. It is the loop
every PyTorch tutorial writes, kept in one tested place::

    for epoch in range(epochs):
        for idx in minibatches(N, batch_size, generator):
            loss = loss_fn(model(x[idx]), y[idx])
            optimizer.zero_grad(); loss.backward(); optimizer.step()

Torch counterparts: ``torch.utils.data.DataLoader(shuffle=True)`` for
:func:`minibatches`; PyTorch has no built-in ``fit``.
"""

from __future__ import annotations

import contextlib
import math
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

import torch
from torch import nn

from dlcv._checks import (
    check_callable,
    check_finite_number,
    check_float_tensor,
    check_labels,
    check_positive_int,
    check_tensor,
)
from dlcv.runtime import progress

# A minibatch transform: (inputs, labels) -> (inputs, labels).
Batch = Callable[[torch.Tensor, torch.Tensor], tuple[torch.Tensor, torch.Tensor]]

__all__ = [
    "History",
    "accuracy",
    "eval_mode",
    "fit",
    "minibatches",
    "standard_error",
]


@dataclass
class History:
    """What :func:`fit` measured."""

    # the training loss of every minibatch
    step_loss: list[float] = field(default_factory=list)
    # the accuracy on the training data after each epoch
    epoch_train_acc: list[float] = field(default_factory=list)
    # the accuracy on the validation data after each epoch, if it was given
    epoch_val_acc: list[float] = field(default_factory=list)
    # the learning rate of the first parameter group at every minibatch
    step_lr: list[float] = field(default_factory=list)
    # the wall time of the whole loop, evaluation included
    seconds: float = 0.0


@contextlib.contextmanager
def eval_mode(model: object) -> Iterator[object]:
    """Evaluate ``model`` in eval mode, then give every submodule its own mode back.

    ``model.eval()`` followed by ``model.train()`` would switch on the training mode
    of submodules that were frozen in eval mode (a fine-tuned network's batch norms);
    this restores each submodule's mode as it was.

    Args:
        model: an ``nn.Module``, or any other callable, which is left as it is.

    Yields:
        ``model``.
    """
    modes = [(m, m.training) for m in model.modules()] if isinstance(
        model, nn.Module) else []  # fmt: skip
    for m, _ in modes:
        m.train(False)
    try:
        yield model
    finally:
        for m, training in modes:
            m.train(training)


def minibatches(
    n: int, batch_size: int, *, generator: torch.Generator, drop_last: bool = False
) -> Iterator[torch.Tensor]:
    """Index tensors of one shuffled epoch over ``n`` examples.

    Args:
        n: number of examples.
        batch_size: examples per minibatch; the last one may be smaller unless
            ``drop_last``.
        generator: the RNG that shuffles (CPU); the same seed gives the same batches.
        drop_last: skip the last minibatch if it is smaller than ``batch_size``.

    Yields:
        int64 CPU tensors of indices, each of length ``batch_size`` (or less, at the
        end).
    """
    batch_size = check_positive_int(batch_size, "batch_size")
    order = torch.randperm(n, generator=generator)
    stop = n - n % batch_size if drop_last else n
    for start in range(0, stop, batch_size):
        yield order[start : start + batch_size]


@torch.no_grad()
def accuracy(
    model: Callable[[torch.Tensor], torch.Tensor],
    x: torch.Tensor,
    y: torch.Tensor,
    *,
    batch_size: int = 4096,
) -> float:
    """Fraction of rows of ``x`` whose highest score is the label in ``y``.

    Args:
        model: maps (B, ...) inputs to (B, C) class scores. An ``nn.Module`` is put in
            eval mode for the evaluation and restored afterwards.
        x: (N, ...) inputs, N >= 1.
        y: (N,) integer labels.
        batch_size: rows scored at once.

    Returns:
        The accuracy, in [0, 1].
    """
    check_tensor(x, "x")
    check_positive_int(x.shape[0] if x.dim() else 0, "the number of examples N")
    y = check_labels(y, "y", n=x.shape[0])
    batch_size = check_positive_int(batch_size, "batch_size")
    was_training = isinstance(model, nn.Module) and model.training
    if isinstance(model, nn.Module):
        model.eval()
    correct = 0
    try:
        for start in range(0, x.shape[0], batch_size):
            scores = model(x[start : start + batch_size])  # (B, C)
            check_tensor(scores, "the model's scores", ndim=2)
            labels = y[start : start + batch_size].to(scores.device)  # (B,)
            correct += (scores.argmax(dim=1) == labels).sum().item()
    finally:
        if was_training:
            model.train()
    return correct / x.shape[0]


def standard_error(acc: float, n: int) -> float:
    """The standard error sqrt(a (1 - a) / n) of an accuracy a measured on n examples.

    Two accuracies whose difference is under about twice the standard error of the
    difference, ``hypot(se_1, se_2)``, are not distinguishable on those examples.

    Args:
        acc: the accuracy, in [0, 1].
        n: the number of examples it was measured on.
    """
    acc = check_finite_number(acc, "acc", low=0, high=1)
    return math.sqrt(acc * (1 - acc) / check_positive_int(n, "n"))


def fit(
    model: nn.Module,
    loss_fn: Callable[[torch.Tensor, torch.Tensor], torch.Tensor],
    optimizer: torch.optim.Optimizer,
    x: torch.Tensor,
    y: torch.Tensor,
    *,
    epochs: int,
    batch_size: int,
    generator: torch.Generator,
    x_val: torch.Tensor | None = None,
    y_val: torch.Tensor | None = None,
    scheduler: torch.optim.lr_scheduler.LRScheduler | None = None,
    transform: Batch | None = None,
    on_step: Callable[[int], None] | None = None,
    desc: str = "training",
) -> History:
    """Train ``model`` with minibatches, measuring losses and accuracies on the way.

    Args:
        model: maps (B, ...) inputs to (B, C) scores; trained in place.
        loss_fn: ``loss_fn(scores, labels)`` -> scalar, e.g. ``F.cross_entropy``.
        optimizer: over ``model.parameters()``.
        x: (N, ...) training inputs, on the model's device.
        y: (N,) training labels, on the model's device.
        epochs: passes over the data.
        batch_size: examples per step.
        generator: shuffles the data (CPU generator).
        x_val: optional validation inputs, evaluated after each epoch.
        y_val: the validation labels; given exactly when ``x_val`` is.
        scheduler: optional learning-rate schedule, stepped after every optimizer
            step (so its ``t`` counts minibatches, not epochs).
        transform: optional ``transform(xb, yb) -> (xb, yb)`` applied to each
            training minibatch, e.g. data augmentation or mixup (whose soft labels
            ``loss_fn`` must accept, as ``F.cross_entropy`` does).
        on_step: optional ``on_step(step)`` called after every optimizer step, with
            the number of steps taken so far, e.g. to update a weight average.
        desc: label of the progress bar.

    Returns:
        The :class:`History`: the loss of every step and the accuracies after every
        epoch.
    """
    epochs = check_positive_int(epochs, "epochs", minimum=0)
    check_labels(y, "y", n=len(check_float_tensor(x, "x", min_ndim=1)))
    if (x_val is None) != (y_val is None):
        raise ValueError("give both x_val and y_val, or neither")
    for fn, name, sig in (
        (transform, "transform", "transform(xb, yb) -> (xb, yb)"),
        (on_step, "on_step", "on_step(step)"),
    ):
        if fn is not None:
            check_callable(fn, name, signature=sig)
    history = History()
    start = time.perf_counter()
    for _ in progress(range(epochs), desc=desc):
        model.train()
        for idx in minibatches(x.shape[0], batch_size, generator=generator):
            idx = idx.to(x.device)
            xb, yb = x[idx], y[idx]
            if transform is not None:
                xb, yb = transform(xb, yb)
            history.step_lr.append(optimizer.param_groups[0]["lr"])
            loss = loss_fn(model(xb), yb)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            if scheduler is not None:
                scheduler.step()
            history.step_loss.append(loss.item())
            if on_step is not None:
                on_step(len(history.step_loss))
        history.epoch_train_acc.append(accuracy(model, x, y))
        if x_val is not None:
            history.epoch_val_acc.append(accuracy(model, x_val, y_val))
    history.seconds = time.perf_counter() - start
    return history
