"""Architectures exercises: each checker passes a right answer, names wrong ones."""

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from dlcv import exercises
from dlcv.exercises.architectures import (
    BasicBlockReference,
    bottleneck_reference,
    se_reference,
)


def text(result):
    """The report on one line: the checkers wrap long lines."""
    return " ".join(result.message.split())


# ---- parameters of a bottleneck block ------------------------------------------------
def bottleneck_params(in_channels, mid_channels, out_channels, stride=1, groups=1):
    convs = (
        in_channels * mid_channels  # 1x1 reduction
        + 9 * mid_channels * mid_channels // groups  # 3x3, each group sees C/g inputs
        + mid_channels * out_channels  # 1x1 expansion
    )
    norms = 2 * (2 * mid_channels + out_channels)  # a weight and a bias per channel
    shortcut = 0
    if stride != 1 or in_channels != out_channels:
        shortcut = in_channels * out_channels + 2 * out_channels
    return convs + norms + shortcut


def test_bottleneck_params_accepts_a_correct_solution(capsys):
    assert exercises.check_bottleneck_params(bottleneck_params)
    assert "✓ bottleneck_params: passed all 7 cases" in capsys.readouterr().out


def test_bottleneck_reference_counts_resnet50s_first_block():
    # ResNet-50's first block (64 -> 64 -> 256, projection): 75,008 parameters,
    # the count of torchvision's resnet50().layer1[0].
    block = bottleneck_reference(64, 64, 256, stride=1, groups=1)
    assert sum(p.numel() for p in block.parameters()) == 75_008
    assert bottleneck_params(64, 64, 256) == 75_008


@pytest.mark.parametrize(
    ("wrong", "problem"),
    [
        # the batch norms' running statistics counted as parameters
        (
            lambda i, m, o, stride=1, groups=1: (
                bottleneck_params(i, m, o, stride, groups) + 2 * (2 * m + o)
            ),
            "case 1 of 7 failed (identity shortcut",
        ),
        # the shortcut always projected
        (
            lambda i, m, o, stride=1, groups=1: bottleneck_params(i, m, o, 2, groups),
            "the result should be 70400, got 136448",
        ),
        # the shortcut projected only when the channels change, not for a stride
        (
            lambda i, m, o, stride=1, groups=1: bottleneck_params(i, m, o, 1, groups),
            "case 4 of 7 failed (stride 2, same channels",
        ),
        # groups ignored
        (
            lambda i, m, o, stride=1, groups=1: bottleneck_params(i, m, o, stride),
            "case 5 of 7 failed (ResNeXt",
        ),
        # a float, not an int
        (
            lambda i, m, o, stride=1, groups=1: float(
                bottleneck_params(i, m, o, stride, groups)
            ),
            "the result should be an int, got float",
        ),
    ],
)
def test_bottleneck_params_names_typical_mistakes(wrong, problem):
    result = exercises.check_bottleneck_params(wrong)
    assert not result and result.attempted
    assert problem in text(result)


# ---- squeeze-and-excitation ----------------------------------------------------------
def se_block(x, w1, b1, w2, b2):
    z = x.mean(dim=(2, 3))  # (N, C)
    s = torch.sigmoid(F.relu(z @ w1.T + b1) @ w2.T + b2)  # (N, C)
    return x * s[:, :, None, None]


def test_se_block_accepts_a_correct_solution(capsys):
    assert exercises.check_se_block(se_block)
    assert "✓ se_block: passed all 6 cases" in capsys.readouterr().out


def test_se_reference_matches_a_module_with_1x1_convolutions():
    # torchvision's SqueezeExcitation holds the two layers as 1x1 convolutions.
    g = torch.Generator().manual_seed(0)
    x = torch.randn(2, 8, 5, 5, generator=g, dtype=torch.float64)
    fc1 = nn.Conv2d(8, 2, 1, dtype=torch.float64)
    fc2 = nn.Conv2d(2, 8, 1, dtype=torch.float64)
    with torch.no_grad():
        s = torch.sigmoid(fc2(F.relu(fc1(F.adaptive_avg_pool2d(x, 1)))))
        ref = se_reference(
            x, fc1.weight[:, :, 0, 0], fc1.bias, fc2.weight[:, :, 0, 0], fc2.bias
        )
    torch.testing.assert_close(ref, x * s)


