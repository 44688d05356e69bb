"""A plain minibatch training loop, shared by the chapters that train models.

Used by the optimization chapter (loss against step for each optimizer), the neural-network
chapter (train/validation curves) and later chapters. It is the loop every PyTorch tutorial
writes, kept in one tested place::

    for epoch in range(epochs):
        for idx in minibatches(N, batch_size, generator):
            loss = loss_fn(model(x[idx]), y[idx])
            optimizer.zero_grad(); loss.backward(); optimizer.step()

Torch counterparts: ``torch.utils.data.DataLoader(shuffle=True)`` for :func:`minibatches`;
PyTorch has no built-in ``fit``.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

import torch
from torch import nn

from dlcv._checks import check_labels, check_positive_int, check_tensor
from dlcv.runtime import progress

__all__ = ["History", "accuracy", "fit", "minibatches"]


@dataclass
class History:
    """What :func:`fit` measured."""

    step_loss: list[float] = field(
        default_factory=list
    )  # training loss of every minibatch
    epoch_train_acc: list[float] = field(default_factory=list)  # after each epoch
    epoch_val_acc: list[float] = field(
        default_factory=list
    )  # after each epoch, if val given
    seconds: float = 0.0  # wall time of the whole loop, evaluation included


def minibatches(
    n: int, batch_size: int, *, generator: torch.Generator, drop_last: bool = False
) -> Iterator[torch.Tensor]:
    """Index tensors of one shuffled epoch over ``n`` examples.

    Args:
        n: number of examples.
        batch_size: examples per minibatch; the last one may be smaller unless ``drop_last``.
        generator: the RNG that shuffles (CPU); the same seed gives the same batches.

    Yields:
        int64 CPU tensors of indices, each of length ``batch_size`` (or less, at the end).
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
        model: maps (B, ...) inputs to (B, C) class scores. An ``nn.Module`` is put in eval
            mode for the evaluation and restored afterwards.
        x: (N, ...) inputs, N >= 1; y: (N,) integer labels.
        batch_size: rows scored at once.
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
    desc: str = "training",
) -> History:
    """Train ``model`` with minibatches; return the per-step losses and per-epoch accuracies.

    Args:
        model: maps (B, ...) inputs to (B, C) scores; trained in place.
        loss_fn: ``loss_fn(scores, labels)`` -> scalar, e.g. ``F.cross_entropy``.
        optimizer: over ``model.parameters()``.
        x, y: (N, ...) training inputs and (N,) labels, on the model's device.
        epochs: passes over the data.
        batch_size: examples per step.
        generator: shuffles the data (CPU generator).
        x_val, y_val: optional validation data, evaluated after each epoch.
        desc: label of the progress bar.
    """
    epochs = check_positive_int(epochs, "epochs", minimum=0)
    if x.shape[0] != y.shape[0]:
        raise ValueError(
            f"x and y must have the same length, got {x.shape[0]} and {y.shape[0]}"
        )
    if (x_val is None) != (y_val is None):
        raise ValueError("give both x_val and y_val, or neither")
    history = History()
    start = time.perf_counter()
    for _ in progress(range(epochs), desc=desc):
        model.train()
        for idx in minibatches(x.shape[0], batch_size, generator=generator):
            idx = idx.to(x.device)
            loss = loss_fn(model(x[idx]), y[idx])
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            history.step_loss.append(loss.item())
        history.epoch_train_acc.append(accuracy(model, x, y))
        if x_val is not None:
            history.epoch_val_acc.append(accuracy(model, x_val, y_val))
    history.seconds = time.perf_counter() - start
    return history
