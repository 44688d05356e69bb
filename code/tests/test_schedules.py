import copy
import math

import pytest
import torch
import torch.nn.functional as F
from torch import nn
from torch.optim import lr_scheduler as tls

from dlcv import schedules
from dlcv.training import fit

STEPS = 300
LRS = (0.1, 0.03)  # two parameter groups with different initial rates


def _optimizer() -> torch.optim.SGD:
    groups = [{"params": [nn.Parameter(torch.zeros(2))], "lr": lr} for lr in LRS]
    return torch.optim.SGD(groups, lr=LRS[0])


def _warmup_torch(opt, after):
    first = tls.LinearLR(opt, start_factor=1 / 10, end_factor=1.0, total_iters=9)
    return tls.SequentialLR(opt, [first, after(opt)], milestones=[10])


# (id, our schedule, torch's), each a function of the optimizer.
CASES = [
    (
        "step",
        lambda o: schedules.StepLR(o, step_size=30, gamma=0.5),
        lambda o: tls.StepLR(o, step_size=30, gamma=0.5),
    ),
    (
        "cosine",
        lambda o: schedules.CosineAnnealingLR(o, T_max=STEPS, eta_min=1e-4),
        lambda o: tls.CosineAnnealingLR(o, T_max=STEPS, eta_min=1e-4),
    ),
    (
        "cosine-past-T_max",
        lambda o: schedules.CosineAnnealingLR(o, T_max=70),
        lambda o: tls.CosineAnnealingLR(o, T_max=70),
    ),
    (
        "linear",
        lambda o: schedules.LinearDecayLR(o, total_steps=200),
        lambda o: tls.LinearLR(o, start_factor=1.0, end_factor=0.0, total_iters=200),
    ),
    (
        "linear-end-factor",
        lambda o: schedules.LinearDecayLR(o, total_steps=250, end_factor=0.1),
        lambda o: tls.LinearLR(o, start_factor=1.0, end_factor=0.1, total_iters=250),
    ),
    (
        "inverse-sqrt",
        lambda o: schedules.InverseSqrtLR(o),
        lambda o: tls.LambdaLR(o, lambda e: 1 / math.sqrt(e + 1)),
    ),
    (
        "inverse-sqrt-warmup",
        lambda o: schedules.InverseSqrtLR(o, warmup_steps=20),
        lambda o: tls.LambdaLR(o, lambda e: min((e + 1) / 20, math.sqrt(20 / (e + 1)))),
    ),
    (
        "warmup-cosine",
        lambda o: schedules.LinearWarmup(
            o, 10, after=schedules.CosineAnnealingLR(o, T_max=STEPS - 10)
        ),
        lambda o: _warmup_torch(o, lambda o: tls.CosineAnnealingLR(o, STEPS - 10)),
    ),
    (
        "warmup-step",
        lambda o: schedules.LinearWarmup(o, 10, after=schedules.StepLR(o, 50, 0.3)),
        lambda o: _warmup_torch(o, lambda o: tls.StepLR(o, 50, 0.3)),
    ),
    (
        "warmup-constant",
        lambda o: schedules.LinearWarmup(o, 10),
        lambda o: tls.LinearLR(o, start_factor=1 / 10, end_factor=1.0, total_iters=9),
    ),
]
IDS = [c[0] for c in CASES]


def _run(opt, sched, steps):
    """The rates of all groups in use at each of ``steps`` optimizer steps."""
    lrs = []
    for _ in range(steps):
        lrs.append([g["lr"] for g in opt.param_groups])
        opt.step()  # no gradients: changes nothing, but orders step() as torch wants
        sched.step()
    return torch.tensor(lrs, dtype=torch.float64)


@pytest.mark.parametrize(("name", "ours", "theirs"), CASES, ids=IDS)
def test_schedule_equals_torch_step_by_step(name, ours, theirs):
    opt_a, opt_b = _optimizer(), _optimizer()
    got = _run(opt_a, ours(opt_a), STEPS)
    want = _run(opt_b, theirs(opt_b), STEPS)
    torch.testing.assert_close(got, want, rtol=1e-12, atol=1e-12)
    assert got[0].tolist() == list(LRS) or name.startswith(("warmup", "inverse-sqrt-"))


