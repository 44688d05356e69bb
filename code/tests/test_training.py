import math

import pytest
import torch
import torch.nn.functional as F
from torch import nn
from torch.testing import assert_close

from dlcv import training


def data(n=64, d=5, c=3, seed=0):
    g = torch.Generator().manual_seed(seed)
    return torch.randn(n, d, generator=g, dtype=torch.float64), torch.randint(
        c, (n,), generator=g
    )


def test_minibatches_cover_every_index_once():
    batches = list(
        training.minibatches(10, 4, generator=torch.Generator().manual_seed(0))
    )
    assert [len(b) for b in batches] == [4, 4, 2]
    assert sorted(torch.cat(batches).tolist()) == list(range(10))
    dropped = list(
        training.minibatches(10, 4, generator=torch.Generator(), drop_last=True)
    )
    assert [len(b) for b in dropped] == [4, 4]


def test_fit_equals_a_hand_written_loop():
    x, y = data()
    torch.manual_seed(0)
    model = nn.Linear(5, 3).double()
    reference = nn.Linear(5, 3).double()
    reference.load_state_dict(model.state_dict())

    opt = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    hist = training.fit(
        model,
        F.cross_entropy,
        opt,
        x,
        y,
        epochs=3,
        batch_size=16,
        generator=torch.Generator().manual_seed(1),
        x_val=x[:8],
        y_val=y[:8],
    )

    ref_opt = torch.optim.SGD(reference.parameters(), lr=0.1, momentum=0.9)
    g = torch.Generator().manual_seed(1)
    losses = []
    for _ in range(3):
        order = torch.randperm(64, generator=g)
        for s in range(0, 64, 16):
            idx = order[s : s + 16]
            loss = F.cross_entropy(reference(x[idx]), y[idx])
            ref_opt.zero_grad()
            loss.backward()
            ref_opt.step()
            losses.append(loss.item())

    assert_close(model.weight, reference.weight)
    assert_close(model.bias, reference.bias)
    assert hist.step_loss == pytest.approx(losses)
    assert len(hist.epoch_train_acc) == len(hist.epoch_val_acc) == 3
    assert hist.epoch_train_acc[-1] == training.accuracy(reference, x, y)


def test_fit_steps_the_schedule_transforms_batches_and_calls_back():
    x, y = data()
    torch.manual_seed(0)
    model = nn.Linear(5, 3).double()
    reference = nn.Linear(5, 3).double()
    reference.load_state_dict(model.state_dict())

    def flip(xb, yb):  # a deterministic batch transform, and soft labels
        return -xb, F.one_hot(yb, 3).double() * 0.9 + 0.1 / 3

    steps = []
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    sched = torch.optim.lr_scheduler.StepLR(opt, step_size=2, gamma=0.5)
    hist = training.fit(
        model,
        F.cross_entropy,
        opt,
        x,
        y,
        epochs=2,
        batch_size=32,
        generator=torch.Generator().manual_seed(1),
        scheduler=sched,
        transform=flip,
        on_step=steps.append,
    )

    ref_opt = torch.optim.SGD(reference.parameters(), lr=0.1)
    ref_sched = torch.optim.lr_scheduler.StepLR(ref_opt, step_size=2, gamma=0.5)
    g = torch.Generator().manual_seed(1)
    lrs = []
    for _ in range(2):
        order = torch.randperm(64, generator=g)
        for s in range(0, 64, 32):
            xb, yb = flip(x[order[s : s + 32]], y[order[s : s + 32]])
            lrs.append(ref_opt.param_groups[0]["lr"])
            loss = F.cross_entropy(reference(xb), yb)
            ref_opt.zero_grad()
            loss.backward()
            ref_opt.step()
            ref_sched.step()

    assert_close(model.weight, reference.weight)
    assert hist.step_lr == lrs == [0.1, 0.1, 0.05, 0.05]
    assert steps == [1, 2, 3, 4]
    with pytest.raises(TypeError, match="transform must be callable"):
        training.fit(
            model,
            F.cross_entropy,
            opt,
            x,
            y,
            epochs=1,
            batch_size=8,
            generator=torch.Generator(),
            transform="flip",
        )


