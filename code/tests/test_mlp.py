import functools
import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch import nn
from torch.testing import assert_close

from dlcv import mlp, toy
from dlcv.training import accuracy, fit


def twin(sizes, activation=nn.ReLU, bias=True):
    """The nn.Sequential that MLP(sizes, activation=activation) mirrors."""
    layers = []
    for i in range(len(sizes) - 1):
        layers.append(nn.Linear(sizes[i], sizes[i + 1], bias=bias))
        if i < len(sizes) - 2:
            layers.append(activation())
    return nn.Sequential(*layers)


def grads(model, x, dout):
    """Gradients of (model(x) * dout).sum() for x and every parameter, by name."""
    x = x.clone().requires_grad_(True)
    model.zero_grad()
    (model(x) * dout).sum().backward()
    return x.grad, {n: p.grad for n, p in model.named_parameters()}


@pytest.mark.parametrize(
    ("sizes", "activation"),
    [
        ([7, 5, 3], nn.ReLU),
        ([7, 3], nn.ReLU),
        ([7, 6, 5, 4, 3], nn.Tanh),
        ([7, 5, 5, 3], nn.Sigmoid),
        ([7, 5, 3], nn.PReLU),  # a parametric activation: its weight must match too
        ([7, 5, 3], functools.partial(nn.LeakyReLU, 0.1)),
    ],
)
def test_mlp_equals_sequential_twin_outputs_and_gradients(sizes, activation):
    torch.manual_seed(0)
    ref = twin(sizes, activation).double()
    ours = mlp.MLP(sizes, activation=activation, dtype=torch.float64)
    assert list(ours.state_dict()) == list(ref.state_dict())
    for (n1, p1), (n2, p2) in zip(
        ours.named_parameters(), ref.named_parameters(), strict=True
    ):
        assert n1 == n2 and p1.shape == p2.shape
    ours.load_state_dict(ref.state_dict())

    g = torch.Generator().manual_seed(1)
    x = torch.randn(11, sizes[0], generator=g, dtype=torch.float64)
    dout = torch.randn(11, sizes[-1], generator=g, dtype=torch.float64)
    assert_close(ours(x), ref(x))
    dx, dp = grads(ours, x, dout)
    ref_dx, ref_dp = grads(ref, x, dout)
    assert_close(dx, ref_dx)
    assert dp.keys() == ref_dp.keys()
    for name in dp:
        assert_close(dp[name], ref_dp[name])


def test_load_state_dict_works_from_mlp_to_sequential():
    torch.manual_seed(0)
    ours = mlp.MLP([4, 8, 3])
    ref = twin([4, 8, 3])
    ref.load_state_dict(ours.state_dict())
    x = torch.randn(5, 4)
    assert_close(ref(x), ours(x))
    assert len(ours) == len(ref) == 3
    assert isinstance(ours[1], nn.ReLU) and ours[2] is ours.linears[1]


def test_mlp_without_bias_and_with_leading_dims():
    torch.manual_seed(0)
    ours = mlp.MLP([4, 6, 2], bias=False)
    ref = twin([4, 6, 2], bias=False)
    ref.load_state_dict(ours.state_dict())
    x = torch.randn(2, 3, 4)  # (..., D) like nn.Linear
    assert ours(x).shape == (2, 3, 2)
    assert_close(ours(x), ref(x))


def test_mlp_forward_is_eq_2():
    g = torch.Generator().manual_seed(2)
    x = torch.randn(9, 5, generator=g, dtype=torch.float64)
    w1 = torch.randn(4, 5, generator=g, dtype=torch.float64)
    b1 = torch.randn(4, generator=g, dtype=torch.float64)
    w2 = torch.randn(3, 4, generator=g, dtype=torch.float64)
    b2 = torch.randn(3, generator=g, dtype=torch.float64)
    # Eq. (2) with column vectors: f(x) = W2 max(0, W1 x + b1) + b2
    rows = [w2 @ torch.clamp(w1 @ xi + b1, min=0) + b2 for xi in x]
    expected = torch.stack(rows)  # (9, 3)
    assert_close(mlp.mlp_forward(x, [w1, w2], [b1, b2]), expected)
    assert_close(
        mlp.mlp_forward(x, [w1, w2], [b1, b2]),
        F.linear(F.relu(F.linear(x, w1, b1)), w2, b2),
    )


