import itertools

import pytest
import torch
import torch.nn.functional as F
from torch import nn
from torch.autograd import gradcheck
from torch.testing import assert_close

from dlcv import conv

F64 = torch.float64


def randn(*shape, seed=0, dtype=F64, requires_grad=False):
    g = torch.Generator().manual_seed(seed)
    t = torch.randn(*shape, generator=g, dtype=dtype)
    return t.requires_grad_(requires_grad)


def conv_inputs(C_in=4, C_out=6, groups=1, k=3, size=(7, 9), N=2, bias=True, seed=0):
    """(x, weight, bias, groups) in float64; "depthwise": groups = C_in, 2 C_in out."""
    G = C_in if groups == "depthwise" else groups
    C_out = 2 * C_in if groups == "depthwise" else C_out
    kh, kw = (k, k) if isinstance(k, int) else k
    x = randn(N, C_in, *size, seed=seed)
    weight = randn(C_out, C_in // G, kh, kw, seed=seed + 1)
    b = randn(C_out, seed=seed + 2) if bias else None
    return x, weight, b, G


def fits(size, k, padding, dilation):
    """Whether a k (int or pair) kernel with int padding and dilation fits ``size``."""
    ks = (k, k) if isinstance(k, int) else k
    return all(
        dilation * (k - 1) + 1 <= n + 2 * padding for n, k in zip(size, ks, strict=True)
    )


# every stride, padding, dilation and input size, for each kernel/groups/bias below
WINDOWS = [
    dict(size=size, stride=s, padding=p, dilation=d)
    for size, s, p, d in itertools.product([(7, 9), (8, 8)], [1, 2], [0, 1, 2], [1, 2])
]


# ---- convolution forward -------------------------------------------------------------
@pytest.mark.parametrize("bias", [True, False], ids=["bias", "no_bias"])
@pytest.mark.parametrize("groups", [1, 2, "depthwise"])
@pytest.mark.parametrize("k", [1, 3, 5])
def test_conv2d_forward_equals_f_conv2d_over_a_grid(k, groups, bias):
    checked = 0
    for w in WINDOWS:
        if not fits(w["size"], k, w["padding"], w["dilation"]):
            continue
        x, weight, b, G = conv_inputs(groups=groups, k=k, size=w["size"], bias=bias)
        args = (w["stride"], w["padding"], w["dilation"], G)
        out, _ = conv.conv2d_forward(x, weight, b, *args)
        assert_close(out, F.conv2d(x, weight, b, *args), msg=f"{w}")
        checked += 1
    assert checked >= 16  # k = 5 with dilation 2 does not fit every input


@pytest.mark.parametrize("groups", [1, 2, "depthwise"])
@pytest.mark.parametrize("window", [(3, 1, 0, 1), (3, 2, 1, 1), (2, 1, 2, 2)])
def test_naive_conv_equals_f_conv2d(window, groups):
    k, s, p, d = window
    x, weight, b, G = conv_inputs(groups=groups, k=k, size=(5, 6))
    assert_close(
        conv.conv2d_naive(x, weight, b, s, p, d, G), F.conv2d(x, weight, b, s, p, d, G)
    )


def test_conv_takes_pairs_non_square_kernels_and_float32():
    x, weight, b, _ = conv_inputs(C_in=3, C_out=5, k=(3, 2), size=(9, 6))
    args = ((2, 1), (1, 0), (1, 2), 1)  # stride, padding, dilation as pairs
    assert_close(
        conv.conv2d_forward(x, weight, b, *args)[0], F.conv2d(x, weight, b, *args)
    )
    assert_close(conv.conv2d_naive(x, weight, b, *args), F.conv2d(x, weight, b, *args))
    x32, w32, b32 = x.float(), weight.float(), b.float()
    out32, _ = conv.conv2d_forward(x32, w32, b32, *args)
    assert out32.dtype == torch.float32
    assert_close(out32, F.conv2d(x32, w32, b32, *args), rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("k", [1, (2, 3), 3])
def test_im2col_equals_f_unfold_and_col2im_equals_f_fold(k):
    x = randn(2, 3, 7, 8, seed=5)
    for w in WINDOWS:
        if not fits((7, 8), k, w["padding"], w["dilation"]):
            continue
        s, p, d = w["stride"], w["padding"], w["dilation"]
        cols = conv.im2col(x, k, s, p, d)
        assert_close(cols, F.unfold(x, k, d, p, s), rtol=0, atol=0, msg=f"{w}")
        dcols = randn(*cols.shape, seed=6)
        assert_close(
            conv.col2im(dcols, (7, 8), k, s, p, d),
            F.fold(dcols, (7, 8), k, d, p, s),
            msg=f"{w}",
        )


def test_col2im_is_the_adjoint_of_im2col():
    # <im2col(x), c> = <x, col2im(c)>: col2im is im2col's transpose
    x, c = randn(2, 3, 6, 7, seed=1), randn(2, 3 * 9, 12, seed=2)
    lhs = (conv.im2col(x, 3, 2, 1) * c).sum()
    assert_close(lhs, (x * conv.col2im(c, (6, 7), 3, 2, 1)).sum())


# ---- convolution backward ------------------------------------------------------------
CONV_GRAD_CONFIGS = [
    dict(groups=1, k=3, stride=1, padding=1, dilation=1),
    dict(groups=2, k=3, stride=2, padding=1, dilation=1),
    dict(groups=1, k=3, stride=1, padding=2, dilation=2),
    dict(groups="depthwise", k=5, stride=2, padding=2, dilation=1),
    dict(groups=2, k=(1, 3), stride=(2, 1), padding=(0, 1), dilation=(1, 2)),
    dict(groups=1, k=2, stride=3, padding=0, dilation=1, bias=False),  # skips pixels
]


def conv_case(cfg, size=(7, 9), N=2, C_in=4, C_out=6):
    cfg = dict(cfg)
    x, weight, b, G = conv_inputs(
        C_in, C_out, cfg.pop("groups"), cfg.pop("k"), size, N, cfg.pop("bias", True)
    )
    return x, weight, b, (cfg["stride"], cfg["padding"], cfg["dilation"], G)


@pytest.mark.parametrize("cfg", CONV_GRAD_CONFIGS, ids=str)
def test_conv2d_backward_equals_autograd_of_f_conv2d(cfg):
    x, weight, b, args = conv_case(cfg)
    inputs = [t.clone().requires_grad_() for t in (x, weight, b) if t is not None]
    out_ref = F.conv2d(*inputs[:2], inputs[2] if b is not None else None, *args)
    dout = randn(*out_ref.shape, seed=99)
    (out_ref * dout).sum().backward()
    _, cache = conv.conv2d_forward(x, weight, b, *args)
    dx, dweight, dbias = conv.conv2d_backward(dout, cache)
    assert_close(dx, inputs[0].grad)
    assert_close(dweight, inputs[1].grad)
    if b is None:
        assert dbias is None
    else:
        assert_close(dbias, inputs[2].grad)


@pytest.mark.parametrize("cfg", CONV_GRAD_CONFIGS, ids=str)
def test_conv2d_passes_gradcheck(cfg):
    x, weight, b, args = conv_case(cfg, size=(4, 5), N=1, C_in=2, C_out=2)
    inputs = tuple(t.requires_grad_() for t in (x, weight, b) if t is not None)
    fn = (
        (lambda x, w, b: conv.conv2d(x, w, b, *args))
        if b is not None
        else (lambda x, w: conv.conv2d(x, w, None, *args))
    )
    assert gradcheck(fn, inputs, eps=1e-6, atol=1e-5)


def test_conv2d_function_respects_needs_input_grad():
    x, weight, b, _ = conv_inputs()
    weight.requires_grad_()
    conv.conv2d(x, weight, b, 1, 1).sum().backward()
    assert x.grad is None and b.grad is None
    ref = weight.detach().clone().requires_grad_()
    F.conv2d(x, ref, b, 1, 1).sum().backward()
    assert_close(weight.grad, ref.grad)


# ---- pooling -------------------------------------------------------------------------
POOL_CONFIGS = [  # kernel, stride, padding, dilation
    (2, None, 0, 1),
    (3, 2, 1, 1),
    (3, 1, 0, 2),
    ((3, 2), (2, 1), (1, 0), 1),
    (5, 3, 2, 1),
]


@pytest.mark.parametrize("cfg", POOL_CONFIGS, ids=str)
def test_max_pool_forward_backward_equal_torch(cfg):
    k, s, p, d = cfg
    x = randn(2, 3, 7, 9, seed=3).requires_grad_()
    ref = F.max_pool2d(x, k, s, p, d)
    dout = randn(*ref.shape, seed=4)
    (ref * dout).sum().backward()
    out, cache = conv.max_pool2d_forward(x.detach(), k, s, p, d)
    assert_close(out, ref.detach())
    assert_close(conv.max_pool2d_backward(dout, cache), x.grad)
    small = x.detach()[:1, :2].clone().requires_grad_()  # (1, 2, 7, 9)
    assert gradcheck(
        lambda x: conv.max_pool2d(x, k, s, p, d), (small,), eps=1e-6, atol=1e-5
    )


def test_max_pool_routes_ties_to_the_first_maximum_like_torch():
    x = torch.zeros(1, 2, 4, 5, dtype=F64, requires_grad=True)  # every value ties
    F.max_pool2d(x, 2, 1).sum().backward()
    out, cache = conv.max_pool2d_forward(x.detach(), 2, 1)
    assert_close(conv.max_pool2d_backward(torch.ones_like(out), cache), x.grad)


@pytest.mark.parametrize("count_include_pad", [True, False])
@pytest.mark.parametrize("cfg", [c for c in POOL_CONFIGS if c[3] == 1], ids=str)
def test_avg_pool_forward_backward_equal_torch(cfg, count_include_pad):
    k, s, p, _ = cfg
    x = randn(2, 3, 7, 9, seed=5).requires_grad_()
    for divisor in (None, 4):
        x.grad = None
        ref = F.avg_pool2d(x, k, s, p, False, count_include_pad, divisor)
        dout = randn(*ref.shape, seed=6)
        (ref * dout).sum().backward()
        out, cache = conv.avg_pool2d_forward(
            x.detach(), k, s, p, count_include_pad, divisor
        )
        assert_close(out, ref.detach())
        assert_close(conv.avg_pool2d_backward(dout, cache), x.grad)
    small = x.detach()[:1, :2].clone().requires_grad_()  # (1, 2, 7, 9)
    assert gradcheck(
        lambda x: conv.avg_pool2d(x, k, s, p, False, count_include_pad),
        (small,),
        eps=1e-6,
        atol=1e-5,
    )


# ---- batch normalization -------------------------------------------------------------
@pytest.mark.parametrize("shape", [(4, 3, 5, 6), (8, 3), (4, 3, 7)], ids=str)
@pytest.mark.parametrize("training", [True, False], ids=["train", "eval"])
def test_batch_norm_forward_backward_equal_torch(shape, training):
    C = shape[1]
    x = randn(*shape, seed=1) * 3 + 1
    weight, bias = randn(C, seed=2), randn(C, seed=3)
    stats = randn(C, seed=4), randn(C, seed=5).exp()
    ours_stats = [t.clone() for t in stats]
    leaves = [t.clone().requires_grad_() for t in (x, weight, bias)]
    ref = F.batch_norm(leaves[0], *stats, leaves[1], leaves[2], training, 0.3, 1e-4)
    dout = randn(*shape, seed=6)
    (ref * dout).sum().backward()
    out, cache = conv.batch_norm_forward(
        x, *ours_stats, weight, bias, training, 0.3, 1e-4
    )
    assert_close(out, ref.detach())
    for ours, theirs in zip(ours_stats, stats, strict=True):  # updated the same way
        assert_close(ours, theirs)
    grads = conv.batch_norm_backward(dout, cache)
    for ours, leaf in zip(grads, leaves, strict=True):
        assert_close(ours, leaf.grad)


@pytest.mark.parametrize("training", [True, False], ids=["train", "eval"])
def test_batch_norm_passes_gradcheck(training):
    x = randn(3, 2, 3, 4, seed=7, requires_grad=True)
    weight, bias = randn(2, seed=8, requires_grad=True), randn(2, seed=9)
    bias.requires_grad_()
    stats = (None, None) if training else (randn(2, seed=10), randn(2, seed=11).exp())

    def fn(x, weight, bias):
        return conv.batch_norm(x, *stats, weight, bias, training)

    assert gradcheck(fn, (x, weight, bias), eps=1e-6, atol=1e-5)
    # no weight and no bias: x_hat itself; its gradients are None
    out, cache = conv.batch_norm_forward(x.detach(), None, None, None, None, True)
    assert_close(out, F.batch_norm(x.detach(), None, None, training=True))
    assert conv.batch_norm_backward(torch.ones_like(out), cache)[1:] == (None, None)


@pytest.mark.parametrize("momentum", [0.1, 0.5, None])
def test_batch_norm2d_running_stats_follow_nn_batchnorm2d(momentum):
    torch.manual_seed(0)
    ref = nn.BatchNorm2d(3, momentum=momentum).double()
    ours = conv.BatchNorm2d(3, momentum=momentum).double()
    ours.load_state_dict(ref.state_dict())
    for step in range(5):
        x = randn(4, 3, 5, 5, seed=step) * (step + 1) + step
        assert_close(ours(x), ref(x))
    for name in ("running_mean", "running_var", "num_batches_tracked"):
        assert_close(getattr(ours, name), getattr(ref, name), msg=name)
    assert int(ours.num_batches_tracked) == 5
    ours.eval(), ref.eval()
    x = randn(2, 3, 4, 4, seed=9)
    expected = (x - ours.running_mean.view(1, 3, 1, 1)) / torch.sqrt(
        ours.running_var.view(1, 3, 1, 1) + ours.eps
    )  # eval: the running statistics, not the batch's
    assert_close(
        ours(x), expected * ours.weight.view(1, 3, 1, 1) + ours.bias.view(1, 3, 1, 1)
    )
    assert_close(ours(x), ref(x))


def test_batch_norm2d_without_running_stats_normalizes_with_the_batch():
    ref = nn.BatchNorm2d(3, track_running_stats=False, affine=False).double().eval()
    ours = conv.BatchNorm2d(3, track_running_stats=False, affine=False).double().eval()
    x = randn(4, 3, 5, 5, seed=2)
    assert_close(ours(x), ref(x))
    assert ours.running_mean is None


# ---- modules inside torch models -----------------------------------------------------
def twins(seed=0):
    torch.manual_seed(seed)
    ref = nn.Sequential(
        nn.Conv2d(3, 8, 3, padding=1),
        nn.BatchNorm2d(8),
        nn.ReLU(),
        nn.MaxPool2d(2),
        nn.Conv2d(
            8, 8, 3, padding="same", groups=4, bias=False, padding_mode="reflect"
        ),
        nn.AvgPool2d(3, stride=2, padding=1, count_include_pad=False),
        nn.Conv2d(8, 4, 2, padding="same", dilation=2),  # even span: asymmetric pad
    )
    ours = nn.Sequential(
        conv.Conv2d(3, 8, 3, padding=1),
        conv.BatchNorm2d(8),
        nn.ReLU(),
        conv.MaxPool2d(2),
        conv.Conv2d(
            8, 8, 3, padding="same", groups=4, bias=False, padding_mode="reflect"
        ),
        conv.AvgPool2d(3, stride=2, padding=1, count_include_pad=False),
        conv.Conv2d(8, 4, 2, padding="same", dilation=2),
    )
    return ref, ours


def test_modules_in_a_sequential_equal_torch_both_ways():
    ref, ours = twins()
    ours.load_state_dict(ref.state_dict())
    assert ours.state_dict().keys() == ref.state_dict().keys()
    x = randn(4, 3, 10, 11, dtype=torch.float32, seed=1)
    out, out_ref = ours(x), ref(x)
    assert out.shape == (4, 4, 3, 3)
    assert_close(out, out_ref)
    out.square().sum().backward()
    out_ref.square().sum().backward()
    for (name, p), q in zip(ours.named_parameters(), ref.parameters(), strict=True):
        assert_close(p.grad, q.grad, rtol=1e-4, atol=1e-5, msg=name)
    for (name, a), b in zip(ours.named_buffers(), ref.buffers(), strict=True):
        assert_close(a, b, msg=name)  # one training step moved the running stats alike
    back, _ = twins(seed=1)
    back.load_state_dict(ours.state_dict())  # and back into a fresh torch model
    back.eval(), ours.eval()
    assert_close(back(x), ours(x))


def test_functional_wrappers_take_unbatched_input():
    x, weight, b, _ = conv_inputs(N=1)
    assert_close(conv.conv2d(x[0], weight, b, 1, 1), F.conv2d(x[0], weight, b, 1, 1))
    assert_close(conv.max_pool2d(x[0], 3, 2, 1), F.max_pool2d(x[0], 3, 2, 1))
    assert_close(conv.avg_pool2d(x[0], 2), F.avg_pool2d(x[0], 2))
    assert_close(conv.conv2d(x, weight, b, padding="valid"), F.conv2d(x, weight, b))


# ---- sizes and receptive fields ------------------------------------------------------
@pytest.mark.parametrize("n", [5, 8, 11])
def test_conv_output_size_equals_measured_output(n):
    for k, s, p, d in itertools.product([1, 2, 3, 5], [1, 2, 3], [0, 1, 2], [1, 2]):
        if d * (k - 1) + 1 > n + 2 * p:
            with pytest.raises(ValueError, match="must not be larger than the padded"):
                conv.conv_output_size(n, k, s, p, d)
            continue
        out = F.conv2d(torch.zeros(1, 1, n, n), torch.zeros(1, 1, k, k), None, s, p, d)
        assert conv.conv_output_size(n, k, s, p, d) == out.shape[-1], (k, s, p, d)


def measured_receptive_field(kernel_sizes, strides, dilations):
    """Width of the input one output depends on, through real nn.Conv2d layers."""
    layers = [
        nn.Conv2d(1, 1, k, stride=s, dilation=d, bias=False)
        for k, s, d in zip(kernel_sizes, strides, dilations, strict=True)
    ]
    for layer in layers:
        nn.init.ones_(layer.weight)  # positive weights: no gradient cancels out
    x = torch.zeros(1, 1, 1, 128, dtype=F64, requires_grad=True)
    x_2d = x.expand(1, 1, max(kernel_sizes) * 40, 128)  # tall enough for every layer
    out = nn.Sequential(*layers).double()(x_2d)
    onehot = torch.zeros_like(out)
    onehot[0, 0, out.shape[2] // 2, out.shape[3] // 2] = 1  # dL/dout: one output
    out.backward(onehot)
    cols = x.grad[0, 0, 0].nonzero().flatten()
    return int(cols.max() - cols.min() + 1)


@pytest.mark.parametrize(
    "layers",
    [
        ([3], [1], [1]),
        ([3, 3, 3], [1, 1, 1], [1, 1, 1]),  # three 3x3 convs see 7x7 (VGG)
        ([7, 3, 3], [2, 2, 1], [1, 1, 1]),
        ([3, 3, 3], [1, 1, 1], [1, 2, 4]),  # dilated stack, as in WaveNet
        ([5, 2, 3, 2], [1, 2, 1, 2], [2, 1, 1, 1]),
    ],
    ids=str,
)
def test_receptive_field_equals_measured_gradient_support(layers):
    kernel_sizes, strides, dilations = layers
    assert conv.receptive_field(kernel_sizes, strides, dilations) == (
        measured_receptive_field(kernel_sizes, strides, dilations)
    )


def test_receptive_field_defaults_to_stride_and_dilation_one():
    assert conv.receptive_field([3, 3, 3]) == 7
    assert conv.receptive_field([]) == 1


# ---- bad input -----------------------------------------------------------------------
def test_bad_input_messages():
    x, w = torch.zeros(2, 4, 5, 5), torch.zeros(6, 4, 3, 3)
    with pytest.raises(TypeError, match="x must be a torch.Tensor, got list"):
        conv.conv2d_forward([[1.0]], w)
    with pytest.raises(
        TypeError, match="x must have a floating dtype, got torch.int64"
    ):
        conv.conv2d_forward(x.long(), w)
    with pytest.raises(
        ValueError, match=r"x must have 4 dimensions, got shape \(4, 5, 5\)"
    ):
        conv.conv2d_forward(x[0], w)
    with pytest.raises(
        ValueError,
        match=r"weight must have shape \(C_out, 4, kh, kw\), got \(6, 3, 3, 3\)",
    ):
        conv.conv2d_forward(x, torch.zeros(6, 3, 3, 3))
    with pytest.raises(
        ValueError,
        match=r"in_channels \(4\) and out_channels \(6\) must both be divisible by "
        "groups, got groups=3",
    ):
        conv.conv2d_forward(x, torch.zeros(6, 2, 3, 3), groups=3)
    with pytest.raises(ValueError, match=r"bias must have shape \(6,\), got \(4,\)"):
        conv.conv2d_forward(x, w, torch.zeros(4))
    with pytest.raises(ValueError, match="tensors must share dtype and device"):
        conv.conv2d_forward(x, w.double())
    with pytest.raises(
        ValueError,
        match=r"kernel size 7 \(dilation 1, so 7 wide\) must not be larger than the "
        r"padded input, got input size 5 \+ 2 \* padding 0 = 5",
    ):
        conv.conv2d_forward(x, torch.zeros(6, 4, 7, 7))
    with pytest.raises(ValueError, match="stride must be an int >= 1, got 0"):
        conv.conv2d_forward(x, w, stride=0)
    with pytest.raises(ValueError, match=r"padding\[1\] must be an int >= 0, got -1"):
        conv.conv2d_forward(x, w, padding=(1, -1))
    with pytest.raises(ValueError, match="dilation must have 2 ints"):
        conv.conv2d_forward(x, w, dilation=(1, 2, 3))
    with pytest.raises(TypeError, match="stride must be an int, got float"):
        conv.conv2d(x, w, stride=1.5)
    with pytest.raises(ValueError, match="padding must be one of"):
        conv.conv2d(x, w, padding="full")
    with pytest.raises(ValueError, match="padding='same' needs stride 1"):
        conv.conv2d(x, w, stride=2, padding="same")
    _, cache = conv.conv2d_forward(x, w, padding=1)
    with pytest.raises(
        ValueError, match=r"dout must have shape \(2, 6, 5, 5\), got \(2, 6, 3, 3\)"
    ):
        conv.conv2d_backward(torch.zeros(2, 6, 3, 3), cache)
    with pytest.raises(
        ValueError,
        match=r"padding must be at most half of kernel_size \(2, 2\), "
        r"got padding \(2, 2\)",
    ):
        conv.max_pool2d_forward(x, 2, padding=2)
    with pytest.raises(ValueError, match="ceil_mode=True is not supported"):
        conv.max_pool2d(x, 2, ceil_mode=True)
    with pytest.raises(TypeError, match="count_include_pad must be a bool, got int"):
        conv.avg_pool2d_forward(x, 2, count_include_pad=1)
    with pytest.raises(
        ValueError, match=r"cols must have shape \(N, C \* 9, 25\), got \(2, 36, 16\)"
    ):
        conv.col2im(torch.zeros(2, 36, 16), 5, 3, padding=1)


def test_batch_norm_bad_input_messages():
    x, mean, var = torch.zeros(4, 3, 2, 2), torch.zeros(3), torch.ones(3)
    with pytest.raises(
        ValueError, match="momentum must be a finite number in \\[0, 1\\], got nan"
    ):
        conv.batch_norm_forward(x, mean, var, None, None, True, momentum=float("nan"))
    with pytest.raises(
        ValueError, match="eps must be a finite number in \\(0, inf\\], got nan"
    ):
        conv.batch_norm_forward(x, mean, var, None, None, True, eps=float("nan"))
    with pytest.raises(ValueError, match="eps must be a finite number"):
        conv.batch_norm_forward(x, mean, var, None, None, True, eps=0.0)
    with pytest.raises(TypeError, match="training must be a bool, got str"):
        conv.batch_norm_forward(x, mean, var, None, None, "yes")
    with pytest.raises(
        ValueError, match=r"running_var must have shape \(3,\), got \(4,\)"
    ):
        conv.batch_norm_forward(x, mean, torch.ones(4), None, None, True)
    with pytest.raises(
        ValueError, match="training=False needs running_mean and running_var"
    ):
        conv.batch_norm_forward(x, None, None, None, None, False)
    with pytest.raises(ValueError, match="both given or both None"):
        conv.batch_norm_forward(x, mean, None, None, None, True)
    with pytest.raises(ValueError, match="more than 1 value per channel"):
        conv.batch_norm_forward(torch.zeros(1, 3), mean, var, None, None, True)
    with pytest.raises(ValueError, match="tensors must share dtype and device"):
        conv.batch_norm_forward(x, mean.double(), var, None, None, True)
    for bad, error in [(3, TypeError), ([3, 0], ValueError), ([3.0], TypeError)]:
        with pytest.raises(error, match="kernel_sizes"):
            conv.receptive_field(bad)
    with pytest.raises(
        ValueError, match="strides must have 2 entries, one per layer, got 1"
    ):
        conv.receptive_field([3, 3], [1])


# ---- CUDA ----------------------------------------------------------------------------
@pytest.mark.cuda
def test_cuda_matches_cpu():
    _, ours = twins()
    gpu = twins()[1].cuda()
    gpu.load_state_dict(ours.state_dict())
    x = randn(4, 3, 10, 11, dtype=torch.float32, seed=3)
    out, out_gpu = ours(x), gpu(x.cuda())
    assert out_gpu.device.type == "cuda"
    assert_close(out_gpu.cpu(), out, rtol=1e-4, atol=1e-4)
    out.square().sum().backward()
    out_gpu.square().sum().backward()
    for (name, p), q in zip(ours.named_parameters(), gpu.parameters(), strict=True):
        assert q.grad.device.type == "cuda"
        assert_close(q.grad.cpu(), p.grad, rtol=1e-3, atol=1e-4, msg=name)
    for (name, a), b in zip(ours.named_buffers(), gpu.buffers(), strict=True):
        assert_close(b.cpu(), a, rtol=1e-4, atol=1e-5, msg=name)
    x64, weight, b, G = conv_inputs(groups=2)
    args = (2, 1, 2, G)
    out64, cache = conv.conv2d_forward(x64.cuda(), weight.cuda(), b.cuda(), *args)
    assert_close(out64.cpu(), F.conv2d(x64, weight, b, *args))
    dx, dw, db = conv.conv2d_backward(torch.ones_like(out64), cache)
    _, cache_cpu = conv.conv2d_forward(x64, weight, b, *args)
    grads_cpu = conv.conv2d_backward(torch.ones_like(out64.cpu()), cache_cpu)
    for g, g_cpu in zip((dx, dw, db), grads_cpu, strict=True):
        assert g.device.type == "cuda"
        assert_close(g.cpu(), g_cpu)
