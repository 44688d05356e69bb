"""Linear chapter exercises: each checker passes a right answer, names wrong ones."""

import pytest
import torch
import torch.nn.functional as F
from torch.testing import assert_close

from dlcv import exercises, linear
from dlcv.exercises.linear import (
    crammer_singer_reference,
    smoothed_cross_entropy_reference,
    squared_hinge_reference,
)


def problem(seed, n=25, d=6, c=5, dtype=torch.float64):
    g = torch.Generator().manual_seed(seed)
    W = torch.randn(c, d, generator=g, dtype=dtype)
    X = torch.randn(n, d, generator=g, dtype=dtype)
    y = torch.randint(0, c, (n,), generator=g)
    return W, X, y


# --- squared hinge --------------------------------------------------------------------


def squared_hinge(W, X, y, delta):
    N, rows = X.shape[0], torch.arange(X.shape[0])
    scores = X @ W.T  # (N, C)
    margins = (scores - scores[rows, y][:, None] + delta).clamp(min=0)
    margins[rows, y] = 0
    coeff = 2 * margins  # d/dm of m^2
    coeff[rows, y] = -coeff.sum(dim=1)
    return margins.square().sum() / N, coeff.T @ X / N


def test_squared_hinge_accepts_a_vectorized_solution(capsys):
    assert exercises.check_squared_hinge_loss(squared_hinge)
    assert "✓ squared_hinge_loss: passed all 7 cases" in capsys.readouterr().out


def test_squared_hinge_reference_is_the_formula():
    W, X, y = problem(1)
    for delta in (0.0, 1.0, 3.0):
        loss, dW = squared_hinge_reference(W, X, y, delta)
        s = X @ W.T
        m = (s - s.gather(1, y[:, None]) + delta).clamp(min=0)
        m[torch.arange(len(y)), y] = 0
        assert_close(loss, m.square().sum(1).mean())
        _, dW_ours = squared_hinge(W, X, y, delta)
        assert_close(dW, dW_ours)


def _squared_hinge_with_j_equal_y(W, X, y, delta):  # forgets to skip j = y_i
    scores = X @ W.T
    m = (scores - scores.gather(1, y[:, None]) + delta).clamp(min=0)
    _, dW = squared_hinge(W, X, y, delta)
    return m.square().sum() / len(y), dW


def _squared_hinge_in_place(W, X, y, delta):
    X.mul_(2.0)  # rescales the caller's examples
    return squared_hinge(W, X / 2, y, delta)


@pytest.mark.parametrize(
    ("wrong", "problem_text"),
    [
        # the plain hinge: the loss and gradient of Eq. (3), not squared
        (
            lambda W, X, y, d: linear.svm_loss_vectorized(W, X, y, margin=d),
            "case 1 of 7 failed",
        ),
        # the margin term counted for j = y_i: adds delta^2 to every L_i
        (_squared_hinge_with_j_equal_y, "the result[0] should be"),
        # the gradient without the factor 2 of the square
        (
            lambda W, X, y, d: (
                squared_hinge(W, X, y, d)[0],
                squared_hinge(W, X, y, d)[1] / 2,
            ),
            "the result[1]",
        ),
        # a sum over examples, not the mean
        (
            lambda W, X, y, d: tuple(len(y) * t for t in squared_hinge(W, X, y, d)),
            "should be",
        ),
        # the gradient transposed: (D, C) instead of (C, D)
        (
            lambda W, X, y, d: (
                squared_hinge(W, X, y, d)[0],
                squared_hinge(W, X, y, d)[1].T,
            ),
            "should have shape (3, 4)",
        ),
        (_squared_hinge_in_place, "modified its input X in place"),
    ],
)
def test_squared_hinge_names_typical_mistakes(wrong, problem_text):
    result = exercises.check_squared_hinge_loss(wrong)
    assert not result and result.attempted
    assert problem_text in result.message
    assert "inputs: W = tensor of shape" in result.message


def test_squared_hinge_float32_always_fails_on_float64():
    def float32(W, X, y, delta):
        return tuple(t.float() for t in squared_hinge(W, X, y, delta))

    result = exercises.check_squared_hinge_loss(float32)
    assert "case 2 of 7 failed (float64" in result.message
    assert "should have dtype torch.float64" in result.message


# --- Crammer-Singer -------------------------------------------------------------------


def crammer_singer(W, X, y, delta):
    N, rows = X.shape[0], torch.arange(X.shape[0])
    scores = X @ W.T  # (N, C)
    others = scores.clone()
    others[rows, y] = float("-inf")
    top = others.argmax(dim=1)  # the most violating wrong class
    margin = (delta + others[rows, top] - scores[rows, y]).clamp(min=0)
    active = (margin > 0).to(X.dtype)  # (N,)
    coeff = torch.zeros_like(scores)
    coeff[rows, top] += active
    coeff[rows, y] -= active
    return margin.mean(), coeff.T @ X / N


def test_crammer_singer_accepts_a_correct_solution(capsys):
    assert exercises.check_crammer_singer_loss(crammer_singer)
    assert "✓ crammer_singer_loss: passed all 7 cases" in capsys.readouterr().out


