"""Neural-networks exercises: each checker passes a right answer, names wrong ones."""

import itertools
import math

import pytest
import torch
import torch.nn.functional as F

from dlcv import exercises, mlp, optim
from dlcv.exercises.neural_networks import (
    regularized_loss_reference,
    sequential_mlp,
)

# ---------------------------------------------------------------- count_parameters


def count_parameters(sizes, bias=True):
    return sum(
        d_in * d_out + (d_out if bias else 0)
        for d_in, d_out in itertools.pairwise(sizes)
    )


def test_count_parameters_accepts_a_correct_solution(capsys):
    assert exercises.check_count_parameters(count_parameters)
    assert "✓ count_parameters: passed all 6 cases" in capsys.readouterr().out


def test_count_parameters_reference_counts_like_dlcv_mlp():
    for sizes in ([784, 100, 10], [3, 5, 5, 2]):
        net = mlp.MLP(sizes)
        assert sum(p.numel() for p in net.parameters()) == count_parameters(sizes)
        assert sum(
            p.numel() for p in sequential_mlp(sizes).parameters()
        ) == count_parameters(sizes)


@pytest.mark.parametrize(
    ("wrong", "problem"),
    [
        # biases forgotten
        (
            lambda sizes, bias=True: sum(a * b for a, b in itertools.pairwise(sizes)),
            "case 1 of 6 failed (two layers, [784, 100, 10])",
        ),
        # the bias counted with the input width instead of the output width
        (
            lambda sizes, bias=True: sum(
                a * b + a * bias for a, b in itertools.pairwise(sizes)
            ),
            "the result should be 79510, got 80284",
        ),
        # bias=False ignored
        (
            lambda sizes, bias=True: count_parameters(sizes),
            "case 5 of 6 failed (no biases",
        ),
        # a float, not an int
        (
            lambda sizes, bias=True: float(count_parameters(sizes, bias)),
            "should be an int, got float",
        ),
    ],
)
def test_count_parameters_names_typical_mistakes(wrong, problem):
    result = exercises.check_count_parameters(wrong)
    assert not result and result.attempted
    assert problem in result.message
    assert "inputs: sizes = list of" in result.message


def test_count_parameters_stub_is_not_attempted(capsys):
    def stub(sizes, bias=True):
        raise NotImplementedError

    result = exercises.check_count_parameters(stub)
    assert not result and not result.attempted
    assert "○ count_parameters: not attempted yet" in capsys.readouterr().out


# ---------------------------------------------------------------- gelu_mlp


def gelu(z):
    return 0.5 * z * (1 + torch.erf(z / math.sqrt(2)))


def gelu_mlp(x, w1, b1, w2, b2):
    return gelu(x @ w1.T + b1) @ w2.T + b2


def test_gelu_mlp_accepts_a_correct_solution(capsys):
    assert exercises.check_gelu_mlp(gelu_mlp)
    assert "✓ gelu_mlp: passed all 6 cases" in capsys.readouterr().out


def test_gelu_mlp_twin_is_torch_gelu():
    g = torch.Generator().manual_seed(0)
    x = torch.randn(5, 4, generator=g, dtype=torch.float64)
    w1, b1 = torch.randn(7, 4, dtype=torch.float64), torch.randn(7, dtype=torch.float64)
    w2, b2 = torch.randn(3, 7, dtype=torch.float64), torch.randn(3, dtype=torch.float64)
    twin = exercises.neural_networks.gelu_twin(w1, b1, w2, b2)
    torch.testing.assert_close(twin(x), F.linear(F.gelu(F.linear(x, w1, b1)), w2, b2))
    torch.testing.assert_close(twin(x), gelu_mlp(x, w1, b1, w2, b2))


@pytest.mark.parametrize(
    ("wrong", "problem"),
    [
        # the tanh approximation of GELU, not the exact one
        (
            lambda x, w1, b1, w2, b2: (
                F.gelu(x @ w1.T + b1, approximate="tanh") @ w2.T + b2
            ),
            "the result[",
        ),
        # ReLU instead of GELU
        (lambda x, w1, b1, w2, b2: torch.relu(x @ w1.T + b1) @ w2.T + b2, "should be"),
        # the second bias forgotten
        (lambda x, w1, b1, w2, b2: gelu(x @ w1.T + b1) @ w2.T, "should be"),
        # the weights not transposed: (N, D) @ (H, D) fails
        (
            lambda x, w1, b1, w2, b2: gelu(x @ w1 + b1) @ w2 + b2,
            "your function raised RuntimeError",
        ),
        # GELU after the last layer too
        (lambda x, w1, b1, w2, b2: gelu(gelu(x @ w1.T + b1) @ w2.T + b2), "should be"),
        # float64 always: loses float32 inputs' dtype
        (
            lambda x, w1, b1, w2, b2: gelu_mlp(
                x.double(), w1.double(), b1.double(), w2.double(), b2.double()
            ),
            "should have dtype torch.float32",
        ),
    ],
)
def test_gelu_mlp_names_typical_mistakes(wrong, problem):
    result = exercises.check_gelu_mlp(wrong)
    assert not result and result.attempted
    assert problem in result.message
    assert "inputs: x = tensor of shape" in result.message


