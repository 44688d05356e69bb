r"""The classic CNN architectures (lecture 8, chapter "CNN architectures"; LeNet-5 for
lecture 7, chapter "Convolutional networks").

Taught by ``book/architectures.md`` (and ``book/cnn.md`` for LeNet-5): from LeNet-5 and
AlexNet through VGG, ResNet, ResNeXt, squeeze-and-excitation, DenseNet and MobileNet,
and the three numbers that compare them: parameters, multiply-adds (MACs) and the memory
that activations take. One parametrised block per family, configs as small literal
lists, and a forward pass that reads top to bottom.

Every constructor is keyword-only, ``(*, num_classes=1000, in_channels=3,
small_input=False, **kwargs)`` (LeNet-5: 10 classes and 1 channel), where
``small_input=True`` builds the variant for 28x28 grey images (Fashion-MNIST, with
``in_channels=1, num_classes=10``): a 3x3 stride-1 stem and no stem max-pool (VGG:
only its first three max-pools), so that the image is not shrunk to nothing. Base
widths (``width=64`` for AlexNet, VGG and ResNet; ``width_mult`` for MobileNets;
``growth_rate`` and ``num_init_features`` for DenseNet) let a chapter train narrow
variants on a CPU in seconds.

The equations, in the chapter's symbols:

- residual block (He et al. 2016): :math:`y = \mathrm{ReLU}(F(x) + S(x))`, with
  :math:`S` the identity or a strided 1x1 convolution with batch norm;
- squeeze-and-excitation (Hu et al. 2018): :math:`z = \mathrm{GAP}(x)`,
  :math:`s = \sigma(W_2 \, \mathrm{ReLU}(W_1 z))`, :math:`y = x \odot s`;
- dense block (Huang et al. 2017): :math:`x_l = H_l([x_0, x_1, \dots, x_{l-1}])`, so
  block input :math:`C_0` channels and :math:`L` layers of growth :math:`k` give
  :math:`C_0 + L k` channels;
- depthwise separable convolution (Howard et al. 2017) costs
  :math:`D_K^2 M D_F^2 + M N D_F^2` MACs instead of :math:`D_K^2 M N D_F^2`.

Torch counterparts: ``torchvision.models`` for every model but LeNet-5, MobileNet v1
and SE-ResNet-50, under the same class, function and parameter names, so that
``model.load_state_dict(torchvision_model.state_dict())`` works at the ImageNet config
(checked by hand against torchvision 0.28; the test suite does not depend on
torchvision). :class:`SEBlock` has the parameter names of
``torchvision.ops.SqueezeExcitation`` and :func:`conv_bn_act` builds what
``torchvision.ops.Conv2dNormActivation`` builds. Deliberate differences: validated
arguments, ``in_channels``, ``small_input`` and the base widths; DenseNet's layers take
the concatenated tensor instead of a list (same numbers, no ``memory_efficient``).

Papers: LeCun et al. (1998), Krizhevsky et al. (2012), Simonyan and Zisserman (2015),
He et al. (2016), Xie et al. (2017), Hu et al. (2018), Huang et al. (2017), Howard et
al. (2017), Sandler et al. (2018), Goyal et al. (2017) for ``zero_init_residual``.

The chapter's equations (``book/architectures.md``, chapter 8), tagged in the code
below: (8.1) ``arch-conv-cost``, (8.3) ``arch-residual``, (8.5) ``arch-resnext``,
(8.6) ``arch-se``, (8.7) ``arch-dense`` and (8.8) ``arch-separable``.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Sequence
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.flop_counter import FlopCounterMode

from dlcv._checks import (
    check_finite_number,
    check_float_tensor,
    check_in,
    check_len,
    check_positive_int,
    check_shape,
)

__all__ = [
    "LENET5_C3_TABLE",
    "MOBILENET_V1_CONFIG",
    "MOBILENET_V2_CONFIG",
    "VGG",
    "VGG_CONFIGS",
    "AlexNet",
    "BasicBlock",
    "Bottleneck",
    "DenseBlock",
    "DenseLayer",
    "DenseNet",
    "InvertedResidual",
    "LeNet5",
    "MaskedConv2d",
    "MobileNetV1",
    "MobileNetV2",
    "ResNet",
    "SEBlock",
    "Transition",
    "activation_memory",
    "alexnet",
    "conv_bn_act",
    "count_macs",
    "count_parameters",
    "densenet121",
    "depthwise_separable",
    "lenet5",
    "mobilenet_v1",
    "mobilenet_v2",
    "resnet18",
    "resnet34",
    "resnet50",
    "resnet101",
    "resnext50_32x4d",
    "se_resnet50",
    "vgg11",
    "vgg11_bn",
    "vgg13",
    "vgg13_bn",
    "vgg16",
    "vgg16_bn",
    "vgg19",
    "vgg19_bn",
]


# ---------------------------------------------------------------------------
# Validation and shared pieces
# ---------------------------------------------------------------------------


def _check_flag(value: Any, name: str) -> bool:
    """``value`` must be a bool (not 0 or 1)."""
    if not isinstance(value, bool):
        raise TypeError(f"{name} must be a bool, got {type(value).__name__}")
    return value


def _check_common(num_classes: Any, in_channels: Any, small_input: Any) -> None:
    """The three arguments every constructor takes."""
    check_positive_int(num_classes, "num_classes")
    check_positive_int(in_channels, "in_channels")
    _check_flag(small_input, "small_input")


def _check_module_class(value: Any, name: str, example: str) -> None:
    """``value`` must be an nn.Module subclass (the class, not an instance)."""
    if not (isinstance(value, type) and issubclass(value, nn.Module)):
        raise TypeError(
            f"{name} must be an nn.Module class such as {example}, got {value!r}"
        )


def _check_images(x: Any, in_channels: int, size: int | None = None) -> None:
    """``x`` must be an (N, in_channels, H, W) float batch (H = W = size if given)."""
    check_float_tensor(x, "x", ndim=4)
    hw = ("H", "W") if size is None else (size, size)
    check_shape(x, "x", ("N", in_channels, *hw))


def _make_divisible(v: float, divisor: int = 8) -> int:
    """Round a channel count to the nearest multiple of ``divisor``, as torchvision.

    Never goes below ``divisor`` nor more than 10% below ``v``.
    """
    new_v = max(divisor, int(v + divisor / 2) // divisor * divisor)
    if new_v < 0.9 * v:
        new_v += divisor
    return new_v


def conv_bn_act(
    in_channels: int,
    out_channels: int,
    kernel_size: int = 3,
    *,
    stride: int = 1,
    groups: int = 1,
    activation: Callable[..., nn.Module] | None = nn.ReLU,
) -> nn.Sequential:
    """Convolution (no bias, "same" padding), batch norm, activation.

    What ``torchvision.ops.Conv2dNormActivation`` builds, under the same indices
    (``0`` conv, ``1`` norm, ``2`` activation), so state dicts match.

    Args:
        in_channels: input channels C_in.
        out_channels: output channels C_out.
        kernel_size: the odd kernel size K; the padding is (K - 1) // 2.
        stride: the convolution's stride.
        groups: the convolution's groups (``groups=in_channels``: depthwise).
        activation: a module class called with ``inplace=True`` (``nn.ReLU``,
            ``nn.ReLU6``), or None for none.

    Returns:
        The ``nn.Sequential``; (N, C_in, H, W) -> (N, C_out, H', W').
    """
    conv = nn.Conv2d(
        in_channels,
        out_channels,
        kernel_size,
        stride,
        (kernel_size - 1) // 2,
        groups=groups,
        bias=False,
    )
    layers: list[nn.Module] = [conv, nn.BatchNorm2d(out_channels)]
    if activation is not None:
        layers.append(activation(inplace=True))
    return nn.Sequential(*layers)


# ---------------------------------------------------------------------------
# LeNet-5 (LeCun et al. 1998)
# ---------------------------------------------------------------------------

#: The S2 maps (0-5) that each C3 map (0-15) reads, Table I of LeCun et al. (1998).
#: Maps 0-5 read 3 neighbouring maps, 6-11 read 4 neighbouring, 12-14 read 4 that are
#: not all neighbours, 15 reads all 6; 6*3 + 6*4 + 3*4 + 6 = 60 connections.
LENET5_C3_TABLE: tuple[tuple[int, ...], ...] = (
    (0, 1, 2),
    (1, 2, 3),
    (2, 3, 4),
    (3, 4, 5),
    (4, 5, 0),
    (5, 0, 1),
    (0, 1, 2, 3),
    (1, 2, 3, 4),
    (2, 3, 4, 5),
    (3, 4, 5, 0),
    (4, 5, 0, 1),
    (5, 0, 1, 2),
    (0, 1, 3, 4),
    (1, 2, 4, 5),
    (0, 2, 3, 5),
    (0, 1, 2, 3, 4, 5),
)


class MaskedConv2d(nn.Conv2d):
    """``nn.Conv2d`` whose output channel j reads only some input channels.

    The weight is multiplied by a fixed 0/1 buffer ``weight_mask`` (the name that
    ``torch.nn.utils.prune`` uses) before every convolution, so the masked weights get
    no gradient and never act; :func:`count_parameters` does not count them.

    Args:
        in_channels: input channels C_in.
        out_channels: output channels C_out.
        kernel_size: the kernel size, as for ``nn.Conv2d``.
        connections: for each output channel j, the input channels it reads.
        **kwargs: the other ``nn.Conv2d`` arguments (``stride``, ``padding``, ...).
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: int,
        *,
        connections: Sequence[Sequence[int]],
        **kwargs: Any,
    ) -> None:
        super().__init__(in_channels, out_channels, kernel_size, **kwargs)
        check_len(connections, "connections", out_channels, what="entries (C_out)")
        mask = torch.zeros_like(self.weight)  # (C_out, C_in, K, K)
        for j, inputs in enumerate(connections):
            for i in inputs:
                name = f"connections[{j}] entry"
                check_positive_int(i, name, minimum=0, maximum=in_channels - 1)
                mask[j, i] = 1  # output map j reads input map i
        self.register_buffer("weight_mask", mask)
        with torch.no_grad():
            self.weight.mul_(mask)  # the dead weights start (and stay) at zero

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self._conv_forward(x, self.weight * self.weight_mask, self.bias)


