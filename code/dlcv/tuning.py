r"""Hyperparameter search: grids, random search on log scales, coarse-to-fine.

Taught by lecture 11, "Training neural networks II", in the chapter of that name
(``book/training_ii.md``), which searches learning rates and weight decays of a small
network on Fashion-MNIST. Three ways to choose the points to try:

- :func:`grid`: every combination of a few values per hyperparameter;
- :func:`random_search_space`: each hyperparameter drawn independently, uniformly on
  a linear scale or on a log scale, where :math:`\log x \sim U(\log a, \log b)`
  (:func:`log_uniform`). Bergstra and Bengio (2012): with the same budget, random
  search tries more distinct values of the hyperparameters that matter;
- :func:`coarse_to_fine`: rounds of random search, each in ranges shrunk around the
  best point found so far (by ``shrink`` per round, in log space for log scales).

The chapter's equation tagged in the code below: (11.6) ``tr2-log-uniform``.

The objective is a plain function ``objective(params) -> score``, higher is better
(e.g. a validation accuracy from ``dlcv.training.fit``); a NaN score (a diverged run)
counts as the worst. Counterparts: ``sklearn.model_selection.ParameterGrid``
(:func:`grid` yields its dicts in its order), ``ParameterSampler`` with
``scipy.stats.loguniform`` (we draw from a ``torch.Generator`` instead), and Optuna or
Ray Tune for real searches. Not implemented: categorical ranges in random search,
early stopping of bad trials, Bayesian optimization.
"""

from __future__ import annotations

import itertools
import math
import numbers
from collections.abc import Callable, Mapping, Sequence
from typing import Any, NamedTuple

import torch

from dlcv._checks import (
    check_callable,
    check_finite_number,
    check_in,
    check_positive_int,
)

__all__ = [
    "CoarseToFine",
    "Trial",
    "coarse_to_fine",
    "grid",
    "log_uniform",
    "random_search_space",
]

# name -> (low, high, "log" | "linear")
Space = Mapping[str, tuple[float, float, str]]


class Trial(NamedTuple):
    """One evaluated point of a search."""

    # the hyperparameters, name -> value
    params: dict[str, float]
    # objective(params); higher is better
    score: float
    # the round of coarse_to_fine that tried it, from 0
    round: int


class CoarseToFine(NamedTuple):
    """What :func:`coarse_to_fine` returns; unpacks as ``trials, ranges``."""

    # every trial, in the order they ran
    trials: list[Trial]
    # ranges[r]: the space of round r; ranges[-1]: the space after the last round
    ranges: list[dict[str, tuple[float, float, str]]]

    @property
    def best(self) -> Trial:
        """The trial with the highest score (NaN scores never win)."""
        return max(self.trials, key=_rank)


def grid(space: Mapping[str, Sequence[Any]]) -> list[dict[str, Any]]:
    """Every combination of the values, in ``sklearn``'s ``ParameterGrid`` order.

    Keys are sorted and the last one varies fastest.

    Args:
        space: name -> a non-empty sequence of values (a list, tuple or range).

    Returns:
        ``prod(len(values))`` dicts; ``[{}]`` for an empty space.
    """
    _check_mapping(space, "space", "name -> a list of values")
    for name, values in space.items():
        if isinstance(values, str) or not isinstance(values, Sequence):
            raise TypeError(
                f"space[{name!r}] must be a list of values, "
                f"got {type(values).__name__} {values!r}"
            )
        if len(values) == 0:
            raise ValueError(f"space[{name!r}] must hold at least one value, got none")
    names = sorted(space)
    return [
        dict(zip(names, v, strict=True))
        for v in itertools.product(*(space[k] for k in names))
    ]


def log_uniform(
    low: float, high: float, n: int, generator: torch.Generator
) -> torch.Tensor:
    r"""``n`` draws whose logarithm is uniform on [log ``low``, log ``high``].

    That is :math:`x = e^u` with :math:`u \sim U(\log a, \log b)`: each decade
    between ``low`` and ``high`` gets the same share of draws (for a learning rate,
    [1e-4, 1e-3) as many as [1e-2, 1e-1)).

    Args:
        low: :math:`a > 0`.
        high: :math:`b > a`.
        n: the number of draws, >= 1.
        generator: the source of randomness (CPU).

    Returns:
        (n,) float64 tensor, in [low, high].
    """
    low, high = _check_range(low, high, "log", "low", "high")
    n = check_positive_int(n, "n")
    _check_generator(generator)
    u = torch.rand(n, generator=generator, dtype=torch.float64)  # (n,) in [0, 1)
    # Eq. (11.6): log x = log a + u (log b - log a)
    log_x = math.log(low) + u * (math.log(high) - math.log(low))
    return log_x.exp().clamp(low, high)  # clamp: exp(log(b)) may round past b


