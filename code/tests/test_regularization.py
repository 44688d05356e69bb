import math

import pytest
import torch
import torch.nn.functional as F
from scipy import stats
from torch import nn
from torch.autograd import gradcheck
from torch.testing import assert_close

from dlcv import regularization as reg

F64 = torch.float64


def gen(seed):
    return torch.Generator().manual_seed(seed)


def randn(*shape, seed=0, dtype=F64, requires_grad=False):
    t = torch.randn(*shape, generator=gen(seed), dtype=dtype)
    return t.requires_grad_(requires_grad)


# ---- dropout -------------------------------------------------------------------------
@pytest.mark.parametrize("p", [0.1, 0.5, 0.8])
def test_dropout_statistics(p):
    n = 10**6
    x = torch.ones(n)
    out = reg.dropout(x, p, generator=gen(1))
    kept = out != 0
    se_keep = math.sqrt(p * (1 - p) / n)  # standard error of the kept fraction
    assert abs(kept.double().mean().item() - (1 - p)) < 5 * se_keep
    assert_close(out[kept], torch.full_like(out[kept], 1 / (1 - p)))  # inverted
    se_mean = math.sqrt(p / (1 - p) / n)  # std of m / (1 - p) over sqrt(n)
    assert abs(out.double().mean().item() - 1) < 5 * se_mean  # E[out] = x
    ref = F.dropout(x, p)  # torch's, by the same statistics
    assert abs((ref != 0).double().mean().item() - (1 - p)) < 5 * se_keep


def test_dropout_gradient_is_the_scaled_mask():
    x = torch.ones(1000, dtype=F64, requires_grad=True)
    out = reg.dropout(x, 0.25, generator=gen(2))
    out.sum().backward()
    assert_close(x.grad, out.detach())  # d(x m / (1 - p))/dx = m / (1 - p) = out / x


def test_dropout_eval_and_edge_cases():
    x = randn(50, 20, dtype=torch.float32)
    assert reg.dropout(x, 0.5, training=False) is x  # test time: identity
    assert reg.dropout(x, 0.0) is x
    assert_close(reg.dropout(x, 1.0), torch.zeros_like(x))
    assert_close(reg.dropout(x, 1.0), F.dropout(x, 1.0))  # p = 1: zeros, as torch
    same = reg.dropout(x, 0.5, generator=gen(3)), reg.dropout(x, 0.5, generator=gen(3))
    assert torch.equal(*same)
    assert not torch.equal(same[0], reg.dropout(x, 0.5, generator=gen(4)))
    assert reg.dropout(x.double(), 0.3, generator=gen(3)).dtype == F64


def test_dropout_classic_scales_by_keep_probability_at_test_time():
    p, n = 0.3, 10**6
    x = torch.ones(n, dtype=F64)
    train = reg.dropout_classic(x, p, generator=gen(5))
    assert set(train.unique().tolist()) == {0.0, 1.0}  # x m, unscaled
    test = reg.dropout_classic(x, p, training=False)
    assert_close(test, x * 0.7)  # the KEEP probability 1 - p, not p
    se = math.sqrt(p * (1 - p) / n)
    assert abs(train.mean().item() - test[0].item()) < 5 * se  # E[train] = test
    assert_close(reg.dropout_classic(x, 1.0), torch.zeros_like(x))
    assert_close(reg.dropout_classic(x, 1.0, training=False), torch.zeros_like(x))
    assert torch.equal(reg.dropout_classic(x, 0.0), x)


def test_dropout_module():
    module = reg.Dropout(0.4, generator=gen(6))
    assert isinstance(module, nn.Dropout) and module.state_dict() == {}
    x = torch.ones(10**5)
    out = module(x)
    assert torch.equal(out, reg.dropout(x, 0.4, generator=gen(6)))
    assert module.eval()(x) is x
    y = torch.ones(1000)
    returned = reg.Dropout(0.5, inplace=True, generator=gen(7))(y)
    assert returned is y and set(y.unique().tolist()) == {0.0, 2.0}