def test_crammer_singer_equals_the_svm_loss_for_two_classes():
    W, X, y = problem(2, c=2)
    for delta in (0.5, 1.0):
        ref = crammer_singer_reference(W, X, y, delta)
        ours = linear.svm_loss_vectorized(W, X, y, margin=delta)
        assert_close(ref, ours)


def test_crammer_singer_names_typical_mistakes():
    # the sum over violations (Weston-Watkins), not the largest one
    result = exercises.check_crammer_singer_loss(
        lambda W, X, y, d: linear.svm_loss_vectorized(W, X, y, margin=d)
    )
    assert not result and "case 1 of 7 failed" in result.message
    assert "should be" in result.message

    def max_over_all_classes(W, X, y, delta):  # j = y_i not excluded from the max
        scores = X @ W.T
        rows = torch.arange(len(y))
        top = scores.argmax(dim=1)
        margin = (delta + scores[rows, top] - scores[rows, y]).clamp(min=0)
        coeff = torch.zeros_like(scores)
        coeff[rows, top] += 1.0
        coeff[rows, y] -= 1.0
        return margin.mean(), coeff.T @ X / len(y)

    result = exercises.check_crammer_singer_loss(max_over_all_classes)
    assert not result and "should be" in result.message
    assert "inputs: W = tensor of shape" in result.message

    def no_gradient_mask(W, X, y, delta):  # gradient also where the margin is met
        loss, _ = crammer_singer(W, X, y, delta)
        _, dW = crammer_singer(W, X, y, 1e9)  # every example counted as violating
        return loss, dW

    result = exercises.check_crammer_singer_loss(no_gradient_mask)
    assert not result and "the result[1]" in result.message


# --- label smoothing ------------------------------------------------------------------


def smoothed_cross_entropy(W, X, y, epsilon):
    N, C = X.shape[0], W.shape[0]
    scores = X @ W.T  # (N, C)
    shifted = scores - scores.amax(dim=1, keepdim=True)
    logp = shifted - shifted.exp().sum(dim=1, keepdim=True).log()
    q = torch.full_like(scores, epsilon / C)
    q[torch.arange(N), y] += 1 - epsilon
    return -(q * logp).sum() / N, (logp.exp() - q).T @ X / N


def test_smoothed_cross_entropy_accepts_a_stable_solution(capsys):
    assert exercises.check_smoothed_cross_entropy(smoothed_cross_entropy)
    assert "✓ smoothed_cross_entropy: passed all 7 cases" in capsys.readouterr().out


def test_smoothed_cross_entropy_reference_matches_dlcv_without_smoothing():
    W, X, y = problem(3)
    assert_close(
        smoothed_cross_entropy_reference(W, X, y, 0.0),
        linear.softmax_loss_vectorized(W, X, y),
    )
    loss, _ = smoothed_cross_entropy_reference(W, X, y, 0.2)
    logp = F.log_softmax(X @ W.T, dim=1)
    expected = 0.8 * F.nll_loss(logp, y) - 0.2 * logp.mean(dim=1).mean()
    assert_close(loss, expected)


def test_smoothed_cross_entropy_names_typical_mistakes():
    def naive_softmax(W, X, y, epsilon):  # exp without subtracting the maximum
        N, C = X.shape[0], W.shape[0]
        e = (X @ W.T).exp()
        p = e / e.sum(dim=1, keepdim=True)
        q = torch.full_like(p, epsilon / C)
        q[torch.arange(N), y] += 1 - epsilon
        return -(q * p.log()).sum() / N, (p - q).T @ X / N

    result = exercises.check_smoothed_cross_entropy(naive_softmax)
    assert not result and "case 7 of 7 failed (huge scores" in result.message
    assert "should be" in result.message

    def spread_over_wrong_classes(W, X, y, epsilon):  # epsilon / (C - 1), not / C
        N, C = X.shape[0], W.shape[0]
        logp = torch.log_softmax(X @ W.T, dim=1)
        q = torch.full_like(logp, epsilon / (C - 1))
        q[torch.arange(N), y] = 1 - epsilon
        return -(q * logp).sum() / N, (logp.exp() - q).T @ X / N

    result = exercises.check_smoothed_cross_entropy(spread_over_wrong_classes)
    assert not result and "case 1 of 7 failed" in result.message
    assert "the result[0] should be" in result.message

    def plain_gradient(W, X, y, epsilon):  # gradient of the unsmoothed loss
        loss, _ = smoothed_cross_entropy(W, X, y, epsilon)
        return loss, linear.softmax_loss_vectorized(W, X, y)[1]

    result = exercises.check_smoothed_cross_entropy(plain_gradient)
    assert not result and "the result[1]" in result.message

    def returns_python_float(W, X, y, epsilon):
        loss, dW = smoothed_cross_entropy(W, X, y, epsilon)
        return loss.item(), dW

    result = exercises.check_smoothed_cross_entropy(returns_python_float)
    assert "the result[0] should be a torch.Tensor, got 1.48" in result.message


def test_stubs_are_not_attempted():
    def stub(W, X, y, value):
        raise NotImplementedError

    for check in (
        exercises.check_squared_hinge_loss,
        exercises.check_crammer_singer_loss,
        exercises.check_smoothed_cross_entropy,
    ):
        result = check(stub)
        assert not result and not result.attempted
        assert "not attempted yet" in result.message
