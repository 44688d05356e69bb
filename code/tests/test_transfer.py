import pytest
import torch
import torch.nn.functional as F
from torch import nn
from torch.testing import assert_close

from dlcv import transfer
from dlcv.training import accuracy


@pytest.fixture(autouse=True, scope="module")
def one_thread():
    """These problems are tiny: one thread avoids the cost of waking a second one."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def _gen(seed=0):
    return torch.Generator().manual_seed(seed)


def _data(n=60, classes=5, seed=0):
    g = _gen(seed)
    y = torch.arange(n) % classes
    y = y[torch.randperm(n, generator=g)]
    x = torch.randn(n, 3, generator=g) + y[:, None]  # rows depend on their label
    return x, y


def _net(dtype=torch.float32):
    torch.manual_seed(0)
    return nn.Sequential(
        nn.Flatten(), nn.Linear(6, 5), nn.ReLU(), nn.Dropout(0.5), nn.Linear(5, 3)
    ).to(dtype)


class _ResNetLike(nn.Module):
    """A backbone, then a global pool inside forward, then ``fc``, as in ResNets."""

    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(1, 4, 3, padding=1)
        self.fc = nn.Linear(4, 2)

    def forward(self, x):
        h = F.relu(self.conv(x)).mean(dim=(2, 3))  # (N, 4)
        return self.fc(h)


def test_split_classes_selects_and_relabels():
    x, y = _data()
    xs, ys = transfer.split_classes(x, y, [4, 1])
    keep = (y == 4) | (y == 1)
    assert torch.equal(xs, x[keep])
    assert torch.equal(ys, torch.where(y[keep] == 4, 0, 1))
    assert ys.dtype == torch.int64
    # the classes of the other split are disjoint
    xo, yo = transfer.split_classes(x, y, [0, 2, 3])
    assert len(xo) + len(xs) == len(x)
    assert sorted(yo.unique().tolist()) == [0, 1, 2]


def test_few_shot_exact_counts():
    x, y = _data(n=100, classes=4)
    xs, ys = transfer.few_shot(x, y, 7, _gen(1))
    assert torch.bincount(ys).tolist() == [7, 7, 7, 7]
    # every chosen row is a row of x with its own label, chosen once
    match = (xs[:, None, :] == x[None, :, :]).all(dim=2)  # (28, 100)
    rows = match.float().argmax(dim=1)
    assert torch.equal(match.sum(dim=1), torch.ones(28, dtype=torch.long))
    assert torch.equal(y[rows], ys) and len(rows.unique()) == 28
    assert torch.equal(rows, rows.sort().values)  # original order kept
    again = transfer.few_shot(x, y, 7, _gen(1))
    assert torch.equal(again[0], xs)
    assert not torch.equal(transfer.few_shot(x, y, 7, _gen(2))[0], xs)
    # all of a class is allowed
    assert len(transfer.few_shot(x, y, 25, _gen(3))[1]) == 100


def test_few_shot_not_enough():
    x, y = _data(n=20, classes=4)  # 5 per class
    y[0] = 9  # a class with one example
    with pytest.raises(ValueError, match=r"per_class = 2.*\{9: 1\}"):
        transfer.few_shot(x, y, 2, _gen())
    with pytest.raises(ValueError, match=r"per_class = 6.*\{0: 4, 1: 5, 2: 5, 3: 5"):
        transfer.few_shot(x, y, 6, _gen())


def test_freeze_leaves_no_grads():
    net = _net()
    head = nn.Linear(3, 2)
    assert transfer.freeze(net) is net
    assert all(not p.requires_grad for p in net.parameters())
    x = torch.randn(4, 6, requires_grad=True)
    head(net(x)).sum().backward()
    assert all(p.grad is None for p in net.parameters())
    assert all(p.grad is not None for p in head.parameters())
    assert x.grad is not None  # gradients still flow through a frozen module


def test_features_are_the_penultimate_activations():
    net = _net(torch.float64).train()
    x = torch.randn(10, 2, 3, dtype=torch.float64)
    feats = transfer.features(net, x, batch_size=3)
    net.eval()
    with torch.no_grad():
        assert_close(feats, net[:-1](x))
    net.train()
    assert feats.shape == (10, 5) and not feats.requires_grad
    assert net.training  # its mode is restored
    assert_close(transfer.features(net, x, batch_size=100), feats)


def test_features_of_a_module_with_fc():
    net = _ResNetLike()
    x = torch.randn(6, 1, 5, 5)
    with torch.no_grad():
        want = F.relu(net.conv(x)).mean(dim=(2, 3))
    assert_close(transfer.features(net, x, batch_size=4), want)


def test_replace_head():
    net = transfer.freeze(_net(torch.float64))
    assert transfer.replace_head(net, 7) is net
    assert isinstance(net[-1], nn.Linear)
    assert (net[-1].in_features, net[-1].out_features) == (5, 7)
    assert net[-1].weight.dtype == torch.float64
    trainable = [n for n, p in net.named_parameters() if p.requires_grad]
    assert trainable == ["4.weight", "4.bias"]
    resnet = transfer.replace_head(_ResNetLike(), 3)
    assert resnet(torch.randn(2, 1, 4, 4)).shape == (2, 3)


def test_linear_probe_learns_separable_features():
    g = _gen(4)
    y = torch.arange(300) % 3
    centres = torch.tensor([[0.0, 0.0, 50.0], [4.0, 0.0, 50.0], [0.0, 4.0, 50.0]])
    feats = centres[y] + torch.randn(300, 3, generator=g) * torch.tensor([1, 1, 20])
    probe = transfer.linear_probe(feats, y, 3, epochs=30, generator=_gen(5))
    assert isinstance(probe, nn.Linear) and probe.weight.shape == (3, 3)
    assert not probe.training
    assert accuracy(probe, feats, y) > 0.9  # the Bayes accuracy is about 0.93
    again = transfer.linear_probe(feats, y, 3, epochs=30, generator=_gen(5))
    assert_close(again.weight, probe.weight, rtol=0, atol=0)


@pytest.mark.parametrize(
    ("call", "error", "match"),
    [
        (
            lambda: transfer.split_classes(*_data(), [1, 1]),
            ValueError,
            r"distinct.*\[1, 1\]",
        ),
        (lambda: transfer.split_classes(*_data(), []), ValueError, "k >= 1"),
        (lambda: transfer.split_classes(*_data(), 3), TypeError, "list.*int"),
        (lambda: transfer.split_classes(*_data(), [1.0]), TypeError, r"classes\[0\]"),
        (lambda: transfer.split_classes(*_data(), [8]), ValueError, r"\[8\] with no"),
        (
            lambda: transfer.split_classes(
                torch.ones(5, 2), torch.zeros(4).long(), [0]
            ),
            ValueError,
            r"y must have shape \(5,\), got \(4,\)",
        ),
        (lambda: transfer.few_shot(*_data(), 0, _gen()), ValueError, "per_class"),
        (lambda: transfer.few_shot(*_data(), 1, 7), TypeError, "Generator.*int"),
        (
            lambda: transfer.few_shot(
                torch.ones(0, 2), torch.zeros(0).long(), 1, _gen()
            ),
            ValueError,
            "number of examples N.*got 0",
        ),
        (
            lambda: transfer.few_shot(torch.ones(3), torch.ones(3), 1, _gen()),
            TypeError,
            "y must have an integer dtype",
        ),
        (lambda: transfer.freeze("net"), TypeError, "nn.Module.*str"),
        (lambda: transfer.features(_net(), [1.0]), TypeError, "x must be a torch"),
        (
            lambda: transfer.features(nn.ReLU(), torch.ones(2, 3)),
            ValueError,
            "child modules.*ReLU with none",
        ),
        (
            lambda: transfer.features(_net(), torch.ones(2, 6), batch_size=0),
            ValueError,
            "batch_size",
        ),
        (
            lambda: transfer.replace_head(nn.Sequential(nn.Linear(2, 2), nn.ReLU()), 3),
            TypeError,
            "last child must be an nn.Linear, got ReLU",
        ),
        (
            lambda: transfer.linear_probe(
                torch.tensor([[float("nan")], [1.0]]),
                torch.tensor([0, 1]),
                2,
                generator=_gen(),
            ),
            ValueError,
            "feats must be finite",
        ),
        (
            lambda: transfer.linear_probe(
                torch.ones(2, 3), torch.tensor([0, 2]), 2, generator=_gen()
            ),
            ValueError,
            r"labels in \[0, 2\), got 2",
        ),
        (
            lambda: transfer.linear_probe(
                torch.ones(2, 3), torch.tensor([0, 1]), 2, lr=0, generator=_gen()
            ),
            ValueError,
            "lr.*got 0",
        ),
    ],
)
def test_bad_input(call, error, match):
    with pytest.raises(error, match=match):
        call()


@pytest.mark.cuda
def test_cuda_equals_cpu():
    net = _net(torch.float64)
    x, y = torch.randn(12, 6, dtype=torch.float64), torch.arange(12) % 3
    want = transfer.features(net, x)
    got = transfer.features(net.cuda(), x.cuda())
    assert got.device.type == "cuda"
    assert_close(got.cpu(), want)
    xs, ys = transfer.few_shot(x.cuda(), y.cuda(), 2, _gen(1))
    assert ys.device.type == "cuda"
    assert torch.equal(xs.cpu(), transfer.few_shot(x, y, 2, _gen(1))[0])
    xs, ys = transfer.split_classes(x.cuda(), y.cuda(), [2, 0])
    assert torch.equal(ys.cpu(), transfer.split_classes(x, y, [2, 0])[1])
    probe = transfer.linear_probe(want.cuda(), y.cuda(), 3, epochs=2, generator=_gen())
    assert probe.weight.device.type == "cuda"
