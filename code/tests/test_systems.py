"""dlcv.systems: roofline arithmetic, timing helpers, custom Function, hooks, data."""

import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.data import DataLoader

from dlcv import data, systems


def test_matmul_flops_and_intensity_match_hand_counts():
    assert systems.matmul_flops(2, 3, 4) == 2 * 2 * 3 * 4
    # square, float32: 2 n^3 / (3 n^2 * 4) = n / 6
    assert systems.arithmetic_intensity(96, 96, 96) == pytest.approx(96 / 6)
    # (m, k) @ (k, n): A has 8*16, B 16*4, C 8*4 elements; bfloat16 is 2 bytes
    expected = 2 * 8 * 16 * 4 / ((8 * 16 + 16 * 4 + 8 * 4) * 2)
    assert systems.arithmetic_intensity(8, 16, 4, 2) == pytest.approx(expected)
    # a matrix-vector product never reaches 1 FLOP per 4 bytes in float32
    assert systems.arithmetic_intensity(1000, 1000, 1) < 0.5


@pytest.mark.parametrize(
    "call, error",
    [
        (lambda: systems.arithmetic_intensity(0, 2, 2), ValueError),
        (lambda: systems.arithmetic_intensity(2.5, 2, 2), TypeError),
        (lambda: systems.matmul_rate((2, 3)), ValueError),
        (lambda: systems.matmul_rate(4, dtype=torch.int64), ValueError),
        (lambda: systems.matmul_rate(4, autocast=torch.float64), ValueError),
        (lambda: systems.memory_bandwidth(-1), ValueError),
        (lambda: systems.roofline(1.0, 0.0, 1.0), ValueError),
        (lambda: systems.silu(torch.arange(3)), TypeError),
        (lambda: systems.log_grad_norms("net"), TypeError),
        (lambda: systems.ToFloat(std=0), ValueError),
        (lambda: systems.RandomHorizontalFlip(p=2), ValueError),
        (lambda: systems.loader_throughput([], batches=0), ValueError),
    ],
)
def test_bad_input_is_rejected(call, error):
    with pytest.raises(error):
        call()


@pytest.mark.parametrize("autocast", [None, torch.bfloat16])
def test_matmul_rate_is_positive_and_finite(autocast):
    rate = systems.matmul_rate(32, autocast=autocast, min_run_time=0.01)
    assert rate > 0 and math.isfinite(rate)
    rate = systems.matmul_rate((8, 16, 4), dtype=torch.float64, min_run_time=0.01)
    assert rate > 0 and math.isfinite(rate)


def test_autocast_matmul_runs_in_the_autocast_dtype():
    a, b = torch.randn(4, 5), torch.randn(5, 3)
    assert systems.autocast_matmul(a, b).dtype == torch.float32
    out = systems.autocast_matmul(a, b, torch.bfloat16)
    assert out.dtype == torch.bfloat16
    torch.testing.assert_close(out.float(), a @ b, rtol=2e-2, atol=2e-2)


def test_memory_bandwidth_is_positive():
    rate = systems.memory_bandwidth(10_000, min_run_time=0.01)
    assert rate > 0 and math.isfinite(rate)


def test_roofline_takes_the_lower_ceiling():
    assert systems.roofline(1.0, 100.0, 10.0) == 10.0
    assert systems.roofline(50.0, 100.0, 10.0) == 100.0
    out = systems.roofline(np.array([1.0, 50.0]), 100.0, 10.0)
    np.testing.assert_allclose(out, [10.0, 100.0])


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_silu_matches_torch(dtype):
    x = torch.linspace(-8, 8, 41, dtype=dtype, requires_grad=True)
    ours = systems.silu(x)
    torch.testing.assert_close(ours, F.silu(x))
    (g_ours,) = torch.autograd.grad(ours.sum(), x)
    (g_torch,) = torch.autograd.grad(F.silu(x).sum(), x)
    torch.testing.assert_close(g_ours, g_torch)


def test_silu_passes_gradcheck():
    x = torch.randn(3, 4, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(systems.SiLUFunction.apply, (x,))


def test_log_grad_norms_records_the_output_gradient():
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(3, 4), nn.ReLU(), nn.Linear(4, 2))
    log, handles = systems.log_grad_norms(model)
    x = torch.randn(5, 3)
    out = model(x)
    out.retain_grad()
    (out**2).sum().backward()
    assert set(log) == {"0", "2"}
    assert log["2"] == [pytest.approx(out.grad.norm().item())]
    for h in handles:
        h.remove()
    model(x).sum().backward()
    assert len(log["2"]) == 1  # removed hooks record nothing


def test_recording_backend_keeps_the_graph():
    backend, graphs = systems.recording_backend()
    torch._dynamo.reset()
    fn = torch.compile(lambda x: torch.relu(x) * 2, backend=backend)
    x = torch.randn(4)
    torch.testing.assert_close(fn(x), torch.relu(x) * 2)
    assert len(graphs) == 1
    assert "relu" in graphs[0].code


def test_dataset_matches_dlcv_data():
    images, labels = data.load_fashion_mnist("test")
    ds = systems.FashionMNISTDataset("test", limit=50)
    assert len(ds) == 50
    x, y = ds[7]
    assert x.shape == (1, 28, 28) and x.dtype == torch.float32
    torch.testing.assert_close(x[0], images[7].float() / 255)
    assert y == labels[7].item()
    norm = systems.FashionMNISTDataset(
        "test", limit=5, transform=systems.ToFloat(0.5, 0.25)
    )
    torch.testing.assert_close(norm[3][0], (ds[3][0] - 0.5) / 0.25)


def test_random_flip_flips_or_keeps():
    img = torch.arange(6.0).reshape(2, 3)
    assert torch.equal(systems.RandomHorizontalFlip(1.0)(img), img.flip(-1))
    assert torch.equal(systems.RandomHorizontalFlip(0.0)(img), img)


def test_dataset_works_in_a_dataloader_with_workers():
    images, labels = data.load_fashion_mnist("test")
    ds = systems.FashionMNISTDataset("test", limit=40)
    loader = DataLoader(ds, batch_size=16, num_workers=2)
    xs, ys = zip(*loader, strict=True)
    torch.testing.assert_close(torch.cat(xs)[:, 0], images[:40].float() / 255)
    assert torch.equal(torch.cat(ys), labels[:40])
    rate = systems.loader_throughput(DataLoader(ds, batch_size=16), batches=2)
    assert rate > 0
