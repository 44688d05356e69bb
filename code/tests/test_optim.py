import inspect
import math

import pytest
import torch
import torch.nn.functional as F
from torch import nn
from torch.testing import assert_close

from dlcv import mlp, optim

STEPS = 100


@pytest.fixture(autouse=True, scope="module")
def one_thread():
    """These problems are tiny: one thread avoids the cost of waking a second one."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


# (our class, torch's class, hyperparameters): every option that the two share.
CASES = [
    (optim.SGD, torch.optim.SGD, {"lr": 0.05}),
    (optim.SGD, torch.optim.SGD, {"lr": 0.02, "momentum": 0.9}),
    (optim.SGD, torch.optim.SGD, {"lr": 0.02, "momentum": 0.8, "dampening": 0.3}),
    (optim.SGD, torch.optim.SGD, {"lr": 0.02, "momentum": 0.9, "nesterov": True}),
    (
        optim.SGD,
        torch.optim.SGD,
        {"lr": 0.02, "momentum": 0.9, "nesterov": True, "weight_decay": 0.01},
    ),
    (optim.Adagrad, torch.optim.Adagrad, {"lr": 0.1}),
    (
        optim.Adagrad,
        torch.optim.Adagrad,
        {
            "lr": 0.1,
            "lr_decay": 0.01,
            "weight_decay": 0.01,
            "initial_accumulator_value": 0.1,
            "eps": 1e-6,
        },
    ),
    (optim.RMSprop, torch.optim.RMSprop, {"lr": 0.01}),
    (
        optim.RMSprop,
        torch.optim.RMSprop,
        {"lr": 0.005, "alpha": 0.9, "eps": 1e-6, "weight_decay": 0.01, "momentum": 0.9},
    ),
    (optim.Adam, torch.optim.Adam, {"lr": 0.01}),
    (
        optim.Adam,
        torch.optim.Adam,
        {"lr": 0.01, "betas": (0.8, 0.99), "eps": 1e-6, "weight_decay": 0.01},
    ),
]
IDS = [
    f"{ours.__name__}-" + "-".join(f"{k}={v}" for k, v in kw.items())
    for ours, _, kw in CASES
]


def make_problem(seed=0, dtype=torch.float64, device="cpu"):
    """A small MLP with a squared loss on fixed data: four parameters, non-convex."""
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(64, 5, generator=g, dtype=dtype).to(device)
    y = torch.randn(64, 3, generator=g, dtype=dtype).to(device)
    torch.manual_seed(seed)
    model = nn.Sequential(nn.Linear(5, 8), nn.Tanh(), nn.Linear(8, 3))
    model = model.to(device=device, dtype=dtype)
    return model, x, y


def loss_of(model, x, y):
    return (model(x) - y).square().mean()


def twin(model):
    """An independent copy of ``model`` with the same weights, via load_state_dict."""
    copy = nn.Sequential(nn.Linear(5, 8), nn.Tanh(), nn.Linear(8, 3))
    copy = copy.to(device=next(model.parameters()).device, dtype=torch.float64)
    copy.load_state_dict(model.state_dict())
    return copy


def train_step(model, opt, x, y):
    opt.zero_grad()
    loss = loss_of(model, x, y)
    loss.backward()
    opt.step()
    return loss.item()


@pytest.mark.parametrize(("ours_cls", "torch_cls", "kwargs"), CASES, ids=IDS)
def test_trajectory_equals_torch(ours_cls, torch_cls, kwargs):
    model, x, y = make_problem()
    reference = twin(model)
    ours = ours_cls(model.parameters(), **kwargs)
    theirs = torch_cls(reference.parameters(), **kwargs)
    losses = []
    for _ in range(STEPS):
        losses.append(train_step(model, ours, x, y))
        train_step(reference, theirs, x, y)
        for p, q in zip(model.parameters(), reference.parameters(), strict=True):
            assert_close(p, q, rtol=1e-12, atol=1e-12)
    # the same state, under the same keys
    for p, q in zip(model.parameters(), reference.parameters(), strict=True):
        for key, value in theirs.state[q].items():
            assert_close(torch.as_tensor(ours.state[p][key]).to(value), value)
    assert losses[-1] < 0.9 * losses[0]  # and the optimizer makes progress


@pytest.mark.parametrize(("ours_cls", "torch_cls", "kwargs"), CASES, ids=IDS)
def test_state_dict_loads_both_ways(ours_cls, torch_cls, kwargs):
    model, x, y = make_problem(seed=1)
    reference = twin(model)
    ours = ours_cls(model.parameters(), **kwargs)
    theirs = torch_cls(reference.parameters(), **kwargs)
    for _ in range(10):
        train_step(model, ours, x, y)
        train_step(reference, theirs, x, y)
    # swap the optimizers' states: each continues from the other's state
    ours_state, theirs_state = ours.state_dict(), theirs.state_dict()
    ours.load_state_dict(theirs_state)
    theirs.load_state_dict(ours_state)
    for _ in range(10):
        train_step(model, ours, x, y)
        train_step(reference, theirs, x, y)
    for p, q in zip(model.parameters(), reference.parameters(), strict=True):
        assert_close(p, q, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize(
    ("ours_cls", "torch_cls"),
    [
        (optim.SGD, torch.optim.SGD),
        (optim.Adagrad, torch.optim.Adagrad),
        (optim.RMSprop, torch.optim.RMSprop),
        (optim.Adam, torch.optim.Adam),
    ],
)
def test_defaults_equal_torch(ours_cls, torch_cls):
    ours = inspect.signature(ours_cls).parameters
    theirs = inspect.signature(torch_cls).parameters
    shared = [name for name in ours if name != "params"]
    assert shared, "no hyperparameters"
    for name in shared:
        assert name in theirs, f"{name} is not a torch.optim.{torch_cls.__name__} name"
        assert ours[name].default == theirs[name].default, name
        assert ours[name].kind is inspect.Parameter.KEYWORD_ONLY, name


def test_closure_and_param_groups_like_torch():
    model, x, y = make_problem(seed=2)
    reference = twin(model)
    w, b = model[0].parameters()
    groups = [{"params": [w], "lr": 0.1}, {"params": [b, *model[2].parameters()]}]
    rw, rb = reference[0].parameters()
    ref_groups = [
        {"params": [rw], "lr": 0.1},
        {"params": [rb, *reference[2].parameters()]},
    ]
    ours = optim.Adam(groups, lr=0.01)
    theirs = torch.optim.Adam(ref_groups, lr=0.01)
    for _ in range(20):

        def closure(m=model, opt=ours):
            opt.zero_grad()
            loss = loss_of(m, x, y)
            loss.backward()
            return loss

        loss = ours.step(closure)
        ref_loss = theirs.step(lambda: closure(reference, theirs))
        assert_close(loss, ref_loss)
    assert [g["lr"] for g in ours.param_groups] == [0.1, 0.01]
    for p, q in zip(model.parameters(), reference.parameters(), strict=True):
        assert_close(p, q, rtol=1e-12, atol=1e-12)


def test_parameters_without_grad_are_left_alone():
    frozen = torch.ones(3, dtype=torch.float64)
    live = torch.ones(3, dtype=torch.float64, requires_grad=True)
    opt = optim.Adam([frozen, live], lr=0.1)
    (live**2).sum().backward()
    opt.step()
    assert torch.equal(frozen, torch.ones(3, dtype=torch.float64))
    assert frozen not in opt.state
    assert (live < 1).all()


def test_lr_scheduler_drives_our_optimizer_like_torch():
    model, x, y = make_problem(seed=3)
    reference = twin(model)
    ours = optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    theirs = torch.optim.SGD(reference.parameters(), lr=0.1, momentum=0.9)
    sched = torch.optim.lr_scheduler.StepLR(ours, step_size=5, gamma=0.5)
    ref_sched = torch.optim.lr_scheduler.StepLR(theirs, step_size=5, gamma=0.5)
    for _ in range(20):
        train_step(model, ours, x, y)
        train_step(reference, theirs, x, y)
        sched.step()
        ref_sched.step()
    assert ours.param_groups[0]["lr"] == pytest.approx(0.1 * 0.5**4)
    for p, q in zip(model.parameters(), reference.parameters(), strict=True):
        assert_close(p, q, rtol=1e-12, atol=1e-12)


# ------------------------------------------------------------------------------------
# The lecture's forms and how they relate to PyTorch's.
# ------------------------------------------------------------------------------------


def quadratic_problem(seed=4):
    """f(w) = 1/2 |A w - b|^2 / N: ill-conditioned least squares in float64."""
    g = torch.Generator().manual_seed(seed)
    a = torch.randn(40, 6, generator=g, dtype=torch.float64)
    a = a * torch.logspace(0, 1, 6, dtype=torch.float64)  # column scales 1 .. 10
    b = torch.randn(40, generator=g, dtype=torch.float64)
    w0 = torch.randn(6, generator=g, dtype=torch.float64)

    def grad(w):
        return a.T @ (a @ w - b) / len(b)  # (6, 40) @ (40,) -> (6,)

    return w0, grad


def run_torch(opt_cls, w0, grad, steps=STEPS, **kwargs):
    """The parameter after every step of a torch (or dlcv) optimizer on ``grad``."""
    w = w0.clone().requires_grad_(True)
    opt = opt_cls([w], **kwargs)
    path = []
    for _ in range(steps):
        w.grad = grad(w.detach())
        opt.step()
        path.append(w.detach().clone())
    return path, opt.state[w]


def test_lecture_momentum_is_torch_momentum_with_zero_dampening():
    w0, grad = quadratic_problem()
    rho, lr = 0.9, 0.01
    theirs, _ = run_torch(torch.optim.SGD, w0, grad, lr=lr, momentum=rho)
    ours, _ = run_torch(optim.SGD, w0, grad, lr=lr, momentum=rho)
    x, v = w0.clone(), torch.zeros_like(w0)
    for t in range(STEPS):
        v = rho * v + grad(x)  # v_{t+1} = rho v_t + grad f(x_t)
        x = x - lr * v  # x_{t+1} = x_t - alpha v_{t+1}
        assert_close(x, theirs[t])
        assert_close(x, ours[t])


def test_lecture_nesterov_is_torch_nesterov_after_change_of_variables():
    w0, grad = quadratic_problem()
    rho, lr = 0.9, 0.01
    theirs, _ = run_torch(torch.optim.SGD, w0, grad, lr=lr, momentum=rho, nesterov=True)
    w = w0.clone().requires_grad_(True)
    ours = optim.SGD([w], lr=lr, momentum=rho, nesterov=True)
    # The lecture's form, in the original variables x_t with x_0 = w0, v_0 = 0.
    x, v = w0.clone(), torch.zeros_like(w0)
    for t in range(STEPS):
        v_next = rho * v - lr * grad(x + rho * v)  # look ahead, take the gradient there
        x = x + v_next  # x_{t+1} = x_t + v_{t+1}
        v = v_next
        w.grad = grad(w.detach())
        ours.step()
        assert_close(x + rho * v, theirs[t])  # torch's parameter is x~_t
        assert_close(w.detach(), theirs[t])
        # torch's buffer is the lecture's velocity, without the -lr
        assert_close(ours.state[w]["momentum_buffer"], -v / lr)
    # Plain x_t is a different sequence: it lags the look-ahead point by rho v_t.
    assert (x - theirs[-1]).abs().max() > 0


def test_lecture_adagrad_loop_is_torch_adagrad():
    w0, grad = quadratic_problem()
    lr = 0.1
    theirs, state = run_torch(torch.optim.Adagrad, w0, grad, lr=lr, eps=1e-7)
    ours, _ = run_torch(optim.Adagrad, w0, grad, lr=lr, eps=1e-7)
    w, grad_squared = w0.clone(), torch.zeros_like(w0)
    for t in range(STEPS):
        dw = grad(w)
        grad_squared += dw * dw
        w -= lr * dw / (grad_squared.sqrt() + 1e-7)
        assert_close(w, theirs[t])
        assert_close(w, ours[t])
    assert_close(grad_squared, state["sum"])


def test_lecture_rmsprop_loop_is_torch_rmsprop_with_alpha_as_decay_rate():
    w0, grad = quadratic_problem()
    lr, decay_rate = 0.01, 0.95
    kwargs = {"lr": lr, "alpha": decay_rate, "eps": 1e-7}
    theirs, state = run_torch(torch.optim.RMSprop, w0, grad, **kwargs)
    ours, _ = run_torch(optim.RMSprop, w0, grad, **kwargs)
    w, grad_squared = w0.clone(), torch.zeros_like(w0)
    for t in range(STEPS):
        dw = grad(w)
        grad_squared = decay_rate * grad_squared + (1 - decay_rate) * dw * dw
        w -= lr * dw / (grad_squared.sqrt() + 1e-7)
        assert_close(w, theirs[t])
        assert_close(w, ours[t])
    assert_close(grad_squared, state["square_avg"])


def test_lecture_adam_loop_with_t_from_one_is_torch_adam():
    w0, grad = quadratic_problem()
    lr, beta1, beta2 = 0.01, 0.9, 0.999
    kwargs = {"lr": lr, "betas": (beta1, beta2), "eps": 1e-7}
    theirs, _ = run_torch(torch.optim.Adam, w0, grad, **kwargs)
    ours, _ = run_torch(optim.Adam, w0, grad, **kwargs)
    w, moment1, moment2 = w0.clone(), torch.zeros_like(w0), torch.zeros_like(w0)
    for t in range(1, STEPS + 1):
        dw = grad(w)
        moment1 = beta1 * moment1 + (1 - beta1) * dw
        moment2 = beta2 * moment2 + (1 - beta2) * dw * dw
        moment1_unbias = moment1 / (1 - beta1**t)
        moment2_unbias = moment2 / (1 - beta2**t)
        w -= lr * moment1_unbias / (moment2_unbias.sqrt() + 1e-7)
        assert_close(w, theirs[t - 1])
        assert_close(w, ours[t - 1])


def test_adam_step_zero_raises():
    w0, grad = quadratic_problem()
    m, v = torch.zeros_like(w0), torch.zeros_like(w0)
    with pytest.raises(ValueError, match="step must be >= 1.*got 0"):
        optim.adam_step(w0.clone(), grad(w0), m, v, step=0, lr=0.01)


def test_rmsprop_average_is_an_assignment_so_it_stays_bounded():
    # A constant gradient of 1: the leaky average converges to 1, never above.
    square_avg = torch.zeros(1, dtype=torch.float64)
    w = torch.zeros(1, dtype=torch.float64)
    for _ in range(59):
        optim.rmsprop_step(w, torch.ones(1, dtype=torch.float64), square_avg, lr=0.01)
        assert square_avg.item() <= 1.0
    # RMSprop's default alpha = 0.99: after 59 steps s = 1 - 0.99**59
    assert square_avg.item() == pytest.approx(1 - 0.99**59)


def test_adagrad_step_size_only_shrinks_rmsprop_recovers():
    """AdaGrad's sum never decreases; RMSProp's average forgets old large gradients."""
    big, small = 10.0, 0.1
    grads = [big] * 20 + [small] * 500
    p = torch.zeros(1, dtype=torch.float64, requires_grad=True)
    ada, rms = optim.Adagrad([p], lr=1.0), optim.RMSprop([p], lr=1.0, alpha=0.9)
    steps_ada, steps_rms, previous = [], [], 0.0
    for g in grads:
        p.grad = torch.full_like(p, g)
        ada.step()
        rms.step()
        total = ada.state[p]["sum"].item()
        assert total >= previous
        previous = total
        steps_ada.append(1.0 / math.sqrt(total))
        steps_rms.append(1.0 / math.sqrt(rms.state[p]["square_avg"].item()))
    # After the big gradients stop, RMSProp's step returns to 1/|g| = 10; AdaGrad's
    # stays below 1/sqrt(20 * 100) ~ 0.02.
    assert steps_rms[-1] == pytest.approx(1 / small, rel=1e-3)
    assert steps_ada[-1] < 1 / math.sqrt(20 * big**2)


def test_rmsprop_momentum_needs_a_buffer():
    w = torch.zeros(2)
    with pytest.raises(ValueError, match="needs a momentum_buffer, got None"):
        optim.rmsprop_step(w, torch.ones(2), torch.zeros(2), lr=0.1, momentum=0.9)


def test_bad_hyperparameters_raise_with_the_value():
    params = [torch.zeros(2, requires_grad=True)]
    cases = [
        (
            optim.SGD,
            {"lr": -0.1},
            ValueError,
            r"lr must be a finite number in \[0, inf\], got -0\.1",
        ),
        (optim.SGD, {"lr": float("nan")}, ValueError, "lr must be a finite number"),
        (optim.SGD, {"lr": "0.1"}, TypeError, "lr must be a real number, got str"),
        (
            optim.SGD,
            {"momentum": -0.5},
            ValueError,
            r"momentum must be a finite number in \[0, inf\], got -0\.5",
        ),
        (
            optim.SGD,
            {"nesterov": True},
            ValueError,
            r"momentum > 0 and dampening = 0, got momentum=0\.0, dampening=0\.0",
        ),
        (
            optim.SGD,
            {"nesterov": True, "momentum": 0.9, "dampening": 0.1},
            ValueError,
            r"dampening=0\.1",
        ),
        (
            optim.SGD,
            {"weight_decay": -1.0},
            ValueError,
            "weight_decay must be a finite number in \\[0, inf\\]",
        ),
        (
            optim.Adagrad,
            {"lr_decay": -1.0},
            ValueError,
            "lr_decay must be a finite number in \\[0, inf\\]",
        ),
        (
            optim.Adagrad,
            {"initial_accumulator_value": -0.1},
            ValueError,
            "initial_accumulator_value must be a finite number in \\[0, inf\\]",
        ),
        (
            optim.Adagrad,
            {"eps": -1e-8},
            ValueError,
            "eps must be a finite number in \\[0, inf\\]",
        ),
        (
            optim.RMSprop,
            {"alpha": 1.0},
            ValueError,
            r"alpha must be a finite number in \[0, 1\), got 1",
        ),
        (
            optim.RMSprop,
            {"momentum": -0.9},
            ValueError,
            "momentum must be a finite number in \\[0, inf\\]",
        ),
        (
            optim.Adam,
            {"betas": (1.0, 0.999)},
            ValueError,
            r"beta1 must be a finite number in \[0, 1\)",
        ),
        (optim.Adam, {"betas": (0.9, -0.1)}, ValueError, r"beta2 .*got -0\.1"),
        (optim.Adam, {"betas": 0.9}, ValueError, r"betas must be a pair .*got 0\.9"),
        (optim.Adam, {"eps": float("inf")}, ValueError, "eps must be a finite number"),
    ]
    for cls, kwargs, error, message in cases:
        with pytest.raises(error, match=message):
            cls(params, **kwargs)
    with pytest.raises(TypeError):  # hyperparameters are keyword-only
        optim.Adam(params, 0.01)


def test_sparse_gradients_are_refused():
    emb = nn.Embedding(10, 3, sparse=True)
    emb(torch.tensor([1, 2])).sum().backward()
    with pytest.raises(TypeError, match="Adam needs dense gradients, got a sparse one"):
        optim.Adam(emb.parameters()).step()


@pytest.mark.cuda
@pytest.mark.parametrize(("ours_cls", "torch_cls", "kwargs"), CASES, ids=IDS)
def test_cuda_matches_cpu_and_torch(ours_cls, torch_cls, kwargs):
    results = {}
    for device in ("cpu", "cuda"):
        model, x, y = make_problem(seed=5, device=device)
        opt = ours_cls(model.parameters(), **kwargs)
        for _ in range(STEPS):
            train_step(model, opt, x, y)
        results[device] = [p.detach() for p in model.parameters()]
        assert all(p.device.type == device for p in results[device])
        for state in opt.state.values():
            for value in state.values():
                if isinstance(value, torch.Tensor) and value.dim() > 0:
                    assert value.device.type == device
    model, x, y = make_problem(seed=5, device="cuda")
    opt = torch_cls(model.parameters(), **kwargs)
    for _ in range(STEPS):
        train_step(model, opt, x, y)
    for p, q, r in zip(
        results["cpu"], results["cuda"], model.parameters(), strict=True
    ):
        assert_close(q.cpu(), p, rtol=1e-9, atol=1e-9)
        assert_close(q, r.detach(), rtol=1e-9, atol=1e-9)


@pytest.mark.parametrize(
    ("cls", "bad", "message"),
    [
        (
            optim.SGD,
            {"lr": -0.1},
            "lr must be a finite number in \\[0, inf\\], got -0.1",
        ),
        (
            optim.SGD,
            {"weight_decay": -5},
            "weight_decay must be a finite number in \\[0, inf\\], got -5",
        ),
        (
            optim.Adagrad,
            {"lr": float("nan")},
            "lr must be a finite number in .*, got nan",
        ),
        (
            optim.RMSprop,
            {"alpha": 1.0},
            "alpha must be a finite number in \\[0, 1\\), got 1.0",
        ),
        (
            optim.Adam,
            {"betas": (1.5, 0.9)},
            "beta1 must be a finite number in \\[0, 1\\), got 1.5",
        ),
        (optim.Adam, {"betas": 0.9}, "betas must be a pair"),
    ],
)
def test_every_parameter_group_is_checked_like_the_defaults(cls, bad, message):
    a, b = torch.nn.Parameter(torch.ones(2)), torch.nn.Parameter(torch.ones(3))
    with pytest.raises(ValueError, match=message):
        cls([{"params": [a]}, {"params": [b], **bad}], lr=0.1)
    opt = cls([a], lr=0.1)
    with pytest.raises(ValueError, match=message):
        opt.add_param_group({"params": [b], **bad})
    assert len(opt.param_groups) == 1  # the bad group was not kept
    opt.add_param_group({"params": [b]})  # a good one still can be
    assert len(opt.param_groups) == 2


def test_functional_steps_check_the_gradient_shape_and_their_hyperparameters():
    p, g = torch.ones(3, 2), torch.ones(2)  # g would broadcast over the rows
    with pytest.raises(
        ValueError, match="grad must have the shape of param \\(3, 2\\)"
    ):
        optim.sgd_step(p, g, None, lr=0.1)
    assert torch.equal(p, torch.ones(3, 2))
    g = torch.ones(3, 2)
    with pytest.raises(
        ValueError, match="lr must be a finite number in \\[0, inf\\], got -1"
    ):
        optim.sgd_step(p, g, None, lr=-1)
    with pytest.raises(ValueError, match="eps must be a finite number in .*, got nan"):
        optim.adagrad_step(p, g, torch.zeros(3, 2), step=1, lr=0.1, eps=float("nan"))
    with pytest.raises(
        ValueError, match="alpha must be a finite number in \\[0, 1\\), got 1.5"
    ):
        optim.rmsprop_step(p, g, torch.zeros(3, 2), None, lr=0.1, alpha=1.5)
    with pytest.raises(
        ValueError, match="beta2 must be a finite number in \\[0, 1\\), got 1.0"
    ):
        optim.adam_step(
            p, g, torch.zeros(3, 2), torch.zeros(3, 2), step=1, lr=0.1, beta2=1.0
        )
    assert torch.equal(p, torch.ones(3, 2))  # nothing moved


def test_weight_decay_groups_equal_l2_penalty_on_weights_only():
    torch.manual_seed(5)
    x, y = torch.randn(16, 4, dtype=torch.float64), torch.randint(3, (16,))
    a = mlp.MLP([4, 5, 3], dtype=torch.float64)
    b = mlp.MLP([4, 5, 3], dtype=torch.float64)
    b.load_state_dict(a.state_dict())
    lam = 0.05
    opt_a = torch.optim.SGD(
        optim.param_groups_weight_decay(a, weight_decay=2 * lam), lr=0.1
    )
    opt_b = torch.optim.SGD(b.parameters(), lr=0.1)
    for _ in range(3):
        opt_a.zero_grad()
        F.cross_entropy(a(x), y).backward()
        opt_a.step()
        # L(W) = data loss + lambda * sum of squared weights (not biases)
        opt_b.zero_grad()
        penalty = sum(m.weight.square().sum() for m in b.linears)
        (F.cross_entropy(b(x), y) + lam * penalty).backward()
        opt_b.step()
    for pa, pb in zip(a.parameters(), b.parameters(), strict=True):
        assert_close(pa, pb)
    groups = optim.param_groups_weight_decay(a, weight_decay=0.1)
    assert [len(g["params"]) for g in groups] == [2, 2]
    assert all(p.dim() == 2 for p in groups[0]["params"])
    with pytest.raises(ValueError, match=r"weight_decay must be a finite number"):
        optim.param_groups_weight_decay(a, weight_decay=math.nan)
    with pytest.raises(ValueError, match=r"weight_decay must be a finite number in"):
        optim.param_groups_weight_decay(a, weight_decay=-1)


def test_numeric_gradient_equals_autograd_in_float64():
    g = torch.Generator().manual_seed(4)
    W = torch.randn(3, 5, generator=g, dtype=torch.float64)
    X = torch.randn(8, 5, generator=g, dtype=torch.float64)
    y = torch.randint(3, (8,), generator=g)

    def loss(w):
        return F.cross_entropy(X @ w.T, y)

    w = W.clone().requires_grad_(True)
    (analytic,) = torch.autograd.grad(loss(w), w)
    numeric = optim.numeric_gradient(loss, W)
    assert numeric.shape == W.shape
    assert optim.relative_error(analytic, numeric) < 1e-8
    picked = torch.tensor([0, 7, 14])
    some = optim.numeric_gradient(loss, W, indices=picked)
    assert_close(some, analytic.reshape(-1)[picked], rtol=1e-7, atol=1e-10)
    assert torch.equal(W, w.detach())  # the point is not modified
    # a wrong gradient is caught: its relative error is large
    assert optim.relative_error(analytic.T.reshape(3, 5), numeric) > 0.1


def test_relative_error_and_numeric_gradient_bad_input():
    a = torch.tensor([0.0, 1.0], dtype=torch.float64)
    assert optim.relative_error(a, a) == 0.0  # 0 / 0 entries count as equal
    assert optim.relative_error(a, torch.tensor([0.0, 3.0])) == pytest.approx(0.5)
    with pytest.raises(ValueError, match=r"b must have shape \(2,\), got \(3,\)"):
        optim.relative_error(a, torch.zeros(3))
    with pytest.raises(ValueError, match="h must be a finite number"):
        optim.numeric_gradient(lambda t: t.sum(), a, h=math.nan)
    with pytest.raises(TypeError, match="x must have a floating dtype"):
        optim.numeric_gradient(lambda t: t.sum(), torch.tensor([1, 2]))
