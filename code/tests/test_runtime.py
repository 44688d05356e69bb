import sys
import types

import pytest
import torch

from dlcv import runtime


def test_cpu_defaults_to_quick_budget(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    rt = runtime.get_runtime({})
    assert rt.device == torch.device("cpu") and rt.budget == "quick" and rt.seed == 0
    assert rt.pick(quick=1, full=2) == 1


def test_cuda_defaults_to_full_budget(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    rt = runtime.get_runtime({})
    assert rt.device == torch.device("cuda") and rt.budget == "full"
    assert rt.pick(quick=1, full=2) == 2


def test_environment_overrides(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    rt = runtime.get_runtime(
        {"DLCV_DEVICE": "cpu", "DLCV_BUDGET": "full", "DLCV_SEED": "7"}
    )
    assert (rt.device.type, rt.budget, rt.seed) == ("cpu", "full", 7)


@pytest.mark.parametrize(
    "env, message",
    [
        (
            {"DLCV_BUDGET": "medium"},
            "DLCV_BUDGET must be one of \\('quick', 'full'\\), got 'medium'",
        ),
        ({"DLCV_SEED": "x"}, "DLCV_SEED must be an integer, got 'x'"),
        ({"DLCV_DEVICE": "gpu0"}, "DLCV_DEVICE must name a torch device"),
    ],
)
def test_bad_environment(env, message):
    with pytest.raises(ValueError, match=message):
        runtime.get_runtime(env)


def test_cuda_requested_without_cuda(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    with pytest.raises(ValueError, match="asks for CUDA, but no CUDA device"):
        runtime.get_runtime({"DLCV_DEVICE": "cuda"})


def test_same_seed_same_numbers():
    rt = runtime.setup({"DLCV_SEED": "3", "DLCV_DEVICE": "cpu"})
    a = torch.randn(5)
    runtime.setup({"DLCV_SEED": "3", "DLCV_DEVICE": "cpu"})
    b = torch.randn(5)
    assert torch.equal(a, b)
    runtime.setup({"DLCV_SEED": "4", "DLCV_DEVICE": "cpu"})
    assert not torch.equal(torch.randn(5), b)
    g1, g2 = rt.generator(1), rt.generator(1)
    assert torch.equal(torch.rand(3, generator=g1), torch.rand(3, generator=g2))


def test_seed_type_checked():
    with pytest.raises(TypeError, match="seed must be an int, got str"):
        runtime.seed_everything("0")


def test_report_names_device_budget_and_versions():
    text = runtime.get_runtime({"DLCV_DEVICE": "cpu", "DLCV_BUDGET": "quick"}).report()
    assert "device:   cpu" in text and "budget:   quick" in text
    assert f"torch {torch.__version__}" in text


def test_progress_off_returns_the_iterable_itself(monkeypatch):
    items = [1, 2, 3]
    monkeypatch.setenv("DLCV_PROGRESS", "0")
    assert runtime.progress(items) is items
    monkeypatch.setenv("DLCV_PROGRESS", "1")
    bar = runtime.progress(items, disable=True)
    assert list(bar) == items and bar is not items


def test_median_time_measures_the_call_and_checks_its_arguments():
    import time

    from dlcv.runtime import median_time

    calls = []

    def sleepy(seconds, *, tag):
        calls.append(tag)
        time.sleep(seconds)

    t = median_time(sleepy, 0.01, tag="x", min_run_time=0.05)
    assert 0.009 < t < 0.05
    assert len(calls) >= 3 and set(calls) == {"x"}  # warm-up + at least two timed calls
    with pytest.raises(TypeError, match="fn must be callable, got int"):
        median_time(3)
    with pytest.raises(
        TypeError, match="min_run_time must be a finite number, got nan"
    ):
        median_time(sleepy, 0.0, tag="x", min_run_time=float("nan"))
    with pytest.raises(ValueError, match="min_run_time must be positive, got 0"):
        median_time(sleepy, 0.0, tag="x", min_run_time=0)


@pytest.mark.parametrize("device", ["meta", "mps"])
def test_a_device_that_cannot_compute_fails_at_setup_in_one_line(device):
    from dlcv.runtime import get_runtime

    if device == "mps" and torch.backends.mps.is_available():
        pytest.skip("this machine has MPS")
    with pytest.raises(ValueError, match=f"^DLCV_DEVICE='{device}': ") as err:
        get_runtime({"DLCV_DEVICE": device})
    assert "\n" not in str(err.value) and len(str(err.value)) < 300


@pytest.mark.parametrize("seed", [str(2**64), str(-(2**63) - 1)])
def test_a_seed_out_of_torch_range_names_dlcv_seed(seed):
    from dlcv.runtime import get_runtime, seed_everything

    with pytest.raises(ValueError, match=f"^DLCV_SEED must be in .*got '{seed}'"):
        get_runtime({"DLCV_SEED": seed})
    with pytest.raises(ValueError, match="^seed must be in"):
        seed_everything(int(seed))
    assert get_runtime({"DLCV_SEED": str(2**64 - 1)}).seed == 2**64 - 1


def test_glue_prints_outside_the_build_and_hands_to_myst_nb_inside(capsys, monkeypatch):
    runtime.glue("speedup", "12.5", display=False, env={})
    assert capsys.readouterr().out == "speedup: 12.5\n"
    seen = []
    fake = types.ModuleType("myst_nb")
    fake.glue = lambda name, value, display=True: seen.append((name, value, display))
    monkeypatch.setitem(sys.modules, "myst_nb", fake)
    runtime.glue("speedup", 12.5, display=False, env={"DLCV_BOOK_BUILD": "1"})
    assert seen == [("speedup", 12.5, False)]
    assert capsys.readouterr().out == ""
    with pytest.raises(TypeError, match="name must be a non-empty str"):
        runtime.glue("", 1, env={})