def test_drop_connect_linear():
    torch.manual_seed(0)
    ours = reg.DropConnectLinear(30, 40, p=0.25, generator=gen(8))
    theirs = nn.Linear(30, 40)
    ours.load_state_dict(theirs.state_dict())
    x = torch.randn(5, 30)
    assert_close(ours.eval()(x), theirs(x))  # evaluation: the weights as they are
    ours.weight.data.mul_(2)
    theirs.load_state_dict(ours.state_dict())
    assert_close(ours(x), theirs(x))
    ours.train()
    eye = torch.eye(30)  # row i of the output is column i of the masked W, plus b
    w_eff = (ours(eye) - ours.bias).detach().T  # (40, 30)
    kept = w_eff != 0
    assert_close(w_eff[kept], ours.weight.detach()[kept] / 0.75)
    assert 0.6 < kept.float().mean().item() < 0.9  # 1200 weights, keep 0.75
    assert "p=0.25" in repr(ours)


# ---- layer norm ----------------------------------------------------------------------
@pytest.mark.parametrize(
    "shape,normalized",
    [((6, 8), 8), ((3, 5, 8), (8,)), ((2, 3, 4, 5), (3, 4, 5)), ((4, 1, 3), (1, 3))],
)
@pytest.mark.parametrize("affine", ["both", "weight", "none"])
def test_layer_norm_matches_torch(shape, normalized, affine):
    norm = (normalized,) if isinstance(normalized, int) else normalized
    x = randn(*shape, seed=1, requires_grad=True)
    w = randn(*norm, seed=2, requires_grad=True) if affine != "none" else None
    b = randn(*norm, seed=3, requires_grad=True) if affine == "both" else None
    dout = randn(*shape, seed=4)
    want = F.layer_norm(x, norm, w, b)
    params = [t for t in (x, w, b) if t is not None]
    want_grads = torch.autograd.grad((want * dout).sum(), params)
    out = reg.layer_norm(x, normalized, w, b)
    assert_close(out, want)
    assert_close(torch.autograd.grad((out * dout).sum(), params), want_grads)
    assert gradcheck(lambda *t: reg.layer_norm(t[0], normalized, *t[1:]), tuple(params))
    # the forward/backward pair, without autograd
    out2, cache = reg.layer_norm_forward(x.detach(), normalized, w, b)
    dx, dw, db = reg.layer_norm_backward(dout, cache)
    assert_close(out2, want.detach())
    assert_close(dx, want_grads[0])
    assert (dw is None) == (w is None) and (db is None) == (b is None)
    if w is not None:
        assert_close(dw, want_grads[1])
    if b is not None:
        assert_close(db, want_grads[2])


def test_layer_norm_float32_and_module_state_dict_both_ways():
    torch.manual_seed(1)
    theirs = nn.LayerNorm((4, 5), eps=1e-3)
    nn.init.normal_(theirs.weight)
    nn.init.normal_(theirs.bias)
    ours = reg.LayerNorm((4, 5), eps=1e-3)
    ours.load_state_dict(theirs.state_dict())
    x = torch.randn(3, 4, 5)
    assert_close(ours(x), theirs(x))
    ours.weight.data.mul_(3)
    theirs.load_state_dict(ours.state_dict())
    assert_close(ours(x), theirs(x))
    bare = reg.LayerNorm(5, elementwise_affine=False)
    assert_close(bare(x), F.layer_norm(x, (5,)))


def test_batch_norm_1d_matches_torch():
    torch.manual_seed(2)
    for shape in [(16, 6), (8, 6, 7)]:
        ours, theirs = reg.BatchNorm1d(6), nn.BatchNorm1d(6)
        nn.init.normal_(theirs.weight)
        ours.load_state_dict(theirs.state_dict())
        for _ in range(3):
            x = torch.randn(shape, requires_grad=True)
            x2 = x.detach().clone().requires_grad_()
            out, want = ours(x), theirs(x2)
            assert_close(out, want)
            out.square().sum().backward()
            want.square().sum().backward()
            assert_close(x.grad, x2.grad)
            assert_close(ours.weight.grad, theirs.weight.grad)
        for key, value in theirs.state_dict().items():
            assert_close(ours.state_dict()[key], value)
        x = torch.randn(shape)
        assert_close(ours.eval()(x), theirs.eval()(x))
    with pytest.raises(ValueError, match="expected 2D or 3D input"):
        reg.BatchNorm1d(6)(torch.randn(2, 6, 3, 3))