def test_gradcheck_float64():
    torch.manual_seed(3)
    model = mlp.MLP([3, 4, 4, 2], activation=nn.Tanh, dtype=torch.float64)
    x = torch.randn(5, 3, dtype=torch.float64, requires_grad=True)
    params = [p.detach().clone().requires_grad_(True) for p in model.parameters()]

    def f(x, w1, b1, w2, b2, w3, b3):
        return mlp.mlp_forward(x, [w1, w2, w3], [b1, b2, b3], activation=torch.tanh)

    assert torch.autograd.gradcheck(f, (x, *params))
    # ReLU is not differentiable at 0; away from the kinks gradcheck holds too.
    relu = mlp.MLP([3, 6, 2], dtype=torch.float64)
    assert torch.autograd.gradcheck(relu, (x,))


def test_generator_makes_init_reproducible_with_nn_linear_bounds():
    a = mlp.MLP([50, 20, 3], generator=torch.Generator().manual_seed(7))
    b = mlp.MLP([50, 20, 3], generator=torch.Generator().manual_seed(7))
    c = mlp.MLP([50, 20, 3], generator=torch.Generator().manual_seed(8))
    for (name, pa), pb, pc in zip(
        a.named_parameters(), b.parameters(), c.parameters(), strict=True
    ):
        assert torch.equal(pa, pb), name
        assert not torch.equal(pa, pc), name
    for layer in a.linears:
        bound = 1 / math.sqrt(layer.in_features)
        assert layer.weight.abs().max() <= bound
        assert layer.bias.abs().max() <= bound
        assert layer.weight.abs().max() > 0.9 * bound  # the whole range is used


def test_identity_activation_collapses_to_one_linear_map():
    torch.manual_seed(4)
    deep = mlp.MLP([6, 32, 32, 3], activation=nn.Identity, dtype=torch.float64)
    W, b = mlp.compose_linear(
        [m.weight for m in deep.linears], [m.bias for m in deep.linears]
    )
    assert W.shape == (3, 6) and b.shape == (3,)
    x = torch.randn(10, 6, dtype=torch.float64)
    assert_close(deep(x), F.linear(x, W, b))
    # With ReLU it is no longer linear: f(x + x') != f(x) + f(x') - f(0).
    relu = mlp.MLP([6, 32, 3], dtype=torch.float64)
    x2 = torch.randn(10, 6, dtype=torch.float64)
    zero = torch.zeros(1, 6, dtype=torch.float64)
    gap = relu(x + x2) - (relu(x) + relu(x2) - relu(zero))
    assert gap.abs().max() > 1e-3


def test_permuted_hidden_units_compute_the_same_function():
    torch.manual_seed(8)
    model = mlp.MLP([5, 7, 6, 3], dtype=torch.float64)
    x = torch.randn(4, 5, dtype=torch.float64)
    for layer, H in ((0, 7), (1, 6)):
        perm = torch.randperm(H)
        other = mlp.permute_hidden(model, perm, layer=layer)
        assert_close(other(x), model(x))
        w = other.linears[layer].weight
        assert torch.equal(w, model.linears[layer].weight[perm])
        assert not torch.equal(w, model.linears[layer].weight)
    with pytest.raises(ValueError, match=r"permutation of range\(7\)"):
        mlp.permute_hidden(model, torch.tensor([0, 0, 1, 2, 3, 4, 5]))
    with pytest.raises(ValueError, match=r"layer must be one of \(0, 1\), got 2"):
        mlp.permute_hidden(model, torch.arange(3), layer=2)


def test_compose_linear_without_biases():
    g = torch.Generator().manual_seed(9)
    w1, w2 = torch.randn(4, 3, generator=g), torch.randn(2, 4, generator=g)
    W, b = mlp.compose_linear([w1, w2], [None, None])
    assert_close(W, w2 @ w1)
    assert_close(b, torch.zeros(2))


def test_polar_features_values_and_inverse():
    x = torch.tensor([[1.0, 0.0], [0.0, 2.0], [-3.0, 0.0], [0.0, -1.0], [1.0, 1.0]])
    expected = torch.tensor(
        [
            [1.0, 0.0],
            [2.0, math.pi / 2],
            [3.0, math.pi],
            [1.0, -math.pi / 2],
            [math.sqrt(2), math.pi / 4],
        ]
    )
    assert_close(mlp.polar_features(x), expected)
    g = torch.Generator().manual_seed(6)
    pts = torch.randn(100, 2, generator=g, dtype=torch.float64) * 5
    feats = mlp.polar_features(pts)
    assert (feats[:, 0] >= 0).all()
    assert (feats[:, 1] > -math.pi).all() and (feats[:, 1] <= math.pi).all()
    assert_close(mlp.polar_to_cartesian(feats), pts)
    # Leading dimensions are kept, and the inverse works the other way round too.
    polar = torch.stack([feats[:, 0], feats[:, 1]], dim=1).reshape(10, 10, 2)
    assert_close(mlp.polar_features(mlp.polar_to_cartesian(polar)), polar)