class LeNet5(nn.Module):
    """LeNet-5 (LeCun et al. 1998): two conv + subsampling stages, then C5, F6, output.

    The paper's net reads a 32x32 grey image: C1 (6 maps, 5x5) -> S2 (2x2
    subsampling) -> C3 (16 maps, 5x5) -> S4 -> C5 (120 maps, 5x5, so 1x1) -> F6 (84)
    -> output (10). C3 is only partially connected: map j of C3 reads the S2 maps in
    row j of :data:`LENET5_C3_TABLE`, 60 connections instead of 96, to break the
    symmetry between maps and save weights; ``partial_c3=True`` builds that table as a
    :class:`MaskedConv2d`, the default is the full connection of modern versions.

    Parameters at 1 channel, 10 classes (both input sizes): C1 6(25+1) = 156; C3
    16(6*25+1) = 2,416 full or 60*25 + 16 = 1,516 partial; C5 120(16*25+1) = 48,120;
    F6 84(120+1) = 10,164; output 10(84+1) = 850: 61,706 in all, 60,806 with
    ``partial_c3``. The paper's "60,000" is 156 + 12 + 1,516 + 32 + 48,120 + 10,164:
    its S2 and S4 have a trainable coefficient and bias per map (12 and 32), which our
    plain pooling drops, and its output layer of Euclidean RBF units is fixed by hand,
    where ours is a trained linear layer. The paper's squashing function is a scaled
    tanh, 1.7159 tanh(2a/3); ``activation=nn.Tanh`` is its unscaled form.
    :func:`count_macs` counts the masked C3 as the dense convolution it runs,
    16 * 6 * 25 * 10 * 10 = 240,000 MACs at 32x32, where its 60 live connections do
    60 * 25 * 100 = 150,000.

    Args:
        num_classes: output classes (10 digits in the paper).
        in_channels: input channels (1 in the paper).
        small_input: pad C1 by 2 so that a 28x28 image (MNIST, Fashion-MNIST) gives the
            same 28x28 C1 maps that a 32x32 image gives unpadded.
        partial_c3: build C3 with the paper's connection table.
        activation: the module class applied after C1, C3, C5 and F6.
        pool: the module class of S2 and S4, called with ``kernel_size=2``
            (``nn.AvgPool2d``, the paper's averaging, or ``nn.MaxPool2d``).

    Shapes: (N, C, 32, 32), or (N, C, 28, 28) with ``small_input`` -> (N, classes).
    """

    def __init__(
        self,
        *,
        num_classes: int = 10,
        in_channels: int = 1,
        small_input: bool = False,
        partial_c3: bool = False,
        activation: Callable[[], nn.Module] = nn.Tanh,
        pool: Callable[..., nn.Module] = nn.AvgPool2d,
    ) -> None:
        super().__init__()
        _check_common(num_classes, in_channels, small_input)
        _check_flag(partial_c3, "partial_c3")
        _check_module_class(activation, "activation", "nn.Tanh")
        _check_module_class(pool, "pool", "nn.AvgPool2d")
        self.in_channels = in_channels
        self.input_size = 28 if small_input else 32
        self.c1 = nn.Conv2d(in_channels, 6, 5, padding=2 if small_input else 0)
        self.s2 = pool(kernel_size=2)
        if partial_c3:
            self.c3 = MaskedConv2d(6, 16, 5, connections=LENET5_C3_TABLE)
        else:
            self.c3 = nn.Conv2d(6, 16, 5)
        self.s4 = pool(kernel_size=2)
        self.c5 = nn.Conv2d(16, 120, 5)
        self.f6 = nn.Linear(120, 84)
        self.output = nn.Linear(84, num_classes)
        self.activation = activation()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        _check_images(x, self.in_channels, self.input_size)
        x = self.s2(self.activation(self.c1(x)))  # (N, 6, 14, 14)
        x = self.s4(self.activation(self.c3(x)))  # (N, 16, 5, 5)
        x = self.activation(self.c5(x))  # (N, 120, 1, 1)
        x = torch.flatten(x, 1)  # (N, 120)
        x = self.activation(self.f6(x))  # (N, 84)
        return self.output(x)  # (N, num_classes)


def lenet5(
    *,
    num_classes: int = 10,
    in_channels: int = 1,
    small_input: bool = False,
    **kwargs: Any,
) -> LeNet5:
    """LeNet-5; see :class:`LeNet5` (``partial_c3=True`` for the paper's C3).

    Args:
        num_classes: output classes.
        in_channels: input channels.
        small_input: 28x28 inputs instead of 32x32.
        **kwargs: ``partial_c3``, ``activation``, ``pool``.

    Returns:
        The model.
    """
    return LeNet5(
        num_classes=num_classes,
        in_channels=in_channels,
        small_input=small_input,
        **kwargs,
    )


# ---------------------------------------------------------------------------
# AlexNet (Krizhevsky et al. 2012) and VGG (Simonyan and Zisserman 2015)
# ---------------------------------------------------------------------------


