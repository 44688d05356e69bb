"""Chapter 9 exercises: each checker passes a right answer, names wrong ones."""

import math

import torch

from dlcv import exercises


def text(result):
    """The report on one line: the checkers wrap long lines."""
    return " ".join(result.message.split())


def stub(*args, **kwargs):
    raise NotImplementedError


# ---- arithmetic intensity ------------------------------------------------------------
def intensity(m, k, n, bytes_per_element):
    return 2 * m * k * n / ((m * k + k * n + m * n) * bytes_per_element)


def test_arithmetic_intensity_accepts_a_correct_solution(capsys):
    assert exercises.check_arithmetic_intensity(intensity)
    assert "✓ arithmetic_intensity: passed all 6 cases" in capsys.readouterr().out


def test_arithmetic_intensity_square_case_is_n_over_6():
    assert math.isclose(intensity(1024, 1024, 1024, 4), 1024 / 6)


def test_arithmetic_intensity_names_wrong_answers():
    def macs_not_flops(m, k, n, b):
        return m * k * n / ((m * k + k * n + m * n) * b)

    def ignores_output(m, k, n, b):
        return 2 * m * k * n / ((m * k + k * n) * b)

    for wrong in (macs_not_flops, ignores_output):
        result = exercises.check_arithmetic_intensity(wrong, verbose=False)
        assert not result.passed and result.attempted
        assert "case 1 of 6 failed" in text(result)


def test_arithmetic_intensity_stub_is_not_attempted():
    result = exercises.check_arithmetic_intensity(stub, verbose=False)
    assert not result.attempted and "not attempted yet" in result.message


# ---- softplus as an autograd Function ------------------------------------------------
class Softplus(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return x.clamp(min=0) + torch.log1p(torch.exp(-x.abs()))

    @staticmethod
    def backward(ctx, dout):
        (x,) = ctx.saved_tensors
        return dout * torch.sigmoid(x)


class NaiveSoftplus(Softplus):
    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return torch.log(1 + torch.exp(x))


class WrongBackward(Softplus):
    @staticmethod
    def backward(ctx, dout):
        (x,) = ctx.saved_tensors
        s = torch.sigmoid(x)
        return dout * s * (1 - s)  # the sigmoid's derivative, one step too far


def test_softplus_accepts_a_correct_solution(capsys):
    assert exercises.check_softplus_function(Softplus.apply)
    assert "✓ softplus_function: passed all 4 cases" in capsys.readouterr().out


def test_softplus_names_an_overflowing_forward():
    result = exercises.check_softplus_function(NaiveSoftplus.apply, verbose=False)
    assert not result.passed
    assert "case 2 of 4 failed" in text(result) and "inf" in text(result)


def test_softplus_names_a_wrong_backward():
    result = exercises.check_softplus_function(WrongBackward.apply, verbose=False)
    assert not result.passed
    assert "gradient with respect to x" in text(result)


def test_softplus_rejects_plain_torch_ops():
    result = exercises.check_softplus_function(
        torch.nn.functional.softplus, verbose=False
    )
    assert not result.passed and "grad_fn is SoftplusBackward0" in text(result)


def test_softplus_stub_is_not_attempted():
    def softplus(x):
        raise NotImplementedError

    result = exercises.check_softplus_function(softplus, verbose=False)
    assert not result.attempted
