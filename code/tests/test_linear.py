import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch import nn
from torch.testing import assert_close

from dlcv import linear

SVM_LOSSES = [linear.svm_loss_naive, linear.svm_loss_vectorized]
SOFTMAX_LOSSES = [linear.softmax_loss_naive, linear.softmax_loss_vectorized]
LOSSES = SVM_LOSSES + SOFTMAX_LOSSES
PENALTIES = [("l2", 1.0), ("l1", 1.0), ("elasticnet", 0.5)]


def problem(n=12, d=7, c=5, seed=0, dtype=torch.float64):
    """Random W (C, D), X (N, D), y (N,) with scores of order 1."""
    g = torch.Generator().manual_seed(seed)
    W = torch.randn(c, d, generator=g, dtype=dtype)
    X = torch.randn(n, d, generator=g, dtype=dtype)
    y = torch.randint(c, (n,), generator=g)
    return W, X, y


def reference_penalty(W, penalty, beta):
    """Eq. (7) written directly, for autograd."""
    if penalty == "l2":
        return W.square().sum()
    if penalty == "l1":
        return W.abs().sum()
    return (beta * W.square() + W.abs()).sum()


def reference_loss(fn, W, X, y, reg, penalty="l2", beta=1.0, margin=1.0):
    """The same loss from PyTorch's own functions (see test_svm_equals_multi_margin)."""
    scores = X @ W.T  # (N, C)
    C = W.shape[0]
    if fn in SVM_LOSSES:
        data = C * F.multi_margin_loss(scores, y, margin=margin)
    else:
        data = F.cross_entropy(scores, y)
    return data + reg * reference_penalty(W, penalty, beta)


class AnalyticLoss(torch.autograd.Function):
    """Wraps a (loss, dW) function so that gradcheck tests the analytic dW."""

    @staticmethod
    def forward(ctx, W, fn, X, y, reg, penalty, beta):
        loss, dW = fn(W.detach(), X, y, reg, penalty=penalty, beta=beta)
        ctx.save_for_backward(dW)
        return loss

    @staticmethod
    def backward(ctx, grad_loss):
        (dW,) = ctx.saved_tensors
        return grad_loss * dW, None, None, None, None, None, None


@pytest.mark.parametrize("fn", LOSSES, ids=lambda f: f.__name__)
@pytest.mark.parametrize(("penalty", "beta"), PENALTIES)
def test_analytic_gradient_passes_gradcheck(fn, penalty, beta):
    W, X, y = problem()
    W.requires_grad_(True)
    assert torch.autograd.gradcheck(
        lambda W: AnalyticLoss.apply(W, fn, X, y, 0.1, penalty, beta), (W,)
    )


@pytest.mark.parametrize("fn", LOSSES, ids=lambda f: f.__name__)
@pytest.mark.parametrize(("penalty", "beta"), PENALTIES)
@pytest.mark.parametrize("reg", [0.0, 0.3])
def test_loss_and_gradient_equal_torch_autograd(fn, penalty, beta, reg):
    W, X, y = problem(seed=1)
    loss, dW = fn(W, X, y, reg, penalty=penalty, beta=beta)
    W_ref = W.clone().requires_grad_(True)
    ref = reference_loss(fn, W_ref, X, y, reg, penalty, beta)
    ref.backward()
    assert_close(loss, ref.detach())
    assert_close(dW, W_ref.grad)


def test_softmax_loss_equals_cross_entropy_plus_penalty():
    W, X, y = problem(n=50, d=20, c=10, seed=2)
    for fn in SOFTMAX_LOSSES:
        loss, _ = fn(W, X, y, 0.05)
        expected = F.cross_entropy(X @ W.T, y) + 0.05 * W.square().sum()
        assert_close(loss, expected)