# ---- augmentation --------------------------------------------------------------------
def images(N=64, C=3, H=8, W=10, seed=0):
    """Images whose pixels are all different, so a crop's position is unique."""
    return torch.randperm(N * C * H * W, generator=gen(seed)).reshape(N, C, H, W) + 1.0


def test_random_crop_is_a_slice_of_the_padded_image():
    x = images()
    pad, (h, w) = 2, (6, 9)
    out = reg.random_crop(x, (h, w), padding=pad, generator=gen(1))
    assert out.shape == (64, 3, h, w)
    x_pad = F.pad(x, (pad,) * 4)
    offsets = set()
    for n in range(64):
        found = [
            (i, j)
            for i in range(8 + 2 * pad - h + 1)
            for j in range(10 + 2 * pad - w + 1)
            if torch.equal(out[n], x_pad[n, :, i : i + h, j : j + w])
        ]
        assert len(found) == 1
        offsets |= set(found)
    assert len(offsets) > 20  # 7 x 6 = 42 positions, 64 draws: spread out
    assert torch.equal(reg.random_crop(x, (8, 10)), x)  # the only position
    square = reg.random_crop(x, 4, generator=gen(1))
    assert square.shape == (64, 3, 4, 4)
    again = reg.random_crop(x, (h, w), padding=pad, generator=gen(1))
    assert torch.equal(out, again)


def test_random_horizontal_flip():
    x = images(N=2000, C=2, H=3, W=4)
    out = reg.random_horizontal_flip(x, 0.3, generator=gen(2))
    flipped = (out == x.flip(-1)).flatten(1).all(1)
    kept = (out == x).flatten(1).all(1)
    assert bool((flipped ^ kept).all())  # each image: exactly one of the two
    assert torch.equal(out[flipped], torch.flip(x[flipped], dims=[-1]))
    se = math.sqrt(0.3 * 0.7 / 2000)
    assert abs(flipped.double().mean().item() - 0.3) < 5 * se
    assert torch.equal(reg.random_horizontal_flip(x, 1.0), torch.flip(x, dims=[3]))
    assert torch.equal(reg.random_horizontal_flip(x, 0.0), x)


def test_cutout_zeroes_exactly_one_clipped_square():
    N, C, H, W, size = 500, 3, 9, 11, 4
    x = images(N, C, H, W)
    out = reg.cutout(x, size, generator=gen(3))
    zero = out == 0  # the images have no zeros of their own
    assert bool((zero == zero[:, :1]).all())  # the same square in every channel
    assert torch.equal(out[~zero], x[~zero])
    rows, cols = zero[:, 0].any(2), zero[:, 0].any(1)  # (N, H), (N, W)
    assert torch.equal(zero[:, 0], rows[:, :, None] & cols[:, None, :])  # a rectangle
    clipped = 0
    for r, n_max in [(rows, H), (cols, W)]:
        for line in r:
            idx = line.nonzero().flatten()
            assert len(idx) >= 1 and idx[-1] - idx[0] + 1 == len(idx)  # contiguous
            border = idx[0] == 0 or idx[-1] == n_max - 1
            assert len(idx) == size or (border and len(idx) < size)
            clipped += int(len(idx) < size)
    assert clipped > 0  # centers near the border clip the square
    assert (rows.sum(1) == size).float().mean() > 0.5
    sq = reg.cutout(torch.ones(1, 1, 9, 9), 9, generator=gen(4))
    assert (sq == 0).sum() >= 25  # a 9-square around any pixel covers >= 5 x 5


