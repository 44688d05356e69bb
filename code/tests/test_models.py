"""dlcv.models: published sizes and costs, torchvision's layout, the small variants.

The ImageNet-config models are built on the ``meta`` device: their parameter counts,
MACs and activation memory depend on shapes only, so VGG's 138M parameters cost no
memory. torchvision is not a dependency (its PyPI build does not load beside torch's
CPU build); its published numbers and state-dict layout are written here as data.
"""

import functools
import math

import pytest
import torch
import torch.nn.functional as F
from torch import nn
from torch.testing import assert_close

from dlcv import models

META = torch.device("meta")


@pytest.fixture(autouse=True, scope="module")
def one_thread():
    """Narrow models on tiny images: one thread avoids the cost of waking a second."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def on_meta(build, **kwargs):
    """``build(**kwargs)`` with every parameter and buffer on the meta device."""
    with META:
        return build(**kwargs)


def seeded(*shape, seed=0):
    return torch.randn(*shape, generator=torch.Generator().manual_seed(seed))


# Parameter counts at the ImageNet config: torchvision's documentation (num_params);
# MobileNet v1 and SE-ResNet-50 from their papers (4.2M, 28.09M) to the last unit by
# our hand counts in the docstrings.
PUBLISHED_PARAMETERS = {
    "alexnet": 61_100_840,
    "vgg11": 132_863_336,
    "vgg11_bn": 132_868_840,
    "vgg13": 133_047_848,
    "vgg13_bn": 133_053_736,
    "vgg16": 138_357_544,
    "vgg16_bn": 138_365_992,
    "vgg19": 143_667_240,
    "vgg19_bn": 143_678_248,
    "resnet18": 11_689_512,
    "resnet34": 21_797_672,
    "resnet50": 25_557_032,
    "resnet101": 44_549_160,
    "resnext50_32x4d": 25_028_904,
    "se_resnet50": 28_088_024,
    "densenet121": 7_978_856,
    "mobilenet_v1": 4_231_976,
    "mobilenet_v2": 3_504_872,
}


@pytest.mark.parametrize(("name", "expected"), PUBLISHED_PARAMETERS.items())
def test_parameter_counts_equal_the_published_numbers(name, expected):
    model = on_meta(getattr(models, name))
    assert models.count_parameters(model) == expected


def test_mobilenet_v1_and_se_resnet50_counts_by_hand():
    # MobileNet v1: 3x3 stem (no bias) + BN; each depthwise separable block
    # M -> N: 9M + 2M (depthwise + BN) + MN + 2N (pointwise + BN); FC 1024 -> 1000.
    stem = 3 * 3 * 3 * 32 + 2 * 32
    blocks, m = 0, 32
    for n, _ in models.MOBILENET_V1_CONFIG:
        blocks += 9 * m + 2 * m + m * n + 2 * n
        m = n
    assert stem + blocks + 1024 * 1000 + 1000 == 4_231_976
    assert models.count_parameters(on_meta(models.mobilenet_v1)) == 4_231_976
    # SE-ResNet-50: ResNet-50 plus, per block of C = 4 * planes channels,
    # W_1 (C/16 x C, bias C/16) and W_2 (C x C/16, bias C).
    se = sum(
        n * (2 * c * c // 16 + c // 16 + c)
        for n, c in zip([3, 4, 6, 3], [256, 512, 1024, 2048], strict=True)
    )
    assert 25_557_032 + se == 28_088_024


def test_lenet5_parameter_count_by_hand():
    c1 = 6 * (1 * 5 * 5 + 1)
    c3_full = 16 * (6 * 5 * 5 + 1)
    c3_partial = 60 * 5 * 5 + 16  # 60 connections of Table I, one bias per map
    c5 = 120 * (16 * 5 * 5 + 1)
    f6 = 84 * (120 + 1)
    out = 10 * (84 + 1)
    assert models.count_parameters(models.lenet5()) == c1 + c3_full + c5 + f6 + out
    partial = models.lenet5(partial_c3=True)
    assert models.count_parameters(partial) == c1 + c3_partial + c5 + f6 + out
    assert sum(len(row) for row in models.LENET5_C3_TABLE) == 60
    # The paper's 60,000: the same layers with S2/S4's 2 trainable numbers per map
    # and without the (fixed) RBF output layer.
    assert c1 + 2 * 6 + c3_partial + 2 * 16 + c5 + f6 == 60_000
    # small_input pads C1 and changes no count.
    small = models.lenet5(partial_c3=True, small_input=True)
    assert models.count_parameters(small) == c1 + c3_partial + c5 + f6 + out


def test_lenet5_partial_c3_reads_only_its_table():
    torch.manual_seed(0)
    net = models.lenet5(partial_c3=True)
    c3 = net.c3
    x = seeded(2, 6, 14, 14, seed=1)
    out = c3(x)
    for j, inputs in enumerate(models.LENET5_C3_TABLE):
        for i in range(6):
            x2 = x.clone()
            x2[:, i] += 1.0
            changed = not torch.allclose(c3(x2)[:, j], out[:, j])
            assert changed == (i in inputs), (j, i)
    # The masked weights get no gradient and stay zero.
    (c3(x) * seeded(*out.shape, seed=2)).sum().backward()
    dead = c3.weight_mask == 0
    assert int(dead.sum()) == (96 - 60) * 25
    assert torch.all(c3.weight.grad[dead] == 0)
    assert torch.all(c3.weight[dead] == 0)
    assert torch.any(c3.weight.grad[~dead] != 0)


@pytest.mark.parametrize("small_input", [False, True])
@pytest.mark.parametrize("partial_c3", [False, True])
def test_lenet5_forward_shapes_and_lecun_sizes(small_input, partial_c3):
    torch.manual_seed(0)
    net = models.lenet5(small_input=small_input, partial_c3=partial_c3)
    side = 28 if small_input else 32
    x = seeded(3, 1, side, side)
    sizes = {}
    for name in ("c1", "s2", "c3", "s4", "c5"):
        getattr(net, name).register_forward_hook(
            lambda m, i, o, name=name: sizes.__setitem__(name, tuple(o.shape[1:]))
        )
    assert net(x).shape == (3, 10)
    assert sizes == {
        "c1": (6, 28, 28),
        "s2": (6, 14, 14),
        "c3": (16, 10, 10),
        "s4": (16, 5, 5),
        "c5": (120, 1, 1),
    }


def test_count_macs_and_memory_of_lenet5_by_hand():
    net = models.lenet5(partial_c3=True)
    # MACs: output positions x kernel volume x output channels, per layer; the
    # masked C3 runs as a dense convolution.
    macs = 6 * 28 * 28 * 25 + 16 * 10 * 10 * 6 * 25 + 120 * 16 * 25 + 84 * 120 + 10 * 84
    assert models.count_macs(net, (1, 1, 32, 32)) == macs
    assert models.count_macs(net, (4, 1, 32, 32)) == 4 * macs
    # Memory: every leaf output in float32; tanh runs 4 times, out of place.
    floats = (6 * 28 * 28) * 2 + 6 * 14 * 14 + (16 * 10 * 10) * 2 + 16 * 5 * 5
    floats += 120 * 2 + 84 * 2 + 10
    assert models.activation_memory(net, (1, 1, 32, 32)) == 4 * floats


# torchvision's published GFLOPS ("_ops" in its weights' metadata), which are
# multiply-adds; MobileNet v1: 569 million mult-adds (Howard et al., Table 8).
PUBLISHED_GMACS = {
    "alexnet": 0.714,
    "vgg11": 7.609,
    "vgg16": 15.47,
    "vgg19_bn": 19.632,
    "resnet18": 1.814,
    "resnet34": 3.664,
    "resnet50": 4.089,
    "resnet101": 7.801,
    "resnext50_32x4d": 4.23,
    "densenet121": 2.834,
    "mobilenet_v2": 0.301,
    "mobilenet_v1": 0.569,
}


@pytest.mark.parametrize(("name", "gmacs"), PUBLISHED_GMACS.items())
def test_macs_at_224_agree_with_the_published_numbers(name, gmacs):
    model = on_meta(getattr(models, name))
    macs = models.count_macs(model, (1, 3, 224, 224))
    decimals = len(str(gmacs).split(".")[1])
    assert round(macs / 1e9, decimals) == gmacs  # equal to the published rounding


def test_se_blocks_add_only_their_two_1x1_layers_to_the_macs():
    se, plain = on_meta(models.se_resnet50), on_meta(models.resnet50)
    size = (1, 3, 224, 224)
    extra = models.count_macs(se, size) - models.count_macs(plain, size)
    blocks = [m for m in se.modules() if isinstance(m, models.SEBlock)]
    assert len(blocks) == 16
    # W_1 and W_2 act on a 1x1 map: one MAC per weight.
    assert extra == sum(b.fc1.weight.numel() + b.fc2.weight.numel() for b in blocks)


def test_depthwise_separable_macs_match_the_mobilenet_formula():
    M, N, D_F = 8, 16, 10
    block = models.depthwise_separable(M, N, stride=1)
    separable = 3 * 3 * M * D_F * D_F + M * N * D_F * D_F
    assert models.count_macs(block, (1, M, D_F, D_F)) == separable
    full = models.conv_bn_act(M, N, 3)
    assert models.count_macs(full, (1, M, D_F, D_F)) == 3 * 3 * M * N * D_F * D_F


def tiny_net(dtype=torch.float32):
    return nn.Sequential(
        nn.Conv2d(3, 4, 3, padding=1),
        nn.ReLU(inplace=True),
        nn.MaxPool2d(2),
        nn.Dropout(0.5),
        nn.Flatten(),
        nn.Linear(64, 10),
    ).to(dtype)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_count_macs_and_activation_memory_of_a_tiny_net_by_hand(dtype):
    net = tiny_net(dtype)
    assert models.count_macs(net, (2, 3, 8, 8)) == 2 * (4 * 3 * 9 * 64 + 64 * 10)
    # conv (2, 4, 8, 8) and pool (2, 4, 4, 4) and linear (2, 10); the in-place ReLU,
    # the eval-mode dropout (returns its input) and the flatten view add nothing.
    size = torch.finfo(dtype).bits // 8
    assert models.activation_memory(net, (2, 3, 8, 8)) == size * (512 + 128 + 20)


def test_counting_leaves_modes_and_batch_norm_statistics_alone():
    torch.manual_seed(0)
    net = models.resnet18(small_input=True, in_channels=1, num_classes=10, width=8)
    net.train()
    net.layer1.eval()  # a mixed state must come back as it was
    before = {k: v.clone() for k, v in net.state_dict().items()}
    models.count_macs(net, (2, 1, 28, 28))
    models.activation_memory(net, (2, 1, 28, 28))
    assert net.training and not net.layer1.training and net.layer2.training
    for k, v in net.state_dict().items():
        assert torch.equal(v, before[k]), k


@pytest.mark.parametrize(
    ("build", "kwargs"),
    [
        (models.mobilenet_v2, {"width_mult": 0.25}),
        (models.resnet18, {"width": 8}),
        (models.densenet121, {"growth_rate": 4, "block_config": (2, 2, 2, 2)}),
    ],
)
def test_activation_memory_on_meta_equals_the_real_pass(build, kwargs):
    torch.manual_seed(0)
    kwargs = {"small_input": True, "in_channels": 1, "num_classes": 10, **kwargs}
    real, meta = build(**kwargs), on_meta(build, **kwargs)
    size = (2, 1, 28, 28)
    assert models.activation_memory(real, size) == models.activation_memory(meta, size)
    assert models.count_macs(real, size) == models.count_macs(meta, size)


# torchvision's state-dict layout: number of entries and a few (name, shape) pairs,
# read from torchvision 0.28 (where ours loaded strictly and gave equal outputs).
TORCHVISION_LAYOUT = {
    "alexnet": (16, {"features.6.bias": (384,), "classifier.4.weight": (4096, 4096)}),
    "vgg16_bn": (
        97,
        {"features.15.running_mean": (256,), "classifier.0.bias": (4096,)},
    ),
    "resnet18": (
        122,
        {
            "layer2.0.bn2.running_var": (128,),
            "layer2.0.downsample.0.weight": (128, 64, 1, 1),
        },
    ),
    "resnet50": (320, {"layer2.1.bn3.running_var": (512,), "fc.weight": (1000, 2048)}),
    "resnext50_32x4d": (320, {"layer1.0.conv2.weight": (128, 4, 3, 3)}),
    "densenet121": (
        727,
        {
            "features.denseblock3.denselayer1.norm2.running_mean": (128,),
            "features.transition2.conv.weight": (256, 512, 1, 1),
            "classifier.weight": (1000, 1024),
        },
    ),
    "mobilenet_v2": (
        314,
        {"features.6.conv.3.bias": (32,), "features.1.conv.0.0.weight": (32, 1, 3, 3)},
    ),
}


@pytest.mark.parametrize(("name", "layout"), TORCHVISION_LAYOUT.items())
def test_state_dict_has_torchvision_layout(name, layout):
    entries, shapes = layout
    state = on_meta(getattr(models, name)).state_dict()
    assert len(state) == entries
    for key, shape in shapes.items():
        assert tuple(state[key].shape) == shape, key


def test_vgg_family_shares_one_layout():
    for depth in (11, 13, 16, 19):
        plain = on_meta(getattr(models, f"vgg{depth}"))
        bn = on_meta(getattr(models, f"vgg{depth}_bn"))
        convs = [m for m in plain.features if isinstance(m, nn.Conv2d)]
        assert len(convs) + 3 == depth  # conv layers + 3 linear layers
        norms = [m for m in bn.features if isinstance(m, nn.BatchNorm2d)]
        assert [n.num_features for n in norms] == [c.out_channels for c in convs]


SMALL = {  # narrow variants that run in well under a second on a CPU
    "lenet5": {},
    "alexnet": {"width": 8, "hidden": 32},
    "vgg11": {"width": 8, "hidden": 32},
    "vgg16_bn": {"width": 8, "hidden": 32},
    "vgg19": {"width": 8, "hidden": 32},
    "resnet18": {"width": 8},
    "resnet34": {"width": 8},
    "resnet50": {"width": 8},
    "resnet101": {"width": 8},
    "resnext50_32x4d": {"width": 8, "groups": 4, "width_per_group": 16},
    "se_resnet50": {"width": 8},
    "densenet121": {"growth_rate": 4, "num_init_features": 8},
    "mobilenet_v1": {"width_mult": 0.25},
    "mobilenet_v2": {"width_mult": 0.25},
}


@pytest.mark.parametrize(("name", "kwargs"), SMALL.items())
def test_small_input_variants_classify_fashion_mnist_shapes(name, kwargs):
    torch.manual_seed(0)
    build = getattr(models, name)
    net = build(small_input=True, in_channels=1, num_classes=10, **kwargs)
    x = seeded(2, 1, 28, 28)
    scores = net(x)
    assert scores.shape == (2, 10) and torch.isfinite(scores).all()
    F.cross_entropy(scores, torch.tensor([3, 7])).backward()
    first = next(m for m in net.modules() if isinstance(m, nn.Conv2d))
    assert first.weight.grad is not None and first.weight.grad.abs().sum() > 0


def test_small_input_stems_are_3x3_stride_1_without_max_pool():
    net = models.resnet18(small_input=True, in_channels=1, num_classes=10, width=8)
    assert (net.conv1.kernel_size, net.conv1.stride) == ((3, 3), (1, 1))
    assert isinstance(net.maxpool, nn.Identity)
    dense = models.densenet121(small_input=True, in_channels=1, num_classes=10)
    assert dense.features.conv0.kernel_size == (3, 3)
    assert isinstance(dense.features.pool0, nn.Identity)
    # VGG at 28x28: three pools, then a 1x1 average pool.
    vgg = models.vgg11(small_input=True, in_channels=1, num_classes=10, width=8)
    assert sum(isinstance(m, nn.MaxPool2d) for m in vgg.features) == 3
    assert vgg.classifier[0].in_features == 64


def test_width_scales_resnet_and_vgg():
    net = on_meta(models.resnet18, width=32)
    assert net.conv1.out_channels == 32 and net.fc.in_features == 256
    net = on_meta(models.resnet50, width=16)
    assert net.fc.in_features == 8 * 16 * 4
    vgg = on_meta(models.vgg11, width=16)
    convs = [m.out_channels for m in vgg.features if isinstance(m, nn.Conv2d)]
    assert convs == [16, 32, 64, 64, 128, 128, 128, 128]


def residual_blocks(net):
    return [
        m for m in net.modules() if isinstance(m, models.BasicBlock | models.Bottleneck)
    ]


@pytest.mark.parametrize(
    ("build", "kwargs", "train"),
    [
        (models.resnet18, {"width": 8}, True),
        (models.resnet18, {"width": 8}, False),
        (models.resnet50, {"width": 8}, False),
        (models.se_resnet50, {"width": 8}, True),
        (
            models.resnext50_32x4d,
            {"width": 8, "groups": 4, "width_per_group": 16},
            False,
        ),
    ],
)
def test_zero_init_residual_makes_every_block_start_as_its_shortcut(
    build, kwargs, train
):
    torch.manual_seed(0)
    net = build(small_input=True, in_channels=1, num_classes=10, **kwargs)
    zeroed = build(
        small_input=True,
        in_channels=1,
        num_classes=10,
        zero_init_residual=True,
        **kwargs,
    )
    for model, identity in ((net, False), (zeroed, True)):
        model.train(train)
        blocks = residual_blocks(model)
        last_bn = [b.bn3 if isinstance(b, models.Bottleneck) else b.bn2 for b in blocks]
        assert all(bool((bn.weight == 0).all()) == identity for bn in last_bn)
        seen = []

        def hook(block, inputs, out, seen=seen):
            (x,) = inputs
            shortcut = x if block.downsample is None else block.downsample(x)
            seen.append(torch.allclose(out, F.relu(shortcut)))

        for b in blocks:
            b.register_forward_hook(hook)
        with torch.no_grad():
            model(seeded(2, 1, 16, 16))  # any size works; 16x16 is cheap
        assert len(seen) == len(blocks)
        assert all(seen) if identity else not any(seen)


def test_se_block_scales_each_channel_by_a_sigmoid_gate():
    torch.manual_seed(0)
    se = models.SEBlock(32, reduction=16)
    assert (se.fc1.in_channels, se.fc1.out_channels) == (32, 2)
    assert (se.fc2.in_channels, se.fc2.out_channels) == (2, 32)
    x = seeded(3, 32, 5, 6)
    y = se(x)
    assert y.shape == x.shape
    z = x.mean(dim=(2, 3))  # squeeze: (N, C)
    hidden = F.relu(z @ se.fc1.weight[:, :, 0, 0].T + se.fc1.bias)  # (N, C/r)
    gate = torch.sigmoid(hidden @ se.fc2.weight[:, :, 0, 0].T + se.fc2.bias)  # (N, C)
    assert_close(y, x * gate[:, :, None, None])
    ratio = y / x  # one gate per (sample, channel), in (0, 1)
    assert_close(ratio, ratio[:, :, :1, :1].expand_as(ratio))
    assert bool(((ratio > 0) & (ratio < 1)).all())


def test_dense_block_concatenates_its_input_and_each_layer():
    torch.manual_seed(0)
    block = models.DenseBlock(3, 5, bn_size=2, growth_rate=4).eval()
    x = seeded(2, 5, 6, 6)
    out = block(x)
    assert out.shape == (2, 5 + 3 * 4, 6, 6)
    assert torch.equal(out[:, :5], x)  # x_0 is kept as is
    layers = list(block.values())
    assert [layer.norm1.num_features for layer in layers] == [5, 9, 13]
    assert_close(out[:, 5:9], layers[0](x))  # x_1 = H_1(x_0)
    assert_close(out[:, 9:13], layers[1](out[:, :9]))  # x_2 = H_2([x_0, x_1])
    trans = models.Transition(17, 8)
    assert trans(out).shape == (2, 8, 3, 3)


def test_densenet121_channel_counts():
    net = on_meta(models.densenet121)
    shapes = {}
    for name, module in net.features.named_children():
        if name.startswith(("denseblock", "transition")):
            module.register_forward_hook(
                lambda m, i, o, name=name: shapes.__setitem__(name, tuple(o.shape[1:]))
            )
    models.count_macs(net, (1, 3, 224, 224))
    # C_0 + L k with k = 32, halved by each transition.
    assert shapes == {
        "denseblock1": (64 + 6 * 32, 56, 56),
        "transition1": (128, 28, 28),
        "denseblock2": (128 + 12 * 32, 28, 28),
        "transition2": (256, 14, 14),
        "denseblock3": (256 + 24 * 32, 14, 14),
        "transition3": (512, 7, 7),
        "denseblock4": (512 + 16 * 32, 7, 7),
    }
    assert net.classifier.in_features == 1024


def test_inverted_residual_adds_its_input_only_when_shapes_match():
    torch.manual_seed(0)
    same = models.InvertedResidual(16, 16, 1, 6).eval()
    x = seeded(2, 16, 7, 7)
    assert same.use_res_connect
    assert_close(same(x), x + same.conv(x))
    assert len(same.conv) == 4  # expand, depthwise, linear 1x1, BN: no activation
    down = models.InvertedResidual(16, 24, 2, 6).eval()
    assert not down.use_res_connect and down(x).shape == (2, 24, 4, 4)
    assert len(models.InvertedResidual(16, 16, 1, 1).conv) == 3  # t = 1: no expand


@pytest.mark.parametrize(
    ("call", "error", "match"),
    [
        (
            lambda: models.resnet18(num_classes=0),
            ValueError,
            r"num_classes must be an int >= 1, got 0",
        ),
        (
            lambda: models.alexnet(in_channels=0),
            ValueError,
            r"in_channels must be an int >= 1, got 0",
        ),
        (
            lambda: models.vgg11(num_classes=True),
            TypeError,
            r"num_classes must be an int, got bool",
        ),
        (
            lambda: models.densenet121(num_classes=2.5),
            TypeError,
            r"num_classes must be an int, got float",
        ),
        (
            lambda: models.mobilenet_v2(small_input=1),
            TypeError,
            r"small_input must be a bool, got int",
        ),
        (
            lambda: models.VGG("vgg12"),
            ValueError,
            r"config must be one of \('vgg11', 'vgg13', 'vgg16', 'vgg19'\), got 'vgg1",
        ),
        (
            lambda: models.VGG([64, "X"]),
            ValueError,
            r"config\[1\] must be a channel count or 'M', got 'X'",
        ),
        (
            lambda: models.VGG(["M"]),
            ValueError,
            r"config must hold at least one convolution",
        ),
        (
            lambda: models.ResNet(models.BasicBlock, [2, 2, 2]),
            ValueError,
            r"layers must have 4 entries \(blocks per stage\), got 3",
        ),
        (
            lambda: models.ResNet(nn.Conv2d, [2, 2, 2, 2]),
            TypeError,
            r"block must be BasicBlock or Bottleneck",
        ),
        (
            lambda: models.resnet18(groups=32),
            ValueError,
            r"BasicBlock only supports groups=1 and base_width=64",
        ),
        (
            lambda: models.resnet50(width=8, width_per_group=4),
            ValueError,
            r"inner width .* must be an int >= 1, got 0",
        ),
        (
            lambda: models.resnet18(width=0),
            ValueError,
            r"width must be an int >= 1, got 0",
        ),
        (
            lambda: models.resnet18(zero_init_residual="yes"),
            TypeError,
            r"zero_init_residual must be a bool, got str",
        ),
        (
            lambda: models.resnet18(depth=18),
            TypeError,
            r"unexpected keyword argument 'depth'",
        ),
        (
            lambda: models.SEBlock(8, reduction=16),
            ValueError,
            r"reduction must be an int in \[1, 8\], got 16",
        ),
        (
            lambda: models.alexnet(dropout=1.5),
            ValueError,
            r"dropout must be a finite number in \[0, 1\], got 1.5",
        ),
        (
            lambda: models.mobilenet_v1(width_mult=0.0),
            ValueError,
            r"width_mult must be a finite number in \(0, inf\], got 0.0",
        ),
        (
            lambda: models.mobilenet_v2(width_mult=math.nan),
            ValueError,
            r"width_mult must be a finite number",
        ),
        (
            lambda: models.InvertedResidual(8, 8, 3, 6),
            ValueError,
            r"stride must be one of \(1, 2\), got 3",
        ),
        (
            lambda: models.lenet5(activation=nn.Tanh()),
            TypeError,
            r"activation must be an nn.Module class such as nn.Tanh",
        ),
        (
            lambda: models.MaskedConv2d(6, 2, 5, connections=[(0,), (6,)]),
            ValueError,
            r"connections\[1\] entry must be an int in \[0, 5\], got 6",
        ),
        (
            lambda: models.MaskedConv2d(6, 2, 5, connections=[(0,)]),
            ValueError,
            r"connections must have 2 entries \(C_out\), got 1",
        ),
        (
            lambda: models.densenet121(block_config=(6, 0)),
            ValueError,
            r"block_config\[1\] must be an int >= 1, got 0",
        ),
        (
            lambda: models.count_parameters("resnet"),
            TypeError,
            r"model must be an nn.Module, got str",
        ),
        (
            lambda: models.count_macs(models.lenet5(), 32),
            TypeError,
            r"input_size must be a sequence of ints",
        ),
        (
            lambda: models.count_macs(models.lenet5(), (1, 1, 0, 32)),
            ValueError,
            r"input_size\[2\] must be an int >= 1, got 0",
        ),
        (
            lambda: models.activation_memory(nn.Linear(2, 2), ()),
            ValueError,
            r"len\(input_size\) must be an int >= 1, got 0",
        ),
        (
            lambda: models.count_parameters(on_meta(models.lenet5, partial_c3=True)),
            ValueError,
            r"live entries of the mask c3.weight_mask on the meta device",
        ),
    ],
)
def test_bad_arguments_raise_clear_errors(call, error, match):
    with pytest.raises(error, match=match):
        call()


@pytest.mark.parametrize(
    ("x", "error", "match"),
    [
        (
            torch.zeros(2, 3, 28, 28),
            ValueError,
            r"x must have shape \(N, 1, H, W\), got \(2, 3, 28, 28\)",
        ),
        (
            torch.zeros(1, 28, 28),
            ValueError,
            r"x must have 4 dimensions, got shape \(1, 28, 28\)",
        ),
        (
            torch.zeros(2, 1, 28, 28, dtype=torch.long),
            TypeError,
            r"x must have a floating dtype, got torch.int64",
        ),
        ([[0.0]], TypeError, r"x must be a torch.Tensor, got list"),
    ],
)
def test_forward_checks_its_input(x, error, match):
    net = models.resnet18(small_input=True, in_channels=1, num_classes=10, width=8)
    with pytest.raises(error, match=match):
        net(x)


def test_lenet5_names_the_input_size_it_needs():
    with pytest.raises(ValueError, match=r"x must have shape \(N, 1, 32, 32\)"):
        models.lenet5()(torch.zeros(1, 1, 28, 28))
    with pytest.raises(ValueError, match=r"x must have shape \(N, 1, 28, 28\)"):
        models.lenet5(small_input=True)(torch.zeros(1, 1, 32, 32))


def test_lenet5_pool_and_activation_are_choices():
    net = models.lenet5(activation=nn.ReLU, pool=nn.MaxPool2d)
    assert isinstance(net.s2, nn.MaxPool2d) and isinstance(net.activation, nn.ReLU)
    relu_net = functools.partial(models.lenet5, activation=nn.ReLU)
    assert relu_net()(torch.zeros(1, 1, 32, 32)).shape == (1, 10)
