import math

import pytest
import torch
import torch.nn.functional as F
from torch import nn
from torch.autograd import gradcheck
from torch.testing import assert_close

from dlcv import activations as act

F64 = torch.float64

# name -> (ours, its derivative, torch's, keyword arguments)
CASES = {
    "sigmoid": (act.sigmoid, act.sigmoid_grad, torch.sigmoid, {}),
    "tanh": (act.tanh, act.tanh_grad, torch.tanh, {}),
    "relu": (act.relu, act.relu_grad, F.relu, {}),
    "leaky_relu": (act.leaky_relu, act.leaky_relu_grad, F.leaky_relu, {}),
    "leaky_relu_0.2": (
        act.leaky_relu,
        act.leaky_relu_grad,
        F.leaky_relu,
        {"negative_slope": 0.2},
    ),
    "elu": (act.elu, act.elu_grad, F.elu, {}),
    "elu_0.5": (act.elu, act.elu_grad, F.elu, {"alpha": 0.5}),
    "selu": (act.selu, act.selu_grad, F.selu, {}),
    "gelu": (act.gelu, act.gelu_grad, F.gelu, {}),
    "gelu_tanh": (act.gelu, act.gelu_grad, F.gelu, {"approximate": "tanh"}),
}


def points(dtype=F64, seed=0):
    """Random values plus the kink at 0 (both signs), tiny and huge |x|."""
    g = torch.Generator().manual_seed(seed)
    special = [0.0, -0.0, 1e-12, -1e-12, 1e-3, -1e-3, 30.0, -30.0, 100.0, -100.0]
    special += [800.0, -800.0]
    rand = 4 * torch.randn(200, generator=g, dtype=F64)
    return torch.cat([torch.tensor(special, dtype=F64), rand]).to(dtype)


def torch_value_and_grad(fn, x, kwargs):
    x = x.clone().requires_grad_()
    out = fn(x, **kwargs)
    out.sum().backward()
    return out.detach(), x.grad


@pytest.mark.parametrize("dtype", [torch.float32, F64])
@pytest.mark.parametrize("name", CASES)
def test_forward_and_grad_match_torch(name, dtype):
    ours, ours_grad, theirs, kwargs = CASES[name]
    x = points(dtype)
    want, want_grad = torch_value_and_grad(theirs, x, kwargs)
    out = ours(x, **kwargs)
    assert out.dtype == dtype and out.shape == x.shape
    assert_close(out, want)
    assert_close(ours_grad(x, **kwargs), want_grad)  # hand-written, incl. at 0
    _, autograd_of_ours = torch_value_and_grad(ours, x, kwargs)
    assert_close(autograd_of_ours, want_grad)  # our forward differentiates right


@pytest.mark.parametrize("name", CASES)
def test_gradcheck_and_hand_grad_vs_finite_differences(name):
    ours, ours_grad, _, kwargs = CASES[name]
    g = torch.Generator().manual_seed(1)
    x = 3 * torch.randn(40, generator=g, dtype=F64)
    x = x[x.abs() > 1e-3]  # finite differences need no kink within their step
    assert gradcheck(lambda t: ours(t, **kwargs), (x.clone().requires_grad_(),))
    h = 1e-6
    numeric = (ours(x + h, **kwargs) - ours(x - h, **kwargs)) / (2 * h)
    assert_close(ours_grad(x, **kwargs), numeric, rtol=1e-6, atol=1e-8)


def test_derivatives_at_kinks_follow_torch():
    zero = torch.zeros(1, dtype=F64)
    assert act.relu_grad(zero).item() == 0.0
    assert act.leaky_relu_grad(zero, 0.1).item() == pytest.approx(0.1)
    assert act.elu_grad(zero, 2.0).item() == 2.0  # negative branch is x <= 0
    assert act.selu_grad(zero).item() == pytest.approx(act.SELU_SCALE * act.SELU_ALPHA)
    assert act.sigmoid_grad(zero).item() == 0.25
    assert act.tanh_grad(zero).item() == 1.0


@pytest.mark.parametrize("name", CASES)
def test_nan_and_infinities_like_torch(name):
    ours, _, theirs, kwargs = CASES[name]
    x = torch.tensor([float("nan"), float("inf"), -float("inf")], dtype=F64)
    assert_close(ours(x, **kwargs), theirs(x, **kwargs), equal_nan=True)


def test_saturation_and_dead_regions():
    x = torch.tensor([-50.0, 50.0], dtype=F64)
    assert act.sigmoid_grad(x).max() < 1e-20  # vanishing gradient
    assert act.tanh_grad(x).max() < 1e-40
    assert act.relu_grad(x).tolist() == [0.0, 1.0]
    assert act.elu(x, 1.5)[0].item() == pytest.approx(-1.5)  # saturates at -alpha


def test_selu_constants_are_torch_exact():
    assert act.SELU_ALPHA == 1.6732632423543772848170429916717
    assert act.SELU_SCALE == 1.0507009873554804934193349852946
    x = torch.tensor([-1.0], dtype=F64)
    expected = act.SELU_SCALE * act.SELU_ALPHA * (math.exp(-1) - 1)
    assert F.selu(x).item() == pytest.approx(expected, rel=1e-15)