@pytest.mark.parametrize("margin", [1.0, 2.5])
def test_svm_equals_multi_margin_loss_times_c(margin):
    # F.multi_margin_loss(s, y)
    #     = mean_i sum_{j != y_i} max(0, margin - s_{y_i} + s_j) / C,
    # i.e. it skips j = y_i like Eq. (3) but also divides by C: our loss is C times it.
    W, X, y = problem(n=40, d=6, c=7, seed=3)
    C = W.shape[0]
    scores = X @ W.T
    for fn in SVM_LOSSES:
        loss, _ = fn(W, X, y, margin=margin)
        assert_close(loss, C * F.multi_margin_loss(scores, y, margin=margin))
    # Summing over all j, j = y_i included, adds exactly the margin to every L_i.
    all_j = (scores - scores.gather(1, y[:, None]) + margin).clamp(min=0).sum(1)
    loss, _ = linear.svm_loss_vectorized(W, X, y, margin=margin)
    assert_close(all_j.mean(), loss + margin)


@pytest.mark.parametrize(
    ("naive", "vectorized"),
    [
        (linear.svm_loss_naive, linear.svm_loss_vectorized),
        (linear.softmax_loss_naive, linear.softmax_loss_vectorized),
    ],
)
@pytest.mark.parametrize(("penalty", "beta"), PENALTIES)
def test_naive_and_vectorized_agree(naive, vectorized, penalty, beta):
    W, X, y = problem(n=30, d=9, c=4, seed=4, dtype=torch.float32)
    loss_n, dW_n = naive(W, X, y, 0.01, penalty=penalty, beta=beta)
    loss_v, dW_v = vectorized(W, X, y, 0.01, penalty=penalty, beta=beta)
    assert loss_n.dtype == loss_v.dtype == torch.float32
    assert_close(loss_n, loss_v)
    assert_close(dW_n, dW_v)


def test_stable_softmax_matches_torch_and_survives_large_scores():
    g = torch.Generator().manual_seed(5)
    s = torch.randn(6, 10, generator=g, dtype=torch.float64) * 3
    assert_close(linear.softmax(s), torch.softmax(s, dim=-1))
    assert_close(linear.softmax(s, dim=0), torch.softmax(s, dim=0))
    assert_close(linear.log_softmax(s, dim=1), torch.log_softmax(s, dim=1))
    assert_close(linear.softmax_naive(s), torch.softmax(s, dim=-1))

    big = torch.tensor([[1e4, 0.0, -1e4], [1e4, 1e4 - 1, 3.0]])
    naive = linear.softmax_naive(big)
    assert torch.isnan(naive).any()  # exp(1e4) = inf, inf / inf = nan
    stable = linear.softmax(big)
    assert torch.isfinite(stable).all()
    assert_close(stable, torch.softmax(big, dim=-1))
    assert_close(stable.sum(dim=1), torch.ones(2))
    assert_close(linear.log_softmax(big), torch.log_softmax(big, dim=-1))


def test_softmax_loss_is_finite_for_huge_scores():
    W, X, y = problem(n=20, d=5, c=3, seed=6, dtype=torch.float32)
    W = W * 1e4  # scores of order 1e4: exp overflows in float32
    for fn in SOFTMAX_LOSSES:
        loss, dW = fn(W, X, y)
        assert torch.isfinite(loss) and torch.isfinite(dW).all()
        assert_close(loss, F.cross_entropy(X @ W.T, y), rtol=1e-5, atol=1e-2)


@pytest.mark.parametrize(("penalty", "beta"), PENALTIES)
def test_regularization_and_its_gradient(penalty, beta):
    W, _, _ = problem(seed=7)
    R, dR = linear.regularization(W, penalty=penalty, beta=beta)
    W_ref = W.clone().requires_grad_(True)
    ref = reference_penalty(W_ref, penalty, beta)
    ref.backward()
    assert_close(R, ref.detach())
    assert_close(dR, W_ref.grad)
    # The L1 subgradient at 0 is 0, as autograd's for abs.
    zero = torch.zeros(3, dtype=torch.float64, requires_grad=True)
    _, dR0 = linear.regularization(zero.detach(), penalty="l1")
    zero.abs().sum().backward()
    assert_close(dR0, zero.grad)


