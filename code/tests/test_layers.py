import pytest
import torch
import torch.nn.functional as F
from torch import nn
from torch.autograd import gradcheck
from torch.testing import assert_close

from dlcv import layers

F64 = torch.float64


def randn(*shape, seed=0, dtype=F64, requires_grad=False):
    g = torch.Generator().manual_seed(seed)
    t = torch.randn(*shape, generator=g, dtype=dtype)
    return t.requires_grad_(requires_grad)


def as_function(forward, backward):
    """A torch.autograd.Function whose forward/backward are one of our layer pairs."""

    class Wrapped(torch.autograd.Function):
        @staticmethod
        def forward(ctx, *inputs):
            out, cache = forward(*inputs)
            ctx.cache = cache
            return out

        @staticmethod
        def backward(ctx, dout):
            grads = backward(dout, ctx.cache)
            return grads if isinstance(grads, tuple) else (grads,)

    return Wrapped.apply


# Each case: forward, backward, the inputs (float64) and the torch reference function.
def linear_case():
    return (
        layers.linear_forward,
        layers.linear_backward,
        (randn(5, 4, seed=1), randn(3, 4, seed=2), randn(3, seed=3)),
        F.linear,
    )


def linear_3d_case():  # extra leading dimensions, like F.linear's (*, D_in)
    return (
        layers.linear_forward,
        layers.linear_backward,
        (randn(2, 3, 4, seed=4), randn(6, 4, seed=5), randn(6, seed=6)),
        F.linear,
    )


def relu_case():
    return layers.relu_forward, layers.relu_backward, (randn(4, 7, seed=7),), torch.relu


def sigmoid_case():
    x = randn(4, 7, seed=8) * 4
    return layers.sigmoid_forward, layers.sigmoid_backward, (x,), torch.sigmoid


CASES = [linear_case, linear_3d_case, relu_case, sigmoid_case]


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.__name__)
def test_forward_equals_torch(case):
    forward, _, inputs, reference = case()
    out, _ = forward(*inputs)
    assert_close(out, reference(*inputs))


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.__name__)
def test_backward_equals_autograd_of_out_times_dout(case):
    # llm.c's check: with L = sum(out * dout), autograd's dL/dinput is the VJP with dout
    forward, backward, inputs, reference = case()
    inputs = [t.clone().requires_grad_() for t in inputs]
    out_ref = reference(*inputs)
    dout = randn(*out_ref.shape, seed=99)
    (out_ref * dout).sum().backward()
    _, cache = forward(*[t.detach() for t in inputs])
    grads = backward(dout, cache)
    grads = grads if isinstance(grads, tuple) else (grads,)
    assert len(grads) == len(inputs)
    for ours, t in zip(grads, inputs, strict=True):
        assert_close(ours, t.grad)


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.__name__)
def test_backward_passes_gradcheck(case):
    forward, backward, inputs, _ = case()
    fn = as_function(forward, backward)
    inputs = tuple(t.clone().requires_grad_() for t in inputs)
    assert gradcheck(fn, inputs, eps=1e-6, atol=1e-5)


def test_linear_without_bias():
    x, w = randn(5, 4, seed=1), randn(3, 4, seed=2)
    out, cache = layers.linear_forward(x, w)
    assert_close(out, F.linear(x, w))
    dx, dw, db = layers.linear_backward(torch.ones_like(out), cache)
    assert db is None
    assert_close(dx, torch.ones(5, 3, dtype=F64) @ w)
    assert_close(dw, torch.ones(3, 5, dtype=F64) @ x)


def test_relu_gradient_at_zero_is_zero_like_torch():
    x = torch.tensor([-1.0, 0.0, 2.0], dtype=F64, requires_grad=True)
    torch.relu(x).sum().backward()
    _, cache = layers.relu_forward(x.detach())
    assert_close(layers.relu_backward(torch.ones(3, dtype=F64), cache), x.grad)
    assert x.grad.tolist() == [0.0, 0.0, 1.0]


def test_sigmoid_has_no_overflow():
    x = torch.tensor([-1000.0, -50.0, 0.0, 50.0, 1000.0])
    out, _ = layers.sigmoid_forward(x)
    assert torch.isfinite(out).all()
    assert_close(out, torch.sigmoid(x))