def random_search_space(
    space: Space, n: int, generator: torch.Generator
) -> list[dict[str, float]]:
    """``n`` random points, each hyperparameter drawn independently.

    Args:
        space: name -> ``(low, high, scale)``: ``scale`` "log" draws with
            :func:`log_uniform` (``low > 0``), "linear" uniformly in [low, high).
        n: the number of points, >= 1.
        generator: the source of randomness (CPU); the names are drawn in the
            order of ``space``, ``n`` values each.

    Returns:
        ``n`` dicts name -> value (Python floats).
    """
    space = _check_space(space)
    n = check_positive_int(n, "n")
    _check_generator(generator)
    columns = {}
    for name, (low, high, scale) in space.items():
        if scale == "log":
            columns[name] = log_uniform(low, high, n, generator)
        else:
            u = torch.rand(n, generator=generator, dtype=torch.float64)  # (n,)
            columns[name] = low + u * (high - low)
    return [{name: float(col[i]) for name, col in columns.items()} for i in range(n)]


def coarse_to_fine(
    objective: Callable[[dict[str, float]], float],
    space: Space,
    rounds: int,
    n_per_round: int,
    shrink: float,
    generator: torch.Generator,
) -> CoarseToFine:
    r"""Random search in rounds, each in ranges shrunk around the best point so far.

    After each round, every range keeps ``shrink`` of its width (in :math:`\log x`
    for a "log" range), centred on the best point so far and moved, if needed, to lie
    inside the range it replaces. Ranges stay unchanged while no score is finite.

    Args:
        objective: ``objective(params) -> score``, higher is better (return the
            negative of a loss); called ``rounds * n_per_round`` times.
        space: the first ranges, as for :func:`random_search_space`.
        rounds: the number of rounds, >= 1.
        n_per_round: the points tried per round, >= 1.
        shrink: the fraction of each range's width kept per round, in (0, 1].
        generator: the source of randomness (CPU).

    Returns:
        ``(trials, ranges)``: every :class:`Trial`, and the space of each round
        followed by the space after the last round (``rounds + 1`` entries); the
        best trial is ``.best``.
    """
    check_callable(objective, "objective", signature="objective(params) -> score")
    ranges = [_check_space(space)]
    rounds = check_positive_int(rounds, "rounds")
    n_per_round = check_positive_int(n_per_round, "n_per_round")
    shrink = check_finite_number(shrink, "shrink", low=0, high=1, low_open=True)
    _check_generator(generator)
    trials: list[Trial] = []
    for r in range(rounds):
        for params in random_search_space(ranges[-1], n_per_round, generator):
            trials.append(Trial(params, _score(objective(params)), r))
        best = max(trials, key=_rank)
        if math.isnan(best.score):
            ranges.append(dict(ranges[-1]))  # nothing to centre on yet
        else:
            ranges.append(
                {k: _narrow(v, best.params[k], shrink) for k, v in ranges[-1].items()}
            )
    return CoarseToFine(trials, ranges)


def _narrow(
    rng: tuple[float, float, str], best: float, shrink: float
) -> tuple[float, float, str]:
    """``shrink`` of the range's width around ``best``, moved inside the range."""
    low, high, scale = rng
    f, g = (math.log, math.exp) if scale == "log" else (float, float)
    lo, hi = f(low), f(high)
    half = shrink * (hi - lo) / 2
    # the new centre: the best point, moved so that [c - half, c + half] fits
    centre = min(max(f(best), lo + half), hi - half)
    new_low, new_high = g(centre - half), g(centre + half)
    return (max(new_low, low), min(new_high, high), scale)


def _rank(trial: Trial) -> float:
    return -math.inf if math.isnan(trial.score) else trial.score


def _score(value: Any) -> float:
    if isinstance(value, torch.Tensor) and value.numel() == 1:
        value = value.item()
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(
            f"objective must return a real number, got {type(value).__name__}"
        )
    return float(value)


def _check_mapping(value: Any, name: str, what: str) -> None:
    if not isinstance(value, Mapping):
        raise TypeError(f"{name} must be a dict {what}, got {type(value).__name__}")


def _check_generator(generator: Any) -> None:
    if not isinstance(generator, torch.Generator):
        raise TypeError(
            f"generator must be a torch.Generator, got {type(generator).__name__}"
        )


def _check_range(
    low: Any, high: Any, scale: str, low_name: str, high_name: str
) -> tuple[float, float]:
    """A finite range low < high; low > 0 on a log scale."""
    if scale == "log":
        low = check_finite_number(low, low_name, low=0, low_open=True)
    else:
        low = check_finite_number(low, low_name)
    high = check_finite_number(high, high_name)
    if not high > low:
        raise ValueError(f"{high_name} must be > {low_name} = {low!r}, got {high!r}")
    return low, high


def _check_space(space: Any) -> dict[str, tuple[float, float, str]]:
    _check_mapping(space, "space", "name -> (low, high, 'log' | 'linear')")
    if not space:
        raise ValueError("space must name at least one hyperparameter, got {}")
    checked = {}
    for name, rng in space.items():
        if not isinstance(rng, (tuple, list)) or len(rng) != 3:
            raise ValueError(
                f"space[{name!r}] must be (low, high, 'log' | 'linear'), got {rng!r}"
            )
        low, high, scale = rng
        scale = check_in(scale, f"space[{name!r}]'s scale", ("log", "linear"))
        where = f"space[{name!r}]'s "
        low, high = _check_range(low, high, scale, where + "low", where + "high")
        checked[name] = (low, high, scale)
    return checked
