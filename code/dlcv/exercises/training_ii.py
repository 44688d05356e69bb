r"""Checkers for the coding exercises of the training neural networks II chapter.

The chapter is ``book/training_ii.md``.

* :func:`check_warmup_cosine_lr` -- the learning rate at step ``t`` of a linear warmup
  over ``W`` steps followed by a cosine decay to ``eta_min`` over the remaining
  ``T - W`` steps; the reference is the rate that torch's ``SequentialLR`` of
  ``LinearLR(start_factor=1 / W, total_iters=W - 1)`` and
  ``CosineAnnealingLR(T_max=T - W, eta_min=eta_min)`` sets at every step.
* :func:`check_running_average` -- the in-place update of an equal-weight running mean
  of a model's parameters (Polyak averaging); the reference is
  ``torch.optim.swa_utils.AveragedModel`` without an averaging function, updated after
  every step of SGD on a small network.
* :func:`check_few_shot` -- a split with exactly ``per_class`` random examples of every
  class; the reference is the specification itself: counts, distinct and sorted
  indices, int64, the same split for the same seed, another split for another seed,
  and a ``ValueError`` naming the class that has too few examples.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn
from torch.optim import lr_scheduler
from torch.optim.swa_utils import AveragedModel

from dlcv.exercises._core import Case, CheckResult, run_cases

__all__ = ["check_few_shot", "check_running_average", "check_warmup_cosine_lr"]


def torch_warmup_cosine(
    lr0: float, warmup_steps: int, total_steps: int, eta_min: float = 0.0
) -> torch.Tensor:
    """The rates torch's SequentialLR(LinearLR warmup, CosineAnnealingLR) sets.

    Args:
        lr0: the peak learning rate, reached at step ``warmup_steps - 1``.
        warmup_steps: the number ``W >= 2`` of warmup steps.
        total_steps: the number ``T > W`` of steps.
        eta_min: the rate the cosine ends at.

    Returns:
        A float64 tensor of the ``total_steps`` rates, step 0 first.
    """
    if not 2 <= warmup_steps < total_steps:
        raise ValueError(
            f"need 2 <= warmup_steps < total_steps, got {warmup_steps}, {total_steps}"
        )
    weight = torch.zeros(1, requires_grad=True)
    opt = torch.optim.SGD([weight], lr=lr0)
    warm = lr_scheduler.LinearLR(
        opt, start_factor=1 / warmup_steps, total_iters=warmup_steps - 1
    )
    cosine = lr_scheduler.CosineAnnealingLR(
        opt, T_max=total_steps - warmup_steps, eta_min=eta_min
    )
    scheduler = lr_scheduler.SequentialLR(opt, [warm, cosine], [warmup_steps])
    rates = []
    for _ in range(total_steps):
        rates.append(opt.param_groups[0]["lr"])
        opt.step()
        scheduler.step()
    return torch.tensor(rates, dtype=torch.float64)


def check_warmup_cosine_lr(fn: Callable[..., Any]) -> CheckResult:
    """Check ``fn(t, lr0, warmup_steps, total_steps, eta_min=0.0)`` step by step.

    The rate at every step ``t = 0 .. T - 1`` must equal torch's (see
    ``torch_warmup_cosine``) to 1e-10. Cases: the chapter's shape (10 % warmup),
    a short warmup of 2 steps, a cosine that ends at ``eta_min > 0``, and a warmup that
    takes most of the run.

    Args:
        fn: the reader's function, returning a number.

    Returns:
        The verdict, which is also printed.
    """

    def rates(
        lr0: float, warmup_steps: int, total_steps: int, eta_min: float
    ) -> torch.Tensor:
        values = [
            float(fn(t, lr0, warmup_steps, total_steps, eta_min))
            for t in range(total_steps)
        ]
        return torch.tensor(values, dtype=torch.float64)

    cases = [
        Case(
            description,
            {"lr0": lr0, "warmup_steps": w, "total_steps": total, "eta_min": eta},
            torch_warmup_cosine(lr0, w, total, eta),
            rtol=0.0,
            atol=1e-10,
        )
        for description, lr0, w, total, eta in [
            ("10 % warmup, cosine to 0 (the rates of all steps)", 0.1, 10, 100, 0.0),
            ("a warmup of 2 steps", 1.0, 2, 30, 0.0),
            ("a cosine that ends at eta_min = 0.01", 0.5, 5, 50, 0.01),
            ("a warmup that takes most of the run", 0.01, 40, 48, 1e-4),
        ]
    ]
    return run_cases(
        rates,
        cases,
        exercise="warmup_cosine_lr",
        passed="sets the same rate as torch's SequentialLR(LinearLR, "
        "CosineAnnealingLR) at every step",
    )


_DTYPES = {"float32": torch.float32, "float64": torch.float64}


def _small_net(seed: int, dtype: torch.dtype) -> nn.Module:
    torch.manual_seed(seed)
    return nn.Sequential(nn.Linear(4, 5), nn.Tanh(), nn.Linear(5, 3)).to(dtype)


def _sgd_run(
    seed: int, steps: int, dtype: torch.dtype, update: Callable[..., None]
) -> tuple[torch.Tensor, ...]:
    """Train a small net for ``steps`` SGD steps, calling ``update(model, n)`` after
    each step (n = the number of updates made before), and return what it averages."""
    model = _small_net(seed, dtype)
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(16, 4, generator=g, dtype=dtype)
    y = torch.randint(0, 3, (16,), generator=g)
    opt = torch.optim.SGD(model.parameters(), lr=0.5)
    for n in range(steps):
        loss = F.cross_entropy(model(x), y)
        opt.zero_grad()
        loss.backward()
        opt.step()
        update(model, n)
    return tuple(p.detach().clone() for p in model.parameters())


def torch_running_average(
    seed: int, steps: int, dtype: torch.dtype
) -> tuple[torch.Tensor, ...]:
    """The parameters of torch's AveragedModel after ``steps`` steps of a run.

    Args:
        seed: seeds the network's weights and its data.
        steps: the number of SGD steps, each followed by an update.
        dtype: the parameters' dtype.

    Returns:
        The averaged parameters, in the order of ``model.parameters()``.
    """
    holder: dict[str, AveragedModel] = {}

    def update(model: nn.Module, n: int) -> None:
        if "avg" not in holder:
            holder["avg"] = AveragedModel(model)
        holder["avg"].update_parameters(model)

    _sgd_run(seed, steps, dtype, update)
    return tuple(p.detach().clone() for p in holder["avg"].module.parameters())


def check_running_average(fn: Callable[..., Any]) -> CheckResult:
    """Check ``fn(averaged, model, n_averaged)`` against torch's AveragedModel.

    ``fn`` updates the parameters of ``averaged`` in place; after every SGD step of a
    small network the checker calls it with ``n_averaged`` = the number of earlier
    updates (0 first), then compares the averaged parameters with those of
    ``torch.optim.swa_utils.AveragedModel(model)`` updated after the same steps.
    The average starts as a copy of the initial weights, so the first update must
    replace it by the weights. Cases: one update, three and twenty updates in
    float64, ten in float32.

    Args:
        fn: the reader's function.

    Returns:
        The verdict, which is also printed.
    """

    def averaged_after(
        seed: int, steps: int, dtype: torch.dtype
    ) -> tuple[torch.Tensor, ...]:
        # the average starts as the initial weights: the first update must copy
        averaged = copy.deepcopy(_small_net(seed, _DTYPES[dtype]))

        def update(model: nn.Module, n: int) -> None:
            fn(averaged, model, n)

        _sgd_run(seed, steps, _DTYPES[dtype], update)
        return tuple(p.detach().clone() for p in averaged.parameters())

    cases = []
    for description, seed, steps, dtype in [
        ("one update: the average is the weights", 1, 1, "float64"),
        ("three updates", 2, 3, "float64"),
        ("twenty updates", 3, 20, "float64"),
        ("ten updates in float32", 4, 10, "float32"),
    ]:
        tol = (
            {"rtol": 1e-5, "atol": 1e-6}
            if dtype == "float32"
            else {"rtol": 1e-10, "atol": 1e-12}
        )
        cases.append(
            Case(
                description,
                {"seed": seed, "steps": steps, "dtype": dtype},
                torch_running_average(seed, steps, _DTYPES[dtype]),
                **tol,
            )
        )
    return run_cases(
        averaged_after,
        cases,
        exercise="running_average",
        passed="keeps the same running mean as torch's AveragedModel",
    )


def few_shot_properties(
    fn: Callable[..., Any], y: torch.Tensor, per_class: int, seed: int
) -> dict[str, Any]:
    """What a few-shot split must satisfy, measured on ``fn``'s splits of ``y``.

    Args:
        fn: ``fn(y, per_class, generator)`` -> indices.
        y: (N,) int64 labels.
        per_class: examples per class.
        seed: the generator's seed; ``seed + 1`` gives a second split.

    Returns:
        A dict: the per-class counts, whether the indices are int64, in range,
        distinct and sorted, whether the same seed repeats the split, and whether
        another seed changes it.
    """
    first = fn(y, per_class, torch.Generator().manual_seed(seed))
    if not isinstance(first, torch.Tensor):
        raise TypeError(f"the indices should be a torch.Tensor, got {type(first)}")
    again = fn(y, per_class, torch.Generator().manual_seed(seed))
    other = fn(y, per_class, torch.Generator().manual_seed(seed + 1))
    idx = first.flatten().long()
    in_range = bool(((idx >= 0) & (idx < len(y))).all())
    classes = torch.unique(y)
    counts = (
        torch.stack([(y[idx] == c).sum() for c in classes])
        if in_range
        else torch.full_like(classes, -1)
    )
    return {
        "counts per class": counts,
        "dtype": str(first.dtype),
        "in range": in_range,
        "distinct": len(torch.unique(idx)) == len(idx),
        "sorted": bool((idx[1:] > idx[:-1]).all()) if len(idx) > 1 else True,
        "same seed, same split": torch.equal(first, again),
        "another seed, another split": not torch.equal(first, other),
    }


def check_few_shot(fn: Callable[..., Any]) -> CheckResult:
    """Check ``fn(y, per_class, generator)`` against the few-shot specification.

    Cases: balanced labels, unbalanced labels with classes that are not 0..k-1, one
    example per class, and a class with too few examples (which must raise a
    ValueError naming that class).

    Args:
        fn: the reader's function.

    Returns:
        The verdict, which is also printed.
    """
    g = torch.Generator().manual_seed(11)

    def properties(y: torch.Tensor, per_class: int, seed: int) -> dict[str, Any]:
        return few_shot_properties(fn, y, per_class, seed)

    def error(y: torch.Tensor, per_class: int, seed: int) -> str:
        try:
            fn(y, per_class, torch.Generator().manual_seed(seed))
        except ValueError as err:
            short = [int(c) for c in torch.unique(y) if (y == c).sum() < per_class]
            named = any(str(c) in str(err) for c in short)
            return (
                "ValueError naming the class"
                if named
                else (f"ValueError that does not name class {short}: {err}")
            )
        return "no error"

    def expected(y: torch.Tensor, per_class: int) -> dict[str, Any]:
        n_classes = len(torch.unique(y))
        return {
            "counts per class": torch.full((n_classes,), per_class),
            "dtype": "torch.int64",
            "in range": True,
            "distinct": True,
            "sorted": True,
            "same seed, same split": True,
            "another seed, another split": True,
        }

    balanced = torch.arange(10).repeat(30)[torch.randperm(300, generator=g)]
    unbalanced = torch.cat(
        [torch.full((n,), c) for c, n in [(2, 40), (5, 12), (7, 25)]]
    )[torch.randperm(77, generator=g)]
    tiny = torch.tensor([3, 3, 1, 1, 3, 1, 1, 3])
    short = torch.cat([torch.full((20,), 0), torch.full((4,), 6)])
    cases = [
        Case(
            "10 balanced classes, 5 each",
            {"y": balanced, "per_class": 5, "seed": 0},
            expected(balanced, 5),
        ),
        Case(
            "unbalanced classes 2, 5, 7, 10 each",
            {"y": unbalanced, "per_class": 10, "seed": 1},
            expected(unbalanced, 10),
        ),
        Case(
            "one example per class",
            {"y": tiny, "per_class": 1, "seed": 2},
            expected(tiny, 1),
        ),
    ]
    error_case = Case(
        "class 6 has only 4 examples, per_class 5",
        {"y": short, "per_class": 5, "seed": 3},
        "ValueError naming the class",
    )
    result = run_cases(
        properties,
        cases,
        exercise="few_shot",
        passed="draws exactly per_class distinct, sorted examples of every class",
        verbose=False,
    )
    if result.passed:
        result = run_cases(
            error,
            [*cases[:0], error_case],
            exercise="few_shot",
            passed="draws exactly per_class distinct, sorted examples of every "
            "class, reproducibly, and names a class that has too few",
            verbose=False,
        )
        if result.passed:
            result = CheckResult(
                "few_shot",
                passed=True,
                attempted=True,
                message=result.message.replace("all 1 cases", "all 4 cases"),
            )
    print(result.message)
    return result
