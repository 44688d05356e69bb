"""Compare the chapter outputs of two builds' execution caches, output by output.

    .venv/bin/python tools/compare_builds.py CACHE_A CACHE_B [--show N]

CACHE_A and CACHE_B are jupyter-cache folders (``_build/.jupyter_cache``), e.g. of a
serial and a parallel build of the same commit. Chapters are matched by their path
(``book/<chapter>.md``), taking each cache's newest record. Outputs are compared after
dropping what differs between any two runs by construction: execution counts and the
memory addresses in reprs (``at 0x7f...``), and the order in which a cell's streams
and displays interleave. A difference is counted as *timing* when its lines report a
measured time or rate (ms, s, GFLOP/s, ...) or its cell calls a timer: such outputs
differ between any two runs. Every other difference is printed.
"""

from __future__ import annotations

import argparse
import difflib
import re
import sys
from pathlib import Path

ADDRESS = re.compile(r" at 0x[0-9a-f]+")
# A line that reports a measured time or rate, or the kernel's thread count.
TIMING = re.compile(
    r"\d\s*(ms|s|sec|seconds|µs|us|ns|min|GFLOP/s|GB/s|it/s|steps/s|images/s)\b"
    r"|\d threads?\)"
)
# A cell that measures time: everything it prints may differ from run to run.
TIMER = re.compile(
    r"perf_counter|median_time|best_time|one_thread_time|timeit|matmul_rate"
    r"|memory_bandwidth|time\.time\(\)"
)


def newest_records(cache_dir: Path) -> dict[str, object]:
    """``{"book/<chapter>.md": notebook}`` from a cache's newest record per chapter."""
    from jupyter_cache import get_cache

    cache = get_cache(cache_dir)
    best: dict[str, tuple] = {}
    for record in cache.list_cache_records():
        parts = Path(record.uri).parts
        key = "/".join(parts[-2:])
        if key not in best or record.created > best[key][0]:
            best[key] = (record.created, record.pk)
    return {k: cache.get_cache_bundle(pk).nb for k, (_, pk) in sorted(best.items())}


def cell_outputs(cell: object) -> dict[str, str]:
    """A code cell's outputs, normalised: each stream whole (stdout and stderr
    interleave with displays differently from run to run), then each display."""
    out: dict[str, str] = {}
    displays = 0
    for o in cell.get("outputs", []):  # type: ignore[attr-defined]
        kind = o["output_type"]
        if kind == "stream":
            out[o["name"]] = out.get(o["name"], "") + o["text"]
            continue
        if kind == "error":
            text = f"{o['ename']}: {o['evalue']}"
        else:
            data = o.get("data", {})
            image = next((m for m in data if m.startswith("image/")), None)
            kind = f"{kind} {image}" if image else kind
            text = str(data.get(image) if image else data.get("text/plain", data))
        out[f"{displays} {kind}"] = text
        displays += 1
    return {k: ADDRESS.sub(" at 0x…", v) for k, v in out.items()}


def compare(a: object, b: object) -> tuple[int, int, int, list[str]]:
    """``(outputs, identical, timing only, other differences as lines)``.

    A differing output is *timing* when every differing line reports a time or a
    rate, or when its cell measures time (it calls a timer).
    """
    cells_a = [c for c in a.cells if c.cell_type == "code"]  # type: ignore[attr-defined]
    cells_b = [c for c in b.cells if c.cell_type == "code"]  # type: ignore[attr-defined]
    if [c.source for c in cells_a] != [c.source for c in cells_b]:
        return 0, 0, 0, ["the chapters' code cells differ"]
    total = same = timing = 0
    other: list[str] = []
    for i, (ca, cb) in enumerate(zip(cells_a, cells_b, strict=True)):
        oa, ob = cell_outputs(ca), cell_outputs(cb)
        timer = bool(TIMER.search(ca.source))
        for key in sorted(set(oa) | set(ob)):
            total += 1
            ta, tb = oa.get(key, ""), ob.get(key, "")
            if ta == tb:
                same += 1
                continue
            changed = [
                ln
                for ln in difflib.unified_diff(
                    ta.splitlines(), tb.splitlines(), lineterm="", n=0
                )
                if ln[:1] in "+-" and not ln.startswith(("+++", "---"))
            ]
            image = "image/" in key
            if timer or (not image and all(TIMING.search(ln) for ln in changed)):
                timing += 1
            else:
                shown = ["(the image differs)"] if image else changed
                other += [f"code cell {i + 1} {key}: {ln}" for ln in shown]
    return total, same, timing, other


def main(argv: list[str] | None = None) -> int:
    """Print a table of the chapters; return 1 if any output differs beyond timing."""
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("a", type=Path)
    p.add_argument("b", type=Path)
    p.add_argument("--show", type=int, default=6, help="differences shown a chapter")
    args = p.parse_args(argv)
    ra, rb = newest_records(args.a), newest_records(args.b)
    print(f"{'chapter':28s} {'outputs':>7s} {'same':>5s} {'timing':>6s} {'other':>5s}")
    differs = []
    for key in sorted(set(ra) | set(rb)):
        if key not in ra or key not in rb:
            print(f"{key:28s} only in {'A' if key in ra else 'B'}")
            differs.append(key)
            continue
        n, same, timing, other = compare(ra[key], rb[key])
        print(f"{key:28s} {n:7d} {same:5d} {timing:6d} {n - same - timing:5d}")
        for line in other[: args.show]:
            print(f"    {line[:150]}")
        if other:
            differs.append(key)
    total = len(set(ra) | set(rb))
    print(f"chapters differing beyond timing: {len(differs)} of {total}")
    return 1 if differs else 0


if __name__ == "__main__":
    sys.exit(main())
