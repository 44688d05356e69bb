"""Backprop chapter exercises: each checker passes a right answer, names wrong ones."""

import pytest
import torch

from dlcv import exercises
from dlcv.exercises.backprop import _matmul_grads, _reference


def text(result):
    """The report on one line: the checkers wrap long lines."""
    return " ".join(result.message.split())


# ---- tanh layer ----------------------------------------------------------------------
def tanh_forward(x):
    out = torch.tanh(x)
    return out, out


def tanh_backward(dout, cache):
    return dout * (1 - cache**2)


def test_tanh_layer_accepts_a_correct_pair(capsys):
    assert exercises.check_tanh_layer(tanh_forward, tanh_backward)
    assert "✓ tanh_layer: passed all 7 cases" in capsys.readouterr().out


def test_tanh_layer_accepts_a_pair_that_caches_x():
    def forward(x):
        return torch.tanh(x), x

    def backward(dout, x):
        return dout / torch.cosh(x) ** 2

    assert exercises.check_tanh_layer(forward, backward)


def test_tanh_layer_reference_is_the_textbook_gradient():
    x = torch.randn(3, 4, dtype=torch.float64)
    dout = torch.randn(3, 4, dtype=torch.float64)
    ref = _reference(torch.tanh, x, dout)
    torch.testing.assert_close(ref["out"], torch.tanh(x))
    torch.testing.assert_close(ref["dx"], dout * (1 - torch.tanh(x) ** 2))
    assert torch.autograd.gradcheck(torch.tanh, x.clone().requires_grad_())


@pytest.mark.parametrize(
    ("forward", "backward", "problem"),
    [
        # the local gradient without the upstream gradient
        (tanh_forward, lambda dout, y: 1 - y**2, "the result['dx']"),
        # the derivative of the sigmoid's pattern, y (1 - y), used for tanh
        (tanh_forward, lambda dout, y: dout * y * (1 - y), "should be"),
        # 1 - y instead of 1 - y^2
        (tanh_forward, lambda dout, y: dout * (1 - y), "case 1 of 7 failed"),
        # the textbook formula by exponentials overflows for large |x|
        (
            lambda x: (((x.exp() - (-x).exp()) / (x.exp() + (-x).exp())),) * 2,
            lambda dout, y: dout * (1 - y**2),
            "case 7 of 7 failed (large |x|",
        ),
        # always float32: float64 inputs lose their dtype
        (
            lambda x: (torch.tanh(x.float()),) * 2,
            tanh_backward,
            "should have dtype torch.float64",
        ),
    ],
)
def test_tanh_layer_names_typical_mistakes(forward, backward, problem):
    result = exercises.check_tanh_layer(forward, backward)
    assert not result and result.attempted
    assert problem in text(result)
    assert "inputs: x = tensor of shape" in text(result)


def test_tanh_layer_catches_in_place_changes_and_bad_returns():
    def backward_in_place(dout, y):
        return dout.mul_(1 - y**2)

    result = exercises.check_tanh_layer(tanh_forward, backward_in_place)
    assert "modified its input dout in place" in text(result)

    def backward_spoils_cache(dout, y):
        return dout * (1 - y.pow_(2))

    result = exercises.check_tanh_layer(tanh_forward, backward_spoils_cache)
    assert "changed the forward's output in place" in text(result)

    result = exercises.check_tanh_layer(lambda x: torch.tanh(x), tanh_backward)
    assert "tanh_forward should return a pair (out, cache)" in text(result)

    result = exercises.check_tanh_layer(tanh_forward, lambda dout, y: None)
    assert "tanh_backward returned None" in text(result)


def test_tanh_layer_stubs_are_not_attempted(capsys):
    def stub(*args):
        raise NotImplementedError

    result = exercises.check_tanh_layer(stub, stub)
    assert not result and not result.attempted
    result = exercises.check_tanh_layer(tanh_forward, stub)
    assert not result and not result.attempted
    assert "○ tanh_layer: not attempted yet" in capsys.readouterr().out
    with pytest.raises(TypeError, match="pass your two functions"):
        exercises.check_tanh_layer(tanh_forward, None)


# ---- the max of each row -------------------------------------------------------------
def max_forward(x):
    out = x.amax(dim=1)
    return out, (x, out)


def max_backward(dout, cache):
    x, out = cache
    winners = (x == out[:, None]).to(x.dtype)  # (N, D), 1 at every maximum
    return winners * (dout / winners.sum(dim=1))[:, None]


def test_row_max_layer_accepts_a_correct_pair(capsys):
    assert exercises.check_row_max_layer(max_forward, max_backward)
    assert "✓ row_max_layer: passed all 6 cases" in capsys.readouterr().out