@pytest.mark.parametrize(
    ("wrong", "problem"),
    [
        # the sum over the image instead of the mean
        (
            lambda x, w1, b1, w2, b2: (
                se_block(x * x[0, 0].numel(), w1, b1, w2, b2) / x[0, 0].numel()
            ),
            "case 1 of 6 failed",
        ),
        # the channel weights without the sigmoid's squashing: softmax over channels
        (
            lambda x, w1, b1, w2, b2: (
                x
                * torch.softmax(F.relu(x.mean((2, 3)) @ w1.T + b1) @ w2.T + b2, 1)[
                    :, :, None, None
                ]
            ),
            "should be",
        ),
        # the weights returned instead of the rescaled maps
        (
            lambda x, w1, b1, w2, b2: torch.sigmoid(
                F.relu(x.mean((2, 3)) @ w1.T + b1) @ w2.T + b2
            ),
            "the result should have shape (2, 8, 5, 5), got (2, 8)",
        ),
        # max pooling instead of average pooling: right on 1x1 maps only
        (
            lambda x, w1, b1, w2, b2: (
                x
                * torch.sigmoid(F.relu(x.amax((2, 3)) @ w1.T + b1) @ w2.T + b2)[
                    :, :, None, None
                ]
            ),
            "case 1 of 6 failed",
        ),
    ],
)
def test_se_block_names_typical_mistakes(wrong, problem):
    result = exercises.check_se_block(wrong)
    assert not result and result.attempted
    assert problem in text(result)


def test_se_block_requires_gradients_through_every_input():
    def detached_weights(x, w1, b1, w2, b2):
        return se_block(x, w1.detach(), b1.detach(), w2.detach(), b2.detach())

    result = exercises.check_se_block(detached_weights)
    assert "your result does not depend on w1 through autograd" in text(result)


# ---- a residual basic block ----------------------------------------------------------
class BasicBlock(nn.Module):
    def __init__(self, in_channels, out_channels, stride=1):
        super().__init__()
        self.conv1 = nn.Conv2d(in_channels, out_channels, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(out_channels)
        self.conv2 = nn.Conv2d(out_channels, out_channels, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(out_channels)
        self.downsample = None
        if stride != 1 or in_channels != out_channels:
            self.downsample = nn.Sequential(
                nn.Conv2d(in_channels, out_channels, 1, stride, bias=False),
                nn.BatchNorm2d(out_channels),
            )

    def forward(self, x):
        shortcut = x if self.downsample is None else self.downsample(x)
        out = F.relu(self.bn1(self.conv1(x)))
        return F.relu(self.bn2(self.conv2(out)) + shortcut)


def test_basic_block_accepts_a_correct_class(capsys):
    assert exercises.check_basic_block(BasicBlock)
    assert "✓ basic_block: passed all 7 cases" in capsys.readouterr().out


def test_basic_block_reference_is_a_residual_block():
    # With the second batch norm's weight and bias at 0, the residual branch is 0 and
    # the block is relu(x) for an identity shortcut.
    block = BasicBlockReference(4, 4).eval()
    nn.init.zeros_(block.bn2.weight)
    x = torch.randn(2, 4, 5, 5)
    torch.testing.assert_close(block(x), F.relu(x))
    assert BasicBlockReference(4, 8, 2)(x).shape == (2, 8, 3, 3)


class NoShortcut(BasicBlock):
    def forward(self, x):
        return F.relu(self.bn2(self.conv2(F.relu(self.bn1(self.conv1(x))))))


class ReluBeforeAdd(BasicBlock):
    def forward(self, x):
        shortcut = x if self.downsample is None else self.downsample(x)
        out = F.relu(self.bn1(self.conv1(x)))
        return F.relu(self.bn2(self.conv2(out))) + shortcut


class ProjectOnChannelsOnly(BasicBlock):
    def __init__(self, in_channels, out_channels, stride=1):
        super().__init__(in_channels, out_channels, 1)  # the stride is forgotten


class OtherNames(nn.Module):
    def __init__(self, in_channels, out_channels, stride=1):
        super().__init__()
        self.branch = BasicBlock(in_channels, out_channels, stride)

    def forward(self, x):
        return self.branch(x)


@pytest.mark.parametrize(
    ("cls", "problem"),
    [
        (NoShortcut, "case 1 of 7 failed (identity shortcut"),
        (ReluBeforeAdd, "case 1 of 7 failed"),
        (ProjectOnChannelsOnly, "case 4 of 7 failed (stride 2"),
        (OtherNames, "your function raised RuntimeError"),
    ],
)
def test_basic_block_names_typical_mistakes(cls, problem):
    result = exercises.check_basic_block(cls)
    assert not result and result.attempted
    assert problem in text(result)


def test_basic_block_stub_is_not_attempted(capsys):
    class Stub(nn.Module):
        def __init__(self, in_channels, out_channels, stride=1):
            raise NotImplementedError

    result = exercises.check_basic_block(Stub)
    assert not result and not result.attempted
    assert "○ basic_block: not attempted yet" in capsys.readouterr().out
    with pytest.raises(TypeError, match="pass your class BasicBlock"):
        exercises.check_basic_block(None)
