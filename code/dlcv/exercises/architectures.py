r"""Checkers for the coding exercises of the CNN architectures chapter.

The chapter is ``book/architectures.md``.

* :func:`check_bottleneck_params` -- the number of parameters of a ResNet bottleneck
  block (1x1, 3x3 with ``groups``, 1x1 convolutions without biases, a batch norm after
  each, and a 1x1 projection shortcut when the shape changes); the reference counts
  the parameters of the block built from ``nn.Conv2d`` and ``nn.BatchNorm2d``.
* :func:`check_se_block` -- a squeeze-and-excitation block as a function of its
  weights, :math:`x \odot \sigma(W_2 \max(0, W_1 \bar x + b_1) + b_2)` with
  :math:`\bar x` the channel means (Hu et al., 2018); the reference is computed with
  ``torch`` and its gradients by autograd.
* :func:`check_basic_block` -- a residual basic block as an ``nn.Module`` whose
  parameters carry torchvision's names (``conv1``, ``bn1``, ``conv2``, ``bn2``,
  ``downsample.0``, ``downsample.1``), so that the reference block's state dict loads
  into it; outputs are compared in training and in evaluation mode.

No reference here comes from ``dlcv.models``: the blocks are rebuilt from
``torch.nn`` layers, so a checker cannot agree with a bug it shares.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from dlcv.exercises._core import (
    Case,
    CheckResult,
    compare_gradients,
    describe,
    run_cases,
)

__all__ = ["check_basic_block", "check_bottleneck_params", "check_se_block"]


# ---- parameters of a bottleneck block ------------------------------------------------
def bottleneck_reference(
    in_channels: int, mid_channels: int, out_channels: int, stride: int, groups: int
) -> nn.Module:
    """The bottleneck block's layers, to count their parameters.

    Args:
        in_channels: channels of the block's input.
        mid_channels: channels of the 1x1 reduction and of the 3x3 convolution.
        out_channels: channels of the block's output (the 1x1 expansion).
        stride: the 3x3 convolution's stride.
        groups: groups of the 3x3 convolution.
    """
    layers = nn.ModuleDict(
        {
            "conv1": nn.Conv2d(in_channels, mid_channels, 1, bias=False),
            "bn1": nn.BatchNorm2d(mid_channels),
            "conv2": nn.Conv2d(
                mid_channels, mid_channels, 3, stride, 1, groups=groups, bias=False
            ),
            "bn2": nn.BatchNorm2d(mid_channels),
            "conv3": nn.Conv2d(mid_channels, out_channels, 1, bias=False),
            "bn3": nn.BatchNorm2d(out_channels),
        }
    )
    if stride != 1 or in_channels != out_channels:
        layers["downsample"] = nn.Sequential(
            nn.Conv2d(in_channels, out_channels, 1, stride, bias=False),
            nn.BatchNorm2d(out_channels),
        )
    return layers


def check_bottleneck_params(fn: Callable[..., int]) -> CheckResult:
    """Check ``fn(in_channels, mid_channels, out_channels, stride=1, groups=1) -> int``.

    The block is ResNet's bottleneck: a 1x1 convolution from ``in_channels`` to
    ``mid_channels``, a 3x3 convolution with ``stride`` and ``groups``, a 1x1
    convolution to ``out_channels``, none with a bias, each followed by a batch norm
    (a weight and a bias per channel; its running statistics are buffers, not
    parameters). When ``stride != 1`` or ``in_channels != out_channels`` the shortcut
    is a strided 1x1 convolution and a batch norm; otherwise it is the identity. Cases:
    ResNet-50's first block of each kind, a downsampling block, ResNeXt's grouped block,
    a depthwise 3x3 and a tiny block.

    Args:
        fn: the reader's function.

    Returns:
        The verdict, which is also printed.
    """

    def case(description: str, c_in: int, mid: int, c_out: int, **kw: int) -> Case:
        stride, groups = kw.get("stride", 1), kw.get("groups", 1)
        block = bottleneck_reference(c_in, mid, c_out, stride, groups)
        count = sum(p.numel() for p in block.parameters())
        args = {"in_channels": c_in, "mid_channels": mid, "out_channels": c_out}
        return Case(
            description, args, count, kwargs={"stride": stride, "groups": groups}
        )

    cases = [
        case("identity shortcut, 256 -> 64 -> 256", 256, 64, 256),
        case("projection shortcut (channels change), 64 -> 64 -> 256", 64, 64, 256),
        case(
            "downsampling block, stride 2, 256 -> 128 -> 512", 256, 128, 512, stride=2
        ),
        case("stride 2, same channels: still a projection", 64, 16, 64, stride=2),
        case("ResNeXt, 32 groups, 256 -> 128 -> 256", 256, 128, 256, groups=32),
        case(
            "a depthwise 3x3 (groups = mid_channels), 32 -> 96 -> 32",
            32,
            96,
            32,
            groups=96,
        ),
        case("a tiny block, 4 -> 2 -> 8", 4, 2, 8),
    ]

    def is_int(result: Any, case: Case) -> str | None:
        if isinstance(result, bool) or not isinstance(result, int):
            return f"the result should be an int, got {type(result).__name__}"
        return None

    return run_cases(
        fn,
        cases,
        exercise="bottleneck_params",
        passed="counts the three convolutions, the batch norms' weights and biases "
        "and the projection shortcut exactly when there is one",
        check=is_int,
    )


# ---- squeeze-and-excitation ----------------------------------------------------------
def se_reference(
    x: torch.Tensor,
    w1: torch.Tensor,
    b1: torch.Tensor,
    w2: torch.Tensor,
    b2: torch.Tensor,
) -> torch.Tensor:
    """The squeeze-and-excitation block, differentiable in every input.

    Args:
        x: feature maps, shape (N, C, H, W).
        w1: the reduction's weights, shape (C // r, C) (``nn.Linear`` layout).
        b1: its biases, shape (C // r,).
        w2: the expansion's weights, shape (C, C // r).
        b2: its biases, shape (C,).

    Returns:
        The rescaled feature maps, shape (N, C, H, W).
    """
    z = x.mean(dim=(2, 3))  # squeeze: (N, C)
    s = torch.sigmoid(F.linear(F.relu(F.linear(z, w1, b1)), w2, b2))  # (N, C)
    return x * s[:, :, None, None]  # excite: (N, C, H, W)


def check_se_block(fn: Callable[..., torch.Tensor]) -> CheckResult:
    """Check ``fn(x, w1, b1, w2, b2) -> (N, C, H, W)``, a squeeze-and-excitation block.

    ``x`` is (N, C, H, W); ``w1`` (C/r, C), ``b1`` (C/r,), ``w2`` (C, C/r) and ``b2``
    (C,) are two ``nn.Linear`` layers. The block averages each channel over the image
    (squeeze), maps the C means through linear, ReLU, linear and sigmoid to one weight
    per channel (excitation), and multiplies each channel of ``x`` by its weight. The
    gradients with respect to all five inputs must match autograd's of the reference.
    Cases: float64 and float32, non-square maps (H != W), one image, 1x1 maps, and a
    reduction to a single unit.

    Args:
        fn: the reader's function.

    Returns:
        The verdict, which is also printed.
    """
    g = torch.Generator().manual_seed(8)

    def case(description: str, N: int, C: int, H: int, W: int, R: int, **kw) -> Case:
        dtype = kw.get("dtype", torch.float64)

        def rand(*shape: int) -> torch.Tensor:
            return torch.randn(*shape, generator=g, dtype=dtype)

        args = {"x": rand(N, C, H, W), "w1": rand(R, C), "b1": rand(R)}
        args |= {"w2": rand(C, R), "b2": rand(C)}
        with torch.no_grad():
            expected = se_reference(**args)
        tol = {"rtol": 1e-4, "atol": 1e-5} if dtype == torch.float32 else {}
        return Case(description, args, expected, **tol)

    cases = [
        case("float64, N=2, C=8, 5x5 maps, C/r=2", 2, 8, 5, 5, 2),
        case(
            "float32, N=3, C=16, 4x4 maps, C/r=4", 3, 16, 4, 4, 4, dtype=torch.float32
        ),
        case("non-square maps, 3x6", 2, 6, 3, 6, 3),
        case("one image, N=1", 1, 8, 4, 4, 2),
        case("1x1 maps: the mean is the value itself", 4, 8, 1, 1, 2),
        case("a reduction to one unit, C/r=1", 2, 4, 3, 3, 1),
    ]

    def same_gradients(result: Any, case: Case) -> str | None:
        ours = {k: v.detach().clone().requires_grad_() for k, v in case.args.items()}
        try:
            out = fn(*ours.values())
            dout = torch.linspace(-1, 1, out.numel(), dtype=out.dtype).reshape(
                out.shape
            )
            got = torch.autograd.grad(
                (out * dout).sum(), list(ours.values()), allow_unused=True
            )
        except RuntimeError as err:
            return f"backpropagating through your result failed: {err}"
        ref = {k: v.detach().clone().requires_grad_() for k, v in case.args.items()}
        want = torch.autograd.grad(
            (se_reference(**ref) * dout).sum(), list(ref.values())
        )
        return compare_gradients(case.args, want, got, case)

    return run_cases(
        fn,
        cases,
        exercise="se_block",
        passed="squeezes each channel to its mean, excites it through linear, ReLU, "
        "linear and sigmoid, and rescales the channels, with autograd's gradients",
        check=same_gradients,
    )


# ---- a residual basic block ----------------------------------------------------------
class BasicBlockReference(nn.Module):
    """ResNet's basic block with torchvision's parameter names.

    ``relu(bn2(conv2(relu(bn1(conv1(x))))) + shortcut(x))``, where the shortcut is the
    identity, or ``downsample`` (a strided 1x1 convolution and a batch norm) when the
    stride or the number of channels changes.

    Args:
        in_channels: channels of the input.
        out_channels: channels of both 3x3 convolutions and of the output.
        stride: the first convolution's (and the projection's) stride.
    """

    def __init__(self, in_channels: int, out_channels: int, stride: int = 1) -> None:
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

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """The block's output.

        Args:
            x: the input, shape (N, C_in, H, W).

        Returns:
            The output, shape (N, C_out, H', W').
        """
        shortcut = x if self.downsample is None else self.downsample(x)
        out = F.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return F.relu(out + shortcut)


def _randomized(block: nn.Module, g: torch.Generator) -> nn.Module:
    """Give every parameter and running statistic of ``block`` random values.

    Batch-norm weights and running variances are kept positive, so that evaluation
    mode differs from training mode in a way a wrong block cannot hide.

    Args:
        block: the module, changed in place and returned.
        g: the generator the values come from.
    """
    with torch.no_grad():
        for module in block.modules():
            for t in (*module.parameters(recurse=False), *module.buffers(False)):
                if t.is_floating_point():
                    t.copy_(torch.randn(t.shape, generator=g, dtype=t.dtype))
            if isinstance(module, nn.BatchNorm2d):
                module.weight.abs_().add_(0.5)
                module.running_var.abs_().add_(0.5)
    return block


def check_basic_block(cls: Callable[..., nn.Module]) -> CheckResult:
    """Check a residual basic block class ``cls(in_channels, out_channels, stride=1)``.

    ``cls`` must build an ``nn.Module`` whose parameters and buffers are named like
    torchvision's ``BasicBlock``: ``conv1``, ``bn1``, ``conv2``, ``bn2`` and, when the
    stride or the number of channels changes, ``downsample.0`` (a 1x1 convolution) and
    ``downsample.1`` (a batch norm). The checker copies a reference block's random
    weights and running statistics into it with ``load_state_dict`` and compares the
    outputs in training mode (batch statistics) and in evaluation mode (running
    statistics). Cases: an identity shortcut, a change of channels, a stride of 2,
    both, float64, and one image in evaluation mode.

    Args:
        cls: the reader's class (or any function returning the module).

    Returns:
        The verdict, which is also printed.
    """
    if not callable(cls):
        raise TypeError(f"pass your class BasicBlock itself, got {describe(cls)}")
    g = torch.Generator().manual_seed(18)

    def run(
        in_channels: int, out_channels: int, stride: int, x: torch.Tensor, train: bool
    ) -> Any:
        block = cls(in_channels, out_channels, stride)
        if block is NotImplemented:
            return NotImplemented
        if not isinstance(block, nn.Module):
            raise TypeError(
                f"BasicBlock(...) should be an nn.Module, got {describe(block)}"
            )
        ref = _reference_block(in_channels, out_channels, stride, x.dtype)
        block.to(x.dtype).load_state_dict(ref.state_dict())
        block.train(train)
        return block(x)

    blocks: dict[tuple, nn.Module] = {}

    def _reference_block(c_in: int, c_out: int, stride: int, dtype) -> nn.Module:
        """A fresh copy of the case's reference: training mode changes its stats."""
        key = (c_in, c_out, stride, dtype)
        if key not in blocks:
            blocks[key] = _randomized(
                BasicBlockReference(c_in, c_out, stride).to(dtype), g
            )
        return copy.deepcopy(blocks[key])

    def case(
        description: str, c_in: int, c_out: int, stride: int, shape, train=True, **kw
    ) -> Case:
        dtype = kw.get("dtype", torch.float32)
        x = torch.randn(*shape, generator=g, dtype=dtype)
        ref = _reference_block(c_in, c_out, stride, dtype)
        ref.train(train)
        with torch.no_grad():
            expected = ref(x)
        args = {"in_channels": c_in, "out_channels": c_out, "stride": stride, "x": x}
        args["train"] = train
        tol = {} if dtype == torch.float64 else {"rtol": 1e-4, "atol": 1e-5}
        return Case(description, args, expected, **tol)

    cases = [
        case(
            "identity shortcut, 8 -> 8 channels, training mode", 8, 8, 1, (4, 8, 6, 6)
        ),
        case("identity shortcut in evaluation mode", 8, 8, 1, (4, 8, 6, 6), False),
        case("more channels, 4 -> 8: a 1x1 projection", 4, 8, 1, (3, 4, 5, 5)),
        case("stride 2 and more channels, 8 -> 16", 8, 16, 2, (2, 8, 8, 8)),
        case("stride 2, odd size 7x7, evaluation mode", 8, 16, 2, (2, 8, 7, 7), False),
        case(
            "stride 2, same channels, float64",
            6,
            6,
            2,
            (2, 6, 6, 6),
            dtype=torch.float64,
        ),
        case("one image in evaluation mode", 4, 4, 1, (1, 4, 5, 5), False),
    ]
    return run_cases(
        run,
        cases,
        exercise="basic_block",
        passed="adds the identity or a projected shortcut to two 3x3 convolutions "
        "with batch norm, with torchvision's parameter names",
    )