class AlexNet(nn.Module):
    """AlexNet as in torchvision: the one-GPU variant of Krizhevsky (2014).

    Five convolutions of 64, 192, 384, 256, 256 channels (width 64; the 2012 paper's
    two-GPU net had 96, 256, 384, 384, 256), three max-pools, an adaptive average pool
    to 6x6 and three linear layers with dropout.

    Args:
        num_classes: output classes.
        in_channels: input channels.
        small_input: for 28x28 images: a 3x3 stride-1 first convolution and no first
            max-pool (an ``nn.Identity`` at its index, so the indices stay).
        width: the first convolution's channels; the others are 3, 6, 4 and 4 times
            it (64 gives torchvision's net).
        hidden: the width of the two hidden linear layers.
        dropout: the dropout probability before each of them.

    Shapes: (N, C, H, W) -> (N, num_classes); H, W >= 63 unless ``small_input``.
    """

    def __init__(
        self,
        *,
        num_classes: int = 1000,
        in_channels: int = 3,
        small_input: bool = False,
        width: int = 64,
        hidden: int = 4096,
        dropout: float = 0.5,
    ) -> None:
        super().__init__()
        _check_common(num_classes, in_channels, small_input)
        check_positive_int(width, "width")
        check_positive_int(hidden, "hidden")
        check_finite_number(dropout, "dropout", low=0, high=1)
        self.in_channels = in_channels
        c1, c2, c3, c4, c5 = width, 3 * width, 6 * width, 4 * width, 4 * width
        if small_input:
            stem: nn.Module = nn.Conv2d(in_channels, c1, 3, padding=1)
            pool1: nn.Module = nn.Identity()
        else:
            stem = nn.Conv2d(in_channels, c1, kernel_size=11, stride=4, padding=2)
            pool1 = nn.MaxPool2d(kernel_size=3, stride=2)
        self.features = nn.Sequential(
            stem,
            nn.ReLU(inplace=True),
            pool1,
            nn.Conv2d(c1, c2, kernel_size=5, padding=2),
            nn.ReLU(inplace=True),
            nn.MaxPool2d(kernel_size=3, stride=2),
            nn.Conv2d(c2, c3, kernel_size=3, padding=1),
            nn.ReLU(inplace=True),
            nn.Conv2d(c3, c4, kernel_size=3, padding=1),
            nn.ReLU(inplace=True),
            nn.Conv2d(c4, c5, kernel_size=3, padding=1),
            nn.ReLU(inplace=True),
            nn.MaxPool2d(kernel_size=3, stride=2),
        )
        self.avgpool = nn.AdaptiveAvgPool2d((6, 6))
        self.classifier = nn.Sequential(
            nn.Dropout(p=dropout),
            nn.Linear(c5 * 6 * 6, hidden),
            nn.ReLU(inplace=True),
            nn.Dropout(p=dropout),
            nn.Linear(hidden, hidden),
            nn.ReLU(inplace=True),
            nn.Linear(hidden, num_classes),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        _check_images(x, self.in_channels)
        x = self.features(x)  # (N, 4w, h, w): 6x6 at 224x224
        x = self.avgpool(x)  # (N, 4w, 6, 6)
        x = torch.flatten(x, 1)  # (N, 4w * 36)
        return self.classifier(x)  # (N, num_classes)


def alexnet(
    *,
    num_classes: int = 1000,
    in_channels: int = 3,
    small_input: bool = False,
    **kwargs: Any,
) -> AlexNet:
    """AlexNet, 61,100,840 parameters at the ImageNet config; see :class:`AlexNet`.

    Args:
        num_classes: output classes.
        in_channels: input channels.
        small_input: the 28x28 variant.
        **kwargs: ``width``, ``hidden``, ``dropout``.

    Returns:
        The model.
    """
    return AlexNet(
        num_classes=num_classes,
        in_channels=in_channels,
        small_input=small_input,
        **kwargs,
    )


#: The output channels of each 3x3 convolution, and "M" for a 2x2 max-pool, of
#: torchvision's configs "A", "B", "D", "E" (Table 1 of Simonyan and Zisserman).
VGG_CONFIGS: dict[str, list[int | str]] = {
    "vgg11": [64, "M", 128, "M", 256, 256, "M", 512, 512, "M", 512, 512, "M"],
    "vgg13": [64, 64, "M", 128, 128, "M", 256, 256, "M", 512, 512, "M", 512, 512, "M"],
    "vgg16": [
        *(64, 64, "M", 128, 128, "M"),
        *(256, 256, 256, "M", 512, 512, 512, "M", 512, 512, 512, "M"),
    ],
    "vgg19": [
        *(64, 64, "M", 128, 128, "M", 256, 256, 256, 256, "M"),
        *(512, 512, 512, 512, "M", 512, 512, 512, 512, "M"),
    ],
}


class VGG(nn.Module):
    """VGG (Simonyan and Zisserman 2015): stages of 3x3 convolutions and 2x2 max-pools.

    Two 3x3 convolutions see a 5x5 window and three a 7x7 one, with fewer parameters
    and more non-linearities than one large kernel. The layout and names are
    torchvision's: ``features`` (convolutions, optional batch norm, ReLU, pools),
    ``avgpool`` (adaptive, to 7x7) and ``classifier`` (three linear layers).

    Args:
        config: a name from :data:`VGG_CONFIGS` (``"vgg16"``) or a list of channel
            counts and ``"M"`` (max-pool) entries.
        batch_norm: put a ``BatchNorm2d`` after each convolution (the ``_bn`` models).
        num_classes: output classes.
        in_channels: input channels.
        small_input: for 28x28 images: only the first three max-pools pool
            (28 -> 14 -> 7 -> 3; later ones are ``nn.Identity`` at their indices) and
            the average pool goes to 1x1, so the classifier reads 8 * width features.
        width: the first stage's channels; every entry of the config is scaled by
            width / 64 (64 gives the paper's net).
        hidden: the width of the two hidden linear layers.
        dropout: the dropout probability after each of them.

    Shapes: (N, C, H, W) -> (N, num_classes); H, W >= 32 unless ``small_input``.
    """

    def __init__(
        self,
        config: str | Sequence[int | str],
        *,
        batch_norm: bool = False,
        num_classes: int = 1000,
        in_channels: int = 3,
        small_input: bool = False,
        width: int = 64,
        hidden: int = 4096,
        dropout: float = 0.5,
    ) -> None:
        super().__init__()
        _check_common(num_classes, in_channels, small_input)
        _check_flag(batch_norm, "batch_norm")
        check_positive_int(width, "width")
        check_positive_int(hidden, "hidden")
        check_finite_number(dropout, "dropout", low=0, high=1)
        if isinstance(config, str):
            config = VGG_CONFIGS[check_in(config, "config", VGG_CONFIGS)]
        self.in_channels = in_channels
        layers: list[nn.Module] = []
        channels, pools = in_channels, 0
        for i, v in enumerate(config):
            if v == "M":
                pools += 1
                keep = pools <= 3 or not small_input
                layers.append(nn.MaxPool2d(2, 2) if keep else nn.Identity())
                continue
            if isinstance(v, str):
                raise ValueError(
                    f"config[{i}] must be a channel count or 'M', got {v!r}"
                )
            out = max(1, check_positive_int(v, f"config[{i}]") * width // 64)
            layers.append(nn.Conv2d(channels, out, kernel_size=3, padding=1))
            if batch_norm:
                layers.append(nn.BatchNorm2d(out))
            layers.append(nn.ReLU(inplace=True))
            channels = out
        if not any(isinstance(m, nn.Conv2d) for m in layers):
            raise ValueError(f"config must hold at least one convolution, got {config}")
        self.features = nn.Sequential(*layers)
        side = 1 if small_input else 7
        self.avgpool = nn.AdaptiveAvgPool2d((side, side))
        self.classifier = nn.Sequential(
            nn.Linear(channels * side * side, hidden),
            nn.ReLU(True),
            nn.Dropout(p=dropout),
            nn.Linear(hidden, hidden),
            nn.ReLU(True),
            nn.Dropout(p=dropout),
            nn.Linear(hidden, num_classes),
        )
        for m in self.modules():  # torchvision's initialization
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
                nn.init.zeros_(m.bias)
            elif isinstance(m, nn.BatchNorm2d):
                nn.init.ones_(m.weight)
                nn.init.zeros_(m.bias)
            elif isinstance(m, nn.Linear):
                nn.init.normal_(m.weight, 0, 0.01)
                nn.init.zeros_(m.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        _check_images(x, self.in_channels)
        x = self.features(x)  # (N, 8w, H/32, W/32)
        x = self.avgpool(x)  # (N, 8w, 7, 7), or (N, 8w, 1, 1) small
        x = torch.flatten(x, 1)  # (N, 8w * 49)
        return self.classifier(x)  # (N, num_classes)


def _vgg(
    name: str,
    batch_norm: bool,
    num_classes: int,
    in_channels: int,
    small_input: bool,
    kwargs: dict[str, Any],
) -> VGG:
    return VGG(
        name,
        batch_norm=batch_norm,
        num_classes=num_classes,
        in_channels=in_channels,
        small_input=small_input,
        **kwargs,
    )


def vgg11(
    *,
    num_classes: int = 1000,
    in_channels: int = 3,
    small_input: bool = False,
    **kwargs: Any,
) -> VGG:
    """VGG-11 (config A), 132,863,336 parameters; see :class:`VGG`.

    Args:
        num_classes: output classes.
        in_channels: input channels.
        small_input: the 28x28 variant.
        **kwargs: ``width``, ``hidden``, ``dropout``.

    Returns:
        The model.
    """
    return _vgg("vgg11", False, num_classes, in_channels, small_input, kwargs)


def vgg11_bn(
    *,
    num_classes: int = 1000,
    in_channels: int = 3,
    small_input: bool = False,
    **kwargs: Any,
) -> VGG:
    """VGG-11 with batch norm, 132,868,840 parameters; see :class:`VGG`.

    Args:
        num_classes: output classes.
        in_channels: input channels.
        small_input: the 28x28 variant.
        **kwargs: ``width``, ``hidden``, ``dropout``.

    Returns:
        The model.
    """
    return _vgg("vgg11", True, num_classes, in_channels, small_input, kwargs)


def vgg13(
    *,
    num_classes: int = 1000,
    in_channels: int = 3,
    small_input: bool = False,
    **kwargs: Any,
) -> VGG:
    """VGG-13 (config B), 133,047,848 parameters; see :class:`VGG`.

    Args:
        num_classes: output classes.
        in_channels: input channels.
        small_input: the 28x28 variant.
        **kwargs: ``width``, ``hidden``, ``dropout``.

    Returns:
        The model.
    """
    return _vgg("vgg13", False, num_classes, in_channels, small_input, kwargs)


def vgg13_bn(
    *,
    num_classes: int = 1000,
    in_channels: int = 3,
    small_input: bool = False,
    **kwargs: Any,
) -> VGG:
    """VGG-13 with batch norm, 133,053,736 parameters; see :class:`VGG`.

    Args:
        num_classes: output classes.
        in_channels: input channels.
        small_input: the 28x28 variant.
        **kwargs: ``width``, ``hidden``, ``dropout``.

    Returns:
        The model.
    """
    return _vgg("vgg13", True, num_classes, in_channels, small_input, kwargs)


def vgg16(
    *,
    num_classes: int = 1000,
    in_channels: int = 3,
    small_input: bool = False,
    **kwargs: Any,
) -> VGG:
    """VGG-16 (config D), 138,357,544 parameters; see :class:`VGG`.

    Args:
        num_classes: output classes.
        in_channels: input channels.
        small_input: the 28x28 variant.
        **kwargs: ``width``, ``hidden``, ``dropout``.

    Returns:
        The model.
    """
    return _vgg("vgg16", False, num_classes, in_channels, small_input, kwargs)


def vgg16_bn(
    *,
    num_classes: int = 1000,
    in_channels: int = 3,
    small_input: bool = False,
    **kwargs: Any,
) -> VGG:
    """VGG-16 with batch norm, 138,365,992 parameters; see :class:`VGG`.

    Args:
        num_classes: output classes.
        in_channels: input channels.
        small_input: the 28x28 variant.
        **kwargs: ``width``, ``hidden``, ``dropout``.

    Returns:
        The model.
    """
    return _vgg("vgg16", True, num_classes, in_channels, small_input, kwargs)


def vgg19(
    *,
    num_classes: int = 1000,
    in_channels: int = 3,
    small_input: bool = False,
    **kwargs: Any,
) -> VGG:
    """VGG-19 (config E), 143,667,240 parameters; see :class:`VGG`.

    Args:
        num_classes: output classes.
        in_channels: input channels.
        small_input: the 28x28 variant.
        **kwargs: ``width``, ``hidden``, ``dropout``.

    Returns:
        The model.
    """
    return _vgg("vgg19", False, num_classes, in_channels, small_input, kwargs)


def vgg19_bn(
    *,
    num_classes: int = 1000,
    in_channels: int = 3,
    small_input: bool = False,
    **kwargs: Any,
) -> VGG:
    """VGG-19 with batch norm, 143,678,248 parameters; see :class:`VGG`.

    Args:
        num_classes: output classes.
        in_channels: input channels.
        small_input: the 28x28 variant.
        **kwargs: ``width``, ``hidden``, ``dropout``.

    Returns:
        The model.
    """
    return _vgg("vgg19", True, num_classes, in_channels, small_input, kwargs)


# ---------------------------------------------------------------------------
# ResNet (He et al. 2016), ResNeXt (Xie et al. 2017), SE-ResNet (Hu et al. 2018)
# ---------------------------------------------------------------------------


class SEBlock(nn.Module):
    r"""Squeeze-and-excitation (Hu et al. 2018): reweight channels by a learned gate.

    Squeeze :math:`z = \mathrm{GAP}(x)`, excite
    :math:`s = \sigma(W_2\,\mathrm{ReLU}(W_1 z))`, scale :math:`y = x \odot s`, where
    :math:`W_1` maps C channels to C / r and :math:`W_2` back (1x1 convolutions with
    biases). Names as ``torchvision.ops.SqueezeExcitation``.

    Args:
        channels: the channels C of the input.
        reduction: the reduction ratio r (16 in the paper); C // r >= 1.

    Shapes: (N, C, H, W) -> (N, C, H, W).
    """

    def __init__(self, channels: int, *, reduction: int = 16) -> None:
        super().__init__()
        check_positive_int(channels, "channels")
        check_positive_int(reduction, "reduction", maximum=channels)
        squeeze = channels // reduction
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.fc1 = nn.Conv2d(channels, squeeze, 1)  # W_1: C -> C / r
        self.fc2 = nn.Conv2d(squeeze, channels, 1)  # W_2: C / r -> C
        self.activation = nn.ReLU()
        self.scale_activation = nn.Sigmoid()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        z = self.avgpool(x)  # squeeze, Eq. (8.6): (N, C, 1, 1)
        s = self.fc2(self.activation(self.fc1(z)))  # excite: (N, C, 1, 1)
        return x * self.scale_activation(s)  # y = x * sigma(s), broadcast over H, W


def _shortcut(inplanes: int, outplanes: int, stride: int) -> nn.Sequential | None:
    """The projection S(x) when shapes change: a strided 1x1 conv and batch norm."""
    if stride == 1 and inplanes == outplanes:
        return None  # S(x) = x
    return nn.Sequential(
        nn.Conv2d(inplanes, outplanes, kernel_size=1, stride=stride, bias=False),
        nn.BatchNorm2d(outplanes),
    )


class BasicBlock(nn.Module):
    """Two 3x3 convolutions and a shortcut: y = ReLU(F(x) + S(x)) (ResNet-18/34).

    Args:
        inplanes: input channels.
        planes: output channels (``expansion`` = 1).
        stride: the first convolution's (and the projection's) stride.
        downsample: the projection S, or None for the identity.
        groups: must be 1 (as torchvision).
        base_width: must be 64 (as torchvision).
        se_reduction: if given, an :class:`SEBlock` with this ratio scales F(x)
            before the sum.

    Shapes: (N, inplanes, H, W) -> (N, planes, H / stride, W / stride).
    """

    expansion: int = 1

    def __init__(
        self,
        inplanes: int,
        planes: int,
        stride: int = 1,
        downsample: nn.Module | None = None,
        *,
        groups: int = 1,
        base_width: int = 64,
        se_reduction: int | None = None,
    ) -> None:
        super().__init__()
        if groups != 1 or base_width != 64:
            raise ValueError(
                f"BasicBlock only supports groups=1 and base_width=64, got "
                f"groups={groups!r} and base_width={base_width!r}; use Bottleneck"
            )
        self.conv1 = nn.Conv2d(inplanes, planes, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(planes)
        self.relu = nn.ReLU(inplace=True)
        self.conv2 = nn.Conv2d(planes, planes, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(planes)
        self.se = (
            None if se_reduction is None else SEBlock(planes, reduction=se_reduction)
        )
        self.downsample = downsample
        self.stride = stride

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        shortcut = x if self.downsample is None else self.downsample(x)  # S(x)
        out = self.relu(self.bn1(self.conv1(x)))  # (N, planes, H', W')
        out = self.bn2(self.conv2(out))  # F(x)
        if self.se is not None:
            out = self.se(out)
        out += shortcut  # F(x) + S(x), Eq. (8.3)
        return self.relu(out)


class Bottleneck(nn.Module):
    """1x1 reduce, 3x3 (grouped), 1x1 expand, and a shortcut (ResNet-50+, ResNeXt).

    y = ReLU(F(x) + S(x)) with F = conv1x1 -> conv3x3 -> conv1x1, each followed by
    batch norm (and ReLU but the last). The inner width is
    ``int(planes * base_width / 64) * groups``: 64 and 1 give ResNet's ``planes``,
    ``groups=32, base_width=4`` gives ResNeXt-50 32x4d's 128 in the first stage. The
    stride sits on the 3x3 convolution ("ResNet v1.5", as torchvision).

    Args:
        inplanes: input channels.
        planes: the bottleneck's base channels; the output has 4 * planes.
        stride: the 3x3 convolution's (and the projection's) stride.
        downsample: the projection S, or None for the identity.
        groups: the 3x3 convolution's groups, the cardinality of ResNeXt.
        base_width: channels per group at planes = 64.
        se_reduction: if given, an :class:`SEBlock` with this ratio scales F(x)
            before the sum (SE-ResNet).

    Shapes: (N, inplanes, H, W) -> (N, 4 * planes, H / stride, W / stride).
    """

    expansion: int = 4

    def __init__(
        self,
        inplanes: int,
        planes: int,
        stride: int = 1,
        downsample: nn.Module | None = None,
        *,
        groups: int = 1,
        base_width: int = 64,
        se_reduction: int | None = None,
    ) -> None:
        super().__init__()
        width = int(planes * (base_width / 64.0)) * groups  # G d of Eq. (8.5)
        check_positive_int(
            width, "the inner width int(planes * base_width / 64) * groups"
        )
        outplanes = planes * self.expansion
        self.conv1 = nn.Conv2d(inplanes, width, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(width)
        self.conv2 = nn.Conv2d(width, width, 3, stride, 1, groups=groups, bias=False)
        self.bn2 = nn.BatchNorm2d(width)
        self.conv3 = nn.Conv2d(width, outplanes, 1, bias=False)
        self.bn3 = nn.BatchNorm2d(outplanes)
        self.relu = nn.ReLU(inplace=True)
        self.se = (
            None if se_reduction is None else SEBlock(outplanes, reduction=se_reduction)
        )
        self.downsample = downsample
        self.stride = stride

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        shortcut = x if self.downsample is None else self.downsample(x)  # S(x)
        out = self.relu(self.bn1(self.conv1(x)))  # 1x1 reduce: (N, width, H, W)
        out = self.relu(self.bn2(self.conv2(out)))  # 3x3: (N, width, H', W')
        out = self.bn3(self.conv3(out))  # 1x1 expand: F(x), (N, 4 planes, H', W')
        if self.se is not None:
            out = self.se(out)
        out += shortcut  # F(x) + S(x), Eq. (8.3)
        return self.relu(out)


class ResNet(nn.Module):
    """ResNet (He et al. 2016): a stem, four stages of residual blocks, a linear head.

    Stage i (0-3) has ``layers[i]`` blocks of base width ``width * 2**i``; stages 2-4
    halve the resolution in their first block. The names are torchvision's (``conv1``,
    ``bn1``, ``layer1.0.downsample.0``, ``fc``, ...), so ImageNet-config state dicts
    load both ways.

    Args:
        block: :class:`BasicBlock` or :class:`Bottleneck`.
        layers: the four stages' numbers of blocks, e.g. ``[2, 2, 2, 2]``.
        num_classes: output classes.
        in_channels: input channels.
        small_input: for 28x28 images: a 3x3 stride-1 stem and no max-pool (an
            ``nn.Identity`` named ``maxpool``), so the stages see 28, 14, 7, 4.
        zero_init_residual: set the last batch norm weight of every block to zero,
            so each block starts as y = ReLU(S(x)) (Goyal et al. 2017).
        groups: the 3x3 convolutions' groups (ResNeXt's cardinality).
        width_per_group: the bottleneck's channels per group at base width 64.
        width: the stem's channels and the first stage's base width (64 in the paper).
        se_reduction: if given, every block has an :class:`SEBlock` of this ratio.

    Shapes: (N, C, H, W) -> (N, num_classes).
    """

    def __init__(
        self,
        block: type[BasicBlock | Bottleneck],
        layers: Sequence[int],
        *,
        num_classes: int = 1000,
        in_channels: int = 3,
        small_input: bool = False,
        zero_init_residual: bool = False,
        groups: int = 1,
        width_per_group: int = 64,
        width: int = 64,
        se_reduction: int | None = None,
    ) -> None:
        super().__init__()
        _check_common(num_classes, in_channels, small_input)
        if block not in (BasicBlock, Bottleneck):
            raise TypeError(f"block must be BasicBlock or Bottleneck, got {block!r}")
        check_len(layers, "layers", 4, what="entries (blocks per stage)")
        layers = [check_positive_int(n, f"layers[{i}]") for i, n in enumerate(layers)]
        _check_flag(zero_init_residual, "zero_init_residual")
        self.groups = check_positive_int(groups, "groups")
        self.base_width = check_positive_int(width_per_group, "width_per_group")
        check_positive_int(width, "width")
        if se_reduction is not None:
            check_positive_int(se_reduction, "se_reduction")
        self.se_reduction = se_reduction
        self.in_channels = in_channels
        self.inplanes = width
        if small_input:
            self.conv1 = nn.Conv2d(in_channels, width, 3, 1, 1, bias=False)
        else:
            self.conv1 = nn.Conv2d(in_channels, width, 7, 2, 3, bias=False)
        self.bn1 = nn.BatchNorm2d(width)
        self.relu = nn.ReLU(inplace=True)
        if small_input:
            self.maxpool: nn.Module = nn.Identity()
        else:
            self.maxpool = nn.MaxPool2d(kernel_size=3, stride=2, padding=1)
        self.layer1 = self._make_layer(block, width, layers[0])
        self.layer2 = self._make_layer(block, 2 * width, layers[1], stride=2)
        self.layer3 = self._make_layer(block, 4 * width, layers[2], stride=2)
        self.layer4 = self._make_layer(block, 8 * width, layers[3], stride=2)
        self.avgpool = nn.AdaptiveAvgPool2d((1, 1))
        self.fc = nn.Linear(8 * width * block.expansion, num_classes)
        for m in self.modules():  # torchvision's initialization
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
            elif isinstance(m, nn.BatchNorm2d):
                nn.init.ones_(m.weight)
                nn.init.zeros_(m.bias)
        if zero_init_residual:
            for m in self.modules():
                if isinstance(m, Bottleneck):
                    nn.init.zeros_(m.bn3.weight)
                elif isinstance(m, BasicBlock):
                    nn.init.zeros_(m.bn2.weight)

    def _make_layer(
        self,
        block: type[BasicBlock | Bottleneck],
        planes: int,
        blocks: int,
        stride: int = 1,
    ) -> nn.Sequential:
        """One stage: ``blocks`` blocks, the first with ``stride`` and a projection."""
        outplanes = planes * block.expansion
        downsample = _shortcut(self.inplanes, outplanes, stride)
        kwargs = dict(
            groups=self.groups,
            base_width=self.base_width,
            se_reduction=self.se_reduction,
        )
        stage = [block(self.inplanes, planes, stride, downsample, **kwargs)]
        self.inplanes = outplanes
        stage += [block(outplanes, planes, **kwargs) for _ in range(1, blocks)]
        return nn.Sequential(*stage)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        _check_images(x, self.in_channels)
        x = self.relu(self.bn1(self.conv1(x)))  # (N, w, H/2, W/2): 112 at 224
        x = self.maxpool(x)  # (N, w, H/4, W/4): 56
        x = self.layer1(x)  # (N, w e, 56, 56), e = block.expansion
        x = self.layer2(x)  # (N, 2w e, 28, 28)
        x = self.layer3(x)  # (N, 4w e, 14, 14)
        x = self.layer4(x)  # (N, 8w e, 7, 7)
        x = self.avgpool(x)  # (N, 8w e, 1, 1)
        x = torch.flatten(x, 1)  # (N, 8w e)
        return self.fc(x)  # (N, num_classes)


def _resnet(
    block: type[BasicBlock | Bottleneck],
    layers: list[int],
    num_classes: int,
    in_channels: int,
    small_input: bool,
    kwargs: dict[str, Any],
) -> ResNet:
    return ResNet(
        block,
        layers,
        num_classes=num_classes,
        in_channels=in_channels,
        small_input=small_input,
        **kwargs,
    )


def resnet18(
    *,
    num_classes: int = 1000,
    in_channels: int = 3,
    small_input: bool = False,
    **kwargs: Any,
) -> ResNet:
    """ResNet-18: BasicBlocks [2, 2, 2, 2], 11,689,512 parameters.

    Args:
        num_classes: output classes.
        in_channels: input channels.
        small_input: the 28x28 variant.
        **kwargs: the other :class:`ResNet` arguments (``zero_init_residual``,
            ``width``, ``se_reduction``).

    Returns:
        The model.
    """
    return _resnet(
        BasicBlock, [2, 2, 2, 2], num_classes, in_channels, small_input, kwargs
    )


def resnet34(
    *,
    num_classes: int = 1000,
    in_channels: int = 3,
    small_input: bool = False,
    **kwargs: Any,
) -> ResNet:
    """ResNet-34: BasicBlocks [3, 4, 6, 3], 21,797,672 parameters.

    Args:
        num_classes: output classes.
        in_channels: input channels.
        small_input: the 28x28 variant.
        **kwargs: the other :class:`ResNet` arguments.

    Returns:
        The model.
    """
    return _resnet(
        BasicBlock, [3, 4, 6, 3], num_classes, in_channels, small_input, kwargs
    )


def resnet50(
    *,
    num_classes: int = 1000,
    in_channels: int = 3,
    small_input: bool = False,
    **kwargs: Any,
) -> ResNet:
    """ResNet-50: Bottlenecks [3, 4, 6, 3], 25,557,032 parameters.

    Args:
        num_classes: output classes.
        in_channels: input channels.
        small_input: the 28x28 variant.
        **kwargs: the other :class:`ResNet` arguments.

    Returns:
        The model.
    """
    return _resnet(
        Bottleneck, [3, 4, 6, 3], num_classes, in_channels, small_input, kwargs
    )


def resnet101(
    *,
    num_classes: int = 1000,
    in_channels: int = 3,
    small_input: bool = False,
    **kwargs: Any,
) -> ResNet:
    """ResNet-101: Bottlenecks [3, 4, 23, 3], 44,549,160 parameters.

    Args:
        num_classes: output classes.
        in_channels: input channels.
        small_input: the 28x28 variant.
        **kwargs: the other :class:`ResNet` arguments.

    Returns:
        The model.
    """
    return _resnet(
        Bottleneck, [3, 4, 23, 3], num_classes, in_channels, small_input, kwargs
    )


def resnext50_32x4d(
    *,
    num_classes: int = 1000,
    in_channels: int = 3,
    small_input: bool = False,
    **kwargs: Any,
) -> ResNet:
    """ResNeXt-50 32x4d: ResNet-50 with 32 groups of 4 channels, 25,028,904 parameters.

    Args:
        num_classes: output classes.
        in_channels: input channels.
        small_input: the 28x28 variant.
        **kwargs: the other :class:`ResNet` arguments (``groups`` and
            ``width_per_group`` default to 32 and 4).

    Returns:
        The model.
    """
    kwargs = {"groups": 32, "width_per_group": 4, **kwargs}
    return _resnet(
        Bottleneck, [3, 4, 6, 3], num_classes, in_channels, small_input, kwargs
    )


def se_resnet50(
    *,
    num_classes: int = 1000,
    in_channels: int = 3,
    small_input: bool = False,
    **kwargs: Any,
) -> ResNet:
    """SE-ResNet-50: ResNet-50 with an SE block (r = 16) in each block, 28,088,024
    parameters (Hu et al. report 28.09M).

    Args:
        num_classes: output classes.
        in_channels: input channels.
        small_input: the 28x28 variant.
        **kwargs: the other :class:`ResNet` arguments (``se_reduction`` defaults
            to 16).

    Returns:
        The model.
    """
    kwargs = {"se_reduction": 16, **kwargs}
    return _resnet(
        Bottleneck, [3, 4, 6, 3], num_classes, in_channels, small_input, kwargs
    )


# ---------------------------------------------------------------------------
# DenseNet (Huang et al. 2017)
# ---------------------------------------------------------------------------


class DenseLayer(nn.Module):
    """One layer H_l of a dense block: BN-ReLU-conv1x1 to bn_size k, BN-ReLU-conv3x3.

    Args:
        num_input_features: the channels C_0 + (l - 1) k of the concatenated input.
        growth_rate: the new channels k it adds.
        bn_size: the bottleneck's width, in multiples of k.
        drop_rate: dropout probability on the new features.

    Shapes: (N, C_in, H, W) -> (N, k, H, W), the new features only.
    """

    def __init__(
        self,
        num_input_features: int,
        growth_rate: int,
        bn_size: int,
        drop_rate: float = 0.0,
    ) -> None:
        super().__init__()
        self.norm1 = nn.BatchNorm2d(num_input_features)
        self.relu1 = nn.ReLU(inplace=True)
        self.conv1 = nn.Conv2d(
            num_input_features, bn_size * growth_rate, 1, stride=1, bias=False
        )
        self.norm2 = nn.BatchNorm2d(bn_size * growth_rate)
        self.relu2 = nn.ReLU(inplace=True)
        self.conv2 = nn.Conv2d(
            bn_size * growth_rate, growth_rate, 3, stride=1, padding=1, bias=False
        )
        self.drop_rate = float(drop_rate)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.conv1(self.relu1(self.norm1(x)))  # (N, bn_size k, H, W)
        out = self.conv2(self.relu2(self.norm2(out)))  # (N, k, H, W)
        if self.drop_rate > 0:
            out = F.dropout(out, p=self.drop_rate, training=self.training)
        return out


class DenseBlock(nn.ModuleDict):
    """``num_layers`` dense layers, each reading all earlier outputs concatenated.

    x_l = H_l([x_0, x_1, ..., x_{l-1}]); the block returns [x_0, ..., x_L], of
    C_0 + L k channels.

    Args:
        num_layers: the number of layers L.
        num_input_features: the input's channels C_0.
        bn_size: the layers' bottleneck width, in multiples of k.
        growth_rate: the channels k each layer adds.
        drop_rate: dropout probability in each layer.

    Shapes: (N, C_0, H, W) -> (N, C_0 + L k, H, W).
    """

    def __init__(
        self,
        num_layers: int,
        num_input_features: int,
        bn_size: int,
        growth_rate: int,
        drop_rate: float = 0.0,
    ) -> None:
        super().__init__()
        for i in range(num_layers):
            layer = DenseLayer(
                num_input_features + i * growth_rate, growth_rate, bn_size, drop_rate
            )
            self.add_module(f"denselayer{i + 1}", layer)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for layer in self.values():
            # Eq. (8.7): x_l = H_l([x_0, ..., x_{l-1}]), C_0 + l k channels
            x = torch.cat([x, layer(x)], 1)  # [x_0, ..., x_l]: (N, C_0 + l k, H, W)
        return x


class Transition(nn.Sequential):
    """Between dense blocks: BN, ReLU, a 1x1 convolution and 2x2 average pooling.

    Args:
        num_input_features: input channels.
        num_output_features: output channels (half the input in DenseNet-BC).

    Shapes: (N, C_in, H, W) -> (N, C_out, H / 2, W / 2).
    """

    def __init__(self, num_input_features: int, num_output_features: int) -> None:
        super().__init__()
        self.norm = nn.BatchNorm2d(num_input_features)
        self.relu = nn.ReLU(inplace=True)
        self.conv = nn.Conv2d(num_input_features, num_output_features, 1, bias=False)
        self.pool = nn.AvgPool2d(kernel_size=2, stride=2)


class DenseNet(nn.Module):
    """DenseNet-BC (Huang et al. 2017): dense blocks joined by halving transitions.

    The layout and names are torchvision's (``features.conv0``,
    ``features.denseblock1.denselayer1.norm1``, ``features.transition1.conv``,
    ``features.norm5``, ``classifier``).

    Args:
        growth_rate: the channels k each dense layer adds.
        block_config: the number of layers in each dense block.
        num_init_features: the stem's output channels.
        bn_size: the dense layers' bottleneck width, in multiples of k.
        drop_rate: dropout probability in each dense layer.
        num_classes: output classes.
        in_channels: input channels.
        small_input: for 28x28 images: a 3x3 stride-1 stem and no max-pool (an
            ``nn.Identity`` named ``pool0``).

    Shapes: (N, C, H, W) -> (N, num_classes).
    """

    def __init__(
        self,
        *,
        growth_rate: int = 32,
        block_config: Sequence[int] = (6, 12, 24, 16),
        num_init_features: int = 64,
        bn_size: int = 4,
        drop_rate: float = 0.0,
        num_classes: int = 1000,
        in_channels: int = 3,
        small_input: bool = False,
    ) -> None:
        super().__init__()
        _check_common(num_classes, in_channels, small_input)
        check_positive_int(growth_rate, "growth_rate")
        check_positive_int(len(block_config), "len(block_config)")
        for i, n in enumerate(block_config):
            check_positive_int(n, f"block_config[{i}]")
        check_positive_int(num_init_features, "num_init_features", minimum=2)
        check_positive_int(bn_size, "bn_size")
        check_finite_number(drop_rate, "drop_rate", low=0, high=1)
        self.in_channels = in_channels
        if small_input:
            conv0 = nn.Conv2d(in_channels, num_init_features, 3, 1, 1, bias=False)
            pool0: nn.Module = nn.Identity()
        else:
            conv0 = nn.Conv2d(in_channels, num_init_features, 7, 2, 3, bias=False)
            pool0 = nn.MaxPool2d(kernel_size=3, stride=2, padding=1)
        stem = [
            ("conv0", conv0),
            ("norm0", nn.BatchNorm2d(num_init_features)),
            ("relu0", nn.ReLU(inplace=True)),
            ("pool0", pool0),
        ]
        self.features = nn.Sequential(OrderedDict(stem))
        channels = num_init_features
        for i, num_layers in enumerate(block_config):
            block = DenseBlock(num_layers, channels, bn_size, growth_rate, drop_rate)
            self.features.add_module(f"denseblock{i + 1}", block)
            channels += num_layers * growth_rate  # C_0 + L k
            if i != len(block_config) - 1:
                trans = Transition(channels, channels // 2)
                self.features.add_module(f"transition{i + 1}", trans)
                channels //= 2
        self.features.add_module("norm5", nn.BatchNorm2d(channels))
        self.classifier = nn.Linear(channels, num_classes)
        for m in self.modules():  # torchvision's initialization
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight)
            elif isinstance(m, nn.BatchNorm2d):
                nn.init.ones_(m.weight)
                nn.init.zeros_(m.bias)
            elif isinstance(m, nn.Linear):
                nn.init.zeros_(m.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        _check_images(x, self.in_channels)
        x = self.features(x)  # (N, C_final, H/32, W/32)
        x = F.relu(x)  # the last BN's ReLU
        x = F.adaptive_avg_pool2d(x, (1, 1))  # (N, C_final, 1, 1)
        x = torch.flatten(x, 1)  # (N, C_final)
        return self.classifier(x)  # (N, num_classes)


def densenet121(
    *,
    num_classes: int = 1000,
    in_channels: int = 3,
    small_input: bool = False,
    **kwargs: Any,
) -> DenseNet:
    """DenseNet-121: k = 32, bn_size 4, blocks 6-12-24-16, 7,978,856 parameters.

    Args:
        num_classes: output classes.
        in_channels: input channels.
        small_input: the 28x28 variant.
        **kwargs: the other :class:`DenseNet` arguments (``growth_rate``,
            ``num_init_features``, ... to narrow it).

    Returns:
        The model.
    """
    kwargs = {"growth_rate": 32, "block_config": (6, 12, 24, 16), **kwargs}
    return DenseNet(
        num_classes=num_classes,
        in_channels=in_channels,
        small_input=small_input,
        **kwargs,
    )


# ---------------------------------------------------------------------------
# MobileNet v1 (Howard et al. 2017) and v2 (Sandler et al. 2018)
# ---------------------------------------------------------------------------


def depthwise_separable(
    in_channels: int, out_channels: int, stride: int
) -> nn.Sequential:
    """A depthwise 3x3 convolution, then a pointwise 1x1 one, each with BN and ReLU.

    Costs D_K^2 M D_F^2 + M N D_F^2 MACs instead of a full convolution's
    D_K^2 M N D_F^2, with M = in_channels, N = out_channels, D_K = 3 and D_F the
    output side: a ratio of 1/N + 1/D_K^2, Eq. (8.8).

    Args:
        in_channels: input channels M.
        out_channels: output channels N.
        stride: the depthwise convolution's stride.

    Returns:
        ``nn.Sequential(depthwise, pointwise)``; (N, M, H, W) -> (N, N', H', W').
    """
    return nn.Sequential(
        conv_bn_act(in_channels, in_channels, 3, stride=stride, groups=in_channels),
        conv_bn_act(in_channels, out_channels, 1),
    )


#: The (output channels, stride) of each depthwise separable convolution after the
#: 32-channel stride-2 stem, Table 1 of Howard et al. (2017).
MOBILENET_V1_CONFIG: list[tuple[int, int]] = [
    (64, 1),
    (128, 2),
    (128, 1),
    (256, 2),
    (256, 1),
    (512, 2),
    *[(512, 1)] * 5,
    (1024, 2),
    (1024, 1),
]


class MobileNetV1(nn.Module):
    """MobileNet v1 (Howard et al. 2017): a stem, 13 depthwise separable convolutions.

    4,231,976 parameters and about 569M MACs at width 1.0 and 224x224 (the paper
    reports 4.2M and 569M). Layout: ``features.0`` the stem (``conv_bn_act``),
    ``features.1``-``features.13`` the :func:`depthwise_separable` blocks, then global
    average pooling and a linear ``classifier``.

    Args:
        num_classes: output classes.
        in_channels: input channels.
        small_input: for 28x28 images: a stride-1 stem.
        width_mult: the width multiplier alpha; channels are alpha times the paper's,
            rounded to a multiple of 8.

    Shapes: (N, C, H, W) -> (N, num_classes).
    """

    def __init__(
        self,
        *,
        num_classes: int = 1000,
        in_channels: int = 3,
        small_input: bool = False,
        width_mult: float = 1.0,
    ) -> None:
        super().__init__()
        _check_common(num_classes, in_channels, small_input)
        check_finite_number(width_mult, "width_mult", low=0, low_open=True)
        self.in_channels = in_channels
        channels = _make_divisible(32 * width_mult)
        layers: list[nn.Module] = [
            conv_bn_act(in_channels, channels, 3, stride=1 if small_input else 2)
        ]
        for c, s in MOBILENET_V1_CONFIG:
            out = _make_divisible(c * width_mult)
            layers.append(depthwise_separable(channels, out, s))
            channels = out
        self.features = nn.Sequential(*layers)
        self.avgpool = nn.AdaptiveAvgPool2d((1, 1))
        self.classifier = nn.Linear(channels, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        _check_images(x, self.in_channels)
        x = self.features(x)  # (N, 1024 alpha, H/32, W/32)
        x = self.avgpool(x)  # (N, 1024 alpha, 1, 1)
        x = torch.flatten(x, 1)  # (N, 1024 alpha)
        return self.classifier(x)  # (N, num_classes)


def mobilenet_v1(
    *,
    num_classes: int = 1000,
    in_channels: int = 3,
    small_input: bool = False,
    **kwargs: Any,
) -> MobileNetV1:
    """MobileNet v1 at width 1.0, 4,231,976 parameters; see :class:`MobileNetV1`.

    Args:
        num_classes: output classes.
        in_channels: input channels.
        small_input: the 28x28 variant.
        **kwargs: ``width_mult``.

    Returns:
        The model.
    """
    return MobileNetV1(
        num_classes=num_classes,
        in_channels=in_channels,
        small_input=small_input,
        **kwargs,
    )


class InvertedResidual(nn.Module):
    """MobileNet v2's block: 1x1 expand (ReLU6), 3x3 depthwise (ReLU6), 1x1 linear.

    Narrow -> wide -> narrow, the reverse of a ResNet bottleneck, with no activation
    after the last (linear) projection; the shortcut is added when the block keeps
    the shape (stride 1, same channels). Names as torchvision's (``conv.0.0``, ...).

    Args:
        inp: input channels.
        oup: output channels.
        stride: the depthwise convolution's stride, 1 or 2.
        expand_ratio: the expansion factor t; the hidden width is round(t * inp).

    Shapes: (N, inp, H, W) -> (N, oup, H / stride, W / stride).
    """

    def __init__(self, inp: int, oup: int, stride: int, expand_ratio: int) -> None:
        super().__init__()
        check_in(stride, "stride", (1, 2))
        hidden_dim = round(inp * expand_ratio)
        self.stride = stride
        self.use_res_connect = stride == 1 and inp == oup
        layers: list[nn.Module] = []
        if expand_ratio != 1:  # 1x1 expand
            layers.append(conv_bn_act(inp, hidden_dim, 1, activation=nn.ReLU6))
        layers += [
            conv_bn_act(  # 3x3 depthwise
                hidden_dim,
                hidden_dim,
                3,
                stride=stride,
                groups=hidden_dim,
                activation=nn.ReLU6,
            ),
            nn.Conv2d(hidden_dim, oup, 1, 1, 0, bias=False),  # 1x1 linear projection
            nn.BatchNorm2d(oup),
        ]
        self.conv = nn.Sequential(*layers)
        self.out_channels = oup

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.use_res_connect:
            return x + self.conv(x)  # (N, oup, H, W)
        return self.conv(x)  # (N, oup, H / stride, W / stride)


#: The (expansion t, channels c, repeats n, first stride s) of each stage, Table 2
#: of Sandler et al. (2018).
MOBILENET_V2_CONFIG: list[tuple[int, int, int, int]] = [
    (1, 16, 1, 1),
    (6, 24, 2, 2),
    (6, 32, 3, 2),
    (6, 64, 4, 2),
    (6, 96, 3, 1),
    (6, 160, 3, 2),
    (6, 320, 1, 1),
]


class MobileNetV2(nn.Module):
    """MobileNet v2 (Sandler et al. 2018), torchvision's layout and names.

    A 32-channel stride-2 stem, 17 :class:`InvertedResidual` blocks, a 1x1
    convolution to 1280 channels, global average pooling, dropout and a linear layer.

    Args:
        num_classes: output classes.
        in_channels: input channels.
        small_input: for 28x28 images: a stride-1 stem.
        width_mult: the width multiplier; channels are rounded to multiples of
            ``round_nearest``.
        round_nearest: the multiple channel counts are rounded to.
        dropout: the dropout probability before the classifier.

    Shapes: (N, C, H, W) -> (N, num_classes).
    """

    def __init__(
        self,
        *,
        num_classes: int = 1000,
        in_channels: int = 3,
        small_input: bool = False,
        width_mult: float = 1.0,
        round_nearest: int = 8,
        dropout: float = 0.2,
    ) -> None:
        super().__init__()
        _check_common(num_classes, in_channels, small_input)
        check_finite_number(width_mult, "width_mult", low=0, low_open=True)
        check_positive_int(round_nearest, "round_nearest")
        check_finite_number(dropout, "dropout", low=0, high=1)
        self.in_channels = in_channels
        channels = _make_divisible(32 * width_mult, round_nearest)
        self.last_channel = _make_divisible(1280 * max(1.0, width_mult), round_nearest)
        stride = 1 if small_input else 2
        features: list[nn.Module] = [
            conv_bn_act(in_channels, channels, 3, stride=stride, activation=nn.ReLU6)
        ]
        for t, c, n, s in MOBILENET_V2_CONFIG:
            out = _make_divisible(c * width_mult, round_nearest)
            for i in range(n):
                features.append(InvertedResidual(channels, out, s if i == 0 else 1, t))
                channels = out
        features.append(
            conv_bn_act(channels, self.last_channel, 1, activation=nn.ReLU6)
        )
        self.features = nn.Sequential(*features)
        self.classifier = nn.Sequential(
            nn.Dropout(p=dropout), nn.Linear(self.last_channel, num_classes)
        )
        for m in self.modules():  # torchvision's initialization
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out")
            elif isinstance(m, nn.BatchNorm2d):
                nn.init.ones_(m.weight)
                nn.init.zeros_(m.bias)
            elif isinstance(m, nn.Linear):
                nn.init.normal_(m.weight, 0, 0.01)
                nn.init.zeros_(m.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        _check_images(x, self.in_channels)
        x = self.features(x)  # (N, 1280, H/32, W/32)
        x = F.adaptive_avg_pool2d(x, (1, 1))  # (N, 1280, 1, 1)
        x = torch.flatten(x, 1)  # (N, 1280)
        return self.classifier(x)  # (N, num_classes)


def mobilenet_v2(
    *,
    num_classes: int = 1000,
    in_channels: int = 3,
    small_input: bool = False,
    **kwargs: Any,
) -> MobileNetV2:
    """MobileNet v2 at width 1.0, 3,504,872 parameters; see :class:`MobileNetV2`.

    Args:
        num_classes: output classes.
        in_channels: input channels.
        small_input: the 28x28 variant.
        **kwargs: ``width_mult``, ``round_nearest``, ``dropout``.

    Returns:
        The model.
    """
    return MobileNetV2(
        num_classes=num_classes,
        in_channels=in_channels,
        small_input=small_input,
        **kwargs,
    )


# ---------------------------------------------------------------------------
# Counting: parameters, multiply-adds, activation memory
# ---------------------------------------------------------------------------


def count_parameters(model: nn.Module) -> int:
    """The number of parameters of ``model``, trainable or frozen.

    Entries that a 0/1 buffer named ``<name>_mask`` holds at zero (as in
    :class:`MaskedConv2d` and ``torch.nn.utils.prune``) are not counted: they never
    act. The models above report torchvision's and the papers' numbers this way.

    Args:
        model: any module; it may live on the ``meta`` device (no masks there).

    Returns:
        The count.
    """
    if not isinstance(model, nn.Module):
        raise TypeError(f"model must be an nn.Module, got {type(model).__name__}")
    total = sum(p.numel() for p in model.parameters())
    for name, buf in model.named_buffers():
        if name.endswith("_mask"):
            if buf.is_meta:
                raise ValueError(
                    f"cannot count the live entries of the mask {name} on the meta "
                    f"device; build the model on a real device"
                )
            total -= int((buf == 0).sum())
    return total


def _dummy_input(model: nn.Module, input_size: Any) -> torch.Tensor:
    """Zeros of ``input_size`` on the device and in the dtype of the model's weights."""
    if not isinstance(model, nn.Module):
        raise TypeError(f"model must be an nn.Module, got {type(model).__name__}")
    if not isinstance(input_size, Sequence) or isinstance(input_size, str):
        raise TypeError(
            f"input_size must be a sequence of ints such as (1, 3, 224, 224), "
            f"got {type(input_size).__name__}"
        )
    check_positive_int(len(input_size), "len(input_size)")
    size = [check_positive_int(n, f"input_size[{i}]") for i, n in enumerate(input_size)]
    ref = next(model.parameters(), None)
    if ref is None:
        ref = next(model.buffers(), torch.zeros(()))
    dtype = ref.dtype if ref.is_floating_point() else torch.get_default_dtype()
    return torch.zeros(size, dtype=dtype, device=ref.device)


def _run_eval(model: nn.Module, x: torch.Tensor) -> None:
    """One forward pass in eval mode without autograd; the modes are restored."""
    modes = {m: m.training for m in model.modules()}
    model.eval()  # no batch-norm statistics are updated, no dropout is drawn
    try:
        with torch.no_grad():
            model(x)
    finally:
        for m, training in modes.items():
            m.training = training


def count_macs(model: nn.Module, input_size: Sequence[int]) -> int:
    """Multiply-adds of one forward pass, from ``torch.utils.flop_counter``.

    ``FlopCounterMode`` counts 2 FLOPs per multiply-add of the matrix products and
    convolutions (``mm``, ``addmm``, ``bmm``, ``baddbmm``, convolutions, attention); so
    MACs = FLOPs / 2, the unit torchvision's "GFLOPS" and the papers' "mult-adds" use.
    Left out, as in those tables: element-wise work (batch norm, activations, the
    residual additions, SE's gating), pooling, softmax and bias additions. The pass runs
    in eval mode without autograd, on zeros; a model on the ``meta`` device costs no
    memory or time, as the count depends on shapes only.

    Args:
        model: the network.
        input_size: the input's shape with the batch, e.g. ``(1, 3, 224, 224)``.

    Returns:
        The number of multiply-adds for the whole batch.
    """
    x = _dummy_input(model, input_size)
    with FlopCounterMode(display=False) as counter:
        _run_eval(model, x)
    return counter.get_total_flops() // 2  # the MACs of Eq. (8.1), summed


def _aliases(out: torch.Tensor, inp: torch.Tensor) -> bool:
    """Whether ``out`` is ``inp`` or a view of the same memory (``flatten``)."""
    base = inp if inp._base is None else inp._base
    return out is inp or out._base is base or out is base


def activation_memory(model: nn.Module, input_size: Sequence[int]) -> int:
    """Bytes of the outputs of every leaf module in one forward pass.

    A forward hook on each leaf module (one with no children: convolutions, batch
    norms, pools, linear layers, activations) adds up the bytes of its output tensors,
    numel times element size, as the memory columns of the lecture's tables do. Not
    counted again: the outputs of in-place modules (``inplace=True``, e.g. ``ReLU``),
    which overwrite their input, and outputs that are their input or a view of it
    (``nn.Identity``, dropout in eval mode). Not counted at all: tensors that code in a
    ``forward`` makes without a module (the residual additions, DenseNet's
    concatenations, ``torch.flatten``). The input itself is not counted. The pass
    runs in eval mode without autograd; on the ``meta`` device it costs nothing.

    Args:
        model: the network.
        input_size: the input's shape with the batch, e.g. ``(1, 3, 224, 224)``.

    Returns:
        The bytes, for the whole batch.
    """
    x = _dummy_input(model, input_size)
    total = 0

    def hook(module: nn.Module, inputs: tuple[Any, ...], output: Any) -> None:
        nonlocal total
        if getattr(module, "inplace", False) is True:
            return
        outputs = output if isinstance(output, (tuple, list)) else (output,)
        tensors = [t for t in inputs if isinstance(t, torch.Tensor)]
        for out in outputs:
            if isinstance(out, torch.Tensor) and not any(
                _aliases(out, t) for t in tensors
            ):
                total += out.numel() * out.element_size()  # Eq. (8.1)'s memory

    leaves = [m for m in model.modules() if next(m.children(), None) is None]
    handles = [m.register_forward_hook(hook) for m in leaves]
    try:
        _run_eval(model, x)
    finally:
        for h in handles:
            h.remove()
    return total