# ---- softmax cross-entropy -----------------------------------------------------------
def ce_inputs(N=6, C=5, seed=10, scale=1.0):
    scores = randn(N, C, seed=seed) * scale
    target = torch.randint(C, (N,), generator=torch.Generator().manual_seed(seed))
    return scores, target


@pytest.mark.parametrize("scale", [1.0, 30.0, 1000.0])
def test_softmax_cross_entropy_equals_f_cross_entropy(scale):
    scores, target = ce_inputs(scale=scale)
    scores_ref = scores.clone().requires_grad_()
    loss_ref = F.cross_entropy(scores_ref, target)
    loss_ref.backward()
    loss, dscores = layers.softmax_cross_entropy(scores, target)
    assert torch.isfinite(loss)
    assert_close(loss, loss_ref.detach())
    assert_close(dscores, scores_ref.grad)


def test_softmax_cross_entropy_backward_scales_with_upstream():
    scores, target = ce_inputs()
    _, cache = layers.softmax_cross_entropy_forward(scores, target)
    ref = scores.detach().clone().requires_grad_(True)
    (2.5 * F.cross_entropy(ref, target)).backward()  # an upstream gradient of 2.5
    assert_close(layers.softmax_cross_entropy_backward(2.5, cache), ref.grad)
    fn = as_function(
        lambda s: layers.softmax_cross_entropy_forward(s, target),
        layers.softmax_cross_entropy_backward,
    )
    assert gradcheck(fn, (scores.clone().requires_grad_(),), eps=1e-6, atol=1e-5)


def test_softmax_cross_entropy_rows_sum_to_zero():
    # Each row of P - onehot sums to 0: raising every score of an example changes
    # nothing.
    scores, target = ce_inputs(N=8, C=10, seed=11)
    _, dscores = layers.softmax_cross_entropy(scores, target)
    assert_close(dscores.sum(dim=1), torch.zeros(8, dtype=F64))
    loss_at_init, _ = layers.softmax_cross_entropy(torch.zeros(8, 10), target)
    assert loss_at_init.item() == pytest.approx(torch.log(torch.tensor(10.0)).item())


# ---- the two-layer net ---------------------------------------------------------------
def twin_sequential(D, H, C, seed=0, dtype=F64):
    torch.manual_seed(seed)
    return nn.Sequential(nn.Linear(D, H), nn.ReLU(), nn.Linear(H, C)).to(dtype)


def test_two_layer_net_equals_sequential_twin():
    D, H, C, N = 12, 9, 4, 16
    seq = twin_sequential(D, H, C)
    net = layers.TwoLayerNet(D, H, C, generator=torch.Generator(), dtype=F64)
    assert set(net.state_dict()) == set(seq.state_dict())
    net.load_state_dict(seq.state_dict())
    x, target = randn(N, D, seed=3), torch.arange(N) % C
    loss_ref = F.cross_entropy(seq(x), target)
    loss_ref.backward()
    loss, grads = net.loss(x, target)
    assert_close(loss, loss_ref.detach())
    assert_close(net(x), seq(x).detach())
    for name, p in seq.named_parameters():
        assert_close(grads[name], p.grad, msg=name)


def test_two_layer_state_dict_loads_into_sequential():
    D, H, C = 7, 5, 3
    net = layers.TwoLayerNet(D, H, C, generator=torch.Generator().manual_seed(4))
    seq = nn.Sequential(nn.Linear(D, H), nn.ReLU(), nn.Linear(H, C))
    seq.load_state_dict(net.state_dict())
    x = randn(6, D, dtype=torch.float32)
    assert_close(seq(x).detach(), net(x))


def test_two_layer_init_matches_nn_linear_bounds():
    D, H, C = 400, 50, 10
    net = layers.TwoLayerNet(D, H, C, generator=torch.Generator().manual_seed(0))
    for name, fan_in in [("0", D), ("2", H)]:
        bound = fan_in**-0.5
        w = net.params[f"{name}.weight"]
        assert w.abs().max() <= bound and w.abs().max() > 0.95 * bound
        assert w.std().item() == pytest.approx(bound / 3**0.5, rel=0.05)
    again = layers.TwoLayerNet(D, H, C, generator=torch.Generator().manual_seed(0))
    assert all(torch.equal(again.params[k], v) for k, v in net.params.items())


