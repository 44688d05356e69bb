"""CNN chapter exercises: each checker passes a right answer, names wrong ones."""

import math

import pytest
import torch
import torch.nn.functional as F

from dlcv import exercises
from dlcv.exercises.cnn import (
    conv_cost_reference,
    max_pool_grad,
    measured_receptive_field,
)


def text(result):
    """The report on one line: the checkers wrap long lines."""
    return " ".join(result.message.split())


def stub(*args, **kwargs):
    raise NotImplementedError


# ---- convolution by shifted slices ---------------------------------------------------
def conv2d_shifts(x, weight, bias=None, stride=1, padding=0, flip=False):
    N, _, H, W = x.shape
    F_out, _, KH, KW = weight.shape
    if flip:  # the textbook convolution: kernel turned by 180 degrees
        weight = weight.flip(-1, -2)
    xp = F.pad(x, (padding, padding, padding, padding))  # (N, C, H + 2p, W + 2p)
    H_out = (H + 2 * padding - KH) // stride + 1
    W_out = (W + 2 * padding - KW) // stride + 1
    out = x.new_zeros(N, F_out, H_out, W_out)
    for i in range(KH):
        for j in range(KW):
            rows = slice(i, i + stride * (H_out - 1) + 1, stride)
            cols = slice(j, j + stride * (W_out - 1) + 1, stride)
            patch = xp[:, :, rows, cols]  # (N, C, H_out, W_out)
            out += torch.einsum("nchw,fc->nfhw", patch, weight[:, :, i, j])
    if bias is not None:
        out += bias[:, None, None]
    return out


def test_conv2d_shifts_accepts_a_correct_solution(capsys):
    assert exercises.check_conv2d_shifts(conv2d_shifts)
    assert "✓ conv2d_shifts: passed all 7 cases" in capsys.readouterr().out


def test_conv2d_shifts_reference_is_a_sliding_dot_product():
    x = torch.randn(1, 2, 4, 5, dtype=torch.float64)
    w = torch.randn(3, 2, 2, 3, dtype=torch.float64)
    out = F.conv2d(x, w)
    by_hand = torch.stack(
        [
            torch.stack(
                [(x[0, :, r : r + 2, c : c + 3] * w[f]).sum() for c in range(3)]
            )
            for f in range(3)
            for r in range(3)
        ]
    ).reshape(3, 3, 3)
    torch.testing.assert_close(out[0], by_hand)


@pytest.mark.parametrize(
    ("wrong", "problem"),
    [
        # a true convolution flips the kernel; deep-learning libraries do not
        (
            lambda x, w, b=None, s=1, p=0: conv2d_shifts(x, w, b, s, p, flip=True),
            "case 1 of 7 failed",
        ),
        # the bias forgotten
        (
            lambda x, w, b=None, s=1, p=0: conv2d_shifts(x, w, None, s, p),
            "case 1 of 7 failed (3x3 kernel with a bias",
        ),
        # padding ignored
        (
            lambda x, w, b=None, s=1, p=0: conv2d_shifts(x, w, b, s, 0),
            "should have shape (2, 3, 5, 5), got (2, 3, 3, 3)",
        ),
        # stride ignored
        (
            lambda x, w, b=None, s=1, p=0: conv2d_shifts(x, w, b, 1, p),
            "case 3 of 7 failed (stride 2",
        ),
        # always float64
        (
            lambda x, w, b=None, s=1, p=0: conv2d_shifts(
                x.double(), w.double(), None if b is None else b.double(), s, p
            ),
            "should have dtype torch.float32",
        ),
    ],
)
def test_conv2d_shifts_names_typical_mistakes(wrong, problem):
    result = exercises.check_conv2d_shifts(wrong)
    assert not result and result.attempted
    assert problem in text(result)
    assert "inputs: x = tensor of shape" in text(result)


def test_conv2d_shifts_catches_in_place_changes_and_stubs(capsys):
    def pads_in_place(x, weight, bias=None, stride=1, padding=0):
        out = conv2d_shifts(x, weight, bias, stride, padding)
        x.zero_()
        return out

    result = exercises.check_conv2d_shifts(pads_in_place)
    assert "modified its input x in place" in text(result)
    result = exercises.check_conv2d_shifts(stub)
    assert not result and not result.attempted
    assert "○ conv2d_shifts: not attempted yet" in capsys.readouterr().out


