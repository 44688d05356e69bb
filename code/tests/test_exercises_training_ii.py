"""Training II chapter exercises: checkers pass right answers and name wrong ones."""

import math

import pytest
import torch

from dlcv import exercises
from dlcv.exercises.training_ii import torch_running_average, torch_warmup_cosine


def text(result):
    """The report on one line: the checkers wrap long lines."""
    return " ".join(result.message.split())


def stub(*args, **kwargs):
    raise NotImplementedError


# ---- cosine with warmup --------------------------------------------------------------
def warmup_cosine_lr(t, lr0, warmup_steps, total_steps, eta_min=0.0):
    if t < warmup_steps:
        return lr0 * (t + 1) / warmup_steps
    frac = (t - warmup_steps) / (total_steps - warmup_steps)
    return eta_min + 0.5 * (lr0 - eta_min) * (1 + math.cos(math.pi * frac))


def test_warmup_cosine_accepts_a_correct_solution(capsys):
    assert exercises.check_warmup_cosine_lr(warmup_cosine_lr)
    assert "✓ warmup_cosine_lr: passed all 4 cases" in capsys.readouterr().out


def test_warmup_cosine_reference_rises_linearly_then_falls_to_eta_min():
    rates = torch_warmup_cosine(1.0, 4, 20, eta_min=0.1)
    assert rates[:4].tolist() == pytest.approx([0.25, 0.5, 0.75, 1.0])
    assert rates[4].item() == pytest.approx(1.0)
    assert bool((rates[4:].diff() < 0).all())
    assert rates[-1].item() > 0.1


@pytest.mark.parametrize(
    "wrong, words",
    [
        # warmup from t / W: starts at 0, one step late
        (
            lambda t, lr0, w, T, e=0.0: (
                warmup_cosine_lr(t - 1, lr0, w, T, e)
                if t < w
                else warmup_cosine_lr(t, lr0, w, T, e)
            ),
            "case 1",
        ),
        # the cosine over all T steps instead of T - W
        (
            lambda t, lr0, w, T, e=0.0: (
                lr0 * (t + 1) / w
                if t < w
                else e + 0.5 * (lr0 - e) * (1 + math.cos(math.pi * t / T))
            ),
            "case 1",
        ),
        # eta_min ignored
        (lambda t, lr0, w, T, e=0.0: warmup_cosine_lr(t, lr0, w, T), "case 3"),
    ],
)
def test_warmup_cosine_rejects_wrong_solutions(wrong, words):
    result = exercises.check_warmup_cosine_lr(wrong)
    assert not result and result.attempted
    assert words in text(result)


def test_warmup_cosine_stub_is_not_attempted():
    result = exercises.check_warmup_cosine_lr(stub)
    assert not result and not result.attempted


def test_warmup_cosine_reference_rejects_bad_sizes():
    with pytest.raises(ValueError, match="warmup_steps"):
        torch_warmup_cosine(0.1, 1, 10)
    with pytest.raises(ValueError, match="warmup_steps"):
        torch_warmup_cosine(0.1, 10, 10)


# ---- Polyak averaging ----------------------------------------------------------------
@torch.no_grad()
def running_average_(averaged, model, n_averaged):
    for a, w in zip(averaged.parameters(), model.parameters(), strict=True):
        a.add_((w - a) / (n_averaged + 1))


def test_running_average_accepts_a_correct_solution(capsys):
    assert exercises.check_running_average(running_average_)
    assert "✓ running_average: passed all 4 cases" in capsys.readouterr().out


def test_running_average_reference_is_the_mean_of_the_iterates():
    # one step: the average is a copy of the weights after that step
    one = torch_running_average(1, 1, torch.float64)
    assert all(torch.isfinite(p).all() for p in one)
    two = torch_running_average(1, 2, torch.float64)
    assert any(not torch.equal(a, b) for a, b in zip(one, two, strict=True))


@pytest.mark.parametrize(
    "wrong, words",
    [
        # an EMA instead of the equal-weight mean
        (
            torch.no_grad()(
                lambda a, m, n: [
                    x.lerp_(w, 0.1)
                    for x, w in zip(a.parameters(), m.parameters(), strict=True)
                ]
            ),
            "case 1",
        ),
        # off by one: divides by n instead of n + 1 (and never copies)
        (
            torch.no_grad()(
                lambda a, m, n: [
                    x.add_((w - x) / (n + 2))
                    for x, w in zip(a.parameters(), m.parameters(), strict=True)
                ]
            ),
            "case 1",
        ),
    ],
)
def test_running_average_rejects_wrong_solutions(wrong, words):
    result = exercises.check_running_average(wrong)
    assert not result and result.attempted
    assert words in text(result)


def test_running_average_stub_is_not_attempted():
    result = exercises.check_running_average(stub)
    assert not result and not result.attempted


# ---- few-shot split ------------------------------------------------------------------
def few_shot(y, per_class, generator):
    picks = []
    for c in torch.unique(y):
        idx = torch.nonzero(y == c).flatten()
        if len(idx) < per_class:
            raise ValueError(f"class {int(c)} has {len(idx)} < {per_class} examples")
        picks.append(idx[torch.randperm(len(idx), generator=generator)[:per_class]])
    return torch.cat(picks).sort().values


def test_few_shot_accepts_a_correct_solution(capsys):
    assert exercises.check_few_shot(few_shot)
    assert "✓ few_shot: passed all 4 cases" in capsys.readouterr().out


def first_k(y, per_class, generator):  # deterministic: ignores the generator
    return (
        torch.cat(
            [torch.nonzero(y == c).flatten()[:per_class] for c in torch.unique(y)]
        )
        .sort()
        .values
    )


def unsorted(y, per_class, generator):
    return few_shot(y, per_class, generator).flip(0)


def no_error(y, per_class, generator):  # takes what there is when a class is short
    picks = []
    for c in torch.unique(y):
        idx = torch.nonzero(y == c).flatten()
        picks.append(idx[torch.randperm(len(idx), generator=generator)[:per_class]])
    return torch.cat(picks).sort().values


def vague_error(y, per_class, generator):
    try:
        return few_shot(y, per_class, generator)
    except ValueError:
        raise ValueError("not enough examples") from None


def int32(y, per_class, generator):
    return few_shot(y, per_class, generator).int()


@pytest.mark.parametrize(
    "wrong, words",
    [
        (first_k, "another seed, another split"),
        (unsorted, "sorted"),
        (no_error, "no error"),
        (vague_error, "does not name class [6]"),
        (int32, "torch.int64"),
        (lambda y, k, g: few_shot(y, k + 1, g), "counts per class"),
    ],
)
def test_few_shot_rejects_wrong_solutions(wrong, words):
    result = exercises.check_few_shot(wrong)
    assert not result and result.attempted
    assert words in text(result)


def test_few_shot_stub_is_not_attempted():
    result = exercises.check_few_shot(stub)
    assert not result and not result.attempted