def mixup_parts(x, y_soft):
    """lambda and pi from mixup of one-hot labels y = arange(N)."""
    N = len(y_soft)
    moved = [i for i in range(N) if y_soft[i, i] < 1]  # rows with pi(i) != i
    lam = y_soft[moved[0], moved[0]].item()
    perm = torch.arange(N)
    for i in moved:
        others = [j for j in range(N) if j != i and y_soft[i, j] > 0]
        perm[i] = others[0]
    return lam, perm


def test_mixup_is_a_convex_combination():
    N, K = 12, 12
    x = randn(N, 3, 4, 4, seed=5)
    y = torch.arange(N)
    x_mixed, y_soft = reg.mixup(x, y, 1.0, K, generator=gen(6))
    assert y_soft.shape == (N, K) and y_soft.dtype == F64
    assert_close(y_soft.sum(1), torch.ones(N, dtype=F64))
    lam, perm = mixup_parts(x, y_soft)
    assert sorted(perm.tolist()) == list(range(N))  # a permutation
    assert_close(x_mixed, lam * x + (1 - lam) * x[perm])
    scores = randn(N, K, seed=7)
    want = lam * F.cross_entropy(scores, y) + (1 - lam) * F.cross_entropy(
        scores, y[perm]
    )
    assert_close(F.cross_entropy(scores, y_soft), want)
    again = reg.mixup(x, y, 1.0, K, generator=gen(6))
    assert torch.equal(again[0], x_mixed)


def test_mixup_lambda_is_beta_distributed():
    alpha, g = 0.4, gen(8)
    x, y = torch.zeros(16, 2, dtype=F64), torch.arange(16)  # float64: lam < 1 shows
    lams = [
        mixup_parts(x, reg.mixup(x, y, alpha, 16, generator=g)[1])[0]
        for _ in range(400)
    ]
    assert stats.kstest(lams, stats.beta(alpha, alpha).cdf).pvalue > 1e-3


# ---- stochastic depth ----------------------------------------------------------------
def test_stochastic_depth_row_and_batch():
    p, N = 0.2, 20000
    x = torch.ones(N, 3, 2)
    out = reg.stochastic_depth(x, p, "row", generator=gen(9))
    per_row = out.flatten(1)
    assert bool((per_row == per_row[:, :1]).all())  # each example all or nothing
    assert set(per_row[:, 0].unique().tolist()) == {0.0, 1 / 0.8}
    se = math.sqrt(p * (1 - p) / N)
    assert abs((per_row[:, 0] > 0).double().mean().item() - 0.8) < 5 * se
    outs = [reg.stochastic_depth(x, p, "batch", generator=gen(s)) for s in range(40)]
    assert all(torch.equal(o, x / 0.8) or torch.equal(o, 0 * x) for o in outs)
    assert any(torch.equal(o, 0 * x) for o in outs)
    assert reg.stochastic_depth(x, p, "row", training=False) is x
    assert reg.stochastic_depth(x, 0.0) is x
    assert torch.equal(reg.stochastic_depth(x, 1.0, "row"), torch.zeros_like(x))
    module = reg.StochasticDepth(0.5, "row", generator=gen(9))
    assert torch.equal(module(x), reg.stochastic_depth(x, 0.5, generator=gen(9)))
    assert module.eval()(x) is x and repr(module) == "StochasticDepth(p=0.5, mode=row)"