def test_two_layer_loss_passes_gradcheck():
    D, H, C, N = 5, 4, 3, 6
    x, target = randn(N, D, seed=12), torch.tensor([0, 1, 2, 0, 1, 2])
    names = list(layers.PARAM_NAMES)
    net = layers.TwoLayerNet(D, H, C, generator=torch.Generator(), dtype=F64)
    values = [net.params[n].clone().requires_grad_() for n in names]

    class Loss(torch.autograd.Function):
        @staticmethod
        def forward(ctx, *ps):
            loss, grads = layers.two_layer_loss(
                dict(zip(names, ps, strict=True)), x, target
            )
            ctx.grads = grads
            return loss

        @staticmethod
        def backward(ctx, dloss):
            return tuple(dloss * ctx.grads[n] for n in names)

    assert gradcheck(Loss.apply, tuple(values), eps=1e-6, atol=1e-5)


def test_sgd_steps_on_two_layer_net_equal_torch_sgd():
    D, H, C, N, lr = 10, 8, 3, 32, 0.5
    seq = twin_sequential(D, H, C, seed=5)
    net = layers.TwoLayerNet(D, H, C, generator=torch.Generator(), dtype=F64)
    net.load_state_dict(seq.state_dict())
    opt = torch.optim.SGD(seq.parameters(), lr=lr)
    x, target = randn(N, D, seed=6), torch.arange(N) % C
    losses, losses_ref = [], []
    for _ in range(50):
        loss, grads = net.loss(x, target)
        for name in net.params:
            net.params[name] -= lr * grads[name]
        loss_ref = F.cross_entropy(seq(x), target)
        opt.zero_grad()
        loss_ref.backward()
        opt.step()
        losses.append(loss.item())
        losses_ref.append(loss_ref.item())
    assert losses == pytest.approx(losses_ref, rel=1e-10)
    assert losses[-1] < 0.5 * losses[0]


# ---- the autograd.Function and the module --------------------------------------------
def test_linear_function_passes_gradcheck():
    x = randn(5, 4, seed=20, requires_grad=True)
    w = randn(3, 4, seed=21, requires_grad=True)
    b = randn(3, seed=22, requires_grad=True)
    assert gradcheck(layers.LinearFunction.apply, (x, w, b), eps=1e-6, atol=1e-5)
    assert gradcheck(layers.LinearFunction.apply, (x, w), eps=1e-6, atol=1e-5)


def test_linear_function_respects_needs_input_grad():
    x = randn(5, 4, seed=20)  # no grad wanted for the input
    w = randn(3, 4, seed=21, requires_grad=True)
    out = layers.LinearFunction.apply(x, w, None)
    out.sum().backward()
    assert x.grad is None
    assert_close(w.grad, torch.ones(3, 5, dtype=F64) @ x)


def test_linear_module_in_a_torch_model_equals_nn_linear():
    torch.manual_seed(0)
    ref = nn.Sequential(nn.Linear(6, 5), nn.ReLU(), nn.Linear(5, 3))
    ours = nn.Sequential(layers.Linear(6, 5), nn.ReLU(), layers.Linear(5, 3))
    ours.load_state_dict(ref.state_dict())
    x, target = randn(8, 6, dtype=torch.float32), torch.arange(8) % 3
    for model in (ref, ours):
        F.cross_entropy(model(x), target).backward()
    assert_close(ours(x), ref(x))
    for (name, p), q in zip(ours.named_parameters(), ref.parameters(), strict=True):
        assert_close(p.grad, q.grad, msg=name)
    back = nn.Sequential(nn.Linear(6, 5), nn.ReLU(), nn.Linear(5, 3))
    back.load_state_dict(ours.state_dict())  # and back, into a fresh torch model
    assert_close(back(x), ours(x))