# ---- max-pool backward ---------------------------------------------------------------
def max_pool_backward(dout, x, kernel_size, stride):
    N, C, H, W = x.shape
    cols = F.unfold(x.reshape(N * C, 1, H, W), kernel_size, stride=stride)
    # cols: (N C, k k, L), one column per window
    winner = cols.argmax(dim=1, keepdim=True)  # (NC, 1, L): first maximum of a window
    dcols = torch.zeros_like(cols).scatter_(1, winner, dout.reshape(N * C, 1, -1))
    dx = F.fold(dcols, (H, W), kernel_size, stride=stride)  # sums overlapping windows
    return dx.reshape(N, C, H, W)


def test_max_pool_backward_accepts_a_correct_solution(capsys):
    assert exercises.check_max_pool_backward(max_pool_backward)
    assert "✓ max_pool_backward: passed all 7 cases" in capsys.readouterr().out


def test_max_pool_reference_routes_to_the_first_maximum():
    x = torch.tensor([[[[1.0, 3.0], [3.0, 2.0]]]])
    dx = max_pool_grad(torch.tensor([[[[5.0]]]]), x, 2, 2)
    torch.testing.assert_close(dx, torch.tensor([[[[0.0, 5.0], [0.0, 0.0]]]]))
    # overlapping windows add up: the centre of 3x3 is the max of all four windows
    x = torch.zeros(1, 1, 3, 3)
    x[0, 0, 1, 1] = 1.0
    dx = max_pool_grad(torch.ones(1, 1, 2, 2), x, 2, 1)
    assert dx[0, 0, 1, 1] == 4 and dx.sum() == 4


def test_max_pool_backward_names_typical_mistakes():
    def mask_every_tie(dout, x, kernel_size, stride):
        N, C, H, W = x.shape
        cols = F.unfold(x.reshape(N * C, 1, H, W), kernel_size, stride=stride)
        mask = cols == cols.amax(dim=1, keepdim=True)
        dcols = mask * dout.reshape(N * C, 1, -1)
        return F.fold(dcols, (H, W), kernel_size, stride=stride).reshape(x.shape)

    result = exercises.check_max_pool_backward(mask_every_tie)
    assert "case 5 of 7 failed (ties" in text(result)

    def overwrite_overlaps(dout, x, kernel_size, stride):  # = instead of +=
        dx = torch.zeros_like(x)
        H_out, W_out = dout.shape[-2:]
        for r in range(H_out):
            for c in range(W_out):
                rows = slice(r * stride, r * stride + kernel_size)
                cols = slice(c * stride, c * stride + kernel_size)
                window = x[:, :, rows, cols]
                first = window.flatten(2).argmax(dim=2)  # (N, C)
                local = torch.zeros_like(window).flatten(2)
                local.scatter_(2, first[..., None], dout[:, :, r, c][..., None])
                dx[:, :, rows, cols] = local.reshape(window.shape)
        return dx

    result = exercises.check_max_pool_backward(overwrite_overlaps)
    assert "case 3 of 7 failed (overlapping" in text(result)

    def spread_over_window(dout, x, kernel_size, stride):  # the average pool's rule
        N, C, H, W = x.shape
        dcols = dout.reshape(N * C, 1, -1).expand(-1, kernel_size**2, -1)
        dx = F.fold(dcols, (H, W), kernel_size, stride=stride) / kernel_size**2
        return dx.reshape(N, C, H, W)

    result = exercises.check_max_pool_backward(spread_over_window)
    assert "case 1 of 7 failed" in text(result) and "should be" in text(result)
    assert "inputs: dout = tensor of shape (2, 3, 2, 2)" in text(result)


def test_max_pool_backward_stub_is_not_attempted(capsys):
    result = exercises.check_max_pool_backward(stub)
    assert not result and not result.attempted
    assert "○ max_pool_backward: not attempted yet" in capsys.readouterr().out


# ---- receptive field -----------------------------------------------------------------
def receptive_field(kernel_sizes, strides):
    r, jump = 1, 1
    for k, s in zip(kernel_sizes, strides, strict=True):
        r += (k - 1) * jump  # each layer adds K - 1 steps of `jump` pixels
        jump *= s
    return r


def test_receptive_field_accepts_a_correct_solution(capsys):
    assert exercises.check_receptive_field(receptive_field)
    assert "✓ receptive_field: passed all 8 cases" in capsys.readouterr().out


def test_measured_receptive_field_matches_the_formulas():
    for L, K in [(1, 3), (3, 3), (4, 5), (2, 7)]:
        assert measured_receptive_field([K] * L, [1] * L) == 1 + L * (K - 1)
    ks, ss = [7, 3, 3, 3, 3, 3], [2, 2, 1, 1, 1, 1]
    closed = 1 + sum((k - 1) * math.prod(ss[:i]) for i, k in enumerate(ks))
    assert measured_receptive_field(ks, ss) == closed == 43


