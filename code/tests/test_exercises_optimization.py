"""Optimization exercises: each checker passes a right answer, names wrong ones."""

import math

import pytest
import torch

from dlcv import exercises
from dlcv.exercises.optimization import _torch_nesterov


def stub(*args, **kwargs):
    raise NotImplementedError


def text(result):
    """The checker's message with its line wrapping undone."""
    return " ".join(result.message.split())


# ---------------------------------------------------------------- Nesterov momentum


def nesterov_step(x, v, grad_f, *, lr, rho):
    v_next = rho * v - lr * grad_f(x + rho * v)  # the look-ahead gradient
    return x + v_next, v_next


def test_nesterov_step_accepts_the_lecture_form(capsys):
    assert exercises.check_nesterov_step(nesterov_step)
    assert "✓ nesterov_step: passed all 6 cases" in capsys.readouterr().out


def test_nesterov_step_accepts_an_in_place_solution():
    # The checker hands over copies, so updating x and v in place is harmless.
    def in_place(x, v, grad_f, *, lr, rho):
        gradient = grad_f(x + rho * v)
        v.mul_(rho).sub_(lr * gradient)
        return x.add_(v), v

    assert exercises.check_nesterov_step(in_place)


def test_nesterov_stub_is_not_attempted():
    result = exercises.check_nesterov_step(stub)
    assert not result and not result.attempted


def classic_momentum(x, v, grad_f, *, lr, rho):  # gradient where the ball is
    v_next = rho * v - lr * grad_f(x)
    return x + v_next, v_next


def torch_variables(x, v, grad_f, *, lr, rho):  # the look-ahead point, not x_t
    v_next = rho * v - lr * grad_f(x)
    return x - lr * grad_f(x) + rho * v_next, v_next


def old_velocity(x, v, grad_f, *, lr, rho):  # x_{t+1} = x_t + v_t: off by one
    return x + v, rho * v - lr * grad_f(x + rho * v)


def ascent(x, v, grad_f, *, lr, rho):  # + alpha: walks uphill
    v_next = rho * v + lr * grad_f(x + rho * v)
    return x + v_next, v_next


@pytest.mark.parametrize(
    ("wrong", "problem"),
    [
        # identical to Nesterov from rest, so only the second case catches it
        (classic_momentum, "case 2 of 6 failed (the chapter's valley"),
        (torch_variables, "the result['x'][1, 0] should be -8.8875"),
        (old_velocity, "case 1 of 6 failed (one step from rest"),
        (ascent, "should be"),
        (lambda x, v, g, *, lr, rho: x + v, "should give a tuple (x_next, v_next)"),
        (lambda x, v, g, *, lr, rho: None, "is a `return` missing?"),
    ],
)
def test_nesterov_step_names_typical_mistakes(wrong, problem):
    result = exercises.check_nesterov_step(wrong)
    assert not result and result.attempted
    assert problem in text(result)
    assert "inputs: x0 = tensor of shape (2,), float64" in text(result)


def test_nesterov_reference_is_the_lecture_form_in_float64():
    # torch's trajectory, mapped back by x = x~ - rho v, v = -lr b, against the
    # lecture's two lines written out on a rotated, shifted quadratic.
    a = torch.tensor([[7.0, -5.0], [-5.0, 19.0]], dtype=torch.float64)
    b = torch.tensor([1.0, -2.0], dtype=torch.float64)
    x0 = torch.tensor([3.0, 4.0], dtype=torch.float64)
    ref = _torch_nesterov(x0, a, b, 50, 0.01, 0.9)
    x, v = x0.clone(), torch.zeros(2, dtype=torch.float64)
    for t in range(1, 51):
        x, v = nesterov_step(x, v, lambda p: a @ p - b, lr=0.01, rho=0.9)
        torch.testing.assert_close(ref["x"][t], x)
        torch.testing.assert_close(ref["v"][t], v)


# ---------------------------------------------------------------- AdamW


def adamw_step(x, grad, m, v, t, *, lr, beta1, beta2, eps, weight_decay):
    x = x * (1 - lr * weight_decay)  # decoupled decay first
    m = beta1 * m + (1 - beta1) * grad
    v = beta2 * v + (1 - beta2) * grad * grad
    m_hat, v_hat = m / (1 - beta1**t), v / (1 - beta2**t)
    return x - lr * m_hat / (v_hat.sqrt() + eps), m, v


def test_adamw_step_accepts_a_correct_solution(capsys):
    assert exercises.check_adamw_step(adamw_step)
    assert "✓ adamw_step: passed all 6 cases" in capsys.readouterr().out
    assert not exercises.check_adamw_step(stub).attempted