# ---- fractional max pooling ----------------------------------------------------------
@pytest.mark.parametrize("dtype", [torch.float32, F64])
@pytest.mark.parametrize(
    "shape,kernel,size,ratio",
    [
        ((2, 3, 10, 12), 2, (5, 6), None),
        ((2, 3, 10, 12), 3, (4, 7), None),
        ((1, 2, 7, 7), (2, 3), (5, 3), None),
        ((2, 2, 9, 9), 2, 1, None),
        ((2, 2, 9, 9), 2, 8, None),
        ((3, 4, 32, 32), 2, None, 1 / math.sqrt(2)),
        ((3, 4, 20, 15), 3, None, (0.5, 0.7)),
        ((4, 11, 13), 2, (6, 9), None),  # unbatched (C, H, W)
    ],
)
def test_fractional_max_pool2d_exactly_matches_torch(shape, kernel, size, ratio, dtype):
    x = randn(*shape, seed=10, dtype=dtype, requires_grad=True)
    samples = torch.rand(
        shape[0] if len(shape) == 4 else 1, shape[-3], 2, generator=gen(11), dtype=dtype
    )
    kwargs = {"output_size": size, "output_ratio": ratio, "_random_samples": samples}
    pair = (ratio, ratio) if isinstance(ratio, float) else ratio  # F wants a pair
    theirs = {**kwargs, "output_ratio": pair}
    want, want_idx = F.fractional_max_pool2d(x, kernel, return_indices=True, **theirs)
    out, idx = reg.fractional_max_pool2d(x, kernel, return_indices=True, **kwargs)
    assert torch.equal(out, want) and torch.equal(idx, want_idx)  # exactly
    assert torch.equal(reg.fractional_max_pool2d(x, kernel, **kwargs), want)
    dout = torch.rand(want.shape, generator=gen(12), dtype=dtype)
    (grad,) = torch.autograd.grad((out * dout).sum(), x)
    (want_grad,) = torch.autograd.grad((want * dout).sum(), x)
    assert_close(grad, want_grad)


def test_fractional_max_pool2d_many_planes_and_module():
    x = torch.randn(16, 32, 40, 40, generator=gen(13))  # 512 planes, 512 samples
    samples = torch.rand(16, 32, 2, generator=gen(14))
    for size in [(28, 28), (13, 31), (39, 39)]:
        ours = reg.FractionalMaxPool2d(2, output_size=size, _random_samples=samples)
        theirs = nn.FractionalMaxPool2d(2, output_size=size, _random_samples=samples)
        assert isinstance(ours, nn.FractionalMaxPool2d)
        assert torch.equal(ours(x), theirs(x))
    drawn = reg.fractional_max_pool2d(x[:2], 2, output_ratio=0.5, generator=gen(15))
    assert drawn.shape == (2, 32, 20, 20)
    redrawn = reg.fractional_max_pool2d(x[:2], 2, output_ratio=0.5, generator=gen(15))
    assert torch.equal(drawn, redrawn)


# ---- bad input -----------------------------------------------------------------------
def test_bad_input():
    x = torch.zeros(2, 3, 8, 8)
    for fn in (reg.dropout, reg.dropout_classic, reg.stochastic_depth):
        with pytest.raises(ValueError, match=r"p must be a finite number in \[0"):
            fn(x, float("nan"))
        with pytest.raises(ValueError, match="p must be a finite number.*got 1.5"):
            fn(x, 1.5)
        with pytest.raises(TypeError, match="training must be a bool, got str"):
            fn(x, 0.5, training="yes")
        with pytest.raises(TypeError, match="floating dtype, got torch.int64"):
            fn(torch.zeros(3, dtype=torch.long), 0.5)
    with pytest.raises(ValueError, match="p must be a finite number"):
        reg.DropConnectLinear(3, 4, p=-0.1)
    with pytest.raises(ValueError, match="mode must be one of .*got 'col'"):
        reg.stochastic_depth(x, 0.5, "col")
    with pytest.raises(ValueError, match=r"x must have shape \(\.\.\., 4\), got"):
        reg.layer_norm(torch.zeros(2, 3), 4)
    with pytest.raises(ValueError, match=r"weight must have shape \(3,\), got \(4,\)"):
        reg.layer_norm(torch.zeros(2, 3), 3, torch.ones(4))
    with pytest.raises(ValueError, match="eps must be a finite number"):
        reg.layer_norm(torch.zeros(2, 3), 3, eps=0.0)
    with pytest.raises(ValueError, match=r"x must have 4 dimensions, got shape \(3, 8"):
        reg.random_crop(torch.zeros(3, 8, 8), 4)
    with pytest.raises(ValueError, match=r"size must fit the padded image \(10, 10\)"):
        reg.random_crop(x, 11, padding=1)
    with pytest.raises(ValueError, match="p must be a finite number"):
        reg.random_horizontal_flip(x, float("nan"))
    with pytest.raises(TypeError, match="size must be an int, got float"):
        reg.cutout(x, 2.5)
    with pytest.raises(ValueError, match=r"y must hold labels in \[0, 3\), got 3"):
        reg.mixup(x, torch.tensor([0, 3]), 0.2, 3)
    with pytest.raises(ValueError, match="alpha must be a finite number"):
        reg.mixup(x, torch.tensor([0, 1]), 0.0, 3)
    with pytest.raises(ValueError, match="output_size or output_ratio must be given"):
        reg.fractional_max_pool2d(x, 2)
    with pytest.raises(ValueError, match=r"at most the input size \(8, 8\)"):
        reg.fractional_max_pool2d(x, 3, output_size=7)
    with pytest.raises(ValueError, match=r"_random_samples must have shape \(2, 3, 2"):
        reg.fractional_max_pool2d(x, 2, 4, _random_samples=torch.rand(2, 2, 2))
    with pytest.raises(ValueError, match="_random_samples torch.float64 on cpu"):
        reg.fractional_max_pool2d(x, 2, 4, _random_samples=torch.rand(2, 3, 2).double())