def test_row_max_reference_splits_ties_evenly():
    x = torch.tensor([[1.0, 3.0, 3.0], [2.0, 2.0, 2.0]])
    dout = torch.tensor([1.0, 6.0])
    ref = _reference(lambda t: t.amax(dim=1), x, dout)
    expected = torch.tensor([[0.0, 0.5, 0.5], [2.0, 2.0, 2.0]])
    torch.testing.assert_close(ref["dx"], expected)
    torch.testing.assert_close(ref["out"], torch.tensor([3.0, 2.0]))


def test_row_max_layer_names_typical_mistakes():
    def one_hot_argmax(dout, cache):  # every tie but the first is forgotten
        x, _out = cache
        dx = torch.zeros_like(x)
        dx[torch.arange(len(x)), x.argmax(dim=1)] = dout
        return dx

    result = exercises.check_row_max_layer(max_forward, one_hot_argmax)
    assert "case 3 of 6 failed (ties" in text(result)
    assert "the result['dx'][0, 1] should be" in text(result)

    def mask_only(dout, cache):  # every tied maximum gets the whole gradient
        x, out = cache
        return (x == out[:, None]) * dout[:, None]

    result = exercises.check_row_max_layer(max_forward, mask_only)
    assert "case 3 of 6 failed" in text(result) and "should be" in text(result)

    def wrong_axis(x):  # the max of each column
        out = x.amax(dim=0)
        return out, (x, out)

    result = exercises.check_row_max_layer(wrong_axis, max_backward)
    assert "case 1 of 6 failed" in text(result)
    assert "max_forward should return out of shape (4,), got (6,)" in text(result)

    def broadcast_everywhere(dout, cache):  # the add gate's rule, not the max gate's
        x, _out = cache
        return dout[:, None].expand_as(x).clone()

    result = exercises.check_row_max_layer(max_forward, broadcast_everywhere)
    assert not result and "inputs: x = tensor of shape (4, 6)" in text(result)


# ---- the batched matrix product ------------------------------------------------------
def matmul_backward(dout, x, weight):
    dx = dout @ weight.T  # (..., N, M) @ (M, D) -> (..., N, D)
    dweight = x.reshape(-1, x.shape[-1]).T @ dout.reshape(-1, dout.shape[-1])
    return dx, dweight


def test_batched_matmul_backward_accepts_a_correct_solution(capsys):
    assert exercises.check_batched_matmul_backward(matmul_backward)
    assert "✓ batched_matmul_backward: passed all 6 cases" in capsys.readouterr().out


def test_batched_matmul_reference_is_the_chapter_formula():
    x = torch.randn(2, 3, 4, dtype=torch.float64)
    w = torch.randn(4, 5, dtype=torch.float64)
    dout = torch.randn(2, 3, 5, dtype=torch.float64)
    dx, dw = _matmul_grads(dout, x, w)
    torch.testing.assert_close(dx, dout @ w.T)
    torch.testing.assert_close(dw, x[0].T @ dout[0] + x[1].T @ dout[1])


def test_batched_matmul_backward_names_typical_mistakes():
    def no_batch_sum(dout, x, weight):  # one dweight per matrix of the batch
        return dout @ weight.T, x.transpose(-1, -2) @ dout

    result = exercises.check_batched_matmul_backward(no_batch_sum)
    assert "case 2 of 6 failed" in text(result)
    assert "the result[1] should have shape (4, 5), got (2, 4, 5)" in text(result)

    def batch_mean(dout, x, weight):  # averaged instead of summed over the batch
        dweight = (x.transpose(-1, -2) @ dout).reshape(-1, *weight.shape)
        return dout @ weight.T, dweight.mean(dim=0)

    result = exercises.check_batched_matmul_backward(batch_mean)
    assert "case 2 of 6 failed" in text(result) and "should be" in text(result)

    def wrong_transpose(dout, x, weight):  # W instead of W^T: fails on shapes
        return dout @ weight, x.T @ dout

    result = exercises.check_batched_matmul_backward(wrong_transpose)
    assert "case 1 of 6 failed" in text(result)
    assert "your function raised RuntimeError" in text(result)
    assert "inputs: dout = tensor of shape (4, 5)" in text(result)

    def swapped_outputs(dout, x, weight):
        dx, dweight = matmul_backward(dout, x, weight)
        return dweight, dx

    result = exercises.check_batched_matmul_backward(swapped_outputs)
    assert "the result[0] should have shape (4, 3)" in text(result)
