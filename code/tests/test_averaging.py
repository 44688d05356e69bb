import copy
import math

import pytest
import torch
import torch.nn.functional as F
from torch import nn
from torch.optim import swa_utils
from torch.testing import assert_close

from dlcv import averaging
from dlcv.training import fit


@pytest.fixture(autouse=True, scope="module")
def one_thread():
    """These problems are tiny: one thread avoids the cost of waking a second one."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def _net(dtype=torch.float32, seed=0):
    torch.manual_seed(seed)
    net = nn.Sequential(
        nn.Linear(4, 8), nn.BatchNorm1d(8), nn.ReLU(), nn.Dropout(0.5), nn.Linear(8, 3)
    )
    return net.to(dtype)


def _train_step(net, generator):
    """One SGD step on random data: changes the weights and the BN statistics."""
    dtype = next(net.parameters()).dtype
    x = torch.randn(16, 4, generator=generator, dtype=dtype)
    y = torch.randint(0, 3, (16,), generator=generator)
    net.train()
    net.zero_grad()
    F.cross_entropy(net(x), y).backward()
    with torch.no_grad():
        for p in net.parameters():
            p -= 0.1 * p.grad


# (id, our averaging functions, torch's): each a dict of constructor arguments
KINDS = [
    ("equal", {}, {}),
    (
        "ema",
        {"avg_fn": averaging.ema_avg_fn(0.9)},
        {"avg_fn": swa_utils.get_ema_avg_fn(0.9)},
    ),
    (
        "ema-multi",
        {"multi_avg_fn": swa_utils.get_ema_multi_avg_fn(0.9)},
        {"multi_avg_fn": swa_utils.get_ema_multi_avg_fn(0.9)},
    ),
    (
        "swa-explicit",
        {"avg_fn": averaging.swa_avg_fn()},
        {"avg_fn": swa_utils.get_swa_avg_fn()},
    ),
]


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("use_buffers", [False, True])
@pytest.mark.parametrize(("kind", "ours", "theirs"), KINDS, ids=[k[0] for k in KINDS])
def test_equals_torch_after_k_updates(kind, ours, theirs, use_buffers, dtype):
    net = _net(dtype)
    mine = averaging.AveragedModel(net, use_buffers=use_buffers, **ours)
    ref = swa_utils.AveragedModel(net, use_buffers=use_buffers, **theirs)
    g = torch.Generator().manual_seed(1)
    for _ in range(7):
        _train_step(net, g)
        mine.update_parameters(net)
        ref.update_parameters(net)
    got, want = mine.state_dict(), ref.state_dict()
    assert list(got) == list(want)
    assert int(got["n_averaged"]) == 7
    assert_close(got, want, rtol=0, atol=0)
    # the average is not the last weights, and the copy is not the model
    assert not torch.equal(got["module.0.weight"], net[0].weight)
    # buffers are averaged exactly when use_buffers is True
    same_bn = torch.equal(got["module.1.running_mean"], net[1].running_mean)
    assert same_bn is not use_buffers


def test_equal_average_is_the_mean_of_the_weights():
    net = _net(torch.float64)
    mine = averaging.AveragedModel(net)
    g = torch.Generator().manual_seed(2)
    seen = []
    for _ in range(5):
        _train_step(net, g)
        seen.append(net[0].weight.detach().clone())
        mine.update_parameters(net)
    assert_close(mine.module[0].weight, torch.stack(seen).mean(dim=0))


def test_ema_follows_its_recursion():
    net = _net(torch.float64)
    beta = 0.8
    mine = averaging.AveragedModel(net, avg_fn=averaging.ema_avg_fn(beta))
    g = torch.Generator().manual_seed(3)
    want = None
    for _ in range(6):
        _train_step(net, g)
        w = net[4].bias.detach().clone()
        want = w if want is None else beta * want + (1 - beta) * w
        mine.update_parameters(net)
    assert_close(mine.module[4].bias, want)


@pytest.mark.parametrize("use_buffers", [False, True])
def test_state_dict_loads_both_ways(use_buffers):
    net = _net()
    g = torch.Generator().manual_seed(4)
    fn = {"avg_fn": averaging.ema_avg_fn(0.7)}
    tfn = {"avg_fn": swa_utils.get_ema_avg_fn(0.7)}
    for src_cls, dst_cls, src_fn, dst_fn in (
        (averaging.AveragedModel, swa_utils.AveragedModel, fn, tfn),
        (swa_utils.AveragedModel, averaging.AveragedModel, tfn, fn),
    ):
        src = src_cls(net, use_buffers=use_buffers, **src_fn)
        for _ in range(3):
            _train_step(net, g)
            src.update_parameters(net)
        dst = dst_cls(_net(seed=9), use_buffers=use_buffers, **dst_fn)
        dst.load_state_dict(src.state_dict())
        assert int(dst.n_averaged) == 3
        for _ in range(3):  # both go on from the loaded state alike
            _train_step(net, g)
            src.update_parameters(net)
            dst.update_parameters(net)
        assert_close(dst.state_dict(), src.state_dict(), rtol=0, atol=0)


def test_forward_is_the_averaged_module_and_device_argument():
    net = _net(torch.float64)
    mine = averaging.AveragedModel(net, device="cpu")
    mine.update_parameters(net)
    mine.eval()
    net.eval()
    x = torch.randn(5, 4, dtype=torch.float64)
    assert_close(mine(x), net(x))
    assert mine.n_averaged.device == torch.device("cpu")
    assert isinstance(mine, swa_utils.AveragedModel)


def test_update_parameters_from_fit_on_step():
    g = torch.Generator().manual_seed(5)
    x, y = torch.randn(48, 4, generator=g), torch.randint(0, 3, (48,), generator=g)
    net = _net()
    ema = averaging.AveragedModel(net, avg_fn=averaging.ema_avg_fn(0.9))
    opt = torch.optim.SGD(net.parameters(), lr=0.1)
    fit(
        net, F.cross_entropy, opt, x, y, epochs=2, batch_size=16, generator=g,
        on_step=lambda step: ema.update_parameters(net),
    )  # fmt: skip
    assert int(ema.n_averaged) == 6
    assert not torch.equal(ema.module[0].weight, net[0].weight)


@pytest.mark.parametrize("tuples", [False, True])
def test_update_bn_equals_torch(tuples):
    g = torch.Generator().manual_seed(6)
    batches = [torch.randn(10, 4, generator=g) for _ in range(4)]
    loader = [(b, torch.zeros(10)) for b in batches] if tuples else batches
    mine, ref = _net(), _net()
    for m in (mine, ref):
        m[1].momentum = 0.3
        m.eval()
    averaging.update_bn(loader, mine)
    swa_utils.update_bn(loader, ref)
    assert_close(mine.state_dict(), ref.state_dict(), rtol=0, atol=0)
    # the statistics are the mean over the batches, not those of the last one
    assert not torch.equal(mine[1].running_mean, torch.zeros(8))
    assert not mine.training and mine[1].momentum == 0.3


def test_update_bn_without_batch_norm_changes_nothing():
    net = nn.Linear(3, 2)
    before = copy.deepcopy(net.state_dict())
    averaging.update_bn([torch.randn(4, 3)], net)
    assert_close(net.state_dict(), before, rtol=0, atol=0)


def test_ensemble_predict_is_the_mean_of_softmax():
    nets = [_net(seed=s) for s in range(3)]
    for n in nets:
        n.train()
    x = torch.randn(6, 4)
    probs = averaging.ensemble_predict(nets, x)
    want = []
    for n in nets:
        n.eval()
        with torch.no_grad():
            want.append(F.softmax(n(x), dim=1))
        n.train()
    assert_close(probs, sum(want) / 3)
    assert_close(probs.sum(dim=1), torch.ones(6))
    assert all(n.training for n in nets)  # the modes are restored
    assert not probs.requires_grad


@pytest.mark.parametrize(
    ("call", "error", "match"),
    [
        (lambda: averaging.ema_avg_fn(math.nan), ValueError, "decay.*nan"),
        (lambda: averaging.ema_avg_fn(1.5), ValueError, r"decay.*\[0, 1\].*1\.5"),
        (lambda: averaging.ema_avg_fn("0.9"), TypeError, "decay.*str"),
        (lambda: averaging.AveragedModel("net"), TypeError, "nn.Module.*str"),
        (
            lambda: averaging.AveragedModel(
                _net(), avg_fn=averaging.swa_avg_fn(), multi_avg_fn=lambda a, b, n: 0
            ),
            ValueError,
            "at most one.*both",
        ),
        (lambda: averaging.AveragedModel(_net(), avg_fn=3), TypeError, "avg_fn.*int"),
        (
            lambda: averaging.AveragedModel(_net(), use_buffers=1),
            TypeError,
            "use_buffers must be a bool, got 1",
        ),
        (
            lambda: averaging.AveragedModel(_net()).update_parameters(nn.Linear(4, 3)),
            ValueError,
            r"6 tensors.*got 2",
        ),
        (
            lambda: averaging.AveragedModel(_net()).update_parameters(None),
            TypeError,
            "model must be an nn.Module, got NoneType",
        ),
        (lambda: averaging.update_bn([], "net"), TypeError, "nn.Module.*str"),
        (lambda: averaging.ensemble_predict([], torch.ones(2, 4)), ValueError, "none"),
        (
            lambda: averaging.ensemble_predict(_net(), torch.ones(2, 4)),
            TypeError,
            "sequence, got Sequential",
        ),
        (
            lambda: averaging.ensemble_predict([_net(), "x"], torch.ones(2, 4)),
            TypeError,
            r"models\[1\].*str",
        ),
        (
            lambda: averaging.ensemble_predict([_net()], [[1.0] * 4]),
            TypeError,
            "x must be a torch.Tensor, got list",
        ),
    ],
)
def test_bad_input(call, error, match):
    with pytest.raises(error, match=match):
        call()


@pytest.mark.cuda
@pytest.mark.parametrize("use_buffers", [False, True])
def test_cuda_average_equals_cpu(use_buffers):
    net = _net(torch.float64)
    cpu = averaging.AveragedModel(net, avg_fn=averaging.ema_avg_fn(0.9))
    gpu = averaging.AveragedModel(
        net, device="cuda", avg_fn=averaging.ema_avg_fn(0.9), use_buffers=use_buffers
    )
    cpu.use_buffers = use_buffers
    g = torch.Generator().manual_seed(7)
    for _ in range(4):
        _train_step(net, g)  # the model stays on the CPU, the average on the GPU
        cpu.update_parameters(net)
        gpu.update_parameters(net)
    assert gpu.n_averaged.device.type == "cuda"
    assert_close({k: v.cpu() for k, v in gpu.state_dict().items()}, cpu.state_dict())


@pytest.mark.cuda
def test_cuda_torch_multi_avg_fn_and_update_bn():
    net = _net().cuda()
    fn = swa_utils.get_ema_multi_avg_fn(0.9)
    mine = averaging.AveragedModel(net, multi_avg_fn=fn, use_buffers=True)
    ref = swa_utils.AveragedModel(net, multi_avg_fn=fn, use_buffers=True)
    g = torch.Generator().manual_seed(8)
    for _ in range(4):
        x = torch.randn(16, 4, generator=g).cuda()
        net.zero_grad()
        net(x).square().mean().backward()
        with torch.no_grad():
            for p in net.parameters():
                p -= 0.1 * p.grad
        mine.update_parameters(net)
        ref.update_parameters(net)
    assert_close(mine.state_dict(), ref.state_dict())
    batches = [torch.randn(8, 4, generator=g).cuda() for _ in range(3)]
    averaging.update_bn(batches, mine)
    swa_utils.update_bn(batches, ref)
    assert_close(mine.state_dict(), ref.state_dict())


@pytest.mark.cuda
def test_cuda_ensemble_predict_equals_cpu():
    nets = [_net(torch.float64, seed=s) for s in range(2)]
    x = torch.randn(5, 4, dtype=torch.float64)
    want = averaging.ensemble_predict(nets, x)
    got = averaging.ensemble_predict([n.cuda() for n in nets], x.cuda())
    assert got.device.type == "cuda"
    assert_close(got.cpu(), want)