# ---- bad input -----------------------------------------------------------------------
def test_bad_input_messages():
    x, w = torch.zeros(5, 4), torch.zeros(3, 4)
    with pytest.raises(TypeError, match="x must be a torch.Tensor, got list"):
        layers.linear_forward([[1.0]], w)
    with pytest.raises(TypeError, match="floating dtype, got torch.int64"):
        layers.linear_forward(torch.zeros(5, 4, dtype=torch.long), w)
    with pytest.raises(
        ValueError, match=r"x must have shape \(\.\.\., 4\), got \(5, 3\)"
    ):
        layers.linear_forward(torch.zeros(5, 3), w)
    with pytest.raises(
        ValueError, match=r"weight must have 2 dimensions, got shape \(4,\)"
    ):
        layers.linear_forward(x, torch.zeros(4))
    with pytest.raises(ValueError, match="bias must have shape \\(3,\\), got \\(4,\\)"):
        layers.linear_forward(x, w, torch.zeros(4))
    _, cache = layers.linear_forward(x, w)
    with pytest.raises(
        ValueError, match=r"dout must have shape \(5, 3\), got \(5, 4\)"
    ):
        layers.linear_backward(torch.zeros(5, 4), cache)
    _, cache = layers.relu_forward(x)
    with pytest.raises(
        ValueError, match=r"dout must have shape \(5, 4\), got \(4, 5\)"
    ):
        layers.relu_backward(torch.zeros(4, 5), cache)
    with pytest.raises(
        ValueError, match="scores must have 2 dimensions, got shape \\(5,\\)"
    ):
        layers.softmax_cross_entropy(torch.zeros(5), torch.zeros(5, dtype=torch.long))
    with pytest.raises(
        TypeError, match="target must have an integer dtype, got torch.float32"
    ):
        layers.softmax_cross_entropy(x, torch.zeros(5))
    with pytest.raises(
        TypeError, match="target must have an integer dtype, got torch.bool"
    ):
        layers.softmax_cross_entropy(x, torch.zeros(5, dtype=torch.bool))
    with pytest.raises(
        ValueError, match="target must have shape \\(5,\\), got \\(4,\\)"
    ):
        layers.softmax_cross_entropy(x, torch.zeros(4, dtype=torch.long))
    with pytest.raises(
        ValueError, match="target must hold labels in \\[0, 4\\), got 7"
    ):
        layers.softmax_cross_entropy(x, torch.tensor([0, 1, 7, 2, 3]))
    # uint8 labels (IDX files) index like int64 ones, also when N == C
    square = torch.randn(4, 4, dtype=torch.float64)
    t = torch.tensor([3, 0, 2, 1])
    assert_close(
        layers.softmax_cross_entropy(square, t.to(torch.uint8)),
        layers.softmax_cross_entropy(square, t),
    )
    with pytest.raises(ValueError, match="hidden_features must be an int >= 1, got 0"):
        layers.TwoLayerNet(4, 0, 3, generator=torch.Generator())
    net = layers.TwoLayerNet(4, 2, 3, generator=torch.Generator())
    with pytest.raises(ValueError, match="params must have the keys"):
        layers.two_layer_forward({"weight": w}, x)
    bad = dict(net.state_dict(), **{"2.bias": torch.zeros(5)})
    with pytest.raises(
        ValueError, match="2.bias must have shape \\(3,\\), got \\(5,\\)"
    ):
        net.load_state_dict(bad)


@pytest.mark.cuda
def test_cuda_matches_cpu():
    D, H, C, N = 20, 16, 5, 64
    net = layers.TwoLayerNet(D, H, C, generator=torch.Generator().manual_seed(1))
    gpu = layers.TwoLayerNet(
        D, H, C, generator=torch.Generator().manual_seed(1), device="cuda"
    )
    assert gpu.params["0.weight"].device.type == "cuda"
    x, target = randn(N, D, dtype=torch.float32), torch.arange(N) % C
    loss, grads = net.loss(x, target)
    loss_gpu, grads_gpu = gpu.loss(x.cuda(), target.cuda())
    assert loss_gpu.device.type == "cuda"
    assert_close(loss_gpu.cpu(), loss, rtol=1e-5, atol=1e-5)
    for name in grads:
        assert_close(grads_gpu[name].cpu(), grads[name], rtol=1e-4, atol=1e-5)
    out_s, _ = layers.sigmoid_forward(x.cuda())
    assert_close(out_s.cpu(), torch.sigmoid(x))
    model = nn.Sequential(layers.Linear(D, H), nn.ReLU(), layers.Linear(H, C)).cuda()
    F.cross_entropy(model(x.cuda()), target.cuda()).backward()
    assert model[0].weight.grad.device.type == "cuda"
