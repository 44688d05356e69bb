"""What the benchmarks share: timing, the command line, the machine line, the mm rate.

Each ``bench_*.py`` puts its own folder first on ``sys.path`` and imports this module,
so ``python benchmarks/bench_X.py`` and the tests (which load the files by path) both
find it.
"""

from __future__ import annotations

import argparse
import json
import platform
import time
from collections.abc import Callable
from pathlib import Path

import torch


def timed_result(
    fn: Callable[[], object], repeats: int, *, warmup: bool = False
) -> tuple[float, object]:
    """Best wall time over ``repeats`` runs of ``fn``, and its last result.

    Args:
        fn: What to time, called without arguments.
        repeats: How many timed runs.
        warmup: Run ``fn`` once, untimed, first.

    Returns:
        ``(seconds, result)``: the best time and the last call's return value.
    """
    out = fn() if warmup else None
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - start)
    return best, out


def timed(fn: Callable[[], object], repeats: int) -> float:
    """Best wall time over ``repeats`` runs, after one warm-up run."""
    return timed_result(fn, repeats, warmup=True)[0]


def mm_seconds(m: int, k: int, n: int, repeats: int) -> float:
    """Best time of a bare ``torch.mm`` of ``(m, k) @ (k, n)`` float32 matrices."""
    a, b = torch.randn(m, k), torch.randn(k, n)
    return timed(lambda: torch.mm(a, b), repeats)


def matmul_gflops(repeats: int, n: int = 1024) -> float:
    """The machine's matmul rate: GFLOP/s of an ``n x n`` ``torch.mm`` (2 n^3 flops)."""
    return 2 * n**3 / 1e9 / mm_seconds(n, n, n, repeats)


def machine() -> str:
    """The processor, torch's version and its thread count, for the first line."""
    return (
        f"{platform.processor() or platform.machine()}, torch {torch.__version__}, "
        f"{torch.get_num_threads()} threads"
    )


def parser(
    doc: str, *, repeats: int, smoke: str | None = None
) -> argparse.ArgumentParser:
    """The options every benchmark takes: ``--threads``, ``--repeats``, ``--json``.

    Args:
        doc: The benchmark's module docstring; its first line describes the command.
        repeats: The default of ``--repeats``.
        smoke: The help of a ``--smoke`` flag (tiny sizes), or None for no such flag.

    Returns:
        The parser, to which a benchmark may add its own options.
    """
    p = argparse.ArgumentParser(description=doc.splitlines()[0])
    p.add_argument("--threads", type=int, help="torch.set_num_threads(THREADS)")
    p.add_argument("--repeats", type=int, default=repeats)
    if smoke is not None:
        p.add_argument("--smoke", action="store_true", help=smoke)
    p.add_argument("--json", type=Path, help="also write the results here")
    return p


def parse(p: argparse.ArgumentParser, argv: list[str] | None) -> argparse.Namespace:
    """Parse ``argv`` and apply ``--threads``."""
    args = p.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    return args


def write_json(path: Path | None, result: dict) -> None:
    """Write ``result`` as JSON to ``path`` (making its folder), unless it is None."""
    if path:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(result, indent=2))