@pytest.mark.parametrize("shape,C", [((4, 3, 5, 6), 3), ((4, 3), 3), ((4, 3, 5), 1)])
def test_prelu_matches_torch(shape, C):
    g = torch.Generator().manual_seed(2)
    x = torch.randn(*shape, generator=g, dtype=F64)
    x[0, 0] = 0.0  # the kink
    weight = torch.rand(C, generator=g, dtype=F64)
    xt, wt = x.clone().requires_grad_(), weight.clone().requires_grad_()
    out = F.prelu(xt, wt)
    dout = torch.randn(shape, generator=g, dtype=F64)
    (out * dout).sum().backward()
    assert_close(act.prelu(x, weight), out.detach())
    dx, dweight = act.prelu_grad(x, weight)
    assert_close(dout * dx, xt.grad)
    axes = [d for d in range(x.dim()) if d != 1] if C > 1 else list(range(x.dim()))
    assert_close((dout * dweight).sum(axes).reshape(C), wt.grad)
    smooth = torch.where(x == 0, 0.5, x)  # finite differences need no kink
    xo, wo = smooth.requires_grad_(), weight.clone().requires_grad_()
    assert gradcheck(act.prelu, (xo, wo))


def test_prelu_module_state_dict_both_ways():
    torch.manual_seed(3)
    ours, theirs = act.PReLU(num_parameters=4), nn.PReLU(num_parameters=4, init=0.3)
    theirs.weight.data.uniform_(0, 0.5)
    ours.load_state_dict(theirs.state_dict())
    x = torch.randn(2, 4, 5, 5)
    assert_close(ours(x), theirs(x))
    ours.weight.data.mul_(2)
    theirs.load_state_dict(ours.state_dict())
    assert_close(ours(x), theirs(x))
    assert list(ours.state_dict()) == ["weight"]


@pytest.mark.parametrize(
    "ours,theirs",
    [
        (act.Sigmoid(), nn.Sigmoid()),
        (act.Tanh(), nn.Tanh()),
        (act.ReLU(), nn.ReLU()),
        (act.LeakyReLU(0.2), nn.LeakyReLU(0.2)),
        (act.PReLU(), nn.PReLU()),
        (act.ELU(alpha=0.7), nn.ELU(alpha=0.7)),
        (act.SELU(), nn.SELU()),
        (act.GELU(), nn.GELU()),
        (act.GELU(approximate="tanh"), nn.GELU(approximate="tanh")),
    ],
)
def test_modules_match_nn(ours, theirs):
    assert isinstance(ours, type(theirs))
    g = torch.Generator().manual_seed(4)
    x = 3 * torch.randn(3, 4, 5, generator=g)
    assert_close(ours(x), theirs(x))


def test_inplace_modules_write_into_the_input():
    x = torch.linspace(-2, 2, 9)
    want = F.elu(x)
    out = act.ELU(inplace=True)(x)
    assert out is x
    assert_close(x, want)


def test_activations_dict():
    assert set(act.ACTIVATIONS) == {
        "sigmoid", "tanh", "relu", "leaky_relu", "prelu", "elu", "selu", "gelu"
    }  # fmt: skip
    x = torch.linspace(-3, 3, 13).reshape(1, 13)
    for name, cls in act.ACTIVATIONS.items():
        module = cls()
        assert isinstance(module, nn.Module)
        fn = getattr(act, name)
        args = (module.weight,) if name == "prelu" else ()
        assert_close(module(x), fn(x, *args))


def test_bad_input():
    x = torch.zeros(3)
    with pytest.raises(TypeError, match="x must be a torch.Tensor, got list"):
        act.relu([1.0, 2.0])
    with pytest.raises(TypeError, match="floating dtype, got torch.int64"):
        act.sigmoid(torch.arange(3))
    with pytest.raises(ValueError, match="negative_slope must be a finite number"):
        act.leaky_relu(x, float("nan"))
    with pytest.raises(TypeError, match="alpha must be a real number, got str"):
        act.elu(x, "1")
    with pytest.raises(ValueError, match=r"approximate must be one of .*got 'fast'"):
        act.gelu(x, approximate="fast")
    with pytest.raises(ValueError, match="weight must have 1 or 3 .* got 2"):
        act.prelu(torch.zeros(2, 3), torch.zeros(2))
    with pytest.raises(ValueError, match="weight must have 1 dimensions"):
        act.prelu_grad(torch.zeros(2, 3), torch.zeros(1, 3))


@pytest.mark.cuda
def test_cuda_matches_cpu():
    x = points(torch.float32)
    xc = x.cuda()
    for name, (ours, ours_grad, _, kwargs) in CASES.items():
        out = ours(xc, **kwargs)
        assert out.device.type == "cuda", name
        assert_close(out.cpu(), ours(x, **kwargs))
        assert_close(ours_grad(xc, **kwargs).cpu(), ours_grad(x, **kwargs))
    w = torch.rand(3)
    xs = torch.randn(2, 3, 4)
    dx, dw = act.prelu_grad(xs.cuda(), w.cuda())
    assert dx.device.type == "cuda" and dw.device.type == "cuda"
    assert_close(act.prelu(xs.cuda(), w.cuda()).cpu(), act.prelu(xs, w))
    assert_close(act.PReLU(3).cuda()(xs.cuda()).cpu(), act.PReLU(3)(xs))