@pytest.mark.parametrize(
    ("fn", "expected"),
    [(SVM_LOSSES[1], 9.0), (SOFTMAX_LOSSES[1], math.log(10))],
    ids=["svm", "softmax"],
)
def test_initial_loss_sanity_values(fn, expected):
    # Tiny random weights: all scores ~ 0, so every margin is ~ 1 (SVM: C - 1 = 9)
    # and every probability ~ 1/C (softmax: ln C = ln 10).
    g = torch.Generator().manual_seed(8)
    W = 1e-6 * torch.randn(10, 784, generator=g, dtype=torch.float64)
    X = torch.rand(500, 784, generator=g, dtype=torch.float64)
    y = torch.randint(10, (500,), generator=g)
    loss, _ = fn(W, X, y, 0.0)
    assert loss.item() == pytest.approx(expected, abs=1e-3)


def test_bias_trick_gives_the_same_scores():
    W, X, _ = problem(seed=9)
    b = torch.randn(W.shape[0], dtype=torch.float64)
    Wb = torch.cat([W, b[:, None]], dim=1)  # (C, D + 1)
    Xb = linear.append_ones(X)  # (N, D + 1)
    assert Xb.shape == (X.shape[0], X.shape[1] + 1)
    assert torch.equal(Xb[:, -1], torch.ones(X.shape[0], dtype=torch.float64))
    assert_close(Xb @ Wb.T, X @ W.T + b)


def test_state_dict_round_trip_with_nn_linear():
    g = torch.Generator().manual_seed(10)
    model = linear.SoftmaxClassifier(6, 4, init_std=0.5, generator=g)
    model.load_state_dict({"weight": model.weight, "bias": torch.randn(4, generator=g)})
    torch_linear = nn.Linear(6, 4)
    torch_linear.load_state_dict(model.state_dict())
    x = torch.randn(5, 6, generator=g)
    assert_close(model(x), torch_linear(x).detach())
    # (N, ...) examples are flattened.
    assert_close(model(x.reshape(5, 2, 3)), torch_linear(x).detach())
    other = linear.LinearSVM(6, 4, generator=g)
    other.load_state_dict(torch_linear.state_dict())
    assert_close(other(x), torch_linear(x).detach())
    assert torch.equal(other.predict(x), torch_linear(x).argmax(dim=1))


@pytest.mark.parametrize("cls", [linear.SoftmaxClassifier, linear.LinearSVM])
@pytest.mark.parametrize(("penalty", "beta"), [("l2", 1.0), ("elasticnet", 0.5)])
def test_train_equals_torch_sgd_on_nn_linear(cls, penalty, beta):
    # Same minibatches, same loss, same step: our analytic SGD equals autograd +
    # optim.SGD.
    g = torch.Generator().manual_seed(11)
    X = torch.randn(64, 5, generator=g, dtype=torch.float64)
    y = torch.randint(3, (64,), generator=g)
    lr, reg, steps, B = 0.1, 0.01, 7, 16
    ours = cls(
        5, 3, penalty=penalty, beta=beta, init_std=0.1, generator=g, dtype=torch.float64
    )
    ref = nn.Linear(5, 3, dtype=torch.float64)
    ref.load_state_dict(ours.state_dict())
    losses = ours.train(
        X,
        y,
        learning_rate=lr,
        reg=reg,
        num_iters=steps,
        batch_size=B,
        generator=torch.Generator().manual_seed(12),
    )
    opt = torch.optim.SGD(ref.parameters(), lr=lr)
    sampler = torch.Generator().manual_seed(12)
    ref_losses = []
    for _ in range(steps):
        idx = torch.randint(64, (B,), generator=sampler)
        scores = ref(X[idx])
        if cls is linear.LinearSVM:
            data = 3 * F.multi_margin_loss(scores, y[idx])
        else:
            data = F.cross_entropy(scores, y[idx])
        loss = data + reg * reference_penalty(ref.weight, penalty, beta)  # no bias
        opt.zero_grad()
        loss.backward()
        opt.step()
        ref_losses.append(loss.item())
    assert len(losses) == steps
    assert losses == pytest.approx(ref_losses, rel=1e-10)
    assert_close(ours.weight, ref.weight.detach())
    assert_close(ours.bias, ref.bias.detach())