def test_gelu_mlp_checks_gradients():
    def detached(x, w1, b1, w2, b2):  # right values, but no gradient flows back
        return gelu_mlp(x, w1, b1, w2, b2).detach()

    result = exercises.check_gelu_mlp(detached)
    assert not result and "backpropagating through your result failed" in result.message

    class NoGradB1(torch.autograd.Function):  # right values, b1's gradient dropped
        @staticmethod
        def forward(ctx, b1):
            return b1.clone()

        @staticmethod
        def backward(ctx, grad):
            return torch.zeros_like(grad)

    def wrong_grad(x, w1, b1, w2, b2):
        return gelu_mlp(x, w1, NoGradB1.apply(b1), w2, b2)

    result = exercises.check_gelu_mlp(wrong_grad)
    assert not result and "the gradient with respect to b1" in result.message


def test_gelu_mlp_notices_in_place_modification():
    def in_place(x, w1, b1, w2, b2):
        z = x @ w1.T + b1
        x.mul_(0)  # a reader's buffer reuse
        return gelu(z) @ w2.T + b2

    result = exercises.check_gelu_mlp(in_place)
    assert "modified its input x in place" in result.message


# ---------------------------------------------------------------- regularized_loss


def regularized_loss(model, x, y, lam):
    penalty = sum(
        (p**2).sum() for name, p in model.named_parameters() if "weight" in name
    )
    return F.cross_entropy(model(x), y) + lam * penalty


def test_regularized_loss_accepts_a_correct_solution(capsys):
    assert exercises.check_regularized_loss(regularized_loss)
    assert "✓ regularized_loss: passed all 5 cases" in capsys.readouterr().out


def test_regularized_loss_reference_matches_weight_decay():
    """The penalty's gradient is 2 lam W: one SGD step equals weight_decay = 2 lam."""
    torch.manual_seed(0)
    a = mlp.MLP([4, 6, 3], dtype=torch.float64)
    b = mlp.MLP([4, 6, 3], dtype=torch.float64)
    b.load_state_dict(a.state_dict())
    x = torch.randn(9, 4, dtype=torch.float64)
    y = torch.randint(0, 3, (9,))
    lam, lr = 0.05, 0.1
    opt_a = torch.optim.SGD(a.parameters(), lr=lr)
    regularized_loss_reference(a, x, y, lam).backward()
    opt_a.step()
    opt_b = torch.optim.SGD(
        optim.param_groups_weight_decay(b, weight_decay=2 * lam), lr=lr
    )
    F.cross_entropy(b(x), y).backward()
    opt_b.step()
    for pa, pb in zip(a.parameters(), b.parameters(), strict=True):
        torch.testing.assert_close(pa, pb)


@pytest.mark.parametrize(
    ("wrong", "problem"),
    [
        # biases penalized too
        (
            lambda model, x, y, lam: (
                F.cross_entropy(model(x), y)
                + lam * sum((p**2).sum() for p in model.parameters())
            ),
            "case 1 of 5 failed",
        ),
        # the mean of the squares instead of their sum
        (
            lambda model, x, y, lam: (
                F.cross_entropy(model(x), y)
                + lam
                * sum(m.weight.square().mean() for m in model if hasattr(m, "weight"))
            ),
            "the result should be",
        ),
        # lam / 2 (another common convention, not Eq. (7))
        (
            lambda model, x, y, lam: regularized_loss(model, x, y, lam / 2),
            "the result should be",
        ),
        # the summed cross-entropy, not its mean
        (
            lambda model, x, y, lam: (
                F.cross_entropy(model(x), y, reduction="sum")
                + lam
                * sum(m.weight.square().sum() for m in model if hasattr(m, "weight"))
            ),
            "the result should be",
        ),
        # one loss per example
        (
            lambda model, x, y, lam: F.cross_entropy(model(x), y, reduction="none"),
            "should have shape ()",
        ),
    ],
)
def test_regularized_loss_names_typical_mistakes(wrong, problem):
    result = exercises.check_regularized_loss(wrong)
    assert not result and result.attempted
    assert problem in result.message
    assert "inputs: model = Sequential module" in result.message


def test_regularized_loss_biases_case_is_needed():
    """A penalty on every parameter passes only on the bias-free case."""

    def all_params(model, x, y, lam):
        return F.cross_entropy(model(x), y) + lam * sum(
            (p**2).sum() for p in model.parameters()
        )

    result = exercises.check_regularized_loss(all_params)
    assert "two layers [4, 6, 3], lam = 0.1" in result.message
