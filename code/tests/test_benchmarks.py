"""The benchmarks must keep running; their timings are read by people, not asserted."""

import importlib.util
from pathlib import Path

BENCH = Path(__file__).resolve().parents[2] / "benchmarks" / "bench_knn.py"


def test_knn_benchmark_runs_and_agrees_with_sklearn(tmp_path, capsys):
    spec = importlib.util.spec_from_file_location("bench_knn", BENCH)
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    out = tmp_path / "knn.json"
    result = bench.main(
        ["--synthetic", "--n-train", "600", "--n-test", "50", "--json", str(out)]
    )
    assert set(result["seconds"]) == {"matmul", "dlcv", "torch", "sklearn"}
    assert result["agreement_with_sklearn"] == 1.0
    assert out.is_file() and "/ matmul" in capsys.readouterr().out