@pytest.mark.parametrize("cls", [linear.SoftmaxClassifier, linear.LinearSVM])
def test_classifier_learns_a_separable_problem(cls):
    g = torch.Generator().manual_seed(13)
    centres = torch.tensor([[3.0, 0.0], [-3.0, 0.0], [0.0, 3.0], [0.0, -3.0]])
    y = torch.randint(4, (400,), generator=g)
    X = centres[y] + 0.5 * torch.randn(400, 2, generator=g)
    model = cls(2, 4, generator=g)
    losses = model.train(
        X, y, learning_rate=0.1, reg=1e-4, num_iters=300, batch_size=32, generator=g
    )
    assert (model.predict(X) == y).all()
    assert sum(losses[-20:]) / 20 < 0.2 * losses[0]
    assert losses[0] == pytest.approx(
        3.0 if cls is linear.LinearSVM else math.log(4), rel=0.02
    )


def test_bad_input_messages():
    W, X, y = problem()
    with pytest.raises(TypeError, match="W must be a torch.Tensor, got list"):
        linear.svm_loss_vectorized([[1.0]], X, y)
    with pytest.raises(
        TypeError, match="X must have a floating dtype, got torch.int64"
    ):
        linear.softmax_loss_naive(W, X.long(), y)
    with pytest.raises(ValueError, match=r"X must have shape \(N, 7\), got \(12, 6\)"):
        linear.svm_loss_naive(W, X[:, :6], y)
    with pytest.raises(ValueError, match=r"y must have shape \(12,\), got \(11,\)"):
        linear.softmax_loss_vectorized(W, X, y[:11])
    with pytest.raises(
        TypeError, match="y must have an integer dtype, got torch.float64"
    ):
        linear.svm_loss_vectorized(W, X, y.double())
    with pytest.raises(TypeError, match="y must have an integer dtype, got torch.bool"):
        linear.svm_loss_vectorized(W, X, y > 2)
    with pytest.raises(ValueError, match=r"y must hold labels in \[0, 5\), got 5"):
        linear.softmax_loss_vectorized(W, X, torch.full((12,), 5))
    with pytest.raises(ValueError, match="share dtype and device, got X torch.float32"):
        linear.svm_loss_vectorized(W, X.float(), y)
    with pytest.raises(ValueError, match=r"N, the number of examples in X must be"):
        linear.svm_loss_vectorized(W, X[:0], y[:0])
    with pytest.raises(ValueError, match="penalty must be one of"):
        linear.regularization(W, penalty="l3")
    with pytest.raises(ValueError, match=r"W must have 2 dimensions, got shape \(7,\)"):
        linear.softmax_loss_vectorized(W[0], X, y)
    g = torch.Generator().manual_seed(0)
    with pytest.raises(ValueError, match="in_features must be an int >= 1, got 0"):
        linear.LinearSVM(0, 3, generator=g)
    with pytest.raises(
        TypeError, match=r"loss must be callable as loss\(W, X, y, reg\)"
    ):
        linear.LinearClassifier(3, 2, loss="svm", generator=g)
    model = linear.SoftmaxClassifier(7, 5, generator=g)
    with pytest.raises(ValueError, match=r"x.flatten\(1\) must have shape \(N, 7\)"):
        model(X[:, :6].float())
    with pytest.raises(ValueError, match="share dtype and device, got x torch.float64"):
        model.predict(X)
    with pytest.raises(ValueError, match="batch_size must be an int >= 1, got 0"):
        model.train(X.float(), y, batch_size=0, generator=g)
    with pytest.raises(
        ValueError, match=r"weight must have shape \(5, 7\), got \(7, 5\)"
    ):
        model.load_state_dict({"weight": torch.zeros(7, 5), "bias": torch.zeros(5)})
    with pytest.raises(
        ValueError, match=r"state must have keys \['bias', 'weight'\], got \['weight'\]"
    ):
        model.load_state_dict({"weight": torch.zeros(5, 7)})