def test_bump_mlp_builds_bumps_from_four_relus():
    edges = torch.tensor([0.0, 1.0, 2.0, 4.0], dtype=torch.float64)
    heights = torch.tensor([1.0, -2.0, 0.5], dtype=torch.float64)
    net = mlp.bump_mlp(edges, heights, ramp=0.5)
    assert net.sizes == (1, 12, 1)
    # Plateaus: the height on each interval away from the ramps.
    x = torch.tensor([[0.5], [1.5], [3.0]], dtype=torch.float64)
    assert_close(net(x).squeeze(1), heights)
    # Zero outside [edges[0] - ramp/2, edges[-1] + ramp/2].
    outside = torch.tensor([[-5.0], [-0.25], [4.25], [9.0]], dtype=torch.float64)
    assert_close(net(outside), torch.zeros(4, 1, dtype=torch.float64))
    # At an edge, halfway between the neighbouring heights.
    assert_close(net(torch.tensor([[1.0]], dtype=torch.float64)).item(), -0.5)
    # One bump equals Eq. (6).
    one = mlp.bump_mlp(edges[:2], heights[:1], ramp=0.5)
    t = torch.linspace(-1, 2, 301, dtype=torch.float64)
    a, b, d = -0.25, 1.25, 0.5
    eq6 = (F.relu(t - a) - F.relu(t - a - d) - F.relu(t - b + d) + F.relu(t - b)) / d
    assert_close(one(t[:, None]).squeeze(1), eq6)


def test_bump_mlp_with_full_ramp_interpolates_linearly():
    edges = torch.linspace(0, 1, 11, dtype=torch.float64)
    centres = (edges[1:] + edges[:-1]) / 2
    heights = torch.sin(2 * math.pi * centres)
    net = mlp.bump_mlp(edges, heights, ramp=0.1)
    t = torch.linspace(centres[0].item(), centres[-1].item(), 200, dtype=torch.float64)
    expected = torch.from_numpy(np.interp(t.numpy(), centres.numpy(), heights.numpy()))
    assert_close(net(t[:, None]).squeeze(1), expected)


@pytest.mark.parametrize("depth", [1, 2, 3, 5])
def test_sawtooth_mlp_is_the_folded_tent_map_with_2_to_the_k_pieces(depth):
    net = mlp.sawtooth_mlp(depth, dtype=torch.float64)
    assert net.sizes == (1, *[2] * depth, 1)
    x = torch.linspace(0, 1, 2**depth * 16 + 1, dtype=torch.float64)
    expected = x.clone()
    for _ in range(depth):
        expected = torch.where(expected <= 0.5, 2 * expected, 2 - 2 * expected)
    out = net(x[:, None]).squeeze(1)
    assert_close(out, expected)
    # Count linear pieces: the slope changes between grid cells only at the kinks.
    slopes = (out[1:] - out[:-1]) / (x[1:] - x[:-1])
    changes = (slopes[1:] - slopes[:-1]).abs() > 1e-6
    assert changes.sum().item() + 1 == 2**depth


def test_two_layer_net_fits_rings_that_a_linear_model_cannot():
    g = torch.Generator().manual_seed(0)
    x, y = toy.make_rings(400, noise=0.1, generator=g)
    results = {}
    for name, sizes in {"linear": [2, 2], "two-layer": [2, 32, 2]}.items():
        model = mlp.MLP(sizes, generator=torch.Generator().manual_seed(1))
        opt = torch.optim.Adam(model.parameters(), lr=0.05)
        fit(
            model,
            F.cross_entropy,
            opt,
            x,
            y,
            epochs=100,
            batch_size=200,
            generator=torch.Generator().manual_seed(2),
        )
        results[name] = accuracy(model, x, y)
    assert results["two-layer"] >= 0.98
    assert results["linear"] <= 0.7  # a line through two concentric rings
    # ...while a linear model on polar features separates them.
    lin = mlp.MLP([2, 2], generator=torch.Generator().manual_seed(1))
    feats = mlp.polar_features(x)
    opt = torch.optim.Adam(lin.parameters(), lr=0.05)
    fit(lin, F.cross_entropy, opt, feats, y, epochs=100, batch_size=200, generator=g)
    assert accuracy(lin, feats, y) >= 0.98