def test_accuracy_counts_argmax_and_restores_mode():
    scores = torch.tensor([[1.0, 0.0], [0.0, 2.0], [3.0, 1.0], [0.0, 1.0]])
    y = torch.tensor([0, 1, 1, 1])
    assert training.accuracy(lambda x: x, scores, y, batch_size=3) == 0.75
    model = nn.Sequential(nn.Dropout(0.5), nn.Identity())
    model.train()
    training.accuracy(model, scores, y)
    assert model.training


def test_bad_input():
    x, y = data()
    model = nn.Linear(5, 3).double()
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    g = torch.Generator()
    with pytest.raises(ValueError, match="epochs must be an int >= 0, got -1"):
        training.fit(
            model, F.cross_entropy, opt, x, y, epochs=-1, batch_size=4, generator=g
        )
    with pytest.raises(ValueError, match="y must have shape \\(64,\\), got \\(63,\\)"):
        training.fit(
            model, F.cross_entropy, opt, x, y[:-1], epochs=1, batch_size=4, generator=g
        )
    with pytest.raises(ValueError, match="both x_val and y_val"):
        training.fit(
            model,
            F.cross_entropy,
            opt,
            x,
            y,
            epochs=1,
            batch_size=4,
            generator=g,
            x_val=x,
        )
    with pytest.raises(ValueError, match="batch_size must be an int >= 1, got 0"):
        list(training.minibatches(5, 0, generator=g))


def test_accuracy_rejects_inputs_that_would_give_a_wrong_fraction():
    x, y = data()
    model = nn.Linear(5, 3).double()
    acc = training.accuracy(model, x, y)
    assert 0 <= acc <= 1
    assert training.accuracy(model, x, y.to(torch.uint8)) == acc  # IDX labels are uint8
    with pytest.raises(
        ValueError, match="y must have shape \\(64,\\), got \\(64, 1\\)"
    ):
        training.accuracy(model, x, y[:, None])  # used to broadcast to (64, 64): 2.0
    with pytest.raises(
        ValueError, match="number of examples N must be an int >= 1, got 0"
    ):
        training.accuracy(model, x[:0], y[:0])  # used to return 0.0
    with pytest.raises(ValueError, match="batch_size must be an int >= 1, got -1"):
        training.accuracy(model, x, y, batch_size=-1)  # used to return 0.0
    with pytest.raises(TypeError, match="y must have an integer dtype, got torch.bool"):
        training.accuracy(model, x, y > 0)
    model.train()
    with pytest.raises(ValueError, match="the model's scores must have 2 dimensions"):
        training.accuracy(lambda b: model(b)[:, 0], x, y)
    assert model.training


def test_standard_error_of_an_accuracy():
    assert training.standard_error(0.5, 100) == pytest.approx(0.05)
    assert training.standard_error(1.0, 10) == 0.0
    # the spread of the accuracy of a 70%-accurate guesser over 400 examples
    g = torch.Generator().manual_seed(0)
    draws = (torch.rand(2000, 400, generator=g) < 0.7).double().mean(dim=1)
    assert draws.std().item() == pytest.approx(
        training.standard_error(0.7, 400), rel=0.05
    )
    with pytest.raises(ValueError, match=r"acc must be a finite number in \[0, 1\]"):
        training.standard_error(math.nan, 10)
    with pytest.raises(ValueError, match="n must be an int >= 1, got 0"):
        training.standard_error(0.5, 0)


def test_eval_mode_evaluates_then_restores_every_submodules_own_mode():
    from dlcv.training import eval_mode

    net = nn.Sequential(nn.Linear(2, 2), nn.BatchNorm1d(2), nn.Dropout(0.5))
    net.train()
    net[1].eval()  # a frozen batch norm, as in fine-tuning
    with eval_mode(net) as inside:
        assert inside is net
        assert not any(m.training for m in net.modules())
    assert [m.training for m in net.modules()] == [True, True, False, True]
    with pytest.raises(RuntimeError), eval_mode(net):
        raise RuntimeError("restored on errors too")
    assert [m.training for m in net.modules()] == [True, True, False, True]

    def f(x):
        return x

    with eval_mode(f) as g:  # a plain callable passes through
        assert g is f