def l2_decay(x, grad, m, v, t, *, lr, beta1, beta2, eps, weight_decay):
    # Adam(weight_decay=...): the decay goes through the moments
    g = grad + weight_decay * x
    return adamw_step(
        x, g, m, v, t, lr=lr, beta1=beta1, beta2=beta2, eps=eps, weight_decay=0.0
    )


def decay_without_lr(x, grad, m, v, t, *, lr, beta1, beta2, eps, weight_decay):
    x = x * (1 - weight_decay)  # PyTorch multiplies lambda by the learning rate
    return adamw_step(
        x, grad, m, v, t, lr=lr, beta1=beta1, beta2=beta2, eps=eps, weight_decay=0.0
    )


def no_bias_correction(x, grad, m, v, t, *, lr, beta1, beta2, eps, weight_decay):
    x = x * (1 - lr * weight_decay)
    m = beta1 * m + (1 - beta1) * grad
    v = beta2 * v + (1 - beta2) * grad * grad
    return x - lr * m / (v.sqrt() + eps), m, v


def counter_from_zero(x, grad, m, v, t, *, lr, beta1, beta2, eps, weight_decay):
    return adamw_step(  # the seed's bug: t - 1 = 0 at the first step
        x,
        grad,
        m,
        v,
        t - 1,
        lr=lr,
        beta1=beta1,
        beta2=beta2,
        eps=eps,
        weight_decay=weight_decay,
    )


@pytest.mark.parametrize(
    ("wrong", "problem"),
    [
        (l2_decay, "the result['x'][1, 0] should be -8.81"),
        (decay_without_lr, "should be -8.81, got -8 ("),
        (no_bias_correction, "case 1 of 6 failed (one step, t = 1)"),
        (counter_from_zero, "got nan"),
    ],
)
def test_adamw_step_names_typical_mistakes(wrong, problem):
    result = exercises.check_adamw_step(wrong)
    assert not result and result.attempted
    assert problem in text(result)
    assert "weight_decay = 0.1" in text(result)


def test_adamw_step_catches_the_decay_applied_after_the_step():
    def decay_after(x, grad, m, v, t, *, lr, beta1, beta2, eps, weight_decay):
        x, m, v = adamw_step(
            x,
            grad,
            m,
            v,
            t,
            lr=lr,
            beta1=beta1,
            beta2=beta2,
            eps=eps,
            weight_decay=0.0,
        )
        return x * (1 - lr * weight_decay), m, v

    result = exercises.check_adamw_step(decay_after)
    assert not result and "should be -8.81, got -8.811" in text(result)


# ---------------------------------------------------------------- cosine schedule


def cosine_schedule(lr0, T, lr_min):
    t = torch.arange(T + 1, dtype=torch.float64)
    return lr_min + 0.5 * (lr0 - lr_min) * (1 + torch.cos(math.pi * t / T))


def test_cosine_schedule_accepts_a_correct_solution_in_any_float_dtype(capsys):
    assert exercises.check_cosine_schedule(cosine_schedule)
    assert "✓ cosine_schedule: passed all 5 cases" in capsys.readouterr().out
    assert exercises.check_cosine_schedule(lambda *a: cosine_schedule(*a).float())
    assert not exercises.check_cosine_schedule(stub).attempted


@pytest.mark.parametrize(
    ("wrong", "problem"),
    [
        # T values 0..T-1 instead of 0..T: off by one
        (
            lambda lr0, T, lr_min: cosine_schedule(lr0, T, lr_min)[:-1],
            "should have shape (11,), got (10,)",
        ),
        # lr_min forgotten: correct only when lr_min = 0
        (
            lambda lr0, T, lr_min: cosine_schedule(lr0, T, 0.0),
            "case 2 of 5 failed (T = 100, lr0 = 0.5, lr_min = 1e-3)",
        ),
        # cos(t / T) without pi
        (
            lambda lr0, T, lr_min: (
                lr_min + 0.5 * (lr0 - lr_min) * (1 + torch.cos(torch.arange(T + 1) / T))
            ),
            "the result[1] should be",
        ),
        # a Python list, not a tensor
        (
            lambda lr0, T, lr_min: cosine_schedule(lr0, T, lr_min).tolist(),
            "should be a torch.Tensor, got list",
        ),
    ],
)
def test_cosine_schedule_names_typical_mistakes(wrong, problem):
    result = exercises.check_cosine_schedule(wrong)
    assert not result and result.attempted
    assert problem in text(result)
    assert "inputs: lr0 = " in text(result)