@pytest.mark.parametrize(("name", "ours", "theirs"), CASES, ids=IDS)
def test_state_dict_round_trip_mid_run(name, ours, theirs):
    opt = _optimizer()
    whole = _run(opt, ours(opt), STEPS)
    opt = _optimizer()
    sched = ours(opt)
    first = _run(opt, sched, 137)
    state = copy.deepcopy(sched.state_dict())
    opt2 = _optimizer()
    sched2 = ours(opt2)  # as torch advises: the scheduler before the optimizer's state
    opt2.load_state_dict(opt.state_dict())
    sched2.load_state_dict(state)
    assert sched2.last_epoch == 137
    rest = _run(opt2, sched2, STEPS - 137)
    torch.testing.assert_close(torch.cat([first, rest]), whole, rtol=0, atol=0)


@pytest.mark.parametrize(
    ("ours", "theirs"),
    [
        (
            lambda o: schedules.StepLR(o, step_size=7, gamma=0.7),
            lambda o: tls.StepLR(o, step_size=7, gamma=0.7),
        ),
        (
            lambda o: schedules.CosineAnnealingLR(o, T_max=90, eta_min=0.001),
            lambda o: tls.CosineAnnealingLR(o, T_max=90, eta_min=0.001),
        ),
    ],
    ids=["step", "cosine"],
)
def test_state_dict_loads_both_ways_with_torch(ours, theirs):
    for make_src, make_dst in ((theirs, ours), (ours, theirs)):
        opt = _optimizer()
        src = make_src(opt)
        _run(opt, src, 40)
        opt2 = _optimizer()
        dst = make_dst(opt2)
        opt2.load_state_dict(opt.state_dict())  # the rates in use now
        dst.load_state_dict(copy.deepcopy(src.state_dict()))
        got, want = _run(opt2, dst, 60), _run(opt, src, 60)
        torch.testing.assert_close(got, want, rtol=1e-12, atol=1e-12)


def test_pure_functions_are_the_schedulers_closed_forms():
    opt = _optimizer()
    sched = schedules.LinearWarmup(
        opt, 5, after=schedules.CosineAnnealingLR(opt, T_max=20, eta_min=0.01)
    )
    lrs = _run(opt, sched, 30)[:, 0].tolist()
    want = [schedules.warmup_lr(t, LRS[0], 5) for t in range(5)]
    want += [schedules.cosine_lr(t, LRS[0], 20, 0.01) for t in range(25)]
    assert lrs == want
    opt = _optimizer()
    lrs = _run(opt, schedules.InverseSqrtLR(opt, warmup_steps=4), 12)[:, 1].tolist()
    assert lrs == [schedules.inverse_sqrt_lr(t, LRS[1], 4) for t in range(1, 13)]


def test_pure_functions_follow_their_equations():
    lr0 = 0.4
    # cosine: half way the rate is the mean of lr0 and eta_min; at T it is eta_min
    assert schedules.cosine_lr(50, lr0, 100, 0.1) == pytest.approx((lr0 + 0.1) / 2)
    assert schedules.cosine_lr(100, lr0, 100, 0.1) == pytest.approx(0.1)
    # linear: lr0 (1 - t / T), and zero from T on
    assert schedules.linear_lr(25, lr0, 100) == pytest.approx(lr0 * 0.75)
    assert schedules.linear_lr(100, lr0, 100) == 0 == schedules.linear_lr(150, lr0, 100)
    # step: gamma^floor(t / s)
    assert schedules.step_lr(29, lr0, 10, 0.5) == pytest.approx(lr0 * 0.25)
    # inverse sqrt: lr0 / sqrt(t); warmup 0 and 1 agree; the peak is at t = W
    assert schedules.inverse_sqrt_lr(16, lr0) == pytest.approx(lr0 / 4)
    assert schedules.inverse_sqrt_lr(9, lr0, 1) == schedules.inverse_sqrt_lr(9, lr0)
    peak = [schedules.inverse_sqrt_lr(t, lr0, 8) for t in range(1, 40)]
    assert max(peak) == peak[7] == lr0
    # warmup: lr0 / W at the first step, lr0 from t = W - 1 on
    assert schedules.warmup_lr(0, lr0, 4) == lr0 / 4
    assert schedules.warmup_lr(3, lr0, 4) == lr0 == schedules.warmup_lr(9, lr0, 4)


