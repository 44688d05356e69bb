"""The benchmarks must keep running; their timings are read by people, not asserted."""

import importlib.util
import math
from pathlib import Path

BENCHMARKS = Path(__file__).resolve().parents[2] / "benchmarks"


def load(name):
    spec = importlib.util.spec_from_file_location(name, BENCHMARKS / f"{name}.py")
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    return bench


def test_knn_benchmark_runs_and_agrees_with_sklearn(tmp_path, capsys):
    bench = load("bench_knn")
    out = tmp_path / "knn.json"
    result = bench.main(
        ["--synthetic", "--n-train", "600", "--n-test", "50", "--json", str(out)]
    )
    assert set(result["seconds"]) == {"matmul", "dlcv", "torch", "sklearn"}
    assert result["agreement_with_sklearn"] == 1.0
    assert out.is_file() and "/ matmul" in capsys.readouterr().out


def test_conv_benchmark_runs_and_agrees_with_torch(tmp_path, capsys):
    bench = load("bench_conv")
    out = tmp_path / "conv.json"
    result = bench.main(["--smoke", "--repeats", "1", "--json", str(out)])
    assert result["shapes"][0]["max_abs_diff"] < 1e-4
    assert out.is_file() and "dlcv/F" in capsys.readouterr().out


def test_training_benchmark_runs_and_agrees_with_torch(tmp_path, capsys):
    bench = load("bench_training")
    out = tmp_path / "training.json"
    result = bench.main(["--smoke", "--repeats", "1", "--json", str(out)])
    names = {r["name"] for r in result["rows"]}
    assert {"gelu", "elu", "selu", "layer_norm", "dropout", "frac_max_pool2d"} <= names
    assert all(r["max_abs_diff"] < 1e-5 for r in result["rows"]), result["rows"]
    assert all(r["torch"] > 0 and r["dlcv"] > 0 for r in result["rows"])
    assert out.is_file() and "dlcv/torch" in capsys.readouterr().out


def test_sequence_benchmark_runs_and_agrees_with_torch(tmp_path, capsys):
    bench = load("bench_sequence")
    out = tmp_path / "sequence.json"
    result = bench.main(["--smoke", "--repeats", "1", "--json", str(out)])
    rows = {(r["name"], r["pass"]) for r in result["rows"]}
    names = ["sdpa", "sdpa causal", "multihead attn", "encoder layer", "LSTM", "GRU"]
    assert rows == {(n, p) for n in names for p in ("forward", "fwd+bwd")}
    assert all(r["max_abs_diff"] < 1e-5 for r in result["rows"]), result["rows"]
    assert all(
        math.isfinite(r["ratio"]) and r["ratio"] > 0 and r["torch"] > 0
        for r in result["rows"]
    )
    assert result["mm_gflops"] > 0
    assert out.is_file() and "dlcv/torch" in capsys.readouterr().out


def test_peers_benchmark_runs_on_synthetic_data(tmp_path, capsys):
    bench = load("bench_peers")
    out = tmp_path / "peers.json"
    result = bench.main(["--smoke", "--repeats", "1", "--json", str(out)])
    pairs = {(r["ours"]["name"], r["peer"]["name"]) for r in result["rows"]}
    assert pairs == {
        ("SoftmaxClassifier", "LogisticRegression"),
        ("MLP", "MLPClassifier"),
    }
    models = [m for r in result["rows"] for m in (r["ours"], r["peer"])]
    models += result["cnns"]
    assert {c["name"] for c in result["cnns"]} >= {"LeNet-5"}
    for m in models:
        assert 0 <= m["acc"] <= 1 and math.isfinite(m["se"]), m
        assert m["seconds"] > 0, m
    for r in result["rows"]:
        assert math.isfinite(r["ratio"]) and r["ratio"] > 0
        assert math.isfinite(r["acc_diff"]) and isinstance(r["goal_met"], bool)
    assert result["published"] and all(
        0 < p["acc"] < 1 and p["source"].startswith("https://")
        for p in result["published"]
    )
    assert result["smoke"] and result["mm_gflops"] > 0
    text = capsys.readouterr().out
    assert out.is_file() and "ours/peer" in text and "published" in text
    assert result["cnn_note"] in text