@pytest.mark.parametrize(
    ("call", "error", "match"),
    [
        (lambda: mlp.MLP([784]), ValueError, r"number of widths must be an int >= 2"),
        (lambda: mlp.MLP([784, 0, 10]), ValueError, r"sizes\[1\] must be an int >= 1"),
        (lambda: mlp.MLP([4, 2], activation=nn.ReLU()), TypeError, r"class.*ReLU\(\)"),
        (
            lambda: mlp.MLP([4, 3, 2], activation=torch.relu),
            TypeError,
            r"module class.*failed",
        ),
        (
            lambda: mlp.MLP([4, 2])(torch.randn(3, 5)),
            ValueError,
            r"\(\.\.\., 4\).*\(3, 5\)",
        ),
        (
            lambda: mlp.MLP([4, 2])(torch.randn(3, 4, dtype=torch.float64)),
            ValueError,
            r"x torch.float64 on cpu, weights\[0\] torch.float32",
        ),
        (
            lambda: mlp.mlp_forward(torch.randn(2, 3), [torch.randn(4, 3)], []),
            ValueError,
            r"biases must have 1 entries \(one per weight\), got 0",
        ),
        (
            lambda: mlp.mlp_forward(
                torch.randn(2, 3), [torch.randn(4, 3), torch.randn(2, 5)], [None, None]
            ),
            ValueError,
            r"weights\[1\] must have shape \(D_out, 4\), got \(2, 5\)",
        ),
        (
            lambda: mlp.mlp_forward(
                torch.randn(2, 3),
                [torch.randn(4, 3), torch.randn(2, 4)],
                [None, None],
                activation=[torch.relu, torch.relu],
            ),
            ValueError,
            r"1 callables \(one per hidden layer\), got 2",
        ),
        (
            lambda: mlp.polar_features(torch.randn(5, 3)),
            ValueError,
            r"\(\.\.\., 2\).*\(5, 3\)",
        ),
        (
            lambda: mlp.polar_features(torch.ones(5, 2, dtype=torch.int64)),
            TypeError,
            r"floating dtype, got torch.int64",
        ),
        (lambda: mlp.polar_to_cartesian([1.0, 2.0]), TypeError, r"Tensor, got list"),
        (
            lambda: mlp.bump_mlp(torch.tensor([0.0, 1.0]), torch.ones(1), ramp=2.0),
            ValueError,
            r"ramp must be a finite number in \(0, 1\.0+1\], got 2.0",
        ),
        (
            lambda: mlp.bump_mlp(torch.tensor([0.0, 1.0]), torch.ones(2), ramp=0.5),
            ValueError,
            r"heights must have shape \(1,\), got \(2,\)",
        ),
        (
            lambda: mlp.bump_mlp(torch.tensor([1.0, 0.0]), torch.ones(1), ramp=0.5),
            ValueError,
            r"edges must increase",
        ),
        (
            lambda: mlp.bump_mlp(
                torch.tensor([0.0, 1.0]), torch.ones(1), ramp=math.nan
            ),
            ValueError,
            r"ramp must be a finite number",
        ),
        (
            lambda: mlp.bump_mlp(
                torch.tensor([0.0, math.nan]), torch.ones(1), ramp=0.5
            ),
            ValueError,
            r"edges must be finite",
        ),
        (
            lambda: mlp.sawtooth_mlp(0),
            ValueError,
            r"depth must be an int >= 1, got 0",
        ),
    ],
)
def test_bad_input_raises_clear_errors(call, error, match):
    with pytest.raises(error, match=match):
        call()


@pytest.mark.cuda
def test_mlp_on_cuda_matches_cpu():
    torch.manual_seed(0)
    cpu = mlp.MLP([20, 64, 10], dtype=torch.float64)
    gpu = mlp.MLP([20, 64, 10], dtype=torch.float64, device="cuda")
    gpu.load_state_dict(cpu.state_dict())
    x = torch.randn(32, 20, dtype=torch.float64)
    dout = torch.randn(32, 10, dtype=torch.float64)
    dx, dp = grads(cpu, x, dout)
    dx_gpu, dp_gpu = grads(gpu, x.cuda(), dout.cuda())
    assert_close(gpu(x.cuda()).cpu(), cpu(x))
    assert_close(dx_gpu.cpu(), dx)
    for name in dp:
        assert_close(dp_gpu[name].cpu(), dp[name])
    # The same CPU generator gives the same initial network on either device.
    a = mlp.MLP([20, 8, 3], generator=torch.Generator().manual_seed(3))
    b = mlp.MLP([20, 8, 3], generator=torch.Generator().manual_seed(3), device="cuda")
    for pa, pb in zip(a.parameters(), b.parameters(), strict=True):
        assert pb.is_cuda
        assert torch.equal(pa, pb.cpu())
    xc = torch.randn(50, 2, generator=torch.Generator().manual_seed(0))
    assert_close(mlp.polar_features(xc.cuda()).cpu(), mlp.polar_features(xc))
    bumps = mlp.bump_mlp(
        torch.linspace(0, 1, 5, device="cuda"), torch.ones(4, device="cuda"), ramp=0.1
    )
    assert bumps(torch.tensor([[0.5]], device="cuda")).item() == pytest.approx(1.0)