@pytest.mark.parametrize(
    ("wrong", "problem"),
    [
        # strides ignored: 1 + L (K - 1) for every stack
        (
            lambda ks, ss: 1 + sum(k - 1 for k in ks),
            "case 4 of 8 failed (three 3x3 layers, the first with stride 2)",
        ),
        # a layer's own stride counted in its step
        (
            lambda ks, ss: (
                1 + sum((k - 1) * math.prod(ss[: i + 1]) for i, k in enumerate(ks))
            ),
            "the result should be 11, got 13",
        ),
        # the kernel sizes added up
        (lambda ks, ss: sum(ks), "case 2 of 8 failed (three 3x3 layers, stride 1)"),
        # a float
        (
            lambda ks, ss: float(receptive_field(ks, ss)),
            "the result should be an int, got float",
        ),
    ],
)
def test_receptive_field_names_typical_mistakes(wrong, problem):
    result = exercises.check_receptive_field(wrong)
    assert not result and result.attempted
    assert problem in text(result)
    assert "inputs: kernel_sizes = list of" in text(result)


def test_receptive_field_stub_is_not_attempted(capsys):
    result = exercises.check_receptive_field(stub)
    assert not result and not result.attempted
    assert "○ receptive_field: not attempted yet" in capsys.readouterr().out


# ---- parameters and MACs of a convolution --------------------------------------------
def conv_cost(c_in, c_out, kernel_size, height, width, stride=1, padding=0, bias=True):
    h_out = (height + 2 * padding - kernel_size) // stride + 1
    w_out = (width + 2 * padding - kernel_size) // stride + 1
    weights = c_out * c_in * kernel_size**2
    return weights + (c_out if bias else 0), weights * h_out * w_out


def test_conv_cost_accepts_a_correct_solution(capsys):
    assert exercises.check_conv_cost(conv_cost)
    assert "✓ conv_cost: passed all 6 cases" in capsys.readouterr().out


def test_conv_cost_reference_counts_known_layers():
    # AlexNet conv1: 64 x 3 x 11 x 11 weights + 64 biases at 55 x 55 positions
    assert conv_cost_reference(3, 64, 11, 224, 224, 4, 2) == (
        23_296,
        64 * 3 * 121 * 55 * 55,
    )
    assert conv_cost_reference(1, 6, 5, 32, 32) == (156, 6 * 25 * 28 * 28)
    assert conv_cost_reference(4, 4, 1, 3, 3, bias=False) == (16, 16 * 9)


@pytest.mark.parametrize(
    ("wrong", "problem"),
    [
        # the bias forgotten
        (
            lambda ci, co, k, h, w, s=1, p=0, bias=True: (
                conv_cost(ci, co, k, h, w, s, p, False)[0],
                conv_cost(ci, co, k, h, w, s, p, bias)[1],
            ),
            "the result[0] should be 156, got 150",
        ),
        # MACs counted at every input position, not every output position
        (
            lambda ci, co, k, h, w, s=1, p=0, bias=True: (
                conv_cost(ci, co, k, h, w, s, p, bias)[0],
                co * ci * k * k * h * w,
            ),
            "the result[1] should be 117600, got 153600",
        ),
        # the output size rounded up
        (
            lambda ci, co, k, h, w, s=1, p=0, bias=True: (
                conv_cost(ci, co, k, h, w, s, p, bias)[0],
                co
                * ci
                * k
                * k
                * math.ceil((h + 2 * p - k) / s + 1)
                * math.ceil((w + 2 * p - k) / s + 1),
            ),
            "case 2 of 6 failed (AlexNet's conv1",
        ),
        # floats from a true division
        (
            lambda ci, co, k, h, w, s=1, p=0, bias=True: tuple(
                float(v) for v in conv_cost(ci, co, k, h, w, s, p, bias)
            ),
            "each count should be an int, got float",
        ),
    ],
)
def test_conv_cost_names_typical_mistakes(wrong, problem):
    result = exercises.check_conv_cost(wrong)
    assert not result and result.attempted
    assert problem in text(result)
    assert "inputs: c_in = " in text(result) and "bias = " in text(result)


def test_conv_cost_stub_is_not_attempted(capsys):
    result = exercises.check_conv_cost(stub)
    assert not result and not result.attempted
    assert "○ conv_cost: not attempted yet" in capsys.readouterr().out