@pytest.mark.cuda
def test_cuda_matches_cpu():
    g = torch.Generator("cuda").manual_seed(0)
    x = torch.randn(8, 3, 12, 12)
    xc = x.cuda()
    for out in (
        reg.dropout(xc, 0.3, generator=g),
        reg.dropout_classic(xc, 0.3, generator=g),
        reg.stochastic_depth(xc, 0.3, generator=g),
        reg.random_crop(xc, 10, padding=2, generator=g),
        reg.random_horizontal_flip(xc, generator=g),
        reg.cutout(xc, 4, generator=g),
        reg.mixup(xc, torch.arange(8).cuda(), 0.4, 8, generator=g)[1],
        reg.fractional_max_pool2d(xc, 2, output_ratio=0.6, generator=g),
    ):
        assert out.device.type == "cuda"
    w, b = torch.randn(12), torch.randn(12)
    out = reg.layer_norm(xc, 12, w.cuda(), b.cuda())
    assert_close(out.cpu(), reg.layer_norm(x, 12, w, b))
    samples = torch.rand(8, 3, 2)
    kw = {"output_size": 7, "return_indices": True}
    want = F.fractional_max_pool2d(xc, 3, _random_samples=samples.cuda(), **kw)
    ours = reg.fractional_max_pool2d(xc, 3, _random_samples=samples.cuda(), **kw)
    cpu = reg.fractional_max_pool2d(x, 3, _random_samples=samples, **kw)
    assert torch.equal(ours[0], want[0]) and torch.equal(ours[1], want[1])
    assert torch.equal(ours[0].cpu(), cpu[0]) and torch.equal(ours[1].cpu(), cpu[1])
    for fn in (reg.dropout, reg.random_horizontal_flip, reg.stochastic_depth):
        on_cpu, on_gpu = fn(x, 0.4, generator=gen(1)), fn(xc, 0.4, generator=gen(1))
        assert torch.equal(on_gpu.cpu() == 0, on_cpu == 0)  # CPU generator: same mask
        assert_close(on_gpu.cpu(), on_cpu)  # CUDA divides by 1/(1 - p): last bits
    crops = [reg.random_crop(t, 9, padding=1, generator=gen(2)) for t in (x, xc)]
    assert torch.equal(crops[1].cpu(), crops[0])
    mixed = [reg.mixup(t, torch.arange(8, device=t.device), 0.4, 8, generator=gen(3))
             for t in (x, xc)]  # fmt: skip
    assert_close(mixed[1][0].cpu(), mixed[0][0])
    bn = reg.BatchNorm1d(3).cuda()
    assert bn(torch.randn(4, 3).cuda()).device.type == "cuda"