def test_fit_steps_the_schedule_every_minibatch():
    g = torch.Generator().manual_seed(0)
    x, y = torch.randn(64, 3, generator=g), torch.randint(0, 2, (64,), generator=g)
    model = nn.Linear(3, 2)
    opt = torch.optim.SGD(model.parameters(), lr=0.5)
    sched = schedules.CosineAnnealingLR(opt, T_max=16)
    hist = fit(model, F.cross_entropy, opt, x, y, epochs=2, batch_size=8, generator=g)
    assert hist.step_lr == [0.5] * 16  # without a scheduler the rate stays
    hist = fit(
        model, F.cross_entropy, opt, x, y, epochs=2, batch_size=8, generator=g,
        scheduler=sched,
    )  # fmt: skip
    assert hist.step_lr == [schedules.cosine_lr(t, 0.5, 16) for t in range(16)]


@pytest.mark.parametrize(
    ("call", "error", "match"),
    [
        (lambda: schedules.inverse_sqrt_lr(0, 0.1), ValueError, r"from 1.*got 0"),
        (lambda: schedules.inverse_sqrt_lr(3, 0.1, -1), ValueError, "warmup_steps"),
        (lambda: schedules.step_lr(3, 0.1, 10, math.nan), ValueError, "gamma.*nan"),
        (lambda: schedules.step_lr(3, 0.1, 0, 0.5), ValueError, "step_size.*got 0"),
        (lambda: schedules.step_lr(-1, 0.1, 2), ValueError, "t must.*got -1"),
        (lambda: schedules.step_lr(True, 0.1, 2), TypeError, "t must be an int"),
        (lambda: schedules.cosine_lr(1, 0.1, 2.5), TypeError, "T_max.*float"),
        (lambda: schedules.cosine_lr(1, math.inf, 2), ValueError, "lr0.*inf"),
        (lambda: schedules.cosine_lr(1, 0.1, 5, -0.1), ValueError, "eta_min"),
        (lambda: schedules.linear_lr(1, 0.1, 5, 1.5), ValueError, r"end_factor.*1\.5"),
        (lambda: schedules.warmup_lr(1, "0.1", 5), TypeError, "lr0.*str"),
        (lambda: schedules.warmup_lr(1, 0.1, 0), ValueError, "warmup_steps.*got 0"),
        (lambda: schedules.StepLR([], 3), TypeError, "torch.optim.Optimizer.*list"),
        (lambda: schedules.StepLR(_optimizer(), 3, 0.0), ValueError, "gamma"),
        (
            lambda: schedules.CosineAnnealingLR(_optimizer(), 5, math.nan),
            ValueError,
            "eta_min.*nan",
        ),
        (
            lambda: schedules.LinearWarmup(_optimizer(), 0),
            ValueError,
            "warmup_steps.*got 0",
        ),
    ],
)
def test_bad_input(call, error, match):
    with pytest.raises(error, match=match):
        call()


def test_linear_warmup_checks_after():
    opt = _optimizer()
    with pytest.raises(TypeError, match="after must be.*CosineAnnealingLR"):
        schedules.LinearWarmup(opt, 5, after=tls.CosineAnnealingLR(opt, 10))
    other = schedules.StepLR(_optimizer(), 5)
    with pytest.raises(ValueError, match="same optimizer"):
        schedules.LinearWarmup(opt, 5, after=other)
    sched = schedules.LinearWarmup(opt, 5)
    with pytest.raises(ValueError, match="both be"):
        sched.load_state_dict(
            schedules.LinearWarmup(opt, 5, after=schedules.StepLR(opt, 5)).state_dict()
        )
