"""Understanding chapter exercises: checkers pass right answers and name wrong ones."""

import torch
import torch.nn.functional as F
from torch import nn

from dlcv.exercises import understanding as ex
from dlcv.exercises.understanding import (
    reference_integrated_gradients,
    reference_targeted_fgsm,
)


def text(result):
    """The report on one line: the checkers wrap long lines."""
    return " ".join(result.message.split())


def stub(*args, **kwargs):
    raise NotImplementedError


# ---- integrated gradients ------------------------------------------------------------
def integrated_gradients(model, x, target, baseline, steps):
    alphas = torch.arange(1, steps + 1, dtype=x.dtype) / steps  # (m,)
    path = baseline + alphas[:, None, None, None, None] * (x - baseline)  # (m, N, ...)
    path = path.reshape(-1, *x.shape[1:]).requires_grad_(True)  # (m N, C, H, W)
    y = target.repeat(steps)  # (m N,)
    s = model(path).gather(1, y[:, None]).sum()
    (grad,) = torch.autograd.grad(s, path)
    return (x - baseline) * grad.reshape(steps, *x.shape).mean(0)


def test_integrated_gradients_accepts_a_correct_solution(capsys):
    assert ex.check_integrated_gradients(integrated_gradients)
    assert "✓ integrated_gradients: passed all 4 cases" in capsys.readouterr().out


def test_integrated_gradients_reference_is_exact_for_a_linear_model():
    torch.manual_seed(0)
    model = nn.Sequential(nn.Flatten(), nn.Linear(8, 3)).double()
    x = torch.rand(2, 2, 2, 2, dtype=torch.float64)
    y = torch.tensor([0, 2])
    b = torch.zeros_like(x)
    W = model[1].weight.reshape(3, 2, 2, 2)
    expected = x * W[y]
    torch.testing.assert_close(
        reference_integrated_gradients(model, x, y, b, 3), expected
    )
    # completeness: the attributions sum to s_y(x) - s_y(b)
    ig = reference_integrated_gradients(model, x, y, b, 3)
    gap = model(x).gather(1, y[:, None])[:, 0] - model(b).gather(1, y[:, None])[:, 0]
    torch.testing.assert_close(ig.sum((1, 2, 3)), gap)


def test_integrated_gradients_rejects_wrong_solutions():
    # the plain gradient times the input, at x only: right for a linear model only
    def grad_times_input(model, x, target, baseline, steps):
        x = x.clone().requires_grad_(True)
        s = model(x).gather(1, target[:, None]).sum()
        return ((x - baseline) * torch.autograd.grad(s, x)[0]).detach()

    result = ex.check_integrated_gradients(grad_times_input)
    assert not result and result.attempted and "case 2" in text(result)

    # forgets the factor (x - b)
    def no_factor(model, x, target, baseline, steps):
        return integrated_gradients(model, x, target, baseline, steps) / (
            x - baseline
        ).clamp(min=1e-3)

    result = ex.check_integrated_gradients(no_factor)
    assert not result and "case 1" in text(result)

    # the path from k = 0 to m - 1 instead of 1 to m
    def left_sum(model, x, target, baseline, steps):
        b = baseline - (x - baseline) / steps
        return (
            integrated_gradients(model, x, target, b, steps) * (x - baseline) / (x - b)
        )

    result = ex.check_integrated_gradients(left_sum)
    assert not result and result.attempted


def test_integrated_gradients_stub_is_not_attempted():
    result = ex.check_integrated_gradients(stub)
    assert not result and not result.attempted


# ---- targeted FGSM -------------------------------------------------------------------
def targeted_fgsm(model, x, target, eps):
    x = x.clone().requires_grad_(True)
    loss = F.cross_entropy(model(x), target)
    (grad,) = torch.autograd.grad(loss, x)
    return (x - eps * grad.sign()).clamp(0, 1).detach()


def test_targeted_fgsm_accepts_a_correct_solution(capsys):
    assert ex.check_targeted_fgsm(targeted_fgsm)
    assert "✓ targeted_fgsm: passed all 4 cases" in capsys.readouterr().out


def test_targeted_fgsm_reference_raises_the_target_score():
    torch.manual_seed(1)
    model = nn.Sequential(nn.Flatten(), nn.Linear(8, 3)).double()
    x = torch.rand(5, 2, 2, 2, dtype=torch.float64) * 0.5 + 0.25
    t = torch.tensor([0, 1, 2, 0, 1])
    adv = reference_targeted_fgsm(model, x, t, 0.1)
    assert (adv - x).abs().max() <= 0.1 + 1e-12
    assert F.cross_entropy(model(adv), t) < F.cross_entropy(model(x), t)


def test_targeted_fgsm_rejects_wrong_solutions():
    # the untargeted step: up the loss instead of down
    def untargeted(model, x, target, eps):
        return targeted_fgsm(model, x, target, -eps)

    result = ex.check_targeted_fgsm(untargeted)
    assert not result and "case 1" in text(result)

    # no clipping
    def unclipped(model, x, target, eps):
        x = x.clone().requires_grad_(True)
        loss = F.cross_entropy(model(x), target)
        return (x - eps * torch.autograd.grad(loss, x)[0].sign()).detach()

    result = ex.check_targeted_fgsm(unclipped)
    assert not result and result.attempted


def test_targeted_fgsm_stub_is_not_attempted():
    result = ex.check_targeted_fgsm(stub)
    assert not result and not result.attempted