@pytest.mark.parametrize("bad", [-1, math.nan, math.inf])
def test_hyperparameters_must_be_finite_and_in_range(bad):
    W, X, y = problem()
    g = torch.Generator().manual_seed(0)
    model = linear.SoftmaxClassifier(7, 5, generator=g)
    for call in (
        lambda: linear.svm_loss_vectorized(W, X, y, bad),
        lambda: linear.svm_loss_naive(W, X, y, 0.0, margin=bad),
        lambda: linear.regularization(W, penalty="elasticnet", beta=bad),
        lambda: linear.LinearSVM(7, 5, init_std=bad, generator=g),
        lambda: model.train(X.float(), y, learning_rate=bad, generator=g),
        lambda: model.train(X.float(), y, reg=bad, generator=g),
    ):
        with pytest.raises(ValueError, match="must be a finite number in"):
            call()


def test_numpy_scalars_are_numbers():
    W, X, y = problem()
    loss, _ = linear.softmax_loss_vectorized(W, X, y, np.float32(0.5))
    assert loss == linear.softmax_loss_vectorized(W, X, y, 0.5)[0]
    model = linear.LinearSVM(np.int64(7), np.int64(5), generator=torch.Generator())
    assert model.weight.shape == (5, 7)
    with pytest.raises(TypeError, match="reg must be a real number, got bool"):
        linear.svm_loss_vectorized(W, X, y, True)


@pytest.mark.cuda
def test_cuda_matches_cpu():
    W, X, y = problem(n=300, d=50, c=10, seed=14, dtype=torch.float32)
    for fn in LOSSES:
        loss, dW = fn(W, X, y, 0.01)
        loss_c, dW_c = fn(W.cuda(), X.cuda(), y.cuda(), 0.01)
        assert dW_c.device.type == "cuda"
        assert_close(loss_c.cpu(), loss, rtol=1e-4, atol=1e-5)
        assert_close(dW_c.cpu(), dW, rtol=1e-4, atol=1e-5)
    s = 1e4 * torch.randn(4, 10)
    assert_close(linear.softmax(s.cuda()).cpu(), linear.softmax(s))
    for device in ("cpu", "cuda"):
        model = linear.SoftmaxClassifier(
            50, 10, generator=torch.Generator().manual_seed(15), device=device
        )
        losses = model.train(
            X.to(device),
            y.to(device),
            learning_rate=0.1,
            num_iters=20,
            generator=torch.Generator().manual_seed(16),
        )
        if device == "cpu":
            cpu_losses, cpu_weight = losses, model.weight
        else:
            assert model.W.device.type == "cuda"
            assert losses == pytest.approx(cpu_losses, rel=1e-3)
            assert_close(model.weight.cpu(), cpu_weight, rtol=1e-3, atol=1e-5)


@pytest.mark.parametrize(
    "loss",
    [
        linear.svm_loss_naive,
        linear.svm_loss_vectorized,
        linear.softmax_loss_naive,
        linear.softmax_loss_vectorized,
    ],
)
def test_uint8_labels_index_like_int64_labels_when_n_equals_c(loss):
    """IDX labels are uint8; with N == C, indexing with uint8 would mask instead."""
    g = torch.Generator().manual_seed(5)
    W = torch.randn(4, 3, generator=g, dtype=torch.float64)
    X = torch.randn(4, 3, generator=g, dtype=torch.float64)  # N = C = 4
    y = torch.tensor([2, 0, 3, 1])
    expected = loss(W, X, y, 0.1)
    got = loss(W, X, y.to(torch.uint8), 0.1)
    torch.testing.assert_close(got, expected)
